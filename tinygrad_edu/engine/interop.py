"""numpy calling into Tensors: `ndarray * t`, `np.exp(t)`, `np.sum(t)` stay in the graph.

numpy hands a ufunc call that involves a Tensor to `Tensor.__array_ufunc__` and a numpy function call to
`Tensor.__array_function__` (NEP 13 / NEP 18), which this file adds to the class. What the engine can
differentiate is dispatched to the Tensor operation. Anything else runs on the plain values and returns
numpy's result when no Tensor among the arguments requires grad (a gradient, data: `np.linalg.norm(p.grad)`,
`np.percentile(t, 90)`); with a Tensor that requires grad it raises a TypeError naming what to use instead,
rather than silently returning a plain array that has left the graph.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import elementwise, ops, reductions, shape
from .ops import operand
from .tensor import Tensor, values


_UFUNCS: dict[np.ufunc, Callable] = {
    np.add: lambda a, b: ops.Add.apply(operand(a), operand(b)),
    np.subtract: lambda a, b: ops.Sub.apply(operand(a), operand(b)),
    np.multiply: lambda a, b: ops.Mul.apply(operand(a), operand(b)),
    np.true_divide: lambda a, b: ops.Div.apply(operand(a), operand(b)),
    np.power: lambda a, b: ops.Pow.apply(operand(a), operand(b)),
    np.matmul: lambda a, b: ops.MatMul.apply(operand(a), operand(b)),
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.negative: lambda x: -x,
    np.positive: lambda x: x,
    np.exp: lambda x: x.exp(),
    np.log: lambda x: x.log(),
    np.sqrt: lambda x: x.sqrt(),
    np.absolute: lambda x: x.abs(),
    np.tanh: lambda x: x.tanh(),
    np.heaviside: lambda x, h: _heaviside(x, h),
    np.square: elementwise.square,
    **{op.f: op.apply for op in elementwise.UNARY.values() if isinstance(op.f, np.ufunc)},  # np.sin, np.log1p ...
}

# Comparisons and tests have no derivative: they give bool Tensors outside the graph.
_NON_DIFFERENTIABLE = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.logical_and, np.logical_or, np.logical_not, np.signbit,
}

_HINTS = {
    "dot": "use a @ b",
    "inner": "use (a * b).sum(-1)",
    "linalg.norm": "use t.norm() (vector norms: ord 2, 1, inf)",
    "median": "use t.sort(axis) and pick the middle",
}


def _heaviside(x: Any, h: Any) -> Tensor:
    if not np.all(np.asarray(h) == 0):
        raise TypeError("Tensor heaviside follows the chapter (value 0 at x = 0): use np.heaviside(x, 0) or t.heaviside()")
    return x.heaviside()


def _not_supported(name: str) -> TypeError:
    hint = _HINTS.get(name, "use the Tensor method of the same name if there is one (t.sum(), t.max(), t.exp(), ...)")
    return TypeError(
        f"numpy.{name} cannot be differentiated by tinygrad_edu: {hint}; or call it on t.numpy() to work with "
        f"the plain values (outside the graph, no gradient)"
    )


def _plain(x: Any) -> Any:
    """The arguments with every Tensor (also inside lists, tuples and dicts) replaced by its array."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _in_graph(x: Any) -> bool:
    """True if some Tensor among the arguments requires grad."""
    if isinstance(x, Tensor):
        return x._requires_grad
    if isinstance(x, (list, tuple)):
        return any(_in_graph(v) for v in x)
    if isinstance(x, dict):
        return any(_in_graph(v) for v in x.values())
    return False


def _has_tensor(x: Any) -> bool:
    if isinstance(x, Tensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tensor(v) for v in x)
    return False


def array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """`ndarray * t`, `np.exp(t)`, `ndarray @ t` ... become Tensor operations that stay in the graph."""
    differentiable = method == "__call__" and not kwargs and ufunc in _UFUNCS
    if not differentiable and ufunc not in _NON_DIFFERENTIABLE and not _in_graph(inputs) \
            and not _has_tensor(kwargs.get("out")):  # values outside the graph: plain numpy (np.add.reduce(g))
        return getattr(ufunc, method)(*_plain(inputs), **_plain(kwargs))
    if method != "__call__" or kwargs.get("out") is not None:
        raise TypeError(
            f"numpy.{ufunc.__name__}.{method}(..., out=...) is not supported on Tensors: "
            f"use Tensor operations (or in-place operators under no_grad())"
        )
    if ufunc in _NON_DIFFERENTIABLE:
        return Tensor._wrap(ufunc(*(values(x) for x in inputs), **kwargs))
    if ufunc not in _UFUNCS or kwargs:
        raise _not_supported(ufunc.__name__)
    first, *rest = inputs
    if len(inputs) == 1:
        return _UFUNCS[ufunc](first)
    return _UFUNCS[ufunc](first, *rest)


def _reduction(method: str) -> Callable:
    def call(a: Any, axis: Any = None, keepdims: bool = False, **rest: Any) -> Tensor:
        if rest:
            raise TypeError(f"numpy.{method} on a Tensor supports only axis and keepdims, got {sorted(rest)}")
        return getattr(a, method)(axis=axis, keepdims=keepdims)

    return call


_FUNCTIONS: dict[Callable, Callable] = {
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.max: _reduction("max"),
    np.min: _reduction("min"),
    np.amax: _reduction("max"),
    np.amin: _reduction("min"),
    np.reshape: lambda a, shape, **kw: a.reshape(shape),
    np.transpose: lambda a, axes=None: a.transpose(axes) if axes is not None else a.transpose(),
    np.broadcast_to: lambda a, shape: a.broadcast_to(shape),
    np.expand_dims: lambda a, axis: a.expand_dims(axis),
    np.squeeze: lambda a, axis=None: a.squeeze(axis),
    np.clip: lambda a, a_min=None, a_max=None, **kw: a.clip(kw.get("min", a_min), kw.get("max", a_max)),
    np.where: lambda c, a, b: ops.where(c, a, b),
    np.concatenate: lambda ts, axis=0: ops.concatenate(ts, axis),
    np.stack: lambda ts, axis=0: ops.stack(ts, axis),
    # numpy's own order of arguments (dtype and out are refused: a Tensor's dtype is its own)
    np.var: lambda a, axis=None, dtype=None, out=None, ddof=0, keepdims=False: reductions.var(
        _plain_only(a, "var", dtype=dtype, out=out), axis, ddof, keepdims),
    np.std: lambda a, axis=None, dtype=None, out=None, ddof=0, keepdims=False: reductions.std(
        _plain_only(a, "std", dtype=dtype, out=out), axis, ddof, keepdims),
    np.prod: lambda a, axis=None, dtype=None, out=None, keepdims=False: reductions.prod(
        _plain_only(a, "prod", dtype=dtype, out=out), axis, keepdims),
    np.cumsum: lambda a, axis=None, dtype=None, out=None: reductions.cumsum(
        _plain_only(a, "cumsum", dtype=dtype, out=out), axis),
    np.cumprod: lambda a, axis=None, dtype=None, out=None: reductions.cumprod(
        _plain_only(a, "cumprod", dtype=dtype, out=out), axis),
    np.flip: lambda a, axis=None: shape.flip(a, axis),
    np.roll: lambda a, shift, axis=None: shape.roll(a, shift, axis),
    np.repeat: lambda a, repeats, axis=None: shape.repeat(a, repeats, axis),
    np.tile: lambda a, reps: shape.tile(a, reps),
    np.tril: lambda a, k=0: shape.tril(a, k),
    np.triu: lambda a, k=0: shape.triu(a, k),
    np.diag: lambda a, k=0: shape.diag(a, k),
    np.pad: lambda a, pad_width, mode="constant", constant_values=0: _pad(a, pad_width, mode, constant_values),
    np.take_along_axis: lambda a, indices, axis: shape.take_along_axis(a, indices, axis),
    np.sort: lambda a, axis=-1, kind=None, order=None: shape.sort(_plain_only(a, "sort", order=order), axis),
    np.einsum: lambda subscripts, *operands: shape.einsum(subscripts, *operands),
    np.outer: lambda a, b: shape.outer(a, b),
    np.argmax: lambda a, axis=None, keepdims=False: a.argmax(axis, keepdims),
    np.argmin: lambda a, axis=None, keepdims=False: a.argmin(axis, keepdims),
    np.shape: lambda a: np.shape(values(a)),
    np.ndim: lambda a: np.ndim(values(a)),
    np.size: lambda a, axis=None: np.size(values(a), axis),
}


def _plain_only(a: Any, name: str, **unsupported: Any) -> Any:
    """`a`, if no argument the engine does not take was given (dtype=, out=, order=)."""
    given = sorted(k for k, v in unsupported.items() if v is not None)
    if given:
        raise TypeError(f"numpy.{name} on a Tensor does not take {', '.join(given)}=: cast first with "
                        f"t.astype(dtype), or call numpy on t.numpy() for plain values")
    return a


def _pad(a: Any, pad_width: Any, mode: str, constant_values: Any) -> Tensor:
    if mode != "constant":
        raise TypeError(f"numpy.pad on a Tensor pads with a constant only (mode='constant'), got mode={mode!r}")
    return shape.pad(a, pad_width, constant_values)


def array_function(self: Tensor, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
    """`np.sum(t)`, `np.concatenate([t, u])` ... dispatch to the engine, or raise a TypeError with a hint."""
    if func in _FUNCTIONS:
        return _FUNCTIONS[func](*args, **kwargs)
    if not _in_graph(args) and not _in_graph(kwargs):  # a gradient, data: numpy's own result, a plain array
        return func(*_plain(args), **_plain(kwargs))
    module = getattr(func, "__module__", "") or ""
    name = func.__name__
    if module.startswith("numpy.linalg"):
        name = "linalg." + name
    raise _not_supported(name)


Tensor.__array_ufunc__ = array_ufunc  # type: ignore[method-assign]
Tensor.__array_function__ = array_function  # type: ignore[method-assign]
