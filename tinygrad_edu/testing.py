"""Hypothesis strategies for testing operations and their gradients (needs the `hypothesis` package).

    from hypothesis import given
    from tinygrad_edu.testing import tensors, broadcastable_tensors

    @given(broadcastable_tensors(2))
    def test_add(pair):
        a, b = pair
        assert gradcheck(lambda a, b: a + b, [a, b])

Sizes are capped (`MAX_SIDE`, `MAX_DIMS`) so that full-Jacobian checks, which cost two forward passes per
input element, stay fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .tensor import Tensor

MAX_DIMS = 3
MAX_SIDE = 4


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1, max_side: int = MAX_SIDE) -> st.SearchStrategy:
    """Array shapes with capped rank and sides (size-1 axes included: they are where broadcasting bites)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def _values(
    dtype: Any, low: float, high: float, avoid: tuple[float, ...], margin: float
) -> st.SearchStrategy:
    """Bounded finite floats, kept at least `margin` away from each point in `avoid` (kinks, domain edges)."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return st.booleans()
    if dtype.kind in "iu":
        return st.integers(int(np.ceil(low)), int(np.floor(high)))
    width = 32 if dtype == np.float32 else 64
    values = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
    if avoid:
        values = values.filter(lambda v: all(abs(v - a) >= margin for a in avoid))
    return values


def arrays(
    shape: Any = None, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: tuple[float, ...] = (), margin: float = 1e-2,
) -> st.SearchStrategy:
    """numpy arrays of the given (or a random capped) shape with values in [low, high], away from `avoid`."""
    return hnp.arrays(
        dtype=np.dtype(dtype), shape=shapes() if shape is None else shape,
        elements=_values(dtype, low, high, avoid, margin),
    )


def tensors(
    shape: Any = None, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: tuple[float, ...] = (), margin: float = 1e-2, requires_grad: bool = True,
) -> st.SearchStrategy:
    """Tensors that require grad (by default), float64, values in [-3, 3], random capped shape."""
    return arrays(shape, dtype, low, high, avoid, margin).map(lambda a: Tensor(a, requires_grad=requires_grad))


def broadcastable_tensors(
    num: int = 2, dtype: Any = np.float64, low: float = -3.0, high: float = 3.0,
    avoid: tuple[float, ...] = (), margin: float = 1e-2,
) -> st.SearchStrategy:
    """`num` tensors whose shapes broadcast together (numpy's rules), e.g. (3, 1, 2) with (4, 1)."""

    @st.composite
    def build(draw: Any) -> tuple[Tensor, ...]:
        shape_set = draw(hnp.mutually_broadcastable_shapes(num_shapes=num, max_dims=MAX_DIMS, max_side=MAX_SIDE))
        return tuple(draw(tensors(s, dtype, low, high, avoid, margin)) for s in shape_set.input_shapes)

    return build()


def matmul_tensors(dtype: Any = np.float64, low: float = -3.0, high: float = 3.0) -> st.SearchStrategy:
    """Pairs (a, b) valid for a @ b, drawn from matmul's gufunc signature (?n,k),(k,?m)->(?n,?m):
    1-D operands and broadcast batch axes included."""

    @st.composite
    def build(draw: Any) -> tuple[Tensor, Tensor]:
        shape_set = draw(hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=2, max_side=MAX_SIDE))
        a_shape, b_shape = shape_set.input_shapes
        return draw(tensors(a_shape, dtype, low, high)), draw(tensors(b_shape, dtype, low, high))

    return build()


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
