"""Reductions beyond sum, mean and max: variance and standard deviation, logsumexp, product, cumulative sums
and products, norms, and renorm (each slice scaled down to a largest norm). var, std, logsumexp, renorm and the
1-, ∞- and p-norms are composites of ops.py (autograd derives
their gradients); prod, cumsum, cumprod and the 2-norm are primitives, each for a reason given beside it.

Every reduction takes numpy's `axis=`/`keepdims=` or PyTorch's `dim=`/`keepdim=`. var and std follow numpy:
`ddof=0` (divide by N) unless told otherwise; PyTorch's default is `correction=1` (N - 1), accepted too.

Conventions (PyTorch's): the 2-norm of a zero vector has gradient 0 (not 0/0); the ∞-norm splits its gradient
between tied largest |x| (as max does); |x|'(0) = 0 in the 1-norm; prod sends each element the product of the
others, zeros included; std's gradient is 0 where all values are equal (std = 0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .function import Context, Function
from .ops import Sum, Where, as_array, normalize_axes, operand, reduction_axis, where
from .tensor import Tensor, values


def _kept(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


def _count(x: Tensor, axes: tuple[int, ...]) -> int:
    return int(np.prod([x.shape[a] for a in axes]))


# ---------------------------------------------------------------------------------------------------------------
# Composites
# ---------------------------------------------------------------------------------------------------------------


def var(x: Tensor, axis: Any = None, ddof: float = 0, keepdims: bool = False, *, correction: float | None = None,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """Σ (x - mean)² / (N - ddof) over `axis` (numpy.var; `correction` is PyTorch's name for ddof). Two passes,
    the mean first: the one-pass Σx²/N - mean² cancels catastrophically."""
    x = _tensor(x)
    axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "var")
    ddof = ddof if correction is None else correction
    axes = normalize_axes(axis, x.ndim)
    d = x - x.mean(axis=axes, keepdims=True)
    return (d * d).sum(axis=axes, keepdims=keepdims) / (_count(x, axes) - ddof)


def std(x: Tensor, axis: Any = None, ddof: float = 0, keepdims: bool = False, *, correction: float | None = None,
        dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """√var (numpy.std; same arguments as var). Where all values are equal (std = 0) the gradient is 0, as
    PyTorch's (√'s slope there is infinite and var's is 0): the square root is taken of 1 there instead."""
    axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "std")
    v = var(x, axis, ddof, keepdims, correction=correction)
    flat = v.data == 0
    if not flat.any():
        return v.sqrt()
    return Where.apply(0.0, Where.apply(1.0, v, condition=flat).sqrt(), condition=flat)


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
              keepdim: bool | None = None) -> Tensor:
    """log Σ exp(x) over `axis`, as m + log Σ exp(x - m) with m the (constant) max, so that it cannot overflow.
    Its gradient is the softmax. Where the max is ±inf, m = 0 is used (the result is then ±inf, as it should)."""
    x = _tensor(x)
    axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "logsumexp")
    axes = normalize_axes(axis, x.ndim)
    m = x.data.max(axis=axes, keepdims=True) if x.size else np.zeros(_kept(x.shape, axes), x.dtype)
    m = np.where(np.isfinite(m), m, 0)
    y = (x - m).exp().sum(axis=axes, keepdims=True).log() + m
    return y if keepdims else y.reshape(_reduced(x.shape, axes))


def norm(x: Tensor, ord: Any = None, axis: Any = None, keepdims: bool = False, *, p: Any = None,  # noqa: A002
         dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """The vector norm of x over `axis` (all elements by default), as torch.linalg.vector_norm: ord (or p) =
    2 (the default; "fro" is the same over all elements, the Frobenius norm of a matrix), 1, inf, -inf or any
    other positive number. np.linalg.norm's *matrix* norms (ord 1, 2, inf of a 2-D array with axis=None:
    largest column sum, singular value, row sum) are not these: sum over one axis, then max, for those."""
    x = _tensor(x)
    axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "norm")
    order = ord if p is None else p
    if order is not None and ord is not None and p is not None:
        raise TypeError("norm: pass ord= (numpy's name) or p= (PyTorch's), not both")
    if order in (None, 2, 2.0, "fro"):
        return Norm2.apply(x, axis=axis, keepdims=keepdims)
    if isinstance(order, str) or not isinstance(order, (int, float)) or order <= 0 and order != -math.inf:
        raise ValueError(f"norm: ord must be 2, 'fro', 1, inf, -inf or a positive number, got {order!r}")
    a = x.abs()
    if order == math.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if order == -math.inf:
        return a.min(axis=axis, keepdims=keepdims)
    if order == 1:
        return a.sum(axis=axis, keepdims=keepdims)
    return (a ** order).sum(axis=axis, keepdims=keepdims) ** (1.0 / order)


# ---------------------------------------------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------------------------------------------


class Norm2(Function):
    """y = √(Σ x²) over `axis`.   dy/dx = x / y, taken as 0 where y = 0.

    A primitive because the composite (x * x).sum().sqrt() has 0 · ∞ = NaN as its gradient at a zero vector.
    Backward divides by a y in which 0 is replaced by 1 (x is 0 there), so no NaN is made even in the second
    derivative; y is recomputed with this operation, so that create_graph sees it depend on x.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = ctx.axes = normalize_axes(axis, x.ndim)
        ctx.save_for_backward(x)
        y = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        return y if keepdims else y.reshape(_reduced(x.shape, axes))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        y = Norm2.apply(x, axis=ctx.axes, keepdims=True)
        safe = Where.apply(1.0, y, condition=as_array(values(y)) == 0)
        return g.reshape(_kept(x.shape, ctx.axes)) * (x / safe)


class Prod(Function):
    """y = Π x over `axis`.   dy/dx_i = the product of the other elements.

    A primitive because y / x_i, the usual shortcut, is 0/0 where x_i = 0. Per reduced slice, with P the
    product of its non-zero elements and Z the sum of its zeros (0, but a function of them): no zero, P / x_i;
    one zero, P at the zero and Z·P / x_i elsewhere; two zeros, (Z - x_i)·P at each (the other zero times P),
    0 elsewhere; more, 0. Written with Prod, Sum and Where themselves, so create_graph differentiates it:
    the values are exact, and so are the second derivatives, at zeros too (not the third, at 3 zeros or more).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = ctx.axes = normalize_axes(axis, x.ndim)
        ctx.save_for_backward(x)
        y = np.prod(x, axis=axes, keepdims=True)
        return y if keepdims else y.reshape(_reduced(x.shape, axes))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        zero = as_array(values(x)) == 0
        zeros = zero.sum(axis=ctx.axes, keepdims=True)
        nonzero = Where.apply(1.0, x, condition=zero)
        p = Prod.apply(nonzero, axis=ctx.axes, keepdims=True)
        z = Sum.apply(Where.apply(x, 0.0, condition=zero), axis=ctx.axes, keepdims=True)
        at_others = Where.apply(p / nonzero, Where.apply(z * p / nonzero, 0.0, condition=zeros == 1), condition=zeros == 0)
        at_zeros = Where.apply(p, Where.apply((z - x) * p, 0.0, condition=zeros == 2), condition=zeros == 1)
        return g.reshape(_kept(x.shape, ctx.axes)) * Where.apply(at_zeros, at_others, condition=zero)


def _reversed_along(axis: int) -> tuple:
    return (slice(None),) * axis + (slice(None, None, -1),)


class Cumsum(Function):
    """y_j = Σ_{i<=j} x_i along `axis` (along the flattened x if axis is None, as numpy).

    Backward: dC/dx_i = Σ_{j>=i} g_j, the cumulative sum of g taken from the end (a primitive: as sums of
    slices it would be n operations).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: int | None = None) -> np.ndarray:
        ctx.axis = None if axis is None else normalize_axes(axis, x.ndim)[0]
        return np.cumsum(x, axis=ctx.axis)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        back = _reversed_along(0 if ctx.axis is None else ctx.axis)
        return Cumsum.apply(g[back], axis=0 if ctx.axis is None else ctx.axis)[back].reshape(ctx.input_shapes[0])


class Cumprod(Function):
    """y_j = Π_{i<=j} x_i along `axis` (an int: the function flattens for axis=None).

    dC/dx_k = Σ_{j>=k} g_j Π_{i<=j, i≠k} x_i. Without zeros that is (the cumulative sum of g·y from the end) / x_k.
    A primitive, for zeros: with z the first zero of a slice, before z the same formula holds (every y_j from z
    on is 0); at z, the same sum with y' = cumprod of x with x_z replaced by 1; after z, x_z times that
    (0, but a function of x_z, so that second derivatives see it). Exact values everywhere; second derivatives
    exact where a slice has at most one zero.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: int) -> np.ndarray:
        ctx.axis = axis
        y = np.cumprod(x, axis=axis)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        x, y = ctx.saved_tensors
        a, back = ctx.axis, _reversed_along(ctx.axis)

        def from_the_end(v: Any) -> Any:  # Σ_{j>=k} v_j along the axis
            return Cumsum.apply(v[back], axis=a)[back]

        zero = as_array(values(x)) == 0
        safe = Where.apply(1.0, x, condition=zero)
        if not zero.any():
            return from_the_end(g * y) / safe
        seen = np.cumsum(zero, axis=a)
        before, first = seen == 0, zero & (seen == 1)
        at_first = from_the_end(g * Cumprod.apply(Where.apply(1.0, x, condition=first), axis=a))
        z = Sum.apply(Where.apply(x, 0.0, condition=first), axis=a, keepdims=True)  # x_z: 0, a function of it
        return Where.apply(from_the_end(g * y) / safe, Where.apply(at_first, z * at_first / safe, condition=first),
                           condition=before)


def prod(x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
    """The product over `axis` (numpy.prod)."""
    x = _tensor(x)
    axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "prod")
    return Prod.apply(x, axis=axis, keepdims=keepdims)


def cumsum(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Running sums along `axis` (numpy.cumsum: the flattened tensor if None; PyTorch's dim= accepted)."""
    x = _tensor(x)
    axis, _ = reduction_axis(axis, False, dim, None, "cumsum")
    if axis is not None and x.ndim == 0:
        normalize_axes(axis, 0)  # (checks it is 0 or -1)
        return x.clone()  # a running sum of one number, keeping the 0-d shape, as PyTorch
    return Cumsum.apply(x, axis=axis)


def cumprod(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Running products along `axis` (numpy.cumprod: the flattened tensor if None; PyTorch's dim= accepted)."""
    x = _tensor(x)
    axis, _ = reduction_axis(axis, False, dim, None, "cumprod")
    if axis is None:
        return Cumprod.apply(x.reshape(-1), axis=0)
    if x.ndim == 0:
        normalize_axes(axis, 0)
        return x.clone()
    return Cumprod.apply(x, axis=normalize_axes(axis, x.ndim)[0])


def renorm(x: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """torch.renorm: each slice of x along `dim` (for dim=0 each row x[i]: in a Linear weight (out, in), one
    unit's incoming weights) whose p-norm is above maxnorm is scaled to norm maxnorm; the others are unchanged.

        y_i = x_i · s_i,   s_i = maxnorm / (‖x_i‖_p + 1e-7) if ‖x_i‖_p > maxnorm, else 1.

    The 1e-7 is PyTorch's, so a slice just above the bound comes out a hair below it. A composite: where s_i is
    not 1 the gradient also flows through the norm (as PyTorch's); at ‖x_i‖_p = maxnorm exactly, s_i = 1 is the
    branch taken (the strict > of PyTorch). The max-norm constraint of dropout networks (train.MaxNorm) applies
    it to the weights after each step, outside the graph."""
    x = _tensor(x)
    for name, value in (("p", p), ("maxnorm", maxnorm)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or math.isnan(value):
            raise TypeError(f"renorm: {name} must be a number, got {value!r}")
    if not p > 0:
        raise ValueError(f"renorm: p must be > 0 (the norm's order: 2, 1, inf, ...), got {p!r}")
    if not maxnorm >= 0:
        raise ValueError(f"renorm: maxnorm must be >= 0, got {maxnorm!r}")
    if x.ndim < 2:  # as PyTorch: a slice of a vector is one number, whose "norm" is its size
        raise ValueError(f"renorm: needs a tensor of at least 2 dimensions (it scales slices along dim), got shape "
                         f"{x.shape}")
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"renorm: dim must be an integer, got {dim!r}")
    (axis,) = normalize_axes(int(dim), x.ndim)
    others = tuple(a for a in range(x.ndim) if a != axis)
    n = norm(x, p, axis=others, keepdims=True)
    big = n > maxnorm  # (on the tensor, no branch on its values: a compiled step replays it)
    return x * where(big, maxnorm / (n + 1e-7), 1.0)  # (x · 1.0 is x, bit for bit, where nothing is above)


for _f in (var, std, logsumexp, norm, prod, cumsum, cumprod, renorm):
    setattr(Tensor, _f.__name__, _f)

__all__ = ["var", "std", "logsumexp", "norm", "renorm", "prod", "cumsum", "cumprod"]
