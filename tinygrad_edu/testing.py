"""Property-based tests for operations and their gradients: hypothesis strategies and one assertion.

The strategies draw what gradient tests need (the `hypothesis` package must be installed):

    tensors(shape=None, dtype=float64, low=-3, high=3, avoid=(), margin=1e-2, distinct=False)
    arrays(...)                      the same, as numpy arrays
    shapes(min_dims, max_dims, min_side, max_side)
    broadcastable_tensors(num=2)     tensors whose shapes broadcast together, e.g. (3, 1, 2) and (4, 1)
    gufunc_tensors(signature)        tensors valid for a generalized ufunc, e.g. "(n,k),(k,m)->(n,m)"
    matmul_tensors()                 pairs valid for a @ b (1-D operands and batch broadcasting included)
    axes(ndim)                       an `axis` argument: None, an int (maybe negative) or a tuple

Values are finite floats in [low, high]. Finite differences go wrong at kinks (relu and |x| at 0, clip at
its bounds) and near the edge of a function's domain (log near 0): `avoid=(0.0,)` keeps every value at
least `margin` away from 0, and `low=0.1` keeps log's inputs where 1/x is moderate. `distinct=True` makes
every value at least `margin` away from every other (no ties for max, maximum, sort). `margin` (default
0.01) must be much larger than gradcheck's step eps (1e-6), or the step may cross the kink.

Sizes are capped (`MAX_DIMS` = 3 axes of at most `MAX_SIDE` = 4, so at most 64 elements) because a
full-Jacobian gradcheck costs two forward passes per input element and one backward pass per output
element; size-1 axes and 0-d tensors are included (that is where broadcasting bites).

`assert_gradients_match(fn, *strategies_or_tensors)` runs gradcheck on many drawn inputs; on failure
hypothesis shrinks to a minimal failing input and the error shows gradcheck's report:

    from tinygrad_edu.testing import assert_gradients_match, broadcastable_tensors, tensors

    def test_my_softplus():
        assert_gradients_match(my_softplus, tensors())

    def test_my_add():
        assert_gradients_match(lambda a, b: a + b, broadcastable_tensors(2))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .gradient_check import check_gradients
from .engine.tensor import Tensor

MAX_DIMS = 3
MAX_SIDE = 4

__all__ = [
    "MAX_DIMS", "MAX_SIDE", "arrays", "assert_gradients_match", "axes", "broadcastable_tensors",
    "float_dtypes", "gufunc_tensors", "matmul_tensors", "shapes", "tensors",
]


# ---------------------------------------------------------------------------------------------------------------
# Shapes, dtypes and values
# ---------------------------------------------------------------------------------------------------------------


def shapes(
    min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1, max_side: int = MAX_SIDE
) -> st.SearchStrategy:
    """Array shapes with capped rank and sides (size-1 axes and 0-d included)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def float_dtypes() -> st.SearchStrategy:
    """float64 or float32 (pass as `dtype=` to draw the dtype too; gradcheck wants float64)."""
    return st.sampled_from([np.dtype(np.float64), np.dtype(np.float32)])


def _intervals(low: float, high: float, avoid: Sequence[float], margin: float) -> list[tuple[float, float]]:
    """[low, high] minus the open balls of radius `margin` around the points of `avoid`."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"need finite low <= high, got low={low}, high={high}")
    if avoid and margin <= 0:
        raise ValueError(f"avoid= needs a positive margin, got margin={margin}")
    pieces = [(float(low), float(high))]
    for a in sorted(avoid):
        cut = []
        for lo, hi in pieces:
            if a + margin <= lo or a - margin >= hi:
                cut.append((lo, hi))
                continue
            if lo <= a - margin:
                cut.append((lo, a - margin))
            if a + margin <= hi:
                cut.append((a + margin, hi))
        pieces = cut
    if not pieces:
        raise ValueError(f"no value in [{low}, {high}] is at least {margin} away from all of {tuple(avoid)}")
    return pieces


def _inward32(lo: float, hi: float) -> tuple[float, float]:
    """Bounds rounded inward to float32 (hypothesis wants bounds exactly representable at width 32)."""
    lo32, hi32 = np.float32(lo), np.float32(hi)
    if lo32 < lo:
        lo32 = np.nextafter(lo32, np.float32(np.inf))
    if hi32 > hi:
        hi32 = np.nextafter(hi32, np.float32(-np.inf))
    return float(lo32), float(hi32)


def _values(dtype: Any, low: float, high: float, avoid: Sequence[float], margin: float) -> st.SearchStrategy:
    """Finite numbers of `dtype` in [low, high], each at least `margin` away from every point of `avoid`."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return st.booleans()
    pieces = _intervals(low, high, avoid, margin)
    if dtype.kind in "iu":
        ints = [st.integers(math.ceil(lo), math.floor(hi)) for lo, hi in pieces if math.ceil(lo) <= math.floor(hi)]
        if not ints:
            raise ValueError(f"no integer in [{low}, {high}] is at least {margin} away from {tuple(avoid)}")
        return st.one_of(*ints)
    if dtype.kind != "f":
        raise TypeError(f"strategies draw bool, integer or real float dtypes, not {dtype}")
    width = 8 * dtype.itemsize
    floats = []
    for lo, hi in pieces:
        if width == 32:
            lo, hi = _inward32(lo, hi)
        if lo <= hi:
            floats.append(st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                                    width=width))
    return st.one_of(*floats)


def _distinct_values(
    draw: Any, size: int, dtype: np.dtype, low: float, high: float, avoid: Sequence[float], margin: float
) -> np.ndarray:
    """`size` values pairwise at least `margin` apart: one per cell of a grid of cells of width 2·margin,
    each cell at a distinct grid position and jittered inside its first half."""
    if margin <= 0:
        raise ValueError(f"distinct=True needs a positive margin, got margin={margin}")
    cells = [k for k in range(int((high - low - margin) // (2 * margin)) + 1)
             if all(abs(low + 2 * margin * k + margin / 2 - a) >= 1.5 * margin for a in avoid)]
    if len(cells) < size:
        raise ValueError(f"cannot draw {size} values at least {margin} apart in [{low}, {high}]: lower margin")
    picked = draw(st.lists(st.sampled_from(cells), min_size=size, max_size=size, unique=True))
    jitter = draw(st.lists(st.floats(0.0, margin), min_size=size, max_size=size))
    return (low + 2 * margin * np.array(picked, dtype=np.float64) + np.array(jitter)).astype(dtype)


def _shape_strategy(shape: Any) -> st.SearchStrategy:
    if shape is None:
        return shapes()
    if isinstance(shape, st.SearchStrategy):
        return shape
    if isinstance(shape, int):
        return st.just((shape,))
    return st.just(tuple(shape))


def _dtype_strategy(dtype: Any) -> st.SearchStrategy:
    return dtype.map(np.dtype) if isinstance(dtype, st.SearchStrategy) else st.just(np.dtype(dtype))


def arrays(
    shape: Any = None, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: Sequence[float] = (), margin: float = 1e-2, distinct: bool = False,
) -> st.SearchStrategy:
    """numpy arrays of `shape` (a tuple, an int, a strategy, or None for a random capped shape) and `dtype`
    (a dtype or a strategy of dtypes), with values in [low, high] at least `margin` away from `avoid` (and,
    with distinct=True, from each other)."""
    avoid = tuple(avoid)
    _intervals(low, high, avoid, margin)  # fail now, with a clear message, rather than inside a test

    @st.composite
    def build(draw: Any) -> np.ndarray:
        shape_ = draw(_shape_strategy(shape))
        dtype_ = draw(_dtype_strategy(dtype))
        if distinct:
            size = int(np.prod(shape_, dtype=np.int64))
            return _distinct_values(draw, size, dtype_, low, high, avoid, margin).reshape(shape_)
        return draw(hnp.arrays(dtype=dtype_, shape=shape_, elements=_values(dtype_, low, high, avoid, margin)))

    return build()


def tensors(
    shape: Any = None, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: Sequence[float] = (), margin: float = 1e-2, requires_grad: bool = True, distinct: bool = False,
) -> st.SearchStrategy:
    """Tensors (requiring grad by default; float64, values in [-3, 3], random capped shape): `arrays` wrapped."""
    return arrays(shape, dtype, low, high, avoid, margin, distinct).map(
        lambda a: Tensor(a, requires_grad=requires_grad and a.dtype.kind == "f"))


# ---------------------------------------------------------------------------------------------------------------
# Several tensors with related shapes
# ---------------------------------------------------------------------------------------------------------------


def _tensors_of_shapes(
    draw: Any, shape_list: Sequence[tuple[int, ...]], dtype: Any, low: float, high: float,
    avoid: Sequence[float], margin: float, distinct: bool,
) -> tuple[Tensor, ...]:
    dtype_ = draw(_dtype_strategy(dtype))
    if not distinct:
        return tuple(draw(tensors(s, dtype_, low, high, avoid, margin)) for s in shape_list)
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shape_list]
    values = _distinct_values(draw, sum(sizes), dtype_, low, high, tuple(avoid), margin)
    splits = np.split(values, np.cumsum(sizes)[:-1])
    return tuple(Tensor(v.reshape(s), requires_grad=True) for v, s in zip(splits, shape_list))


def broadcastable_tensors(
    num: int = 2, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: Sequence[float] = (), margin: float = 1e-2, distinct: bool = False,
    min_dims: int = 0, max_dims: int = MAX_DIMS, max_side: int = MAX_SIDE,
) -> st.SearchStrategy:
    """`num` tensors whose shapes broadcast together (numpy's rules), e.g. (3, 1, 2) with (4, 1).
    distinct=True keeps all values of all the tensors `margin` apart (no ties in maximum/minimum)."""

    @st.composite
    def build(draw: Any) -> tuple[Tensor, ...]:
        shape_set = draw(hnp.mutually_broadcastable_shapes(
            num_shapes=num, min_dims=min_dims, max_dims=max_dims, max_side=max_side))
        return _tensors_of_shapes(draw, shape_set.input_shapes, dtype, low, high, avoid, margin, distinct)

    return build()


def gufunc_tensors(
    signature: str, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: Sequence[float] = (), margin: float = 1e-2, distinct: bool = False,
    max_dims: int = 2, max_side: int = MAX_SIDE,
) -> st.SearchStrategy:
    """Tensors valid for a generalized ufunc `signature` such as "(n,k),(k,m)->(n,m)" (numpy's notation;
    "?" marks an optional dimension), with up to `max_dims` broadcast batch axes in front."""

    @st.composite
    def build(draw: Any) -> tuple[Tensor, ...]:
        shape_set = draw(hnp.mutually_broadcastable_shapes(signature=signature, max_dims=max_dims, max_side=max_side))
        return _tensors_of_shapes(draw, shape_set.input_shapes, dtype, low, high, avoid, margin, distinct)

    return build()


def matmul_tensors(
    dtype: Any = np.float64, low: float = -3.0, high: float = 3.0, max_dims: int = 2, max_side: int = MAX_SIDE,
) -> st.SearchStrategy:
    """Pairs (a, b) valid for a @ b, from matmul's gufunc signature (?n,k),(k,?m)->(?n,?m): 1-D operands
    and broadcast batch axes included."""
    return gufunc_tensors(np.matmul.signature, dtype, low, high, max_dims=max_dims, max_side=max_side)


def axes(ndim: int) -> st.SearchStrategy:
    """An `axis` argument for a reduction over an ndim-dimensional array: None, an int (maybe negative)
    or a tuple of distinct axes."""
    if ndim == 0:
        return st.none()
    return st.one_of(
        st.none(),
        st.integers(-ndim, ndim - 1),
        st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim).map(tuple),
    )


# ---------------------------------------------------------------------------------------------------------------
# The assertion
# ---------------------------------------------------------------------------------------------------------------


def _spread(values: Sequence[Any]) -> list[Any]:
    """One argument per input; a strategy that draws a tuple (broadcastable_tensors) gives several."""
    spread: list[Any] = []
    for v in values:
        spread.extend(v if isinstance(v, (tuple, list)) else [v])
    return spread


def _check_once(fn: Callable, inputs: Sequence[Any], options: dict[str, Any]) -> None:
    report = check_gradients(fn, inputs, **options)
    if not report.passed:
        raise AssertionError(report.message())


def assert_gradients_match(
    fn: Callable,
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    fast_mode: bool | None = None,
    max_examples: int | None = None,
    settings: hypothesis_settings | None = None,
    **gradcheck_options: Any,
) -> None:
    """Assert that fn's backward matches finite differences, on given inputs or on many drawn ones.

    Each positional input is a Tensor (or any constant argument of fn) or a hypothesis strategy; a
    strategy that draws a tuple (like `broadcastable_tensors(2)`) supplies that many arguments. Without
    strategies this is one `check_gradients` call. With strategies it runs a hypothesis test (the active
    settings profile; `max_examples` and `settings` override it; no example database, no deadline): on
    failure hypothesis shrinks the input, prints it ("Falsifying example", or "Failing test case" in newer
    hypothesis), and raises AssertionError with gradcheck's report. Other keyword arguments go to gradcheck (seed, num_directions, ...).

    Call it from a plain test function, not from inside another @given test.
    """
    options = dict(eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode, **gradcheck_options)
    if not any(isinstance(v, st.SearchStrategy) for v in inputs):
        _check_once(fn, _spread(inputs), options)
        return

    drawn = st.tuples(*(v if isinstance(v, st.SearchStrategy) else st.just(v) for v in inputs))
    base = settings or hypothesis_settings()  # the active profile
    chosen = hypothesis_settings(
        base,
        max_examples=max_examples or base.max_examples,
        deadline=None,  # a gradcheck is slow: two forward passes per input element
        database=None,  # this inner test has one source for every caller: stored examples would mix
        suppress_health_check=list({*base.suppress_health_check, HealthCheck.too_slow, HealthCheck.data_too_large}),
        phases=[p for p in base.phases if p is not Phase.explain],  # its line listing says nothing about gradients
    )

    @chosen
    @given(drawn)
    def gradients_match(values: tuple[Any, ...]) -> None:
        _check_once(fn, _spread(values), options)

    gradients_match()
