"""`tg.compile`: a training step traced once and written out as one function of plain numpy code.

    @tg.compile
    def step(x, y):
        opt.zero_grad()
        loss = tg.mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step(X[:64], Y[:64])   # runs eagerly, recording every numpy call: forward, backward's formulas, the update
    step(X[64:128], ...)   # the same shapes: traced once more, and the two traces must agree
    step(...)              # from now on: the generated function (print(step.source) shows it)

A call is replayed by the generated code when it looks like the traced ones: the same shapes, dtypes and
requires_grad of the arguments, grad mode, the same optimizer settings and buffers, and the same parameters
with or without a `.grad` (a small cache of traces, these facts each one's guards, like jax.jit's).
Anything else traces again.
Parameters are read from their tensors at each call and updated in place, `.grad` is set as eagerly, and
tensors returned by the step come back without a graph (backward has already run).

Two traces instead of one: what numpy computes outside Tensor operations (a random mask, an array made from
the inputs) would be baked into the code as a constant; a second trace that finds a different constant says
so instead of replaying the first one. What cannot be replayed at all is refused with the reason (TraceError):
reading a value as a Python number or truth value, hooks, create_graph, dropout and batch norm in training,
optimizers that decide in Python (LBFGS, ...).
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.tensor import Tensor, _state
from .codegen import Program, Writer
from .tracing import Traced, TraceError, Tracer, argument_names

__all__ = ["CompiledFunction", "TraceError", "compile"]


def compile(fn: Callable | None = None, *, inline: bool = True, fallback: bool = False) -> Any:
    """Compile `fn` (a function of Tensors and arrays: forward, loss.backward(), optimizer.step()) into
    straight-line numpy code, as a decorator (`@tg.compile`) or a call (`tg.compile(step)`).

    inline=False keeps one numpy call per line, with a name for every intermediate value (the plain version).
    fallback=True: when two traces disagree, that call's (eager) result is returned and every later call runs
    `fn` eagerly (`.eager_reason` says why), instead of raising TraceError.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, inline=inline, fallback=fallback)
    return CompiledFunction(fn, inline=inline, fallback=fallback)


class _Trace:
    """One traced call: its program and what must hold for a later call to replay it."""

    def __init__(self, program: Program, guards: list[tuple[str, tuple]], n_statements: int, args: tuple) -> None:
        self.program, self.n_statements = program, n_statements
        namespace: dict[str, Any] = {}
        conditions = []
        for condition, objects in _argument_guards(args) + guards:
            names = []
            for obj in objects:
                names.append(f"_g{len(namespace)}")
                namespace[names[-1]] = obj
            conditions.append("(" + condition.format(*names) + ")")
        self.guard_source = "def holds(args):\n    return (" + (" and\n            ".join(conditions) or "True") + ")\n"
        exec(builtins.compile(self.guard_source, "<tinygrad_edu.compile: guards>", "exec"), namespace)
        self.holds: Callable[[tuple], bool] = namespace["holds"]


class CompiledFunction:
    """The compiled form of a function; call it as the function. `.source` is the generated code."""

    def __init__(self, fn: Callable, inline: bool = True, fallback: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"tinygrad_edu.compile needs a function, got {type(fn).__name__}")
        self.fn, self.inline, self.fallback = fn, inline, fallback
        self.eager_reason: str | None = None  # set when fallback gave up compiling: later calls run fn
        functools.update_wrapper(self, fn)
        self._entries: list[list] = []  # [trace, compiled?], in the order traced
        self.traces = 0  # calls that ran eagerly under the tracer
        self._latest: _Trace | None = None
        self._last: _Trace | None = None  # the compiled trace used last

    @property
    def source(self) -> str:
        """The generated code of the latest trace (call the function first)."""
        if self._latest is None:
            raise RuntimeError(f"{self.fn.__name__} has not been called yet: the code is written at the first call")
        return self._latest.program.source

    def show(self) -> None:
        print(self.source, end="")

    def __repr__(self) -> str:
        return f"<compiled {self.fn.__name__}: {self.traces} trace(s)>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError(f"compiled {self.fn.__name__}: pass arguments by position (keyword arguments are not "
                            f"compiled yet)")
        if _state.tracer is not None or self.eager_reason is not None:
            return self.fn(*args)  # inside another trace: traced as part of it
        last = self._last  # a training loop calls with the same kind of arguments every time: tried first
        if last is not None and last.holds(args):
            return last.program.function(*args)
        _check_settings(args)
        for entry in self._entries:  # each trace's guards say which arguments it takes
            trace, compiled = entry
            if trace.holds(args):
                if compiled:
                    self._last = trace
                    return trace.program.function(*args)
                result, again = self._trace(args)
                try:
                    _compare(trace, again, self.fn.__name__)
                except TraceError as e:
                    if not self.fallback:
                        raise
                    self.eager_reason = str(e)
                    return result
                entry[:] = [again, True]
                self._latest = self._last = again
                return result
        result, trace = self._trace(args)
        self._entries.append([trace, False])
        self._latest = trace
        return result

    def _trace(self, args: tuple) -> tuple[Any, _Trace]:
        tracer = Tracer(self.fn, args)
        names = argument_names(self.fn, len(args))
        arg_kinds = []
        for i, (a, name) in enumerate(zip(args, names)):
            if isinstance(a, Tensor):
                tracer.input(a.data, name, ("arg", i, "tensor"))
                arg_kinds.append((name, "tensor"))
            elif isinstance(a, np.ndarray):
                tracer.input(a, name, ("arg", i, "array"))
                arg_kinds.append((name, "array"))
            else:
                arg_kinds.append((name, "static"))
        _name_parameters(self.fn, args, tracer)
        tracer.statements.append(("section", "forward"))
        _state.tracer = tracer
        try:
            result = self.fn(*args)
        finally:
            _state.tracer = None
        self.traces += 1
        template = _template(result, tracer, self.fn.__name__)
        inputs = _inputs(tracer)
        grads = [(leaf, tracer.grads[leaf]) for leaf in tracer.grads_set]
        writer = Writer(tracer.statements, inputs, arg_kinds, template, grads, _identifier(self.fn.__name__),
                        inline=self.inline)
        writer.arg_tensors = dict(tracer.arg_position)
        writer.namespace["_wrap"] = Tensor._wrap
        program = writer.write()
        return result, _Trace(program, tracer.guards, len(tracer.statements), args)


def _argument_guards(args: tuple) -> list[tuple[str, tuple]]:
    """What a trace assumes of its arguments, as guard conditions: a call is replayed only with arguments like
    these (Tensors and arrays of the same shapes and dtypes, the same requires_grad, settings equal) in the same
    grad mode."""
    guards: list[tuple[str, tuple]] = [(f"len(args) == {len(args)}", ()),
                                       (f"{{0}}.grad_enabled is {_state.grad_enabled}", (_state,))]
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            guards.append((f"isinstance(args[{i}], {{0}}) and args[{i}].data.shape == {a.data.shape!r} and "
                           f"args[{i}].data.dtype == {{1}} and args[{i}]._requires_grad is {a._requires_grad}",
                           (Tensor, a.data.dtype)))
        elif isinstance(a, np.ndarray):
            guards.append((f"isinstance(args[{i}], {{0}}) and args[{i}].shape == {a.shape!r} and args[{i}].dtype == {{1}}",
                           (np.ndarray, a.dtype)))
        else:
            guards.append((f"type(args[{i}]) is {{0}} and args[{i}] == {{1}}", (type(a), a)))
    return guards


def _check_settings(args: tuple) -> None:
    """Arguments other than Tensors and arrays are settings, baked into the code: they must be hashable values."""
    for a in args:
        if not isinstance(a, (Tensor, np.ndarray)):
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"compiled functions take Tensors, arrays and hashable settings (numbers, strings, "
                                f"tuples); got a {type(a).__name__}") from None


def _template(result: Any, tracer: Tracer, name: str) -> Any:
    """The function's result with each Tensor replaced by what the generated code returns for it."""
    if result is None:
        return None
    if isinstance(result, Tensor):
        traced = tracer.symbols.get(id(result.data))
        if traced is not None and traced.source is None and result.data.size == 1 and traced.hint[:1] not in "za":
            traced.hint = "loss"
        return traced if traced is not None else result.data
    if isinstance(result, (tuple, list)):
        return type(result)(_template(r, tracer, name) for r in result)
    if isinstance(result, dict):
        return {k: _template(v, tracer, name) for k, v in result.items()}
    raise TraceError(f"{name} returned a {type(result).__name__}: a compiled function returns Tensors (or tuples, "
                     f"lists, dicts of them, or None); a Python number would be the traced call's, every time. "
                     f"Return the tensor and call .item() on the result")


def _inputs(tracer: Tracer) -> list[Traced]:
    seen, out = set(), []
    for t in tracer.symbols.values():
        if t.source is not None and id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _name_parameters(fn: Callable, args: tuple, tracer: Tracer) -> None:
    """Names for the parameters of the models the function uses (its arguments, closure and globals): a
    Linear layer's weight and bias are W1, b1 (then W2, b2 ...), as in the chapter; others keep their paths."""
    try:
        found = inspect.getclosurevars(fn)
        candidates = list(args) + list(found.nonlocals.values()) + list(found.globals.values())
    except (TypeError, ValueError):
        candidates = list(args)
    from ..nn.layers import _Activation

    layer = 0
    for obj in candidates:
        if not (hasattr(obj, "named_modules") and hasattr(obj, "named_parameters")):
            continue
        for path, module in obj.named_modules():
            own = dict(module.named_parameters(recurse=False))
            if type(module).__name__ == "Linear" and "weight" in own:
                layer += 1
                names = {"weight": f"W{layer}", "bias": f"b{layer}"}
                tracer.layer_names[path or type(module).__name__] = f"z{layer}"
            else:
                if layer and isinstance(module, _Activation):
                    tracer.layer_names[path or type(module).__name__] = f"a{layer}"
                names = {k: f"{path}.{k}" if path else k for k in own}
            for k, p in own.items():
                if p is not None and id(p.data) not in tracer.symbols:
                    tracer.input(p.data, names.get(k, k), ("tensor", p))


def _compare(first: _Trace, second: _Trace, name: str) -> None:
    """Two traces of calls that looked alike must have written the same code with the same constants."""
    if first.program.source != second.program.source:
        raise TraceError(f"two calls of {name} with the same shapes ran different code: it takes different "
                         f"paths in Python from call to call (state outside the tensors), which compile cannot "
                         f"replay. Run it eagerly, or pass what changes as an argument")
    for k, v in first.program.namespace.items():
        w = second.program.namespace.get(k)
        if isinstance(v, np.ndarray) and not (isinstance(w, np.ndarray) and v.shape == w.shape and v.dtype == w.dtype
                                              and np.array_equal(v, w, equal_nan=v.dtype.kind in "fc")):
            raise TraceError(
                f"{name} uses an array of shape {v.shape} ({v.dtype}) that numpy computed outside Tensor "
                f"operations, and it was different in two calls (a random mask, an array made from the inputs): "
                f"compiled code would reuse the first one. Make it with Tensor operations or pass it as an argument")


def _identifier(name: str) -> str:
    return name if name.isidentifier() and name != "<lambda>" else "step"
