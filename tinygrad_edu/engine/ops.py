"""The primitive operations: each one's forward (numpy) and backward (Tensor operations) side by side.

Notation in the docstrings: y is the output, g = dC/dy the incoming gradient, and each backward returns
dC/dx = g · dy/dx for every input x (the chain rule, one link at a time).

The busiest operations also have `backward_arrays`: the same formula on numpy arrays, which autograd runs
when the gradients will not be differentiated again (create_graph=False), to skip making a Tensor for every
intermediate (see function.py). Read `backward`: it is the definition.

Broadcasting. numpy lets `x + b` combine shapes (3, 4) and (4,): b is used as if repeated over the rows.
Every use of a repeated value contributes to its gradient, so the backward of a broadcasting operation
must add the contributions back up to the input's own shape. That one rule, "un-broadcast", is `sum_to`:
it sums the axes that broadcasting added. `broadcast_to` and `sum_to` are each other's backward.

Kinks (documented conventions, as in PyTorch):
- relu'(0) = 0, heaviside'(x) = 0 everywhere (its derivative is 0 except at 0, where none exists),
  |x|' = sign(x) so |x|'(0) = 0;
- max/min reductions and maximum/minimum split the gradient equally between tied elements;
- clip passes the gradient where low <= x <= high (boundaries included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Context, Function
from .tensor import Tensor


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a tuple, possibly negative) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(out))


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of a reduction over `axes` with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ---------------------------------------------------------------------------------------------------------------
# Broadcasting: the un-broadcast rule and its adjoint
# ---------------------------------------------------------------------------------------------------------------


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Un-broadcast: sum `x` over the axes that broadcasting `shape` up to `x.shape` added.

    Leading axes that `shape` lacks are summed away; axes where `shape` has 1 and `x` has more are summed
    with keepdims. `sum_to(broadcast_to(b, s), b.shape)` adds up every copy of b.
    """
    return x if x.shape == tuple(shape) else SumTo.apply(x, shape=tuple(shape))


def _unbroadcast(ctx: Context, index: int, grad: Any) -> Any:
    """The gradient for input `index` of a broadcasting operation, summed back to that input's shape (sum_to);
    None if that input needs none (a Python scalar, a constant, a tensor that does not require grad).
    `grad` is a Tensor in backward and a numpy array in backward_arrays; the result is of the same kind."""
    if grad is None or not ctx.needs_input_grad[index]:
        return None
    shape = ctx.input_shapes[index]
    if grad.shape == shape:
        return grad
    return SumTo.apply(grad, shape=shape) if isinstance(grad, Tensor) else _sum_to_array(grad, shape)


def _sum_to_array(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """sum_to on a numpy array (SumTo's forward)."""
    y, lead = x, x.ndim - len(shape)
    if lead > 0:  # the leading axes broadcasting added: summed away (a new array, not a reshaped view of one)
        y = y.sum(axis=tuple(range(lead)))
    if y.shape != shape and lead >= 0:  # axes stretched from length 1: summed, keeping them
        y = y.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    if y.shape != shape:
        raise ValueError(f"cannot sum a tensor of shape {x.shape} to shape {shape}: not a broadcast of it")
    return y


class SumTo(Function):
    """y = x summed down to `shape` (see sum_to). Backward: broadcast g back to x's shape."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.x_shape = x.shape
        return _sum_to_array(x, shape)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return g.broadcast_to(ctx.x_shape)


class BroadcastTo(Function):
    """y = x repeated to `shape` (numpy's broadcast_to). Backward: sum_to(g, x.shape)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.x_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return sum_to(g, ctx.x_shape)


# ---------------------------------------------------------------------------------------------------------------
# Elementwise arithmetic (inputs broadcast like numpy; Python scalars are constants)
# ---------------------------------------------------------------------------------------------------------------


class Add(Function):
    """y = a + b.   dy/da = 1, dy/db = 1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        return np.add(a, b)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        return _unbroadcast(ctx, 0, g), _unbroadcast(ctx, 1, g)

    backward_arrays = backward  # the very same code works on arrays


class Sub(Function):
    """y = a - b.   dy/da = 1, dy/db = -1."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        gb = -g if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, g), _unbroadcast(ctx, 1, gb)

    backward_arrays = backward  # the very same code works on arrays


class Mul(Function):
    """y = a * b.   dy/da = b, dy/db = a."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved_arrays
        ga = g * b if ctx.needs_input_grad[0] else None
        gb = g * a if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


class Div(Function):
    """y = a / b.   dy/da = 1/b, dy/db = -a/b² = -y/b."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved_arrays
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


class Neg(Function):
    """y = -x.   dy/dx = -1."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        return np.negative(x)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return -g

    backward_arrays = backward  # the very same code works on arrays


class Pow(Function):
    """y = a ** b.   dy/da = b a^(b-1);  dy/db = y log(a)  (taken as 0 where a = 0: lim a^b log a = 0)."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        a, b, y = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * 0.0 if _is_zero(b) else g * b * a ** (b - 1)
        if ctx.needs_input_grad[1]:
            zero = (a.data if isinstance(a, Tensor) else np.asarray(a)) == 0
            log_a = where(zero, 1.0, a).log()  # log(1) = 0 stands in where a = 0, then masked
            gb = g * y * where(zero, 0.0, log_a)
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


def _is_zero(b: Any) -> bool:
    return not isinstance(b, Tensor) and bool(np.all(np.asarray(b) == 0))


class MatMul(Function):
    """y = a @ b with numpy's rules (1-D operands, batches of matrices).

    For matrices: dC/da = g @ bᵀ and dC/db = aᵀ @ g. A 1-D a is treated as a row (1, n) and a 1-D b as a
    column (n, 1), and the added axis is removed again; batch axes broadcast, so the results are sum_to'd.
    """

    @staticmethod
    def forward(ctx: Context, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            y = np.matmul(a, b)
        except ValueError as e:  # numpy checked the shapes: say which ones, in our words
            raise ValueError(_matmul_mismatch(np.shape(a), np.shape(b), e)) from None
        ctx.save_for_backward(a, b)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # two matrices (every layer of an MLP): the formulas as they stand
            return (g @ b.mT if needs_a else None), (a.mT @ g if needs_b else None)
        a2 = a if a.ndim > 1 else a.reshape(1, -1)
        b2 = b if b.ndim > 1 else b.reshape(-1, 1)
        g2 = g  # g with the axes numpy removed for 1-D operands put back (b's first: g may be 0-d)
        if b.ndim == 1:
            g2 = g2.expand_dims(-1)
        if a.ndim == 1:
            g2 = g2.expand_dims(-2)
        ga = gb = None
        if needs_a:
            ga = g2 @ b2.mT
            if a.ndim == 1:
                ga = ga.squeeze(-2)
            ga = sum_to(ga, a.shape)
        if needs_b:
            gb = a2.mT @ g2
            if b.ndim == 1:
                gb = gb.squeeze(-1)
            gb = sum_to(gb, b.shape)
        return ga, gb

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved_arrays
        if a.ndim != 2 or b.ndim != 2:  # 1-D operands and batches: through backward, on Tensors
            return MatMul.backward(ctx, Tensor._wrap(g))
        needs_a, needs_b = ctx.needs_input_grad
        ga = gb = None
        # Each gradient is made in its input's memory layout. A layer's `x @ W.mT` multiplies by a transposed
        # view of W; computed as (gᵀ x)ᵀ, its gradient is a transposed view too, which Transpose's backward
        # turns back into W's own layout (xᵀ g would reach W.grad laid out column by column, and be copied).
        if needs_a:
            ga = (b @ g.mT).mT if _is_transposed(a) else g @ b.mT
        if needs_b:
            gb = (g.mT @ a).mT if _is_transposed(b) else a.mT @ g
        return ga, gb


def _is_transposed(x: np.ndarray) -> bool:
    """True for a matrix laid out column by column, such as the .mT view of an ordinary one."""
    return x.flags.f_contiguous and not x.flags.c_contiguous


def _matmul_mismatch(a: tuple[int, ...], b: tuple[int, ...], error: Exception) -> str:
    if len(a) == 0 or len(b) == 0:
        return f"matmul needs operands with at least one axis, got shapes {a} and {b}; use * to multiply by a scalar"
    inner = b[-2 if len(b) > 1 else 0]
    if a[-1] != inner:
        return (f"matmul: shapes {a} and {b} do not fit: the last axis of the first ({a[-1]}) must equal the "
                f"{'second-to-last' if len(b) > 1 else 'only'} axis of the second ({inner})")
    return f"matmul: shapes {a} and {b}: {error}"  # batch axes that do not broadcast


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------------------------


class Exp(Function):
    """y = exp(x).   dy/dx = exp(x) = y (the saved output)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return g * y

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_arrays
        return g * y


class Log(Function):
    """y = log(x) (natural).   dy/dx = 1/x."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g / x

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        (x,) = ctx.saved_arrays
        return g / x


class Sqrt(Function):
    """y = √x.   dy/dx = 1/(2√x) = 1/(2y)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return g / (y * 2)


class Abs(Function):
    """y = |x|.   dy/dx = sign(x), with sign(0) = 0."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (sign,) = ctx.saved_tensors
        return g * sign


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e^(-x)).   dy/dx = σ(x)(1 - σ(x)) = y(1 - y), from the saved output.

    Stable for large |x|: for very negative x, e^(-x) overflows to inf and 1/(1 + inf) = 0 is the right
    limit, so the overflow warning is silenced rather than avoided.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            y = np.asarray(np.exp(np.negative(x)))  # 0-d input gives a numpy scalar: make it an array
        y += 1  # in place: one temporary array instead of three
        np.reciprocal(y, out=y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_arrays
        return _times_into(y * (1 - y), g)


class SigmoidBackward(Function):
    """dC/dx = g · y(1 − y), Sigmoid's backward as one operation (one pass of numpy instead of three ops).

    Its own backward (needed for second derivatives) is written with Tensor operations:
    d/dg = y(1 − y) and d/dy = g(1 − 2y)."""

    @staticmethod
    def forward(ctx: Context, g: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(g, y)
        return _times_into(y * (1 - y), g)

    @staticmethod
    def backward(ctx: Context, gg: Tensor) -> tuple:
        g, y = ctx.saved_tensors
        dg = gg * (y * (1 - y)) if ctx.needs_input_grad[0] else None
        dy = gg * g * (1 - 2 * y) if ctx.needs_input_grad[1] else None
        return dg, dy


def _times_into(slope: Any, g: np.ndarray) -> Any:
    """slope · g, written into `slope` (a temporary of the caller's) when it has the result's shape and dtype."""
    if isinstance(slope, np.ndarray) and slope.shape == g.shape and slope.dtype == np.result_type(slope, g):
        return np.multiply(slope, g, out=slope)
    return slope * g


class Tanh(Function):
    """y = tanh(x).   dy/dx = 1 - tanh(x)² = 1 - y²."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return TanhBackward.apply(g, y)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        (y,) = ctx.saved_arrays
        return _times_into(1 - y * y, g)


class TanhBackward(Function):
    """dC/dx = g · (1 − y²), Tanh's backward as one operation. Its own backward: d/dg = 1 − y², d/dy = −2gy."""

    @staticmethod
    def forward(ctx: Context, g: np.ndarray, y: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(g, y)
        return _times_into(1 - y * y, g)

    @staticmethod
    def backward(ctx: Context, gg: Tensor) -> tuple:
        g, y = ctx.saved_tensors
        dg = gg * (1 - y * y) if ctx.needs_input_grad[0] else None
        dy = gg * g * (-2 * y) if ctx.needs_input_grad[1] else None
        return dg, dy


class ReLU(Function):
    """y = max(x, 0).   dy/dx = 1 where x > 0, else 0 (so relu'(0) = 0)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x > 0)  # a bool mask: a quarter of the memory of a float32 copy
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (positive,) = ctx.saved_tensors
        return g * positive

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        (positive,) = ctx.saved_arrays
        return g * positive


class Heaviside(Function):
    """The chapter's step (eq. 94): y = 1 if x > 0 else 0.   dy/dx = 0 (taken as 0 at x = 0 too).

    No gradient flows through a step: this is why the perceptron has its own learning rule.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        ctx.x_dtype = x.dtype
        return np.heaviside(x, 0.0).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return Tensor._wrap(np.zeros(g.shape, g.dtype))


class Maximum(Function):
    """y = maximum(a, b) elementwise. The gradient goes to the larger input; ties split it in half."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        y = np.maximum(a, b)
        ctx.save_for_backward(_share_of_a(a, b, np.greater))
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        (share,) = ctx.saved_tensors
        ga = g * share if ctx.needs_input_grad[0] else None
        gb = g * (1 - share) if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


class Minimum(Maximum):
    """y = minimum(a, b) elementwise. The gradient goes to the smaller input; ties split it in half."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any) -> np.ndarray:
        y = np.minimum(a, b)
        ctx.save_for_backward(_share_of_a(a, b, np.less))
        return y


def _share_of_a(a: Any, b: Any, wins: np.ufunc) -> np.ndarray:
    """1 where a wins, 0.5 on ties, 0 where b wins, in the result's dtype."""
    dtype = np.result_type(a, b)
    dtype = dtype if dtype.kind in "fc" else np.float64
    return wins(a, b).astype(dtype) + (np.equal(a, b) * 0.5).astype(dtype)


class Clip(Function):
    """y = clip(x, low, high).   dy/dx = 1 where low <= x <= high (boundaries included), else 0."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, low: Any = None, high: Any = None) -> np.ndarray:
        inside = np.ones(x.shape, bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (inside,) = ctx.saved_tensors
        return g * inside


class Where(Function):
    """y = where(condition, a, b): a where the condition holds, else b. The gradient is routed likewise."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, condition: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        (condition,) = ctx.saved_tensors
        ga = where(condition.data, g, 0.0) if ctx.needs_input_grad[0] else None
        gb = where(condition.data, 0.0, g) if ctx.needs_input_grad[1] else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise `a if condition else b` (numpy.where), differentiable in a and b."""
    condition = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if condition.dtype != bool:
        condition = condition.astype(bool)
    return Where.apply(_tensor_or_value(a), _tensor_or_value(b), condition=condition)


def _tensor_or_value(x: Any) -> Any:
    return x if isinstance(x, (Tensor, int, float, np.ndarray, np.generic)) else np.asarray(x)


class Cast(Function):
    """y = x as another dtype. Backward casts g back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        ctx.x_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return g.astype(ctx.x_dtype)


# ---------------------------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------------------------


class Sum(Function):
    """y = Σ x over `axis`.   Each summed element gets the gradient of the sum: g broadcast back to x."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = normalize_axes(axis, x.ndim)
        ctx.x_shape, ctx.kept_shape = x.shape, _kept_shape(x.shape, axes)
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        # Put the summed axes back (length 1) so that g lines up with x, unless it already does: with
        # keepdims, or for a total sum (a 0-d g broadcasts to any shape).
        if g.ndim and g.shape != ctx.kept_shape:
            g = g.reshape(ctx.kept_shape)
        return g.broadcast_to(ctx.x_shape)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> np.ndarray:
        return np.broadcast_to(g.reshape(ctx.kept_shape), ctx.x_shape)  # a read-only view, never written to


class Max(Function):
    """y = max of x over `axis`. The gradient goes to the maximal elements, split equally between ties."""

    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = normalize_axes(axis, x.ndim)
        if x.size == 0:
            raise ValueError(f"{cls.__name__.lower()} of an empty tensor (shape {x.shape}) is undefined")
        ctx.x_shape, ctx.kept_shape = x.shape, _kept_shape(x.shape, axes)
        y = cls.reduce(x, axis=axes, keepdims=True)
        is_extreme = x == y
        dtype = x.dtype if x.dtype.kind in "fc" else np.float64
        ctx.save_for_backward(is_extreme / is_extreme.sum(axis=axes, keepdims=True, dtype=dtype))
        return y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        (share,) = ctx.saved_tensors
        return g.reshape(ctx.kept_shape).broadcast_to(ctx.x_shape) * share


class Min(Max):
    """y = min of x over `axis`. The gradient goes to the minimal elements, split equally between ties."""

    reduce = staticmethod(np.min)


# ---------------------------------------------------------------------------------------------------------------
# The squared-error loss, fused
# ---------------------------------------------------------------------------------------------------------------


class SquaredErrorSum(Function):
    """y = scale · Σ (a − b)², summed over every element: the MSE losses (scale = 1/N, 1/size or 1).

    dy/da = 2·scale·(a − b) and dy/db = −2·scale·(a − b). Written as `((a - b) * (a - b)).sum() * scale`
    this is four operations forward and five backward, in the loss of every training step; fused, it is one
    forward and three backward. Backward recomputes a − b from the saved inputs with Tensor operations, so
    gradients of gradients still work (create_graph=True).
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, scale: float = 1.0) -> np.ndarray:
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        diff = np.subtract(a, b)
        return (diff * diff).sum() * scale  # scale is a Python float: a float32 loss stays float32

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        d = (a - b) * (g * (2 * ctx.scale))  # g is the loss's (0-d) gradient
        return _unbroadcast(ctx, 0, d), _unbroadcast(ctx, 1, -d if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_arrays(ctx: Context, g: np.ndarray) -> tuple:
        a, b = ctx.saved_arrays
        d = (a - b) * (g * (2 * ctx.scale))
        return _unbroadcast(ctx, 0, d), _unbroadcast(ctx, 1, -d if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------------------------------------------------------
# Shapes and indexing
# ---------------------------------------------------------------------------------------------------------------


class Reshape(Function):
    """y = x with a new shape (same elements in the same order). Backward: reshape g back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        ctx.x_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return g.reshape(ctx.x_shape)


class Transpose(Function):
    """y = x with its axes permuted (reversed when axes is None). Backward: the inverse permutation."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        ctx.axes = axes  # the inverse permutation is worked out in backward, if it is ever needed
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        axes = ctx.axes
        inverse = None if axes is None else tuple(np.argsort([a % g.ndim for a in axes]))
        return Transpose.apply(g, axes=inverse)


def _is_basic_index(index: Any) -> bool:
    """Slices, integers, None and Ellipsis select each element at most once (a view in numpy)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (slice, int, np.integer)) or i is None or i is Ellipsis for i in items)


class GetItem(Function):
    """y = x[index] (basic and integer-array indexing).

    Backward scatters g into zeros of x's shape. An element picked twice (x[[0, 0]]) gets both gradients,
    which is why advanced indexing uses np.add.at (plain assignment would keep only the last one).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, index: Any) -> np.ndarray:
        ctx.x_shape, ctx.index = x.shape, index
        try:
            return np.asarray(x[index])
        except IndexError as e:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return ScatterAdd.apply(g, index=ctx.index, shape=ctx.x_shape)


class ScatterAdd(Function):
    """y = zeros(shape) with g added at `index` (the backward of GetItem). Backward: g[index]."""

    @staticmethod
    def forward(ctx: Context, g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, g.dtype)
        if _is_basic_index(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> Tensor:
        return GetItem.apply(g, index=ctx.index)


class Concatenate(Function):
    """y = the inputs joined along `axis`. Backward: each input gets its slice of g."""

    @staticmethod
    def forward(ctx: Context, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        try:
            y = np.concatenate(xs, axis=axis)
        except ValueError as e:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ValueError(f"cannot concatenate shapes {shapes} along axis {axis}: {e}") from None
        ctx.axis = axis % y.ndim
        ctx.bounds = np.cumsum([0] + [np.shape(x)[ctx.axis] for x in xs])
        return y

    @staticmethod
    def backward(ctx: Context, g: Tensor) -> tuple:
        head = (slice(None),) * ctx.axis
        return tuple(
            g[head + (slice(start, stop),)] if need else None
            for start, stop, need in zip(ctx.bounds[:-1], ctx.bounds[1:], ctx.needs_input_grad)
        )


def concatenate(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (numpy.concatenate)."""
    tensors = [t if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
    if not tensors:
        raise ValueError("need at least one tensor to concatenate")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along a new axis (numpy.stack): expand_dims each, then concatenate."""
    tensors = [t if isinstance(t, Tensor) else Tensor._wrap(np.asarray(t)) for t in tensors]
    if not tensors:
        raise ValueError("need at least one tensor to stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum (numpy.maximum); ties split the gradient."""
    return Maximum.apply(_tensor_or_value(a), _tensor_or_value(b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum (numpy.minimum); ties split the gradient."""
    return Minimum.apply(_tensor_or_value(a), _tensor_or_value(b))
