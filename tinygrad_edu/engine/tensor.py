"""The Tensor: a numpy array that remembers how it was computed.

A `Tensor` wraps a numpy array (`.data`). When it is computed by an operation from tensors that require
gradients, it also holds `grad_fn`, the graph node (a `Context`, see function.py) that knows how to send a
gradient back to the operation's inputs. `backward()` (autograd.py) walks these nodes in reverse.

Arrays follow numpy exactly: dtypes, broadcasting and type promotion are numpy's (NEP 50: Python scalars are
"weak", so a float32 tensor times 2.5 stays float32; a 0-d tensor is "strong" like a 0-d array).

This module also holds the two pieces of global state the engine has:
- grad mode (`no_grad`, `enable_grad`): whether new operations are recorded;
- the name scope stack (`name_scope`): a label recorded on every graph node, so that drawings can group the
  nodes created inside one layer. The engine itself knows nothing of layers.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .function import Context


# ---------------------------------------------------------------------------------------------------------------
# Global state: grad mode and name scopes
# ---------------------------------------------------------------------------------------------------------------


class _State:
    """Module-level switches (one Python thread is assumed, like most teaching code)."""

    grad_enabled: bool = True
    scope: tuple[str, ...] = ()


_state = _State()


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return _state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator setting grad mode to `mode` inside, restoring the previous mode after."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_state.grad_enabled)
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._previous.pop()


class no_grad(set_grad_enabled):
    """Do not record operations: `with no_grad(): w -= lr * w.grad` (also usable as a decorator).

    Inside, results have no `grad_fn`, nothing is saved for backward, and in-place updates of parameters are
    allowed. This is what optimizers and evaluation loops use.
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record operations again, e.g. inside a function called under `no_grad()`."""

    def __init__(self) -> None:
        super().__init__(True)


@contextlib.contextmanager
def name_scope(name: str) -> Iterator[tuple[str, ...]]:
    """Record `name` on every graph node created inside (nested scopes make a path, e.g. ("MLP", "layers.0")).

    Modules enter a scope when called, so graph drawings can draw each layer's nodes in a labelled box.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name_scope needs a non-empty string, got {name!r}")
    previous = _state.scope
    _state.scope = previous + (name,)
    try:
        yield _state.scope
    finally:
        _state.scope = previous


def current_scope() -> tuple[str, ...]:
    """The path of name scopes that are open now (empty outside any scope)."""
    return _state.scope


# ---------------------------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------------------------

_DIFFERENTIABLE_KINDS = "fc"  # floating and complex dtypes can carry gradients
_NUMERIC_KINDS = "biufc"


def _check_numeric(array: np.ndarray, what: str = "tensor") -> None:
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{what} needs numbers (bool, int, float or complex), got an array of dtype {array.dtype}"
        )


def _check_can_require_grad(dtype: np.dtype, who: str) -> None:
    if dtype.kind not in _DIFFERENTIABLE_KINDS:
        raise TypeError(
            f"only floating-point tensors can require gradients, but {who} has dtype {dtype}; "
            f"create it with a float dtype, e.g. tensor([1, 2, 3], dtype=float, requires_grad=True)"
        )


class RemovableHandle:
    """Returned by `register_hook`; `handle.remove()` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad_fn", "name", "_requires_grad", "_grad", "_hooks", "_version", "__weakref__")

    # numpy asks us before it combines a Tensor with an array (see __array_ufunc__ below).
    __array_priority__ = 1000

    def __init__(
        self, data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data, dtype=dtype)  # a copy, like torch.tensor: later changes to `data` don't leak in
        _check_numeric(array)
        self.data: np.ndarray = array
        self.grad_fn: Context | None = None
        self.name: str | None = name
        self._grad: Tensor | None = None
        self._hooks: list[Callable] | None = None
        self._version = 0
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, array: Any, grad_fn: Context | None = None) -> Tensor:
        """Fast internal constructor: no copy, no checks (the hot path of every operation)."""
        t = object.__new__(cls)
        t.data = array if type(array) is np.ndarray else np.asarray(array)
        t.grad_fn = grad_fn
        t.name = None
        t._grad = None
        t._hooks = None
        t._version = 0
        t._requires_grad = grad_fn is not None
        return t

    # -- autograd attributes ------------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """True if gradients flow to (a leaf) or through (an intermediate) this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if self.grad_fn is not None:
            raise RuntimeError(
                f"you can only change requires_grad of leaf tensors; {self._describe()} was computed by "
                f"{self.grad_fn.name()}. Use .detach() to get a leaf that shares its data."
            )
        if value:
            name = f" {self.name!r}" if self.name else ""
            _check_can_require_grad(self.data.dtype, f"tensor{name} of shape {self.shape}")
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self (for `w = randn(3, 2).requires_grad_()`)."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by an operation that is recorded in the graph)."""
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by `backward()`: a Tensor of this tensor's shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value, dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(f"assigned grad has shape {value.shape}, but {self._describe()} has {self.shape}")
        self._grad = value

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it to `leaf.grad`.

        `gradient` is d(final)/d(self); it may be omitted when self is a scalar (it is then 1).
        Saved values are freed afterwards unless `retain_graph=True` (default: `create_graph`).
        With `create_graph=True` the gradients are themselves differentiable (higher-order derivatives).
        """
        autograd.backward([self], None if gradient is None else [gradient], retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep `.grad` for this intermediate tensor too (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError(f"can't retain_grad on {self._describe()}: it does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.retain_grad_of(self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned Tensor replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError(f"cannot register a hook on {self._describe()}: it does not require grad")
        if self.grad_fn is not None:
            hooks = self.grad_fn.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph (no gradient flows through it)."""
        return Tensor._wrap(self.data)

    # -- array attributes ---------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied; no graph)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, {self._describe()} has {self.data.size}")
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        return bool(self.data)

    __hash__ = object.__hash__  # tensors are graph nodes: hashed by identity even though == is elementwise

    def _describe(self) -> str:
        """'tensor 'w' of shape (3, 2) and dtype float64', used in error messages."""
        name = f" {self.name!r}" if self.name else ""
        return f"tensor{name} of shape {self.shape} and dtype {self.dtype}"

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # -- in-place updates ---------------------------------------------------------------------------------------

    def _check_inplace(self, what: str) -> None:
        if self._requires_grad and _state.grad_enabled:
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor in the graph"
            raise RuntimeError(
                f"in-place '{what}' on {self._describe()}, {kind} that requires grad: the graph would lose "
                f"track of the old value. Update parameters inside `with tinygrad_edu.no_grad():`, or write "
                f"`x = x {what.rstrip('=')} ...` to record a new node."
            )

    def _inplace(self, ufunc: np.ufunc, other: Any, what: str) -> Tensor:
        if self._requires_grad and _state.grad_enabled:  # (checked here first: optimizer loops come by often)
            self._check_inplace(what)
        other = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, other, out=self.data)
        except (TypeError, ValueError) as e:  # numpy's casting and broadcasting errors, with our names
            error = TypeError if isinstance(e, TypeError) else ValueError
            raise error(f"in-place '{what}' on {self._describe()} failed: {e}") from None
        self._version += 1  # saved copies of this tensor are now stale (checked in backward)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, other, "/=")

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("[...] =")
        self.data[_raw_index(index)] = value.data if isinstance(value, Tensor) else value
        self._version += 1

    # -- numpy interoperability ---------------------------------------------------------------------------------

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)` gives the values (without the graph)."""
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """`ndarray * t`, `np.exp(t)`, `ndarray @ t` ... become Tensor operations that stay in the graph."""
        from .interop import array_ufunc

        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: Any, kwargs: Any) -> Any:
        """`np.sum(t)`, `np.concatenate([t, u])` ... dispatch to the engine, or raise a TypeError with a hint."""
        from .interop import array_function

        return array_function(func, args, kwargs)

    # -- operators and methods: thin wrappers around ops.py (imported at the bottom of this file) ---------------

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, _operand(other))

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(_operand(other), self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, _operand(other))

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(_operand(other), self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, _operand(other))

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(_operand(other), self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, _operand(other))

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(_operand(other), self)

    def __pow__(self, exponent: Any) -> Tensor:
        return ops.Pow.apply(self, _operand(exponent))

    def __rpow__(self, base: Any) -> Tensor:
        return ops.Pow.apply(_operand(base), self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, _operand(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(_operand(other), self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.Abs.apply(self)

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=_raw_index(index))

    # Comparisons give bool tensors, outside the graph (they have no useful derivative).
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == _values(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != _values(other))

    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < _values(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= _values(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > _values(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= _values(other))

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ops.ReLU.apply(self)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def heaviside(self) -> Tensor:
        return ops.Heaviside.apply(self)

    def maximum(self, other: Any) -> Tensor:
        return ops.Maximum.apply(self, _operand(other))

    def minimum(self, other: Any) -> Tensor:
        return ops.Minimum.apply(self, _operand(other))

    def clip(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (numpy's and PyTorch's names)
        return ops.Clip.apply(self, low=_values(min), high=_values(max))

    def softmax(self, axis: int = -1) -> Tensor:
        from ..functional import softmax

        return softmax(self, axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        from ..functional import log_softmax

        return log_softmax(self, axis)

    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        count = 1
        for a in ops.normalize_axes(axis, self.ndim):
            count *= self.shape[a]
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims) / count

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        return ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._wrap(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._wrap(np.argmin(self.data, axis=axis, keepdims=keepdims))

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute axes like numpy: no argument reverses them; `transpose(1, 0, 2)` or `transpose((1, 0, 2))`."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose.apply(self, axes=axes or None)

    def permute(self, *dims: Any) -> Tensor:
        """PyTorch's name for `transpose(*dims)` with explicit axes."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        if len(dims) != self.ndim:
            raise ValueError(f"permute needs {self.ndim} axes for {self._describe()}, got {dims}")
        return ops.Transpose.apply(self, axes=dims)

    @property
    def T(self) -> Tensor:
        """Axes reversed (numpy's `.T`)."""
        return self if self.ndim < 2 else ops.Transpose.apply(self, axes=None)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of transposed matrices)."""
        if self.data.ndim == 2:  # a matrix: reversing its axes swaps them (and needs no permutation to invert)
            return ops.Transpose.apply(self, axes=None)
        axes = list(range(self.ndim))
        axes[-1], axes[-2] = axes[-2], axes[-1]
        return ops.Transpose.apply(self, axes=tuple(axes))

    def broadcast_to(self, shape: tuple[int, ...]) -> Tensor:
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    def sum_to(self, shape: tuple[int, ...]) -> Tensor:
        """Sum the axes that broadcasting to `self.shape` would have added: the adjoint of `broadcast_to`."""
        return ops.sum_to(self, tuple(shape))

    def expand_dims(self, axis: int | tuple[int, ...]) -> Tensor:
        return ops.Reshape.apply(self, shape=np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis: int | tuple[int, ...] | None = None) -> Tensor:
        return ops.Reshape.apply(self, shape=np.squeeze(self.data, axis).shape)

    def flatten(self) -> Tensor:
        return ops.Reshape.apply(self, shape=(-1,))

    def astype(self, dtype: Any) -> Tensor:
        """A copy cast to `dtype`; differentiable between float dtypes (the gradient is cast back)."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    def draw(self, **kwargs: Any) -> Any:
        """Draw the graph that computed this tensor: `tinygrad_edu.viz.draw_graph(self, **kwargs)`."""
        from ..viz.graph import draw_graph

        return draw_graph(self, **kwargs)


def _operand(value: Any) -> Any:
    """Operands of arithmetic: Tensors and Python/numpy scalars pass through, lists become arrays."""
    if isinstance(value, (Tensor, np.ndarray, int, float, complex, np.generic)):
        return value
    array = np.asarray(value)
    _check_numeric(array, "an operand")
    return array


def _values(value: Any) -> Any:
    """The plain values of a Tensor (or the value itself), for operations outside the graph."""
    return value.data if isinstance(value, Tensor) else value


def _raw_index(index: Any) -> Any:
    """Indices may contain Tensors (e.g. `t[labels]`): use their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


# ops and autograd need Tensor defined first; Tensor's methods need them at call time (an import inside a method
# would run again at every call)
from . import autograd, ops  # noqa: E402
