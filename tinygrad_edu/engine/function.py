"""Differentiable functions: the public API every operation of the engine is written with.

An operation is a subclass of `Function` with two static methods, side by side:

    class Square(Function):
        @staticmethod
        def forward(ctx, x):            # numpy arrays in, a numpy array out
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):        # Tensors in, Tensors out: one gradient per input of forward
            (x,) = ctx.saved_tensors
            return grad * 2 * x

    y = Square.apply(t)                 # a Tensor with y.grad_fn = <SquareBackward>

`forward` computes the value with numpy. `backward` receives dC/d(output) and returns dC/d(input) for each
positional input (None where there is none), written with Tensor operations: so backward is itself recorded
when `create_graph=True`, and second derivatives come for free. Keyword arguments of `apply` are settings
(an axis, a shape), passed to forward unchanged and never differentiated.

`ctx` is the graph node (a `Context`): the output's `grad_fn`. It keeps what backward needs and the edges
to the inputs' nodes, and nothing else, so that memory is released as soon as the graph is.

A speed-up, optional: `backward_arrays(ctx, grad)` is the same formula written on numpy arrays (saved values
from `ctx.saved_arrays`, gradients returned as arrays). When nobody will differentiate the gradients
(`create_graph=False`, every ordinary training step), autograd calls it instead of `backward`, which saves
building a Tensor for every intermediate of every formula. `backward` stays the definition: create_graph
uses it, and tests/test_fast_paths.py checks that the two agree for every op that has both. The busiest
operations of ops.py have one; a Function without it is simply run through `backward`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .tensor import Tensor, _check_can_require_grad, _state


class _Output:
    """Marker for "the output of this node" among the saved values (stored without a reference cycle)."""


_OUTPUT = _Output()


class _SavedInput:
    """One of forward's inputs among the saved values, with its version when it was saved: if it is changed
    in place before backward, the saved value is stale and backward says so instead of computing garbage."""

    __slots__ = ("tensor", "version")

    def __init__(self, tensor: Tensor) -> None:
        self.tensor, self.version = tensor, tensor._version


class Context:
    """A node of the graph: one call of a Function, with what its backward needs.

    Attributes read by the engine and the drawing code:
      function          the Function subclass that was applied
      edges             per positional input: the input's node (Context), the input itself if it is a leaf
                        that requires grad, or None (a constant: no gradient is sent there)
      needs_input_grad  per positional input: whether backward must compute its gradient
      input_shapes      per positional input: its shape (None for non-tensor arguments)
      scope             the name_scope path active when the node was created
      shape, dtype      of the output
      hooks             functions called with the output's gradient (`Tensor.register_hook`)
    """

    # Slots: a graph has one Context per operation, so they are made often and should be small. `__dict__`
    # stays for what each Function's forward keeps on ctx (ctx.shapes, ctx.axis, ...).
    __slots__ = (
        "function", "needs_input_grad", "edges", "input_shapes", "input_dtypes", "scope", "released",
        "shape", "dtype", "_args", "_arrays", "_saved", "_output_data", "_output_ref", "__dict__", "__weakref__",
    )
    # Set on few nodes: class-level defaults rather than two more assignments in every node's __init__.
    _hooks: list | None = None  # created on first use: most nodes never get a hook
    _retained: list[weakref.ref] | None = None

    def __init__(self, function: type[Function], args: tuple) -> None:
        self.function = function
        needs, edges, shapes, dtypes, arrays = [], [], [], [], []  # one pass over the inputs
        for a in args:
            if isinstance(a, Tensor):
                need = a._requires_grad
                edges.append((a if a.grad_fn is None else a.grad_fn) if need else None)
                data = a.data
                shapes.append(data.shape)
                dtypes.append(data.dtype)
                arrays.append(data)
            else:
                need = False
                edges.append(None)
                shapes.append(None)
                dtypes.append(None)
                arrays.append(a)
            needs.append(need)
        self.needs_input_grad: tuple[bool, ...] = tuple(needs)
        self.edges: tuple[Any, ...] = tuple(edges)
        self.input_shapes: tuple[Any, ...] = tuple(shapes)
        self.input_dtypes: tuple[Any, ...] = tuple(dtypes)
        self.scope = _state.scope
        self.released = False
        self._args: tuple | None = args  # only during forward, to recognise saved inputs
        self._arrays: list | None = arrays  # forward's arguments: the inputs' arrays (also only during forward)
        self._saved: tuple | None = None
        # shape, dtype, _output_data and _output_ref are set by _finish, once forward has made the output

    @property
    def hooks(self) -> list:
        """Functions called with the output's gradient during backward (`Tensor.register_hook`)."""
        if self._hooks is None:
            self._hooks = []
        return self._hooks

    @property
    def retained(self) -> list[weakref.ref]:
        """Weak references to the outputs whose `.grad` is kept (`Tensor.retain_grad`)."""
        if self._retained is None:
            self._retained = []
        return self._retained

    def name(self) -> str:
        """'MulBackward' for a node made by `Mul`, as PyTorch names its nodes."""
        return self.function.__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    # -- saving values for backward -----------------------------------------------------------------------------

    def save_for_backward(self, *values: Any) -> None:
        """Keep values (arrays, scalars) that backward needs; read them back with `ctx.saved_tensors`.

        An array that is one of forward's inputs comes back as that input Tensor, and the array forward
        returns comes back as the output Tensor, both still connected to the graph: this is what makes
        gradients of gradients correct. Any other array comes back as a constant Tensor.
        """
        args = self._args or ()
        resolved = []
        for v in values:
            if isinstance(v, np.ndarray):
                for a in args:
                    if isinstance(a, Tensor) and a.data is v:
                        v = _SavedInput(a)  # the input itself, to stay connected to the graph
                        break
            resolved.append(v)
        self._saved = tuple(resolved)

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values as Tensors: forward's inputs and output connected to the graph, other arrays as
        constants, anything else (scalars, shapes) as it was saved."""
        return self._saved_values(tensors=True)

    @property
    def saved_arrays(self) -> tuple[Any, ...]:
        """The saved values as plain numpy arrays (for `backward_arrays`), with the same checks."""
        return self._saved_values(tensors=False)

    def _saved_values(self, tensors: bool) -> tuple[Any, ...]:
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
        out = []
        for v in self._saved:
            if v is _OUTPUT:
                alive = self._output_ref()
                if alive is not None and alive._version:
                    _raise_modified(alive, alive._version, 0, self)
                # the output, as a node of this graph
                out.append(Tensor._wrap(self._output_data, self) if tensors else self._output_data)
            elif type(v) is _SavedInput:
                tensor = v.tensor
                if tensor._version != v.version:
                    _raise_modified(tensor, tensor._version, v.version, self)
                out.append(tensor if tensors else tensor.data)
            elif tensors and isinstance(v, np.ndarray):
                out.append(Tensor._wrap(v))
            else:
                out.append(v)
        return tuple(out)

    def _finish(self, output: Tensor, returned: Any) -> None:
        """Called by apply once forward has returned: recognise the output among the saved values.

        `returned` is what forward returned: for 0-d results numpy gives a scalar, which the output Tensor
        holds as a new 0-d array, so both are recognised."""
        data = output.data
        saved = self._saved
        self._output_data = None  # kept only when the output is among the saved values
        if saved is not None:
            for v in saved:
                if v is data or v is returned:
                    self._saved = tuple(_OUTPUT if v is data or v is returned else v for v in saved)
                    self._output_data = data
                    break
        self._args = self._arrays = None
        self._output_ref = weakref.ref(output)
        self.shape, self.dtype = data.shape, data.dtype

    def release(self) -> None:
        """Free the saved values (after backward, unless retain_graph=True)."""
        if self._saved is not None:
            self._saved = None
            self._output_data = None
            self.released = True

    def output(self) -> Tensor | None:
        """The output tensor if it is still alive (used by drawings), else None."""
        return self._output_ref()

    def retain_grad_of(self, tensor: Tensor) -> None:
        retained = self.retained
        if not any(r() is tensor for r in retained):
            retained.append(weakref.ref(tensor))


def _raise_modified(tensor: Tensor, now: int, expected: int, node: Context) -> None:
    raise RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place operation: "
        f"{tensor._describe()}, used by {node.name()}, is at version {now}; expected version {expected}. "
        f"Update it after backward(), or compute with a copy."
    )


class _NoGraphContext:
    """Stand-in ctx for forward when nothing needs gradients: saving is a no-op (the fast path)."""

    __slots__ = ("__dict__",)
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
    def backward(ctx: Context, grad: Tensor) -> Any:
        """Given dC/d(output) as a Tensor, return dC/d(input) per positional input, as Tensors (or None)."""
        raise NotImplementedError

    # Optional: `backward_arrays(ctx, grad)`, backward's formula on numpy arrays (see the module docstring).
    backward_arrays: Any = None

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' arrays and, if any input requires grad, record a node in the graph."""
        if _state.grad_enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    return cls._record(args, kwargs)
        # The fast path: no node, nothing saved (this is also how backward runs without create_graph).
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        return Tensor._wrap(cls.forward(_NoGraphContext(), *arrays, **kwargs))

    @classmethod
    def _record(cls, args: tuple, kwargs: dict) -> Tensor:
        """apply when some input requires grad: run forward with a new graph node and attach it to the output."""
        ctx = Context(cls, args)
        returned = cls.forward(ctx, *ctx._arrays, **kwargs)
        out = Tensor._wrap(returned)
        if out.data.dtype.kind not in "fc":  # integer or bool results (argmax, comparisons) have no gradient
            return out
        out.grad_fn = ctx
        out._requires_grad = True
        ctx._finish(out, returned)
        return out


def as_grad(value: Any, ctx: Context, index: int, arrays: bool = False) -> Any:
    """Check one gradient returned by `ctx.function.backward` (or backward_arrays): it must have the input's
    shape, and it is cast to the input's dtype. Returned as a numpy array if `arrays`, else as a Tensor."""
    if arrays:
        data = value = value.data if isinstance(value, Tensor) else np.asarray(value)
    else:
        value = value if isinstance(value, Tensor) else Tensor._wrap(value)
        data = value.data
    if data.dtype is ctx.input_dtypes[index] and data.shape == ctx.input_shapes[index]:
        return value  # the usual case, checked first
    shape = ctx.input_shapes[index]
    if data.shape != shape:
        raise RuntimeError(
            f"{ctx.function.__name__}.backward returned a gradient of shape {data.shape} for input {index}, "
            f"which has shape {shape}: a gradient always has the shape of its input "
            f"(reduce a broadcast gradient with sum_to)"
        )
    dtype = ctx.input_dtypes[index]
    if data.dtype is not dtype and data.dtype != dtype:  # `is` first: the same dtype object, almost always
        _check_can_require_grad(dtype, f"input {index} of {ctx.function.__name__}")
        value = value.astype(dtype)  # a recorded Cast for a Tensor, numpy's astype for an array
    return value
