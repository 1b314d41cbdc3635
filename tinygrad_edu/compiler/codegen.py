"""From a trace to Python source: one function of straight-line numpy code.

Three passes over the statements (see tracing.py):
1. drop what nothing uses: a forward value that neither backward nor the result needs is not computed again;
2. write each value used once straight into the expression that uses it (when no update in place comes
   between), so a layer reads `z1 = x @ W1.T + b1`, not three lines of temporaries;
3. name what is left after the tensors, parameters and layers it stands for, and print it.
None of this changes a single numpy call made on what is kept, so the compiled step computes what the eager
step computes, bit for bit.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from .tracing import Traced, leaves, nested_map

_INFIX = {np.add: ("+", 11), np.subtract: ("-", 11), np.multiply: ("*", 12), np.true_divide: ("/", 12),
          np.floor_divide: ("//", 12), np.remainder: ("%", 12), np.matmul: ("@", 12), np.power: ("**", 14),
          np.less: ("<", 6), np.less_equal: ("<=", 6), np.greater: (">", 6), np.greater_equal: (">=", 6),
          np.equal: ("==", 6), np.not_equal: ("!=", 6), np.bitwise_and: ("&", 9), np.bitwise_or: ("|", 7),
          np.bitwise_xor: ("^", 8)}
_PREFIX = {np.negative: "-", np.positive: "+", np.invert: "~"}
_ATOM = 20  # precedence of a name, a call, an attribute, a subscript
_WRITES = ("inplace", "setitem", "bump", "state", "check")


class Program:
    """The generated function's source, and the namespace it runs in."""

    def __init__(self, source: str, namespace: dict[str, Any], name: str) -> None:
        self.source, self.namespace, self.name = source, namespace, name
        code = compile(source, f"<tinygrad_edu.compile: {name}>", "exec")
        exec(code, namespace)
        self.function: Callable = namespace[name]


class Writer:
    def __init__(self, statements: list[tuple], inputs: list[Traced], args: list[tuple[str, str]],
                 result: Any, grads: list[tuple[Any, str, Any]], fn_name: str, inline: bool = True) -> None:
        self.statements, self.inputs, self.args, self.result, self.grads = statements, inputs, args, result, grads
        self.fn_name, self.inline = fn_name, inline
        self.namespace: dict[str, Any] = {"np": np}
        self.names: dict[int, str] = {}  # id(Traced) -> name
        self.taken: set[str] = {"np", "bump_version", "_wrap", fn_name} | {a for a, _ in args} | set(dir(builtins))
        self.objects: dict[int, str] = {}  # id(object in the namespace) -> its name there
        self.arg_tensors: dict[int, int] = {}  # id(argument Tensor of the traced call) -> its position
        self.leaf_args: set[str] = set()  # arguments whose .grad the code reads or sets

    # -- passes --------------------------------------------------------------------------------------------------

    def _used(self) -> tuple[list[tuple], dict[int, int]]:
        """Statements that matter (writes, and what they and the result read), and how often each value is read."""
        needed = {id(t) for t in _traced_in((self.result, [g for _, g in self.grads]))}
        kept: list[tuple] = []
        for st in reversed(self.statements):
            kind = st[0]
            if kind in ("call", "method", "const"):
                outs = st[1] if isinstance(st[1], tuple) else (st[1],)
                if not any(id(o) in needed for o in outs if isinstance(o, Traced)):
                    continue
            kept.append(st)
            for t in _traced_in(_reads(st)):
                needed.add(id(t))
        kept.reverse()
        uses: dict[int, int] = {}
        for st in kept:
            for t in _traced_in(_reads(st)):
                uses[id(t)] = uses.get(id(t), 0) + 1
        for t in _traced_in((self.result, [g for _, g in self.grads])):
            uses[id(t)] = uses.get(id(t), 0) + 2  # never inlined into the epilogue
        return kept, uses

    def _fold_constants(self) -> None:
        """A call on constants alone gives a constant: its value (already computed) goes into the namespace."""
        const: set[int] = set()
        folded = []
        written = {id(st[1]) for st in self.statements if st[0] in ("inplace", "setitem")}
        for st in self.statements:
            if st[0] == "const":
                const.add(id(st[1]))
            elif st[0] in ("call", "method") and isinstance(st[1], Traced) and id(st[1]) not in written:
                reads = _traced_in(_reads(st))
                if all(id(t) in const for t in reads) and not any(isinstance(v, np.ndarray) and v.size > 1
                                                                  for v in leaves(_reads(st))):
                    const.add(id(st[1]))
                    st = ("const", st[1])
            folded.append(st)
        self.statements = folded

    def _common_subexpressions(self) -> None:
        """The same call on the same values, with no write between, is computed once (backward formulas often
        recompute what forward had: the MSE's a − y)."""
        seen: dict[Any, Traced] = {}
        same: dict[int, Traced] = {}
        out = []
        for st in self.statements:
            st = _substitute(st, same)
            if st[0] in _WRITES:
                seen.clear()
            elif st[0] in ("call", "method") and isinstance(st[1], Traced) and not st[1].scalar:
                key = _key(st[2:])
                if key is not None:
                    earlier = seen.get(key)
                    if earlier is not None:
                        same[id(st[1])] = earlier
                        continue
                    seen[key] = st[1]
            out.append(st)
        self.statements = out
        self.replaced = same

    def write(self) -> Program:
        self._fold_constants()
        self._common_subexpressions()
        self.result = _substitute(("r", self.result), self.replaced)[1]
        self.grads = [(leaf, _substitute(("g", g), self.replaced)[1]) for leaf, g in self.grads]
        statements, uses = self._used()
        self.written = {id(st[1]) for st in statements if st[0] in ("inplace", "setitem")}
        statements = _bumps_last(statements)
        inlined: dict[int, tuple] = {}  # id(Traced) -> its defining statement, to print where it is used
        if self.inline:
            last_write = -1
            defined_at: dict[int, int] = {}
            for i, st in enumerate(statements):
                for t in _traced_in(_reads(st)):
                    j = defined_at.get(id(t))
                    if j is not None and uses.get(id(t)) == 1 and last_write < j and not _named(t):
                        inlined[id(t)] = statements[j]
                if st[0] in _WRITES:
                    last_write = i
                if st[0] in ("call", "method") and isinstance(st[1], Traced) and st[1].source is None:
                    defined_at[id(st[1])] = i
        self.inputs = [t for t in self.inputs if id(t) in uses]
        for st in statements:  # functions keep their own names (sigmoid), values take others
            if st[0] == "call" and not isinstance(st[2], tuple) and getattr(np, getattr(st[2], "__name__", ""), None) is not st[2]:
                self._function_name(st[2])
            elif st[0] == "check":
                self._function_name(st[1])
        for t in self.inputs:
            self._name(t)
        body: list[str] = []
        for st in statements:
            kind = st[0]
            if kind in ("call", "method") and isinstance(st[1], Traced) and id(st[1]) in inlined:
                continue
            self._inlined = inlined
            line = self._statement(st)
            if line is not None:
                body.append(line)
        prologue = []
        for t in self.inputs:
            read = self._read(t)
            if read is not None:
                prologue.append(f"    {self.names[id(t)]} = {read}")
        epilogue = []
        for leaf, g in self.grads:
            value = "None" if g is None else f"_wrap({self._expr(g, 0)})"
            epilogue.append(f"    {self._leaf(leaf)}._grad = {value}")
        epilogue.append(f"    return {self._result(self.result)}")
        lines = [f"def {self.fn_name}({', '.join(a for a, _ in self.args)}):"]
        for a in sorted(self.leaf_args):
            lines.append(f"    {a}_tensor = {a}")
        tensor_args = [a for a, kind in self.args if kind == "tensor"]
        if tensor_args:
            lines.append(f"    {', '.join(tensor_args)} = {', '.join(a + '.data' for a in tensor_args)}")
        lines += prologue + body + epilogue
        source = "\n".join(_drop_empty_sections(lines)) + "\n"
        return Program(source, self.namespace, self.fn_name)

    # -- names ---------------------------------------------------------------------------------------------------

    def _name(self, t: Traced) -> str:
        name = self.names.get(id(t))
        if name is None and t.source is not None and t.source[0] == "arg":
            name = self.names[id(t)] = self.args[t.source[1]][0]
        if name is None:
            base = re.sub(r"\W", "_", t.hint or "t").strip("_") or "t"
            if base[0].isdigit() or keyword.iskeyword(base):
                base = "v_" + base
            name, k = base, 1
            while name in self.taken or (name == "t" and base == "t"):
                k += 1
                name = f"{base}{k}" if base[-1].isalpha() else f"{base}_{k}"
            self.taken.add(name)
            self.names[id(t)] = name
        return name

    def object_name(self, obj: Any, hint: str) -> str:
        """A name in the generated function's namespace for an object it refers to (a Tensor, a dict...)."""
        name = self.objects.get(id(obj))
        if name is None:
            base, name, k = "_" + re.sub(r"\W", "_", hint), "_" + re.sub(r"\W", "_", hint), 1
            while name in self.taken:
                k += 1
                name = f"{base}_{k}"
            self.taken.add(name)
            self.objects[id(obj)] = name
            self.namespace[name] = obj
        return name

    def _leaf(self, leaf: Any) -> str:
        """How the code names a leaf tensor: its argument (`x_tensor`), or the tensor in the namespace."""
        i = self.arg_tensors.get(id(leaf))
        if i is not None:
            self.leaf_args.add(self.args[i][0])
            return f"{self.args[i][0]}_tensor"
        return self.object_name(leaf, self._leaf_hint(leaf))

    def _leaf_hint(self, leaf: Any) -> str:
        for t in self.inputs:
            if t.source[0] == "tensor" and t.source[1] is leaf:
                return self._name(t)
        return leaf.name or "p"

    def _read(self, t: Traced) -> str | None:
        kind = t.source[0]
        if kind == "arg":
            return None  # a parameter of the generated function
        if kind == "tensor":
            return f"{self.object_name(t.source[1], self.names[id(t)])}.data"
        if kind == "grad":
            return f"{self._leaf(t.source[1])}._grad.data"
        if kind == "state":
            return f"{self.object_name(t.source[1], 'state_' + t.source[3])}[{t.source[2]!r}]"
        raise AssertionError(kind)

    # -- printing ------------------------------------------------------------------------------------------------

    def _statement(self, st: tuple) -> str | None:
        kind = st[0]
        if kind == "section":
            return f"    # {st[1]}" if st[1] else ""
        if kind == "const":
            value = st[1].value
            if value.ndim == 0 and value.dtype.kind in "biuf" and np.isfinite(value):
                self.names[id(st[1])] = repr(value[()])  # np.float64(0.5): the same type as the 0-d array
            else:
                self.names[id(st[1])] = self.object_name(value, st[1].hint or "c")
            return None
        if kind in ("call", "method"):
            outs = st[1] if isinstance(st[1], tuple) else (st[1],)
            targets = ", ".join(self._name(o) if isinstance(o, Traced) else "_" for o in outs)
            return f"    {targets} = {self._render(st)[0]}"
        if kind == "inplace":
            _, target, (ufunc, method), inputs, kwargs = st
            if (method == "__call__" and ufunc in _INFIX and len(inputs) == 2 and inputs[0] is target
                    and not kwargs):
                return f"    {self._name(target)} {_INFIX[ufunc][0]}= {self._expr(inputs[1], 0)}"
            args = [self._expr(a, 0) for a in inputs] + [f"{k}={self._expr(v, 0)}" for k, v in kwargs.items()]
            if method == "at":
                return f"    {self._ufunc_name(ufunc, method)}({', '.join(args)})"
            return f"    {self._ufunc_name(ufunc, method)}({', '.join(args)}, out={self._name(target)})"
        if kind == "setitem":
            _, target, index, value = st
            return f"    {self._name(target)}[{self._index(index)}] = {self._expr(value, 0)}"
        if kind == "bump":
            self.namespace.setdefault("bump_version", _bump_version())
            return f"    bump_version({', '.join(self._name(t) for t in st[1:])})"
        if kind == "state":
            _, state, key, value, owner = st
            return f"    {self.object_name(state, 'state_' + owner)}[{key!r}] = {self._expr(value, 0)}"
        if kind == "check":
            _, check, args = st
            return f"    {self._function_name(check)}({', '.join(self._expr(a, 0) for a in args)})"
        raise AssertionError(kind)

    def _render(self, st: tuple) -> tuple[str, int]:
        """The expression of a call or method statement, with its precedence."""
        text, prec = self._render_call(st)
        if isinstance(st[1], Traced) and st[1].scalar and id(st[1]) in self.written:
            return f"np.asarray({text})", _ATOM
        return text, prec

    def _render_call(self, st: tuple) -> tuple[str, int]:
        if st[0] == "method":
            _, _, name, obj, args, kwargs = st
            target = self._expr(obj, _ATOM)
            if args is None:
                return f"{target}.{name}", _ATOM
            if name == "__getitem__":
                return f"{target}[{self._index(args[0])}]", _ATOM
            if name == "transpose" and (args in ((), (None,))) and not kwargs and obj.ndim == 2:
                return f"{target}.T", _ATOM
            parts = [self._expr(a, 0) for a in args] + [f"{k}={self._expr(v, 0)}" for k, v in kwargs.items()]
            return f"{target}.{name}({', '.join(parts)})", _ATOM
        _, _, func, args, kwargs = st
        if isinstance(func, tuple):
            ufunc, method = func
            if method == "__call__" and not kwargs:
                if ufunc in _INFIX and len(args) == 2:
                    op, prec = _INFIX[ufunc]
                    right = prec + 1 if op != "**" else prec  # a - (b - c); a ** b ** c is right-associative
                    left = prec if op != "**" else prec + 1
                    return f"{self._expr(args[0], left)} {op} {self._expr(args[1], right)}", prec
                if ufunc in _PREFIX and len(args) == 1:
                    return f"{_PREFIX[ufunc]}{self._expr(args[0], 13)}", 13
            name = self._ufunc_name(ufunc, method)
        else:
            name = self._function_name(func)
        parts = [self._expr(a, 0) for a in args] + [f"{k}={self._expr(v, 0)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})", _ATOM

    def _expr(self, value: Any, context: int) -> str:
        if isinstance(value, Traced):
            st = self._inlined.get(id(value)) if hasattr(self, "_inlined") else None
            if st is not None:
                text, prec = self._render(st)
                return f"({text})" if prec < context else text
            return self._name(value)
        if isinstance(value, np.ndarray):
            return self.object_name(value, "c")
        if isinstance(value, tuple):
            inner = ", ".join(self._expr(v, 0) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if isinstance(value, list):
            return "[" + ", ".join(self._expr(v, 0) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self._expr(v, 0)}" for k, v in value.items()) + "}"
        if isinstance(value, slice):
            return f"slice({self._expr(value.start, 0)}, {self._expr(value.stop, 0)}, {self._expr(value.step, 0)})"
        if isinstance(value, np.dtype):
            return f"np.dtype({str(value)!r})"
        if isinstance(value, type) and issubclass(value, np.generic):
            return f"np.{value.__name__}"
        if isinstance(value, np.ufunc):
            return f"np.{value.__name__}"
        if isinstance(value, float) and not np.isfinite(value):
            return "np.nan" if np.isnan(value) else ("np.inf" if value > 0 else "(-np.inf)")
        if isinstance(value, (bool, int, float, complex, str, type(None), type(Ellipsis))) or isinstance(value, np.generic):
            text = repr(value)
            if isinstance(value, np.generic) and value.dtype.kind in "fc" and not np.all(np.isfinite(value)):
                return self.object_name(value, "c")
            if isinstance(value, np.generic) and not text.startswith("np."):
                return self.object_name(value, "c")
            return f"({text})" if (text.startswith("-") and context > 12) else text
        return self.object_name(value, type(value).__name__.lower())

    def _index(self, index: Any) -> str:
        parts = index if isinstance(index, tuple) else (index,)
        out = []
        for p in parts:
            if isinstance(p, slice):
                if isinstance(p.start, Traced) or isinstance(p.stop, Traced) or isinstance(p.step, Traced):
                    out.append(self._expr(p, 0))
                    continue
                s = f"{'' if p.start is None else p.start}:{'' if p.stop is None else p.stop}"
                out.append(s + (f":{p.step}" if p.step is not None else ""))
            elif p is Ellipsis:
                out.append("...")
            elif p is None:
                out.append("None")
            else:
                out.append(self._expr(p, 0))
        if isinstance(index, tuple) and len(index) == 1:
            return out[0] + ","
        return ", ".join(out) if out else "()"

    def _ufunc_name(self, ufunc: np.ufunc, method: str) -> str:
        base = f"np.{ufunc.__name__}" if getattr(np, ufunc.__name__, None) is ufunc else self.object_name(ufunc, ufunc.__name__)
        return base if method == "__call__" else f"{base}.{method}"

    def _function_name(self, func: Callable) -> str:
        name = getattr(func, "__name__", "f")
        if getattr(np, name, None) is func:
            return f"np.{name}"
        name = self.objects.get(id(func)) or name.strip("_")  # ops._sigmoid is called sigmoid here
        if name not in self.namespace or self.namespace[name] is not func:
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            self.objects[id(func)] = name
            self.namespace[name] = func
        return name

    def _result(self, result: Any) -> str:
        if isinstance(result, Traced):
            return f"_wrap({self._expr(result, 0)})"
        if isinstance(result, tuple):
            inner = ", ".join(self._result(r) for r in result)
            return f"({inner},)" if len(result) == 1 else f"({inner})"
        if isinstance(result, list):
            return "[" + ", ".join(self._result(r) for r in result) + "]"
        if isinstance(result, dict):
            return "{" + ", ".join(f"{k!r}: {self._result(v)}" for k, v in result.items()) + "}"
        if isinstance(result, np.ndarray):
            return f"_wrap({self.object_name(result, 'c')})"
        return repr(result)


def _key(parts: Any) -> Any:
    """A hashable description of a call's function and arguments (Traced and arrays by identity), or None."""
    if isinstance(parts, Traced) or isinstance(parts, np.ndarray):
        return ("id", id(parts))
    if isinstance(parts, (tuple, list)):
        keys = tuple(_key(p) for p in parts)
        return None if any(k is None for k in keys) else (type(parts).__name__, keys)
    if isinstance(parts, dict):
        keys = tuple((k, _key(v)) for k, v in parts.items())
        return None if any(v is None for _, v in keys) else ("dict", keys)
    if isinstance(parts, slice):
        return ("slice", _key((parts.start, parts.stop, parts.step)))
    try:
        hash(parts)
    except TypeError:
        return None
    return (type(parts), parts) if not callable(parts) else ("fn", id(parts))


def _named(t: Traced) -> bool:
    """Values the chapter names (z1, a1, delta2, loss) keep their own line."""
    return bool(re.fullmatch(r"(z|a|delta)\d+|loss", t.hint))


def _bump_version() -> Callable:
    from ..engine.tensor import bump_version

    return bump_version


def _bumps_last(statements: list[tuple]) -> list[tuple]:
    """The version bumps of a section as one statement at its end (they only count changes: nothing in the
    section reads them)."""
    out: list[tuple] = []
    pending: list[Traced] = []
    for st in statements:
        if st[0] == "bump":
            pending += [t for t in st[1:] if all(t is not p for p in pending)]
            continue
        if st[0] == "section" and pending:
            out.append(("bump", *pending))
            pending = []
        out.append(st)
    if pending:
        out.append(("bump", *pending))
    return out


def _reads(st: tuple) -> Any:
    kind = st[0]
    if kind == "call":
        return st[3], st[4]
    if kind == "method":
        return st[3], st[4], st[5]
    if kind == "inplace":
        return st[1], st[3], st[4]
    if kind == "setitem":
        return st[1], st[2], st[3]
    if kind == "bump":
        return st[1:]
    if kind == "state":
        return st[3]
    if kind == "check":
        return st[2]
    return ()


def _drop_empty_sections(lines: list[str]) -> list[str]:
    """Section comments with no code under them go; "" lines (section ends) go too."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if line == "":
            continue
        if line.startswith("    # "):
            nxt = next((l for l in lines[i + 1:] if l != ""), "")
            if nxt.startswith("    # ") or nxt.startswith("    return") or not nxt:
                continue
        out.append(line)
    return out


def _traced_in(value: Any) -> list[Traced]:
    return [v for v in leaves(value) if isinstance(v, Traced)]


def _substitute(value: Any, same: dict[int, Traced]) -> Any:
    """`value` with each Traced replaced by the earlier one that has the same value."""
    return nested_map(lambda v: same.get(id(v), v) if isinstance(v, Traced) else v, value)
