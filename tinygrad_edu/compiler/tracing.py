"""Tracing: run a training step once, eagerly, and write down every numpy operation it performs.

While a `Tracer` is active, the engine reports to it (through `engine.tensor._state.tracer`): each operation
applied to Tensors, each `backward()`, each optimizer step, each in-place update and each read of a value as a
Python number. The engine still computes everything as usual, so the first call's results are the eager ones.
Beside it the tracer runs the *same* formulas once more, on `Traced` stand-ins for the arrays: a Traced holds
its value (numpy computes it) and, through numpy's dispatch protocols (`__array_ufunc__`, `__array_function__`),
records each numpy call made on it as one statement. Every derivative is therefore still written once, in
ops.py; the trace only watches it run. Statements read:

    ("call", out, function, args, kwargs)       out = function(*args, **kwargs)   (ufuncs, numpy functions)
    ("method", out, name, self, args, kwargs)   out = self.name(*args, **kwargs)  (args None: an attribute)
    ("const", out)                              a value that depends on no input (a seed gradient of 1)
    ("inplace", target, ufunc, args, kwargs)    a ufunc with out=target (or ufunc.at): writes memory
    ("setitem", target, index, value)           target[index] = value
    ("state", buffers, key, value, owner)       an optimizer's buffer stored: buffers[key] = value
    ("bump", target, ...)                       the version counters of updated parameters
    ("check", function, args)                   engine.tensor.checked: a check run again at each call
    ("section", title)                          "forward", "backward", "optimizer step" for the printed code

What the trace cannot replay it refuses (`TraceError`): a value read as a Python number or truth value
(data-dependent control flow), hooks, random numbers drawn outside the engine, create_graph.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from types import FunctionType

from ..engine.function import Context, Function, _Unrecorded
from ..engine.tensor import Tensor, _state, bump_version


class TraceError(RuntimeError):
    """The function cannot be compiled: what it does would not be replayed faithfully (the reason is named)."""


class Traced:
    """An array under tracing: `value` is the real array, `tracer` records what is done with it."""

    __slots__ = ("value", "tracer", "hint", "source", "scalar")
    __array_priority__ = 2000

    def __init__(self, tracer: Tracer, value: Any, hint: str = "", source: Any = None) -> None:
        self.value, self.tracer, self.hint, self.source = value, tracer, hint, source
        self.scalar = False  # numpy gave a scalar (a 0-d result): the code makes it an array, as the value is

    def __repr__(self) -> str:
        return f"Traced({self.hint or '?'}, shape={np.shape(self.value)}, dtype={self.value.dtype})"

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return self.tracer.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return self.tracer.call(func, args, kwargs)

    # Shapes, dtypes and layouts are fixed for one trace (they are part of the cache key): read them freely.
    shape = property(lambda self: np.shape(self.value))
    dtype = property(lambda self: self.value.dtype)
    ndim = property(lambda self: np.ndim(self.value))
    size = property(lambda self: np.size(self.value))
    strides = property(lambda self: self.value.strides)
    flags = property(lambda self: self.value.flags)
    itemsize = property(lambda self: self.value.itemsize)

    def __len__(self) -> int:
        return len(self.value)

    # Reading the values as Python objects would bake them into the code: refused.
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self.tracer.escape("converted to a plain numpy array (np.asarray/np.array)")

    def __bool__(self) -> bool:
        raise self.tracer.escape("used as a truth value (if/while on a value)")

    def __float__(self) -> float:
        raise self.tracer.escape("read as a Python float")

    def __int__(self) -> int:
        raise self.tracer.escape("read as a Python int")

    __index__ = __int__

    def item(self, *args: Any) -> Any:
        raise self.tracer.escape("read with .item()")

    def tolist(self) -> Any:
        raise self.tracer.escape("read with .tolist()")

    def __getitem__(self, index: Any) -> Any:
        return self.tracer.method(self, "__getitem__", (index,), {})

    def __setitem__(self, index: Any, value: Any) -> None:
        self.tracer.setitem(self, index, value)


def _operator(ufunc: np.ufunc, reflected: bool = False, inplace: bool = False) -> Callable:
    if inplace:
        return lambda self, other: ufunc(self, other, out=self)
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
           "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power, "matmul": np.matmul,
           "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}
for _name, _ufunc in _BINARY.items():
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
    setattr(Traced, f"__r{_name}__", _operator(_ufunc, reflected=True))
    setattr(Traced, f"__i{_name}__", _operator(_ufunc, inplace=True))
for _name, _ufunc in {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                      "eq": np.equal, "ne": np.not_equal}.items():
    setattr(Traced, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in {"neg": np.negative, "pos": np.positive, "abs": np.absolute, "invert": np.invert}.items():
    setattr(Traced, f"__{_name}__", lambda self, _u=_ufunc: _u(self))
Traced.__hash__ = object.__hash__  # type: ignore[assignment]

_METHODS = ("reshape", "transpose", "swapaxes", "sum", "mean", "max", "min", "prod", "any", "all", "argmax",
            "argmin", "astype", "copy", "squeeze", "ravel", "flatten", "cumsum", "cumprod", "clip", "dot", "round",
            "repeat", "take", "var", "std", "nonzero", "view", "conj", "diagonal", "trace", "argsort")
for _name in _METHODS:
    setattr(Traced, _name, lambda self, *args, _n=_name, **kwargs: self.tracer.method(self, _n, args, kwargs))
for _name in ("T", "mT", "real", "imag"):
    setattr(Traced, _name, property(lambda self, _n=_name: self.tracer.method(self, _n, None, None)))


class TraceContext:
    """What a node's forward stored for its backward, in the traced run: a `ctx` with Traced saved values."""

    def __init__(self, function: type[Function], args: tuple, settings: dict, node: Context | None) -> None:
        self.function, self.settings, self.node = function, settings, node
        tensors = [isinstance(a, Tensor) for a in args]
        self.needs_input_grad = tuple(t and a._requires_grad for t, a in zip(tensors, args))
        self.input_shapes = tuple(a.data.shape if t else None for t, a in zip(tensors, args))
        self.input_dtypes = tuple(a.data.dtype if t else None for t, a in zip(tensors, args))
        self._saved: tuple = ()
        if node is not None:
            self.shape, self.dtype, self.scope = node.shape, node.dtype, node.scope

    def save_for_backward(self, *values: Any) -> None:
        self._saved = values

    @property
    def saved_tensors(self) -> tuple:
        return self._saved

    def name(self) -> str:
        return self.function.__name__ + "Backward"


def nested_map(f: Callable[[Any], Any], value: Any) -> Any:
    """`value` with f applied to every item inside its tuples, lists, dicts and slices (a call's arguments)."""
    if isinstance(value, (tuple, list)):
        mapped = [nested_map(f, v) for v in value]
        return tuple(mapped) if isinstance(value, tuple) else mapped
    if isinstance(value, dict):
        return {k: nested_map(f, v) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(nested_map(f, value.start), nested_map(f, value.stop), nested_map(f, value.step))
    return f(value)


def leaves(value: Any) -> list:
    """Every item inside `value`'s tuples, lists, dicts and slices, in order."""
    found: list = []
    nested_map(found.append, value)
    return found


class Tracer:
    """Records the statements of one call (see the module docstring); `compiler.codegen` writes them out."""

    def __init__(self, fn: Callable, args: tuple = ()) -> None:
        self.fn = fn
        self.arg_position = {id(a): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self.statements: list[tuple] = []
        self.symbols: dict[int, Traced] = {}  # id(real array) -> its Traced
        self.keep: list[Any] = []  # every array whose id is a key above stays alive, so no id is reused
        self.contexts: dict[Context, TraceContext] = {}  # graph node -> its traced forward
        self.outputs: dict[Context, Traced] = {}  # graph node -> its output's Traced
        self.created: set[int] = set()  # ids of Tensors made during the call (not read at run time)
        self.pending_check: list[Tensor] = []  # leaves whose traced .grad autograd's is compared with
        self.grads: dict[Tensor, Any] = {}  # leaf -> its .grad as the trace knows it (Traced, array or None)
        self.grads_set: dict[Tensor, None] = {}  # leaves whose .grad the call changes (in the order of change)
        # What a later call must find to replay this one, as Python conditions on `args` and on objects:
        # (condition with {0}, {1}... for the objects, the objects)
        self.guards: list[tuple[str, tuple]] = []
        self.layer_names: dict[str, str] = {}  # a module's path -> the name of its output ("z1", "a1")
        self.named: dict[tuple, Traced] = {}  # (scope, name) -> the latest output given that name
        self.input_hints: set[str] = set()
        self.by_value: dict[int, Traced] = {}  # id(value) -> the Traced holding it (to find a view's base)
        self.kernels: dict[type, type] = {}  # an elementwise op -> the same op with its numpy function opaque
        self.emitting = 0  # > 0 while a formula runs on Traced values

    # -- symbols ------------------------------------------------------------------------------------------------

    def new(self, value: Any, hint: str = "", source: Any = None) -> Traced:
        t = Traced(self, value, hint, source)
        self.by_value[id(value)] = t
        return t

    def bind(self, array: Any, traced: Traced) -> None:
        """The real array `array` is the value `traced` stands for (a Tensor's data, a .grad)."""
        self.symbols[id(array)] = traced
        self.keep.append(array)

    def input(self, array: np.ndarray, hint: str, source: Any) -> Traced:
        """A value read at run time: an argument, a parameter, an optimizer's buffer, a .grad."""
        base, k = hint, 1
        while hint in self.input_hints:  # unique now, so that gradients named after them match (grad_param2)
            k += 1
            hint = f"{base}{k}" if base[-1:].isalpha() else f"{base}_{k}"
        self.input_hints.add(hint)
        t = self.new(array, hint, source)
        self.bind(array, t)
        return t

    def lift(self, value: Any) -> Any:
        """What a real value is in the trace: its Traced if it is one the trace knows, a pre-existing Tensor's
        data read at run time, else itself (a constant, baked into the code); inside tuples and lists too."""
        return nested_map(self._lift_one, value)

    def _lift_one(self, value: Any) -> Any:
        if isinstance(value, Tensor):
            known = self.symbols.get(id(value.data))
            if known is not None:
                return known
            if id(value) in self.created:
                return value.data  # made during the call from constants: a constant
            name = value.name or ("param" if value._requires_grad else "const")
            return self.input(value.data, name, ("tensor", value))
        if isinstance(value, np.ndarray):
            return self.symbols.get(id(value), value)
        return value

    def _real(self, value: Any) -> Any:
        return nested_map(lambda v: v.value if isinstance(v, Traced) else v, value)

    def _record_arg(self, value: Any) -> Any:
        """An argument as the statement keeps it: Traced values, the real arrays the trace knows as Traced."""
        return nested_map(lambda v: self.symbols.get(id(v), v) if isinstance(v, np.ndarray) else v, value)

    def _wrap(self, result: Any, hint: str = "") -> Any:
        if isinstance(result, np.generic):  # kept as a 0-d array, so that updates in place work on it
            traced = self.new(np.asarray(result), hint)
            traced.scalar = True
            return traced
        if isinstance(result, np.ndarray):
            return self.new(result, hint)
        if isinstance(result, tuple) and any(isinstance(r, (np.ndarray, np.generic)) for r in result):
            return tuple(self.new(r, hint) if isinstance(r, (np.ndarray, np.generic)) else r for r in result)
        return result

    def escape(self, what: str) -> TraceError:
        return TraceError(
            f"a traced value was {what} while tracing {self.fn.__name__}: compile writes the computation as "
            f"straight-line code, so a value that decides what Python does (control flow, .item(), printing) "
            f"cannot be replayed. Move that code out of the compiled function, or return the tensor and read "
            f"it afterwards.")

    # -- numpy calls on Traced values -----------------------------------------------------------------------------

    def ufunc(self, ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
        out = kwargs.get("out")
        real_kwargs = self._real(kwargs)
        if method == "at":  # np.add.at(a, index, b): a scatter into a, in place
            target = self._record_arg(inputs[0])
            if not isinstance(target, Traced):
                target = self.fresh(inputs[0], f"np.{ufunc.__name__}.at")
            ufunc.at(target.value, *self._real(inputs[1:]))
            self.statements.append(("inplace", target, (ufunc, method), (target,) + self._record_arg(inputs[1:]), {}))
            return None
        if out is not None:  # an update in place: the real array changes, the statement says so
            targets = out if isinstance(out, tuple) else (out,)
            traced_targets = [self._record_arg(t) for t in targets]
            for i, t in enumerate(traced_targets):
                if not isinstance(t, Traced):
                    traced_targets[i] = self.fresh(t, f"np.{ufunc.__name__}")
            real_kwargs["out"] = tuple(t.value for t in traced_targets)
            getattr(ufunc, method)(*self._real(inputs), **real_kwargs)
            record = {k: v for k, v in kwargs.items() if k != "out"}
            self.statements.append(("inplace", traced_targets[0], (ufunc, method), self._record_arg(inputs),
                                    self._record_arg(record)))
            # A known real array (a parameter's data) stays itself; a fresh one is its Traced from now on.
            returned = [t if isinstance(t, Traced) or id(t) not in self.symbols or self.symbols[id(t)].source else
                        self.symbols[id(t)] for t in targets]
            return returned[0] if len(returned) == 1 else tuple(returned)
        result = getattr(ufunc, method)(*self._real(inputs), **real_kwargs)
        traced = self._wrap(result)
        self.statements.append(("call", traced, (ufunc, method), self._record_arg(inputs), self._record_arg(kwargs)))
        return traced

    def call(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        result = func(*self._real(args), **self._real(kwargs))
        if not isinstance(result, (np.ndarray, np.generic, tuple)):
            return result  # np.shape, np.ndim, np.result_type...: facts about shapes and dtypes
        traced = self._wrap(result)
        if traced is result:
            return result
        self.statements.append(("call", traced, func, self._record_arg(args), self._record_arg(kwargs)))
        return traced

    def method(self, obj: Traced, name: str, args: tuple | None, kwargs: dict | None) -> Any:
        attr = getattr(obj.value, name)
        result = attr if args is None else attr(*self._real(args), **self._real(kwargs))
        if not isinstance(result, (np.ndarray, np.generic, tuple)):
            return result
        traced = self._wrap(result)
        self.statements.append(("method", traced, name, obj, None if args is None else self._record_arg(args),
                                None if kwargs is None else self._record_arg(kwargs)))
        return traced

    def fresh(self, array: Any, what: str) -> Traced:
        """An array a formula made with np.zeros (or the like) and now writes into: in the code, a copy of
        its starting value, made at each call."""
        if not self.emitting or not isinstance(array, np.ndarray):
            raise TraceError(f"{what} writes in place into an array of shape {np.shape(array)} that the trace does "
                             f"not know: the compiled code would not update it")
        start = self.new(array.copy(), "zeros" if not array.any() else "start")
        self.statements.append(("const", start))
        traced = start.copy()
        traced.value = array  # from here on, the real array is this value
        self.by_value[id(array)] = traced
        self.bind(array, traced)
        return traced

    def setitem(self, target: Traced, index: Any, value: Any) -> None:
        target.value[self._real(index)] = self._real(value)
        self.statements.append(("setitem", target, self._record_arg(index), self._record_arg(value)))

    def run_numpy(self, func: Callable, args: tuple, kwargs: dict) -> Any:
        """`func` on real arrays, outside the graph (engine.tensor.outside_graph): traced on their Traceds."""
        lifted = tuple(self.lift(a) for a in args)
        if not any(isinstance(a, Traced) for a in leaves(lifted)):
            return func(*args, **kwargs)
        result = func(*lifted, **kwargs)
        if isinstance(result, tuple):
            return tuple(self._bound(r) for r in result)
        return self._bound(result)

    def _bound(self, result: Any) -> Any:
        """A Traced result handed back to the engine as its real array, which the trace now knows."""
        if isinstance(result, Traced):
            self.bind(result.value, result)
            return result.value
        return result

    # -- what the engine reports -----------------------------------------------------------------------------------

    def apply(self, cls: type[Function], args: tuple, kwargs: dict) -> Any:
        """Function.apply while tracing: inside a formula on Traced values, the formula itself; otherwise the
        engine's result, with the same forward run on Traced values beside it."""
        if self.emitting or any(isinstance(a, Traced) for a in leaves((args, kwargs))):
            if any(isinstance(a, Tensor) for a in args):
                raise TraceError(f"{cls.__name__} was applied to Tensors inside a traced formula")
            return cls.forward(_Unrecorded(), *args, **kwargs)
        if not any(isinstance(a, Tensor) for a in args):
            return _untraced(lambda: cls.apply(*args, **kwargs))
        out = _untraced(lambda: cls.apply(*args, **kwargs))
        node = out.grad_fn if isinstance(out, Tensor) else None
        ctx = TraceContext(cls, args, kwargs, node)
        lifted = [self.lift(a) for a in args]
        settings = {k: self.lift(v) for k, v in kwargs.items()}
        self.emitting += 1
        try:
            traced = self._kernel(cls).forward(ctx, *lifted, **settings)
        except TraceError:
            raise
        except Exception as e:
            raise TraceError(f"{cls.__name__}'s forward could not be traced: {type(e).__name__}: {e}") from e
        finally:
            self.emitting -= 1
        real = out.data if isinstance(out, Tensor) else out
        if not isinstance(traced, Traced) and id(traced) in self.symbols:  # an array written in place by forward
            traced = self.symbols[id(traced)]
        if not isinstance(traced, Traced):  # a result that depends on no input: a constant of the step
            traced = self.new(np.asarray(traced), cls.__name__.lower())
            self.statements.append(("const", traced))
        _same_or_raise(traced.value, real, cls.__name__)
        traced.hint = traced.hint or cls.__name__.lower()
        self._name_layer_output(traced)
        self.bind(real, traced)
        if node is not None:
            self.contexts[node], self.outputs[node] = ctx, traced
        return out

    def _kernel(self, cls: type[Function]) -> type[Function]:
        """An elementwise op whose numpy function is a named Python function (ops._sigmoid) is written as one
        call of it, `a1 = sigmoid(z1)`, rather than as the lines inside it."""
        f = getattr(cls, "f", None)
        if not isinstance(f, FunctionType) or f.__name__ == "<lambda>":
            return cls
        kernel = self.kernels.get(cls)
        if kernel is None:
            def opaque(*args: Any, _f: Callable = f) -> Any:
                return self.opaque_call(_f, args)
            kernel = self.kernels[cls] = type(cls.__name__, (cls,), {"f": staticmethod(opaque)})
        return kernel

    def opaque_call(self, f: Callable, args: tuple) -> Any:
        with _untraced_ctx():
            result = f(*self._real(args))
        traced = self._wrap(result)
        self.statements.append(("call", traced, f, self._record_arg(args), {}))
        return traced

    def _name_layer_output(self, traced: Traced) -> None:
        """The latest value computed in a layer's scope is the layer's output: z1 for the first Linear's, a1 for
        the activation after it (the chapter's names); an earlier one loses the name to it."""
        scope = _state.scope
        name = self.layer_names.get(scope[-1]) if scope else None
        if name is None:
            return
        previous = self.named.get((scope, name))
        if previous is not None and previous.hint == name:
            previous.hint = "t"
        traced.hint = name
        self.named[(scope, name)] = traced

    def tensor_created(self, tensor: Tensor, source: Any) -> None:
        """Tensor(...) during the call: a copy of a known array stays known; anything else is a constant."""
        src = source.data if isinstance(source, Tensor) else source
        known = self.symbols.get(id(src)) if isinstance(src, np.ndarray) else None
        if known is None:
            self.created.add(id(tensor))
            self.keep.append(tensor)
            return
        copy = known.astype(tensor.data.dtype, copy=True)
        _same_or_raise(copy.value, tensor.data, "Tensor()")
        self.bind(tensor.data, copy)

    def read_value(self, tensor: Tensor, what: str) -> None:
        """A Tensor's values read as Python objects: fine for constants, refused for computed values."""
        if id(tensor.data) in self.symbols:  # an input, a parameter or a computed value: it changes per call
            raise self.escape(what)

    def check(self, check: Callable[..., None], args: tuple) -> None:
        """engine.tensor.checked: the check runs now, and its call goes into the code, on that call's values."""
        check(*args)
        self.statements.append(("check", check, self._record_arg(tuple(self.lift(a) for a in args))))

    def refuse(self, reason: str) -> None:
        raise TraceError(f"cannot compile {self.fn.__name__}: {reason}")

    def inplace(self, tensor: Tensor, update: Callable[[Any], Any]) -> None:
        """Tensor's in-place operators (`p -= lr * p.grad` under no_grad): the update, traced."""
        target = self.lift(tensor)
        if not isinstance(target, Traced):
            target = self.input(tensor.data, tensor.name or "t", ("tensor", tensor))
        update(target)
        self.version_bump(target)

    def version_bump(self, target: Traced) -> None:
        bump_version(target.value)
        self.statements.append(("bump", target))

    # -- gradients -----------------------------------------------------------------------------------------------

    def grad_of(self, leaf: Tensor) -> Any:
        """The leaf's .grad as the trace knows it; on first use, read at run time (and guarded)."""
        if leaf in self.grads:
            return self.grads[leaf]
        current = leaf._grad
        i = self.arg_position.get(id(leaf))
        test = "is None" if current is None else "is not None"
        self.guards.append((f"args[{i}]._grad {test}", ()) if i is not None else (f"{{0}}._grad {test}", (leaf,)))
        value = None if current is None else self.input(current.data, "grad_" + (leaf.name or "p"), ("grad", leaf))
        self.grads[leaf] = value
        return value

    def grad_assigned(self, leaf: Tensor, value: Tensor | None) -> None:
        self.grads[leaf] = None if value is None else self.lift(value)
        self.grads_set[leaf] = None

    def backward(self, outputs: list, grad_outputs: list | None, create_graph: bool) -> None:
        """Emit the backward walk that autograd.backward is about to run: the same order, the same formulas."""
        from ..engine.autograd import topological_order

        if create_graph:
            self.refuse("backward(create_graph=True): higher-order gradients are not compiled; run them eagerly")
        if _state.detect_anomaly:
            self.refuse("anomaly detection checks every value as it is computed; run it eagerly")
        self.statements.append(("section", "backward"))
        grads: dict[Any, Any] = {}
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor) or out.grad_fn is None and not out._requires_grad:
                return  # autograd.backward raises the error for it
            given = None if grad_outputs is None else grad_outputs[i]
            if given is None:
                seed = self.new(np.array(1, out.dtype).reshape(out.shape), "seed")
                self.statements.append(("const", seed))
            else:
                seed = self.lift(given)
                seed = seed.astype(out.dtype, copy=True) if isinstance(seed, Traced) else np.array(seed, dtype=out.dtype)
            key = out if out.grad_fn is None else out.grad_fn
            grads[key] = grads[key] + seed if key in grads else seed
        order = topological_order([t.grad_fn for t in outputs if t.grad_fn is not None])
        self.emitting += 1
        try:
            for node in order:
                g = grads.pop(node, None)
                if g is None:
                    continue
                if node._hooks or node.retains_grad:
                    self.refuse(f"a hook or retain_grad() on the output of {node.name()}: hooks run Python on the "
                                f"gradient, which the compiled code would not")
                ctx = self.contexts.get(node)
                if ctx is None:
                    self.refuse(f"{node.name()} was computed before the compiled function was called; compile "
                                f"the function that builds the graph too")
                if isinstance(g, Traced) and not g.hint:
                    out = self.outputs[node].hint
                    g.hint = "delta" + out[1:] if out[:1] == "z" and out[1:].isdigit() else "grad_" + out
                for i, gi in enumerate(_checked_gradients(node, ctx, g)):
                    edge = node.edges[i]
                    if edge is not None and gi is not None:
                        grads[edge] = grads[edge] + gi if edge in grads else gi
        finally:
            self.emitting -= 1
        for leaf, g in grads.items():  # every node was popped: what is left are the leaves
            if leaf._hooks:
                self.refuse(f"a hook on {leaf._describe()}: hooks run Python on the gradient")
            current = self.grad_of(leaf)
            param = self.symbols.get(id(leaf.data))
            name = "grad_" + (param.hint if param is not None else leaf.name or "p")
            if current is None:
                g = self._owned(g, leaf)
            else:
                self.emitting += 1
                try:
                    g = current + g
                finally:
                    self.emitting -= 1
            if isinstance(g, Traced) and g.source is None:
                g.hint = name
            self.grads[leaf] = g
            self.grads_set[leaf] = None
        self.statements.append(("section", ""))
        self.pending_check = list(grads)  # compared with the real .grad once autograd has run

    def _owned(self, g: Any, leaf: Tensor) -> Any:
        """A leaf's first gradient, as autograd stores it: its own array (copied if it is a view, read-only,
        or already another leaf's)."""
        if not isinstance(g, Traced):
            return np.array(g, dtype=leaf.dtype)
        value, owner = g.value, g.value.base
        if owner is not None and owner.shape == value.shape and owner.dtype == value.dtype and \
                owner.strides == value.strides and owner.ctypes.data == value.ctypes.data and id(owner) in self.by_value:
            g = self.by_value[id(owner)]  # a view that is all of an array (P.mT.mT): autograd keeps P itself
            value, owner = g.value, None
        shared = any(v is g for v in self.grads.values()) or g.source is not None
        if shared or owner is not None or not value.flags.writeable:
            self.emitting += 1
            try:
                return g.copy()
            finally:
                self.emitting -= 1
        return g

    def check_backward(self) -> None:
        """After the real backward: each leaf's .grad must equal the traced one, bit for bit; then the real
        .grad arrays stand for the traced ones (user code may read p.grad)."""
        for leaf in self.pending_check:
            traced, real = self.grads[leaf], leaf._grad
            if real is None:
                continue
            _same_or_raise(traced.value if isinstance(traced, Traced) else traced, real.data, "backward")
            if isinstance(traced, Traced):
                self.bind(real.data, traced)
        self.pending_check = []

    # -- optimizers ----------------------------------------------------------------------------------------------

    def optimizer_step(self, optimizer: Any) -> None:
        """Optimizer.step while tracing: each update, traced on the parameters' and buffers' own arrays."""
        self.statements.append(("section", f"optimizer step: {type(optimizer).__name__}"))
        for gi, group in enumerate(optimizer.param_groups):
            for k, v in group.items():
                if k != "params":
                    self.guards.append((f"{{0}}[{k!r}] == {{1}}", (group, v)))
            for p in group["params"]:
                g = self.grad_of(p)
                if g is None:
                    continue
                state = optimizer.state.setdefault(id(p), {})
                self.guards.append((f"{{0}}.state.get({id(p)}) is {{1}} and {{1}}.keys() == {{2}}",
                                    (optimizer, state, set(state))))
                data = self.lift(p)
                self.emitting += 1
                try:
                    optimizer._update(data, g if isinstance(g, Traced) else self.new(g), TracedState(self, state, p),
                                      group)
                    self.version_bump(data)
                finally:
                    self.emitting -= 1
        self.statements.append(("section", ""))


class TracedState:
    """An optimizer's per-parameter buffers while tracing: arrays are read at run time from the same dict."""

    def __init__(self, tracer: Tracer, state: dict, param: Tensor) -> None:
        self.tracer, self.state, self.param = tracer, state, param

    def _lift(self, key: str, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            known = self.tracer.symbols.get(id(value))
            return known if known is not None else self.tracer.input(
                value, f"{key}_{self.param_name()}", ("state", self.state, key, self.param_name()))
        return value

    def param_name(self) -> str:
        traced = self.tracer.symbols.get(id(self.param.data))
        return traced.hint if traced is not None else self.param.name or "p"

    def get(self, key: str, default: Any = None) -> Any:
        return self._lift(key, self.state[key]) if key in self.state else default

    def __getitem__(self, key: str) -> Any:
        return self._lift(key, self.state[key])

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(value, Traced):
            self.tracer.refuse(f"the optimizer keeps {key!r} as a Python {type(value).__name__}, which changes "
                               f"from step to step outside numpy: it cannot be replayed")
        self.state[key] = value.value
        self.tracer.bind(value.value, value)
        self.tracer.statements.append(("state", self.state, key, value, self.param_name()))

    def __contains__(self, key: str) -> bool:
        return key in self.state

    def __bool__(self) -> bool:
        return bool(self.state)

    def __len__(self) -> int:
        return len(self.state)


def _checked_gradients(node: Context, ctx: TraceContext, g: Any) -> list:
    """node's backward on Traced values, with autograd's checks (shape) and casts (dtype)."""
    try:
        grads = node.function.backward(ctx, g)
    except TraceError:
        raise
    except Exception as e:
        raise TraceError(f"{node.function.__name__}'s backward could not be traced: {type(e).__name__}: {e}") from e
    if type(grads) is not tuple and type(grads) is not list:
        grads = (grads,)
    out = []
    for i, gi in enumerate(grads):
        if gi is None or node.edges[i] is None:
            out.append(None)
            continue
        if not isinstance(gi, Traced):
            gi = np.asarray(gi)
        if np.shape(gi) != node.input_shapes[i]:
            raise TraceError(f"{node.function.__name__}.backward returned shape {np.shape(gi)} for input {i}, "
                             f"which has shape {node.input_shapes[i]}")
        if gi.dtype != node.input_dtypes[i]:
            gi = gi.astype(node.input_dtypes[i])
        out.append(gi)
    return out


def _same_or_raise(traced: Any, real: Any, what: str) -> None:
    traced, real = np.asarray(traced), np.asarray(real)
    if traced.shape != real.shape or traced.dtype != real.dtype or not np.array_equal(
            traced, real, equal_nan=traced.dtype.kind in "fc"):
        raise TraceError(f"{what} gave a different result when traced than when run (shape {real.shape}, dtype "
                         f"{real.dtype}): it is not deterministic, or reads state the trace cannot see")


class _untraced_ctx:
    __slots__ = ("previous",)

    def __enter__(self) -> None:
        self.previous, _state.tracer = _state.tracer, None

    def __exit__(self, *exc: object) -> None:
        _state.tracer = self.previous


def _untraced(run: Callable[[], Any]) -> Any:
    with _untraced_ctx():
        return run()


def argument_names(fn: Callable, n: int) -> list[str]:
    try:
        names = [p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        names = []
    names = names[:n]
    return names + [f"arg{i}" for i in range(len(names), n)]
