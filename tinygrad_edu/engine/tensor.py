"""The Tensor: a numpy array that remembers how it was computed.

A `Tensor` wraps a numpy array (`.data`). When an operation computes it from tensors that require gradients,
it also holds `grad_fn`, the graph node (a `Context`, function.py) that knows how to send a gradient back to
the operation's inputs. `backward()` (autograd.py) walks these nodes in reverse.

Arrays follow numpy exactly: dtypes, broadcasting and type promotion are numpy's (NEP 50: Python scalars are
"weak", so a float32 tensor times 2.5 stays float32; a 0-d tensor is "strong" like a 0-d array).

This file is the engine's ground floor: it imports none of the others. The arithmetic and the other
differentiable methods are defined in ops.py next to the operations they call, `backward()` in autograd.py,
numpy's hooks in interop.py; each of those files adds its methods to the class (as DeZero's `setup_variable`).

The engine's state lives here too, one copy per thread (as PyTorch's grad mode):
- grad mode (`no_grad`, `enable_grad`): whether new operations are recorded;
- anomaly mode (`detect_anomaly`): every result and gradient checked for NaN and infinity;
- the name scope path (`name_scope`): a label recorded on every graph node, so that drawings can group the
  nodes created inside one layer. The engine itself knows nothing of layers.
And, for all threads, the version of each piece of memory changed in place (`version_of`): a tensor, its
views (slices, transposes, reshapes), `detach()` and the arrays obtained from it share one memory, so a change
through any of them is seen by a backward that saved one of them.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------------------------
# Global state: grad mode and name scopes
# ---------------------------------------------------------------------------------------------------------------


class _State(threading.local):
    grad_enabled: bool = True  # the class attributes are every new thread's starting values
    detect_anomaly: bool = False
    scope: tuple[str, ...] = ()
    tracer: Any = None  # while tinygrad_edu.compile traces a function: what the engine reports its work to


_state = _State()


def outside_graph(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """numpy work on tensors' values that the graph does not record (comparisons, argmax): a tracer sees it."""
    tracer = _state.tracer
    return func(*args, **kwargs) if tracer is None else tracer.run_numpy(func, args, kwargs)


def checked(check: Callable[..., None], *args: Any) -> None:
    """Run `check` on values (it raises if they are wrong: labels out of range); a compiled step runs it again
    at every call, on that call's values."""
    tracer = _state.tracer
    if tracer is None:
        check(*args)
    else:
        tracer.check(check, args)


def note_untraceable(reason: str) -> None:
    """Said by code that draws random numbers or keeps Python state: a traced function cannot replay it."""
    if _state.tracer is not None:
        _state.tracer.refuse(reason)


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return _state.grad_enabled


class _Mode(contextlib.ContextDecorator):
    """A switch of this thread's state, set to `mode` inside a `with` block (or a decorated function) and
    restored after; `name` is the switch."""

    name = ""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(getattr(_state, self.name))
        setattr(_state, self.name, self.mode)

    def __exit__(self, *exc: object) -> None:
        setattr(_state, self.name, self._previous.pop())


class set_grad_enabled(_Mode):
    """Context manager / decorator setting grad mode to `mode` inside, restoring the previous mode after."""

    name = "grad_enabled"


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


def is_anomaly_enabled() -> bool:
    """True when every forward result and backward gradient is checked for NaN and infinity."""
    return _state.detect_anomaly


class detect_anomaly(_Mode):
    """`with tg.detect_anomaly(): loss.backward()` (or as a decorator): anomaly mode inside. Each operation's
    result and each gradient backward computes is checked for NaN and infinity, and the first one found raises,
    naming the operation and the line of your code that created it. It costs a check per value and a look at
    the call stack per operation: turn it on to find a problem, not to train."""

    name = "detect_anomaly"

    def __init__(self, mode: bool = True) -> None:
        super().__init__(mode)


class set_detect_anomaly(detect_anomaly):
    """`tg.set_detect_anomaly(True)`: anomaly mode on (or off) at once, for the rest of this thread; used in a
    `with` statement it is restored at the end of the block."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        super().__enter__()

    def __enter__(self) -> None:
        pass  # already set by the call


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


# Non-finite values travel through the graph silently, as in PyTorch, rather than as numpy RuntimeWarnings that
# point into the engine's lines; anomaly mode (`detect_anomaly`) finds where they start. A filter costs nothing
# until numpy warns (np.errstate around each operation would cost ~1 µs); a test runner that resets the filters
# for each test, as pytest does, shows the warnings in its summary again.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygrad_edu\.(engine\.|functional)")


# ---------------------------------------------------------------------------------------------------------------
# Versions of memory changed in place
# ---------------------------------------------------------------------------------------------------------------

_versions: dict[int, int] = {}  # id of the array owning some memory -> its number of in-place changes (if any)


def version_of(array: np.ndarray) -> int:
    """How many times the memory of `array` has been changed in place (by Tensor operators, optimizers,
    load_state_dict: all call `bump_version`). numpy's views all name the array that owns their memory as their
    `base`, which is what the versions are kept by."""
    base = array.base
    return _versions.get(id(array if base is None else base), 0)


def bump_version(*arrays: np.ndarray) -> None:
    """Record an in-place change of the memory of each array: graphs that saved it will refuse to backward."""
    for array in arrays:
        owner = array if array.base is None else array.base
        key = id(owner)
        version = _versions.get(key)
        if version is None:
            weakref.finalize(owner, _versions.pop, key, None)  # forgotten with the memory (an id can be reused)
            version = 0
        _versions[key] = version + 1


# ---------------------------------------------------------------------------------------------------------------
# Tensor
# ---------------------------------------------------------------------------------------------------------------


def check_numeric(array: np.ndarray, what: str = "tensor") -> None:
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{what} needs numbers (bool, int, float or complex), got an array of dtype {array.dtype}")


def check_can_require_grad(dtype: np.dtype, who: str) -> None:
    if dtype.kind not in "fc":  # floating and complex dtypes can carry gradients
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

    __slots__ = ("data", "grad_fn", "name", "_requires_grad", "_grad", "_hooks", "__weakref__")

    __array_priority__ = 1000  # numpy asks us first when it combines an array with a Tensor (interop.py)

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        array = np.array(data, dtype=dtype)  # a copy, like torch.tensor: later changes to `data` don't leak in
        check_numeric(array)
        self.data: np.ndarray = array
        self.grad_fn: Any = None  # the Context that computed this tensor; None for a leaf
        self.name: str | None = name
        self._grad: Tensor | None = None
        self._hooks: list[Callable] | None = None  # a leaf's own; an intermediate's are on its grad_fn
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True
        if _state.tracer is not None:
            _state.tracer.tensor_created(self, data)

    @classmethod
    def _wrap(cls, array: Any, grad_fn: Any = None) -> Tensor:
        """Fast internal constructor: no copy, no checks (the hot path of every operation)."""
        t = object.__new__(cls)
        t.data = array if type(array) is np.ndarray else np.asarray(array)
        t.grad_fn = grad_fn
        t.name = None
        t._grad = None
        t._hooks = None
        t._requires_grad = grad_fn is not None
        return t

    # -- autograd attributes ------------------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """True if gradients flow to (a leaf) or through (an intermediate) this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(
                f"you can only change requires_grad of leaf tensors; {self._describe()} was computed by "
                f"{self.grad_fn.name()}. Use .detach() to get a leaf that shares its data."
            )
        if value:
            check_can_require_grad(self.data.dtype, f"tensor{f' {self.name!r}' if self.name else ''} of shape {self.shape}")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self (for `w = randn(3, 2).requires_grad_()`)."""
        self.requires_grad = requires_grad
        return self

    @property
    def _version(self) -> int:
        """How many times this tensor's memory has been changed in place (PyTorch's `_version`)."""
        return version_of(self.data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by an operation that is recorded in the graph)."""
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by `backward()`: a Tensor of this tensor's shape and dtype, or None."""
        if _state.tracer is not None:
            _state.tracer.grad_of(self)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value, dtype=self.dtype)
            if value.shape != self.shape:
                raise ValueError(f"assigned grad has shape {value.shape}, but {self._describe()} has {self.shape}")
        if _state.tracer is not None:
            _state.tracer.grad_assigned(self, value)
        self._grad = value

    def retain_grad(self) -> None:
        """Keep `.grad` for this intermediate tensor too (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError(f"can't retain_grad on {self._describe()}: it does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.retains_grad = True

    @property
    def retains_grad(self) -> bool:
        """True for an intermediate tensor whose `.grad` backward fills (see `retain_grad`)."""
        return self.grad_fn is not None and self.grad_fn.retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned Tensor replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError(f"cannot register a hook on {self._describe()}: it does not require grad")
        owner = self if self.grad_fn is None else self.grad_fn  # an intermediate's gradient arrives at its node
        if owner._hooks is None:
            owner._hooks = []
        owner._hooks.append(hook)
        return RemovableHandle(owner._hooks, hook)

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
        """The number of elements (numpy's attribute; PyTorch's size() is `.shape` here, numel() also works)."""
        return _Size(self.data.size)

    def numel(self) -> int:
        """The number of elements (PyTorch's name for `.size`)."""
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
        """The values as a numpy array, shared, not copied, and outside the graph; read-only if the tensor
        requires grad (a write would go unseen by backward: write under no_grad() with Tensor operators)."""
        if _state.tracer is not None:
            _state.tracer.read_value(self, "read with .numpy()")
        return _read_only(self.data) if self._requires_grad else self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, {self._describe()} has {self.data.size}")
        if _state.tracer is not None:
            _state.tracer.read_value(self, "read with .item()")
        return self.data.item()

    def tolist(self) -> Any:
        if _state.tracer is not None:
            _state.tracer.read_value(self, "read with .tolist()")
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if _state.tracer is not None:
            _state.tracer.read_value(self, "used as a truth value (if/while)")
        return bool(self.data)

    __hash__ = object.__hash__  # tensors are graph nodes: hashed by identity even though == is elementwise

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """`np.asarray(t)` gives the values (without the graph), as `numpy()` does."""
        if _state.tracer is not None:
            _state.tracer.read_value(self, "converted to a numpy array")
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.numpy()

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

    # -- in-place updates: plain numpy on .data, allowed where nothing is being recorded -------------------------

    def _inplace(self, update: Callable[[np.ndarray], Any], what: str) -> Tensor:
        """Apply `update` to `.data` in place, refused while recording a tensor that requires grad."""
        if self._requires_grad and _state.grad_enabled:
            kind = "a leaf tensor" if self.grad_fn is None else "a tensor in the graph"
            raise RuntimeError(
                f"in-place '{what}' on {self._describe()}, {kind} that requires grad: the graph would lose "
                f"track of the old value. Update parameters inside `with tinygrad_edu.no_grad():`, or write "
                f"`x = x {what.rstrip('=')} ...` to record a new node."
            )
        try:
            if _state.tracer is not None:
                _state.tracer.inplace(self, update)
                return self
            update(self.data)
        except (TypeError, ValueError) as e:  # numpy's casting and broadcasting errors, with our names
            error = TypeError if isinstance(e, TypeError) else ValueError  # (numpy's own subclasses need more)
            raise error(f"in-place '{what}' on {self._describe()} failed: {e}") from None
        bump_version(self.data)  # saved copies of this memory are now stale (checked in backward)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(lambda data: np.add(data, values(other), out=data), "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(lambda data: np.subtract(data, values(other), out=data), "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(lambda data: np.multiply(data, values(other), out=data), "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(lambda data: np.true_divide(data, values(other), out=data), "/=")

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace(lambda data: data.__setitem__(raw_index(index), values(value)), "[...] =")

    # -- outside the graph: comparisons and arg-reductions have no useful derivative ----------------------------

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(outside_graph(np.equal, self.data, values(other)))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(outside_graph(np.not_equal, self.data, values(other)))

    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(outside_graph(np.less, self.data, values(other)))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(outside_graph(np.less_equal, self.data, values(other)))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(outside_graph(np.greater, self.data, values(other)))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(outside_graph(np.greater_equal, self.data, values(other)))

    def isnan(self) -> Tensor:
        return Tensor._wrap(outside_graph(np.isnan, self.data))

    def isinf(self) -> Tensor:
        return Tensor._wrap(outside_graph(np.isinf, self.data))

    def isfinite(self) -> Tensor:
        return Tensor._wrap(outside_graph(np.isfinite, self.data))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._wrap(outside_graph(np.argmax, self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return Tensor._wrap(outside_graph(np.argmin, self.data, axis=axis, keepdims=keepdims))


class _Size(int):
    """`t.size`: an int, numpy's number of elements, that says what to write when called as PyTorch's size()."""

    def __call__(self, dim: Any = None) -> Any:
        raise TypeError(f"Tensor.size is numpy's number of elements ({int(self)}), not a method: for PyTorch's "
                        f"size() write .shape (or .shape[{'dim' if dim is None else dim}]), for numel() .size")


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def values(value: Any) -> Any:
    """The plain values of a Tensor (or the value itself), for work outside the graph."""
    return value.data if isinstance(value, Tensor) else value


def raw_index(index: Any) -> Any:
    """Indices may contain Tensors (e.g. `t[labels]`): use their arrays."""
    if isinstance(index, tuple):
        return tuple(values(i) for i in index)
    return values(index)
