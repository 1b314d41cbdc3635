"""Differentiable functions: the API every operation of the engine is written with.

An operation is a subclass of `Function` with two static methods, side by side:

    class Square(Function):
        @staticmethod
        def forward(ctx, x):            # numpy arrays in, a numpy array out
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):           # g = dC/dy in, dC/dx out: one gradient per input of forward
            (x,) = ctx.saved_tensors
            return g * 2 * x

    y = Square.apply(t)                 # a Tensor with y.grad_fn = <SquareBackward>

`forward` computes the value with numpy. `backward` receives g = dC/d(output) and returns dC/d(input) for
each positional input (None where there is none to send). It is written once, with what numpy arrays and
Tensors both have (arithmetic, `.reshape`, `.sum`, `.mT`, `Function.apply`), because autograd runs it on
either, as HIPS autograd runs its VJPs:
- on numpy arrays in an ordinary backward: plain numpy, no Tensor made for any intermediate;
- on Tensors with `create_graph=True`: backward is then recorded like any computation, so gradients of
  gradients come for free.
`ctx.saved_tensors` gives the saved values as the same kind, and `apply` on plain numpy arrays is plain
numpy (forward's result), which is how one backward calls another operation (a scatter, a `where`).

Keyword arguments of `apply` are settings (an axis, a shape), passed to forward unchanged, never
differentiated. `ctx` is the graph node (a `Context`): the output's `grad_fn`. It keeps what backward needs,
the edges to the inputs' nodes, and what it takes to show the computation afterwards as micrograd's `Value`s
show it: the inputs that get no gradient and the settings, and, for a small output, its value and the gradient
backward sent through it (larger ones would hold a training step's memory: they live with their tensor only).
"""

from __future__ import annotations

import os
import sys
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .tensor import Tensor, _state, version_of

#: Called as `observer(ctx, args, kwargs, output)` each time an operation is recorded: how a tool watches a
#: forward pass (`tinygrad_edu.viz.trace()` registers here) without the engine knowing about it.
observers: list[Callable[[Context, tuple, dict, Tensor], None]] = []


class _SavedInput:
    """One of forward's inputs among the saved values, with the version of its memory when saved: if the memory
    is changed in place before backward (through this tensor, a view, a detached alias), the saved value is
    stale and backward says so instead of computing garbage."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor, self.version = tensor, version_of(tensor.data)


_OUTPUT = object()  # "the output of this node" among the saved values (kept as its array: no reference cycle)

#: A node keeps its output's value and gradient (`output_data`, `output_grad`) when the output has at most
#: this many elements: a graph that can be read number by number stays readable after `backward()`.
KEEP_ELEMENTS = 4096


class Context:
    """A node of the graph: one call of a Function, with what its backward needs.

      function          the Function subclass that was applied
      edges             per positional input: the input's node (Context), the input itself if it is a leaf
                        that requires grad, or None (a constant: no gradient is sent there)
      needs_input_grad  per positional input: whether backward must compute its gradient
      input_shapes      per positional input: its shape (None for non-tensor arguments); input_dtypes alike
      constants         per positional input that gets no gradient, the input itself (a Tensor that needs no
                        grad, an array, a scalar); None for the others
      settings          the keyword arguments of `apply` (axis=..., shape=...)
      scope             the name_scope path active when the node was created
      shape, dtype      of the output
      output_data       the output's array, if it has at most KEEP_ELEMENTS elements (else None)
      output_grad       with output_data: the gradient dC/d(output) of the latest backward through this node
    """

    # A graph has one Context per operation: slots keep them small. `__dict__` stays for what each forward
    # keeps on ctx (ctx.index, ctx.axis, ...).
    __slots__ = ("function", "edges", "needs_input_grad", "input_shapes", "input_dtypes", "constants", "settings",
                 "scope", "shape", "dtype", "output_data", "output_grad", "released", "_args", "_arrays", "_saved",
                 "_saved_output", "_saved_version", "_output", "__dict__", "__weakref__")
    _hooks: list | None = None  # Tensor.register_hook on this node's output (class defaults: rarely set)
    retains_grad = False  # Tensor.retain_grad on this node's output

    def __init__(self, function: type[Function], args: tuple, settings: dict) -> None:
        self.function = function
        edges, needs, shapes, dtypes, arrays, constants = [], [], [], [], [], []  # one pass over the inputs
        for a in args:
            if isinstance(a, Tensor):
                need, data = a._requires_grad, a.data
                edges.append((a if a.grad_fn is None else a.grad_fn) if need else None)
                constants.append(None if need else a)
                needs.append(need)
                shapes.append(data.shape)
                dtypes.append(data.dtype)
                arrays.append(data)
            else:
                edges.append(None)
                constants.append(a)
                needs.append(False)
                shapes.append(None)
                dtypes.append(None)
                arrays.append(a)
        self.edges, self.needs_input_grad, self.constants = tuple(edges), tuple(needs), tuple(constants)
        self.input_shapes, self.input_dtypes = tuple(shapes), tuple(dtypes)
        self.settings = settings
        self.output_grad = None
        self.scope = _state.scope
        self.released = False
        self._args, self._arrays = args, arrays  # during forward only: to recognise saved inputs
        self._saved: tuple | None = None

    def name(self) -> str:
        """'MulBackward' for a node made by `Mul`, as PyTorch names its nodes."""
        return self.function.__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    def save_for_backward(self, *values: Any) -> None:
        """Keep values (arrays, scalars) that backward needs; read them back with `ctx.saved_tensors`.

        An array that is one of forward's inputs comes back as that input, and the array forward returns as
        the output, both connected to the graph: this is what makes gradients of gradients correct.
        """
        saved = []
        for v in values:
            if isinstance(v, np.ndarray):
                for a in self._args:
                    if isinstance(a, Tensor) and a.data is v:
                        v = _SavedInput(a)  # the input itself, to stay connected to the graph
                        break
            saved.append(v)
        self._saved = tuple(saved)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values: Tensors while backward is recorded (grad mode on, `create_graph=True`), numpy
        arrays otherwise; scalars and shapes as they were saved."""
        if self._saved is None:
            if self.released:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly access saved tensors "
                    "after they have already been freed). Saved intermediate values of the graph are freed "
                    "when you call .backward() or grad(). Specify retain_graph=True if you need to backward "
                    "through the graph a second time or if you need to access saved tensors after calling "
                    "backward."
                )
            return ()
        tensors = _state.grad_enabled
        out = []
        for v in self._saved:
            if type(v) is _SavedInput:
                if version_of(v.tensor.data) != v.version:
                    _raise_modified(v.tensor.data, v.version, self, v.tensor._describe())
                v = v.tensor if tensors else v.tensor.data
            elif v is _OUTPUT:
                if version_of(self._saved_output) != self._saved_version:
                    _raise_modified(self._saved_output, self._saved_version, self, "its output")
                v = Tensor._wrap(self._saved_output, self) if tensors else self._saved_output
            elif tensors and isinstance(v, np.ndarray):
                v = Tensor._wrap(v)  # a constant
            out.append(v)
        return tuple(out)

    def _finish(self, output: Tensor, returned: Any) -> None:
        """Called by apply once forward has made the output: find it among the saved values. (For a 0-d
        result numpy returns a scalar, which the output Tensor holds as a new array: both are looked for.)"""
        data = output.data
        self._saved_output = None  # kept only when backward needs it
        for v in self._saved or ():
            if v is data or v is returned:
                self._saved = tuple(_OUTPUT if v is data or v is returned else v for v in self._saved)
                self._saved_output, self._saved_version = data, version_of(data)
                break
        self._args = self._arrays = None
        self._output = weakref.ref(output)
        self.shape, self.dtype = data.shape, data.dtype
        self.output_data = data if data.size <= KEEP_ELEMENTS else None

    def release(self) -> None:
        """Free the saved values (after backward, unless retain_graph=True)."""
        if self._saved is not None:
            self._saved = self._saved_output = None
            self.released = True

    def output(self) -> Tensor | None:
        """The output tensor if it is still alive (backward fills its .grad if it retains it), else None."""
        return self._output()


def _raise_modified(array: np.ndarray, expected: int, node: Context, what: str) -> None:
    raise RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place operation: "
        f"{what}, used by {node.name()}, is at version {version_of(array)}; expected version {expected}. "
        f"Change it after backward() (an optimizer's step() included), or compute with a copy."
    )


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def created_at() -> str:
    """'file.py:12 in train' for the innermost line of the caller's code outside this package (anomaly mode)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    return "an unknown line" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


def check_finite(value: Any, what: str, node: Context) -> None:
    """Anomaly mode's test: `value` (an array or a Tensor) has no NaN and no infinity, or the error says where."""
    data = value.data if isinstance(value, Tensor) else np.asarray(value)
    if data.dtype.kind in "fc" and not np.isfinite(data).all():
        found = "NaN" if np.isnan(data).any() else "infinite values"
        raise FloatingPointError(f"anomaly: {what} of {node.name()} holds {found}; the operation was created at "
                                 f"{node.__dict__.get('created_at', 'an unknown line (outside anomaly mode)')}")


class _Unrecorded:
    """The ctx forward gets when nothing is recorded: saving is a no-op, settings land in its __dict__."""

    needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *values: Any) -> None:
        pass


class Function:
    """Base class of differentiable operations: subclass it and write `forward` and `backward`."""

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        """Compute the output from numpy arrays (and Python scalars); save what backward needs on ctx."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        """Given g = dC/d(output), return dC/d(input) per positional input (or None): see the module docstring."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on the inputs' arrays and, if grad mode is on and an input requires grad, record a node.
        Without any Tensor among the inputs, the result is forward's plain array."""
        if _state.tracer is not None:
            return _state.tracer.apply(cls, args, kwargs)
        if _state.grad_enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    return cls._record(args, kwargs)
        arrays, tensors = [], False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                tensors = True
            else:
                arrays.append(a)
        y = cls.forward(_Unrecorded(), *arrays, **kwargs)
        return Tensor._wrap(y) if tensors else y  # plain numpy in, plain numpy out

    @classmethod
    def _record(cls, args: tuple, kwargs: dict) -> Tensor:
        """apply when the result joins the graph: forward with a new node, attached to the output."""
        ctx = Context(cls, args, kwargs)
        returned = cls.forward(ctx, *ctx._arrays, **kwargs)
        out = Tensor._wrap(returned)
        if out.data.dtype.kind not in "fc":  # integer or bool results (argmax, comparisons) have no gradient
            return out
        out.grad_fn, out._requires_grad = ctx, True
        ctx._finish(out, returned)
        if _state.detect_anomaly:
            ctx.created_at = created_at()
            check_finite(out, "the result", ctx)
        for observe in observers:
            observe(ctx, args, kwargs, out)
        return out
