"""The primitive operations the chapter needs: each one's forward (numpy) beside its backward, one derivative
formula per input. The other operations live beside this file, by family, built on these: elementwise.py (sin,
log1p, ...), reductions.py (var, logsumexp, prod, cumsum, norm), shape.py (flatten, gather, pad, einsum, ...).

Notation: y is the output, g = dC/dy the incoming gradient, and backward returns dC/dx = g · dy/dx for every
input x (the chain rule, one link at a time). Every backward is written once, in expressions that work on
numpy arrays and on Tensors alike (see function.py): autograd runs it on arrays in an ordinary backward and on
Tensors when it records backward for higher derivatives (`create_graph=True`).

The elementwise operations come first, each a numpy function `f` and its derivative formulas (`dx`, or `da`
and `db`), as HIPS autograd's numpy_vjps.py writes them; the others (matrix product, reductions, shapes,
indexing) are Function subclasses with forward beside backward. At the end of the file: the Tensor's
operators and methods, each one call of an operation.

Broadcasting. numpy lets `x + b` combine shapes (3, 4) and (4,): b is used as if repeated over the rows.
Every use of a repeated value contributes to its gradient, so the backward of a broadcasting operation
must add the contributions back up to the input's own shape. That one rule, "un-broadcast", is `sum_to`:
it sums the axes that broadcasting added. `broadcast_to` and `sum_to` are each other's backward.

Kinks, edges and NaN (documented conventions, PyTorch's):
- relu'(0) = 0 and relu'(NaN) = 1; heaviside(x) = 1 if x > 0 else 0 (so heaviside(NaN) = 0) and its derivative
  is 0 everywhere (0 except at 0, where none exists); |x|' = sign(x), so |x|'(0) = 0 and |x|'(NaN) = 0;
- max/min reductions split the gradient equally between tied elements (NaN ties with NaN); maximum/minimum
  give half to each input where they tie, and all of it to a NaN;
- clip passes the gradient where low <= x <= high (boundaries included), not at NaN;
- a^b at a = 0: see Pow (PyTorch's values for every sign of b).
A gradient that a mask sends nowhere is selected away (np.where), not multiplied by 0: an infinite incoming
gradient stays infinite where it flows and 0 where it does not, never NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

import numpy as np

from .function import Context, Function
from .tensor import Tensor, raw_index, values


def operand(value: Any) -> Any:
    """An operand of a Tensor operation: Tensors, numbers and numpy arrays pass, other array-likes (lists)
    become arrays, anything else is a TypeError that names it. The engine's one coercion."""
    if isinstance(value, (Tensor, int, float, complex)):
        return value
    array = value if isinstance(value, (np.ndarray, np.generic)) else np.asarray(value)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"Tensor operations take numbers, arrays of numbers and Tensors, "
                        f"got {type(value).__name__} {value!r:.60}")
    return array


def as_array(value: Any) -> Any:
    """numpy's ufuncs give a scalar for a 0-d result: make it an array again (anything else passes unchanged,
    so that a compiled step, which traces these formulas, sees the call)."""
    return np.asarray(value) if isinstance(value, np.generic) else value


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a tuple, possibly negative) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):  # a 0-d tensor takes axis 0 and -1, as in numpy and PyTorch
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
    if ndim == 0:
        return ()  # ... and reducing it over them reduces nothing
    return tuple(sorted(int(a) % ndim for a in axes))


# ---------------------------------------------------------------------------------------------------------------
# Broadcasting: the un-broadcast rule and its adjoint
# ---------------------------------------------------------------------------------------------------------------


def sum_to(x: Any, shape: tuple[int, ...]) -> Any:
    """Un-broadcast: sum `x` over the axes that broadcasting `shape` up to `x.shape` added.

    Leading axes that `shape` lacks are summed away; axes where `shape` has 1 and `x` has more are summed
    with keepdims. `sum_to(broadcast_to(b, s), b.shape)` adds up every copy of b. On an array or a Tensor.
    """
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape) if isinstance(x, Tensor) else _sum_to_array(x, shape)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """numpy's broadcast_to, on an array or a Tensor (numpy arrays have no such method)."""
    return BroadcastTo.apply(x, shape=tuple(shape)) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def _sum_to_array(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    y, lead = x, x.ndim - len(shape)
    if lead > 0:  # the leading axes broadcasting added
        y = y.sum(axis=tuple(range(lead)))
    if y.shape != shape and lead >= 0:  # axes stretched from length 1: summed, keeping them
        y = y.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    if y.shape != shape:
        raise ValueError(f"cannot sum a tensor of shape {x.shape} to shape {shape}: not a broadcast of it")
    return y


class SumTo(Function):
    """y = x summed down to `shape` (see sum_to).   Backward: broadcast g back to x's shape."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return _sum_to_array(x, shape)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return broadcast_to(g, ctx.input_shapes[0])


class BroadcastTo(Function):
    """y = x repeated to `shape` (numpy's broadcast_to).   Backward: sum_to(g, x.shape)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return np.broadcast_to(x, shape)  # a read-only view: nothing is copied
        except ValueError:
            raise ValueError(f"broadcast_to: a tensor of shape {np.shape(x)} cannot be broadcast to shape "
                             f"{shape}: aligned from the right, each of its axes must equal the target's or be 1"
                             ) from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return sum_to(g, ctx.input_shapes[0])


def broadcast_mismatch(what: str, shapes: list[tuple[int, ...]], error: Exception) -> str:
    """The message for operands of `what` whose shapes do not broadcast together."""
    if "broadcast" not in str(error):
        return f"{what}: {error}"
    listed = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
    return (f"{what}: shapes {listed} do not broadcast: aligned from the right, each pair of axes must be equal "
            f"or one of them 1 (reshape one operand, e.g. b.reshape(-1, 1), to line them up)")


def zero_where(drop: np.ndarray, g: Any) -> Any:
    """0 where `drop` holds, g elsewhere: a mask applied by selection, not multiplication, so that an infinite g
    stays infinite where it flows and is 0, not NaN, where it does not. On an array or a Tensor."""
    return Where.apply(0.0, g, condition=drop) if isinstance(g, Tensor) else np.where(drop, 0.0, g)


def _unbroadcast(ctx: Context, index: int, g: Any) -> Any:
    """The gradient for input `index` of a broadcasting operation, summed back to that input's shape; None
    where that input needs none (a Python scalar, a constant, a tensor that does not require grad)."""
    if g is None or not ctx.needs_input_grad[index]:
        return None
    shape = ctx.input_shapes[index]
    return g if g.shape == shape else sum_to(g, shape)


# ---------------------------------------------------------------------------------------------------------------
# Elementwise operations: a numpy function forward, one derivative formula per input backward
# ---------------------------------------------------------------------------------------------------------------


class Elementwise(Function):
    """y = f(inputs), elementwise with numpy's broadcasting; Python scalars among the inputs are constants.

    Backward is one short formula per input (see Unary and Binary), of the incoming gradient g and of what the
    operation keeps for it: the output y if `keeps_output`, then the inputs if `keeps_inputs` (only what the
    formulas read, so that memory is freed early). The formulas run on arrays and Tensors alike.
    """

    f: Callable[..., Any]
    keeps_output = keeps_inputs = False

    @classmethod
    def forward(cls, ctx: Context, *inputs: Any) -> np.ndarray:
        try:
            y = cls.f(*inputs)
        except ValueError as e:  # numpy's "could not be broadcast", with the shapes and the operation named
            raise ValueError(broadcast_mismatch(cls.__name__.lower(), [np.shape(x) for x in inputs], e)) from None
        if cls.keeps_output or cls.keeps_inputs:
            ctx.save_for_backward(*((y,) if cls.keeps_output else ()), *(inputs if cls.keeps_inputs else ()))
        return y


class Unary(Elementwise):
    """One input x, of the output's shape: `dx(g, *kept)` is dC/dx."""

    dx: Callable[..., Any]

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> Any:
        return cls.dx(g, *ctx.saved_tensors)


class Binary(Elementwise):
    """Two inputs a and b: `da(g, *kept)` is dC/da and `db(g, *kept)` dC/db, each computed only if that input
    needs it and summed back to its own shape (a broadcast input was used once per copy: sum_to adds them up)."""

    da: Callable[..., Any]
    db: Callable[..., Any]

    @classmethod
    def backward(cls, ctx: Context, g: Any) -> tuple:
        kept = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        return (_unbroadcast(ctx, 0, cls.da(g, *kept)) if needs_a else None,
                _unbroadcast(ctx, 1, cls.db(g, *kept)) if needs_b else None)


class Add(Binary):
    """y = a + b"""
    f = np.add
    da = lambda g: g  # dy/da = 1
    db = lambda g: g  # dy/db = 1


class Sub(Binary):
    """y = a - b"""
    f = np.subtract
    da = lambda g: g  # dy/da = 1
    db = lambda g: -g  # dy/db = -1


class Mul(Binary):
    """y = a * b"""
    f = np.multiply
    keeps_inputs = True
    da = lambda g, a, b: g * b  # dy/da = b
    db = lambda g, a, b: g * a  # dy/db = a


class Div(Binary):
    """y = a / b"""
    f = np.true_divide
    keeps_output = keeps_inputs = True
    da = lambda g, y, a, b: g / b  # dy/da = 1/b
    db = lambda g, y, a, b: -g * y / b  # dy/db = -a/b² = -y/b


def _pow_da(g: Any, y: Any, a: Any, b: Any) -> Any:
    """dy/da = b a^(b-1), taken as 0 where b = 0: a^0 = 1 has slope 0, even at a = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a^(b-1) at a = 0 is inf for b < 1
        return g * Where.apply(0.0, b * a ** (b - 1), condition=values(b) == 0)


def _pow_db(g: Any, y: Any, a: Any, b: Any) -> Any:
    """dy/db = y log(a), taken as 0 where a = 0 and b >= 0 (there y is 0 or 1 and y log a -> 0); for b < 0,
    y = inf and log a = -inf give -inf. log(1) = 0 stands in at the masked places, so no NaN is made there."""
    a_, b_ = values(a), values(b)
    return g * y * Log.apply(Where.apply(1.0, a, condition=(a_ == 0) & (b_ >= 0)))


class Pow(Binary):
    """y = a ** b.   dy/da = b a^(b-1), dy/db = a^b log a.

    At a = 0, as PyTorch (checked with torch 2.13):
        b < 0:      y = inf,  dy/da = -inf (b a^(b-1) with a^(b-1) = inf),  dy/db = -inf (inf · log 0)
        b = 0:      y = 1,    dy/da = 0 (a^0 = 1 is flat),                  dy/db = 0
        0 < b < 1:  y = 0,    dy/da = inf,                                  dy/db = 0
        b = 1:      y = 0,    dy/da = 1,                                    dy/db = 0
        b > 1:      y = 0,    dy/da = 0,                                    dy/db = 0
    For a < 0 and non-integer b, y and both derivatives are NaN (numpy's a^b is NaN there).
    """
    f = np.power
    keeps_output = keeps_inputs = True
    da, db = _pow_da, _pow_db


def _share(g: Any, a: Any, b: Any, loses: np.ufunc) -> Any:
    """For maximum (loses = less) and minimum (greater): g where a wins against b, g/2 where they tie, 0 where
    a loses; a NaN never loses."""
    a, b = values(a), values(b)
    return zero_where(loses(a, b), Where.apply(g * 0.5, g, condition=np.equal(a, b)))


def _first_on_ties(ufunc: np.ufunc) -> Any:
    """numpy's maximum/minimum return the second input on a tie, PyTorch's the first: it matters for 0 against
    -0 (√ then has slope +inf or -inf). Swapping the inputs gives PyTorch's; NaN still wins either way."""
    return lambda a, b: ufunc(b, a)


class Maximum(Binary):
    """y = maximum(a, b): the gradient goes to the larger input; ties split it in half."""
    f = _first_on_ties(np.maximum)
    keeps_inputs = True
    da = lambda g, a, b: _share(g, a, b, np.less)
    db = lambda g, a, b: _share(g, b, a, np.less)


class Minimum(Binary):
    """y = minimum(a, b): the gradient goes to the smaller input; ties split it in half."""
    f = _first_on_ties(np.minimum)
    keeps_inputs = True
    da = lambda g, a, b: _share(g, a, b, np.greater)
    db = lambda g, a, b: _share(g, b, a, np.greater)


class Neg(Unary):
    """y = -x"""
    f = np.negative
    dx = lambda g: -g  # dy/dx = -1


class Exp(Unary):
    """y = exp(x)"""
    f = np.exp
    keeps_output = True
    dx = lambda g, y: g * y  # dy/dx = exp(x) = y


class Log(Unary):
    """y = log(x), natural"""
    f = np.log
    keeps_inputs = True
    dx = lambda g, x: g / x  # dy/dx = 1/x


class Sqrt(Unary):
    """y = √x"""
    f = np.sqrt
    keeps_output = True
    dx = lambda g, y: g / (2 * y)  # dy/dx = 1/(2√x)


class Abs(Unary):
    """y = |x|"""
    f = np.abs
    keeps_inputs = True
    dx = lambda g, x: g * _sign(values(x))  # dy/dx = sign(x), so |x|'(0) = 0


def _sign(x: np.ndarray) -> np.ndarray:
    return np.greater(x, 0).astype(np.int8) - np.less(x, 0)  # 0 at NaN, where np.sign gives NaN


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # For very negative x, e^(-x) overflows to inf and 1/(1 + inf) = 0 is the right limit: the warning is
    # silenced rather than avoided. In place: one temporary array instead of three.
    with np.errstate(over="ignore"):
        y = as_array(np.exp(np.negative(x)))  # (in place below: a 0-d input's scalar is made an array)
    y += 1
    return np.reciprocal(y, out=y)


class Sigmoid(Unary):
    """y = σ(x) = 1 / (1 + e^(-x))"""
    f = _sigmoid
    keeps_output = True
    dx = lambda g, y: g * (y * (1 - y))  # dy/dx = σ(x)(1 - σ(x))


class Tanh(Unary):
    """y = tanh(x)"""
    f = np.tanh
    keeps_output = True
    dx = lambda g, y: g * (1 - y * y)  # dy/dx = 1 - tanh(x)²


class ReLU(Unary):
    """y = max(x, 0); relu(-0.0) is -0.0, as PyTorch's (numpy's maximum returns its second input on a tie)"""
    f = lambda x: np.maximum(0, x)
    keeps_output = True
    dx = lambda g, y: zero_where(values(y) <= 0, g)  # dy/dx = 0 where x <= 0, else 1 (NaN included)


class Heaviside(Unary):
    """The chapter's step (eq. 94): y = 1 if x > 0 else 0. No gradient flows through a step (its derivative
    is 0, taken as 0 at x = 0 too): this is why the perceptron has its own learning rule."""
    f = lambda x: np.greater(x, 0).astype(x.dtype)
    dx = lambda g: np.zeros_like(values(g))  # a constant, whichever kind g is


# ---------------------------------------------------------------------------------------------------------------
# Operations with settings (kwargs of apply): each forward beside its backward
# ---------------------------------------------------------------------------------------------------------------


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
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        needs_a, needs_b = ctx.needs_input_grad
        a_shape, b_shape = a.shape, b.shape
        if b.ndim == 1:  # a 1-D b is a column (n, 1), and g gets that axis back
            b, g = b.reshape(-1, 1), g.reshape(g.shape + (1,))
        if a.ndim == 1:  # a 1-D a is a row (1, n)
            a, g = a.reshape(1, -1), g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
        # Each gradient is made in its input's layout: for a layer's `x @ W.mT` the gradient of W.mT is then a
        # transposed view, which Transpose's backward turns back into W's own layout (aᵀ g would reach W.grad
        # column by column, and be copied). Batch axes broadcast: sum_to adds their copies up.
        ga = gb = None
        if needs_a:
            ga = (b @ g.mT).mT if _is_transposed(a) else g @ b.mT
            ga = ga if ga.shape == a_shape else sum_to(ga, a.shape).reshape(a_shape)
        if needs_b:
            gb = (g.mT @ a).mT if _is_transposed(b) else a.mT @ g
            gb = gb if gb.shape == b_shape else sum_to(gb, b.shape).reshape(b_shape)
        return ga, gb


def _is_transposed(x: Any) -> bool:
    """True for a matrix laid out column by column, such as the .mT view of an ordinary one."""
    flags = values(x).flags
    return flags.f_contiguous and not flags.c_contiguous


def _matmul_mismatch(a: tuple[int, ...], b: tuple[int, ...], error: Exception) -> str:
    if len(a) == 0 or len(b) == 0:
        return f"matmul needs operands with at least one axis, got shapes {a} and {b}; use * to multiply by a scalar"
    inner = b[-2 if len(b) > 1 else 0]
    if a[-1] != inner:
        return (f"matmul: shapes {a} and {b} do not fit: the last axis of the first ({a[-1]}) must equal the "
                f"{'second-to-last' if len(b) > 1 else 'only'} axis of the second ({inner})")
    return f"matmul: shapes {a} and {b}: {error}"  # batch axes that do not broadcast


class Clip(Function):
    """y = clip(x, low, high).   dy/dx = 1 where low <= x <= high (boundaries included), else 0."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, low: Any = None, high: Any = None) -> np.ndarray:
        inside = np.ones_like(x, dtype=bool)  # (*_like of an input: a compiled step sees where it comes from)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(~inside)  # NaN is never inside
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (outside,) = ctx.saved_tensors
        return zero_where(values(outside), g)


class Where(Function):
    """y = where(condition, a, b): a where the condition holds, else b. The gradient is routed likewise."""

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, condition: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(condition)  # a setting (a bool array): never differentiated
        try:
            return np.where(condition, a, b)
        except ValueError as e:
            raise ValueError(broadcast_mismatch("where(condition, a, b)", [np.shape(condition), np.shape(a),
                                                                            np.shape(b)], e)) from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        condition = values(ctx.saved_tensors[0])
        needs_a, needs_b = ctx.needs_input_grad
        ga = Where.apply(g, 0.0, condition=condition) if needs_a else None
        gb = Where.apply(0.0, g, condition=condition) if needs_b else None
        return _unbroadcast(ctx, 0, ga), _unbroadcast(ctx, 1, gb)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise `a if condition else b` (numpy.where), differentiable in a and b."""
    condition = np.asarray(values(condition))
    y = Where.apply(operand(a), operand(b), condition=condition.astype(bool, copy=False))
    return y if isinstance(y, Tensor) else Tensor._wrap(y)  # two numbers or arrays still give a Tensor


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum (numpy.maximum); ties split the gradient."""
    return Maximum.apply(operand(a), operand(b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum (numpy.minimum); ties split the gradient."""
    return Minimum.apply(operand(a), operand(b))


class Cast(Function):
    """y = x as another dtype.   Backward casts g back to x's dtype."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.astype(ctx.input_dtypes[0])


# ---------------------------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------------------------


class Sum(Function):
    """y = Σ x over `axis`.   Each summed element gets the gradient of the sum: g broadcast back to x."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = normalize_axes(axis, x.ndim)
        ctx.kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))  # g's shape, lined up with x
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        # The summed axes back (length 1) so that g lines up with x, unless it already does: with keepdims,
        # or for a total sum (a 0-d g broadcasts to any shape).
        if g.ndim and g.shape != ctx.kept_shape:
            g = g.reshape(ctx.kept_shape)
        return broadcast_to(g, ctx.input_shapes[0])


class Max(Function):
    """y = max of x over `axis`. The gradient goes to the maximal elements, split equally between ties."""

    reduce = staticmethod(np.max)

    @classmethod
    def forward(cls, ctx: Context, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
        axes = normalize_axes(axis, x.ndim)
        if any(x.shape[a] == 0 for a in axes):  # (an empty batch reduced along another axis is fine)
            raise ValueError(f"{cls.__name__.lower()} of an empty tensor along an empty axis is undefined "
                             f"(shape {x.shape}, axis {axis})")
        y = cls.reduce(x, axis=axes, keepdims=True)
        ctx.kept_shape = y.shape
        is_extreme = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind in "fc" else x == y
        dtype = x.dtype if x.dtype.kind in "fc" else np.float64
        ctx.save_for_backward(is_extreme / is_extreme.sum(axis=axes, keepdims=True, dtype=dtype))
        return y if keepdims else y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (share,) = ctx.saved_tensors
        return zero_where(values(share) == 0, broadcast_to(g.reshape(ctx.kept_shape), ctx.input_shapes[0]) * share)


class Min(Max):
    """y = min of x over `axis`. The gradient goes to the minimal elements, split equally between ties."""

    reduce = staticmethod(np.min)


class SquaredErrorSum(Function):
    """y = scale · Σ (a − b)² over every element: the MSE losses (scale = 1/N, 1/size or 1).

    dy/da = 2·scale·(a − b) = −dy/db. Written as `((a - b) * (a - b)).sum() * scale` this is four operations
    forward and five backward, in the loss of every training step; as one operation, one and three.
    """

    @staticmethod
    def forward(ctx: Context, a: Any, b: Any, scale: float = 1.0) -> np.ndarray:
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        diff = np.subtract(a, b)
        return (diff * diff).sum() * scale  # scale is a Python float: a float32 loss stays float32

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        a, b = ctx.saved_tensors
        d = (a - b) * (g * (2 * ctx.scale))  # g is the loss's (0-d) gradient
        return _unbroadcast(ctx, 0, d), _unbroadcast(ctx, 1, -d if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------------------------------------------------------
# Shapes and indexing
# ---------------------------------------------------------------------------------------------------------------


class Reshape(Function):
    """y = x with a new shape (same elements in the same order).   Backward: reshape g back."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into {shape}") from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g.reshape(ctx.input_shapes[0])


class Transpose(Function):
    """y = x with its axes permuted (reversed when axes is None).   Backward: the inverse permutation."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, axes: tuple[int, ...] | None = None) -> np.ndarray:
        ctx.axes = axes  # the inverse permutation is worked out in backward, if it is ever needed
        return x.transpose(axes)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        if ctx.axes is None:
            return g.transpose()
        return g.transpose(tuple(np.argsort([a % g.ndim for a in ctx.axes])))


class GetItem(Function):
    """y = x[index] (basic and integer-array indexing).   Backward: g scattered into zeros of x's shape."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, index: Any) -> np.ndarray:
        ctx.index = index
        try:
            return as_array(x[index])
        except IndexError as e:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape {x.shape}: {e}") from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return ScatterAdd.apply(g, index=ctx.index, shape=ctx.input_shapes[0])


class ScatterAdd(Function):
    """y = zeros(shape) with g added at `index` (the backward of GetItem).   Backward: g[index].

    An element picked twice (x[[0, 0]]) gets both gradients: advanced indexing goes through np.add.at, as
    plain assignment would keep only the last one.
    """

    @staticmethod
    def forward(ctx: Context, g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        ctx.index = index
        out = np.zeros(shape, g.dtype, like=as_array(g))  # (like=: a compiled step sees where it comes from)
        items = index if isinstance(index, tuple) else (index,)
        if all(isinstance(i, (slice, int, np.integer)) or i is None or i is Ellipsis for i in items):
            out[index] = g  # basic indexing selects each element at most once
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return GetItem.apply(g, index=ctx.index)


class Concatenate(Function):
    """y = the inputs joined along `axis`.   Backward: each input gets its slice of g."""

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
    def backward(ctx: Context, g: Any) -> tuple:
        head = (slice(None),) * ctx.axis
        return tuple(g[head + (slice(start, stop),)] if need else None
                     for start, stop, need in zip(ctx.bounds[:-1], ctx.bounds[1:], ctx.needs_input_grad))


def concatenate(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (numpy.concatenate)."""
    tensors = [operand(t) for t in tensors]
    if not tensors:
        raise ValueError("need at least one tensor to concatenate")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors along a new axis (numpy.stack): expand_dims each, then concatenate."""
    tensors = [t if isinstance(t, Tensor) else Tensor._wrap(operand(t)) for t in tensors]
    if not tensors:
        raise ValueError("need at least one tensor to stack")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


# ---------------------------------------------------------------------------------------------------------------
# The Tensor's operators and methods
# ---------------------------------------------------------------------------------------------------------------


def _axes_argument(axes: tuple) -> tuple:
    """reshape(2, 3) and reshape((2, 3)) alike."""
    return tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes


def reduction_axis(axis: Any, keepdims: bool, dim: Any, keepdim: Any, who: str) -> tuple[Any, bool]:
    """A reduction's axis and keepdims from numpy's names or PyTorch's (dim=, keepdim=), not both at once."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{who}: pass axis= (numpy's name) or dim= (PyTorch's), not both")
        axis = dim
    if keepdim is not None:
        keepdims = bool(keepdim) or bool(keepdims)
    return axis, keepdims


def _unary(op: type[Function]) -> Any:
    def method(self: Tensor) -> Tensor:
        return op.apply(self)
    return method


def _binary(op: type[Function]) -> tuple[Any, Any]:
    """The operator method of `t ⊙ x` and its reflected twin, for `x ⊙ t` (as in `2 - t`)."""
    def method(self: Tensor, other: Any) -> Tensor:
        return op.apply(self, operand(other))

    def reflected(self: Tensor, other: Any) -> Tensor:
        return op.apply(operand(other), self)
    return method, reflected


class TensorMethods:
    """Tensor's arithmetic and differentiable methods, each one call of an operation above. tensor.py is the
    engine's ground floor and imports no operation, so these are copied onto Tensor below."""

    __add__, __radd__ = _binary(Add)
    __sub__, __rsub__ = _binary(Sub)
    __mul__, __rmul__ = _binary(Mul)
    __truediv__, __rtruediv__ = _binary(Div)
    __pow__, __rpow__ = _binary(Pow)
    __matmul__, __rmatmul__ = _binary(MatMul)
    __neg__, __abs__ = _unary(Neg), _unary(Abs)
    exp, log, sqrt, abs = _unary(Exp), _unary(Log), _unary(Sqrt), _unary(Abs)
    sigmoid, relu, tanh, heaviside = _unary(Sigmoid), _unary(ReLU), _unary(Tanh), _unary(Heaviside)
    maximum, minimum = maximum, minimum

    def __pos__(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        return GetItem.apply(self, index=raw_index(index))

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (numpy's and PyTorch's names)
        return Clip.apply(self, low=values(min), high=values(max))

    clamp = clip  # PyTorch's name

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "sum")
        return Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "mean")
        count = int(np.prod([self.shape[a] for a in normalize_axes(axis, self.ndim)]))
        return Sum.apply(self, axis=axis, keepdims=keepdims) / count

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """The largest values (numpy's max: values only; PyTorch's max(dim) also gives indices: use argmax)."""
        axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "max")
        return Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: bool | None = None) -> Tensor:
        axis, keepdims = reduction_axis(axis, keepdims, dim, keepdim, "min")
        return Min.apply(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        return Reshape.apply(self, shape=_axes_argument(shape))

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like numpy: no argument reverses them; `transpose(1, 0, 2)` or `transpose((1, 0, 2))`.
        (PyTorch's transpose(d0, d1) swaps two axes: that is `swapaxes(d0, d1)`, the same on a matrix.)"""
        axes = _axes_argument(axes)
        if axes and len(axes) != self.ndim:
            raise ValueError(
                f"transpose{tuple(axes)} on {self._describe()}: transpose permutes all {self.ndim} axes, as numpy's "
                f"does; to swap two axes as PyTorch's transpose(d0, d1) does, use swapaxes(d0, d1) (or mT for the "
                f"last two)")
        return Transpose.apply(self, axes=axes or None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """The tensor with two axes exchanged (numpy.swapaxes; PyTorch's transpose(d0, d1))."""
        order = list(range(self.ndim))
        order[axis1], order[axis2] = order[axis2], order[axis1]
        return Transpose.apply(self, axes=tuple(order))

    def permute(self, *dims: Any) -> Tensor:
        """PyTorch's name for `transpose(*dims)` with explicit axes."""
        dims = _axes_argument(dims)
        if len(dims) != self.ndim:
            raise ValueError(f"permute needs {self.ndim} axes for {self._describe()}, got {dims}")
        return Transpose.apply(self, axes=dims)

    @property
    def T(self) -> Tensor:
        """Axes reversed (numpy's `.T`)."""
        return self if self.ndim < 2 else Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        if self.ndim == 2:  # a matrix: reversing its axes swaps them, and needs no permutation to invert
            return Transpose.apply(self, axes=None)
        axes = list(range(self.ndim))
        axes[-1], axes[-2] = axes[-2], axes[-1]
        return Transpose.apply(self, axes=tuple(axes))

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        return BroadcastTo.apply(self, shape=tuple(shape))

    def sum_to(self, shape: tuple[int, ...]) -> Tensor:
        """Sum the axes that broadcasting to `self.shape` would have added: the adjoint of `broadcast_to`."""
        return sum_to(self, shape)

    def expand_dims(self, axis: int | tuple[int, ...]) -> Tensor:
        return Reshape.apply(self, shape=np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        """Remove axes of length 1 (all of them, or `axis`). As numpy, an axis of another length is an error
        (PyTorch's squeeze(dim) leaves such an axis alone)."""
        if axis is not None:
            for a in normalize_axes(axis, self.ndim):
                if self.shape[a] != 1:
                    raise ValueError(
                        f"squeeze(axis={axis}) on {self._describe()}: axis {a} has length {self.shape[a]}, not 1 "
                        f"(numpy refuses it; PyTorch would leave the tensor unchanged: squeeze only axes of length 1)")
        return Reshape.apply(self, shape=np.squeeze(self.data, axis).shape)

    def astype(self, dtype: Any) -> Tensor:
        """A copy cast to `dtype`; differentiable between float dtypes (the gradient is cast back)."""
        return Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        """A float32 copy (PyTorch's .float(); numpy's default float is float64, `double()`)."""
        return Cast.apply(self, dtype=np.dtype(np.float32))

    def double(self) -> Tensor:
        return Cast.apply(self, dtype=np.dtype(np.float64))

    def half(self) -> Tensor:
        return Cast.apply(self, dtype=np.dtype(np.float16))

    def clone(self) -> Tensor:
        """A copy in the graph (its gradient flows back to self), as PyTorch's clone."""
        return Cast.apply(self, dtype=self.dtype)  # astype copies


for _name, _member in vars(TensorMethods).items():
    if isinstance(_member, (FunctionType, property)):
        setattr(Tensor, _name, _member)
