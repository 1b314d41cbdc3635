"""Computation graphs as pictures: what the forward pass built, what `backward()` walks, the chapter's MLP.

    with viz.trace() as tr:                       # keep values and intermediate gradients (see tracing.py)
        loss = tg.mse(model(x), y)
    loss.backward()
    g = tg.draw(loss, params=dict(model.named_parameters()))         # tg.draw is viz.draw_graph
    g                                             # in Jupyter: the picture (or the DOT source without `dot`)
    g.write("loss.svg"); print(g.text)            # a file; a plain-text listing, one line per operation

Three views of the same graph (`view=`):
  "forward"   value nodes (boxes: inputs, parameters, intermediates, the output) and operation nodes (ovals)
              in data-flow order. A value shows its name, shape, dtype, its data and its gradient: the numbers
              for a few elements, statistics (norm, mean, std, min, max) for more, "not computed yet" before
              backward and "not retained" when backward ran without keeping an intermediate's gradient.
  "backward"  the nodes backward() visits (`grad_fn`s such as MulBackward, then AccumulateGrad into each
              leaf), arrows in the direction the gradient travels, each labelled with the gradient's shape.
              A gradient computed with create_graph=True is an ordinary tensor with a graph: draw it with
              either view.
  "chapter"   an MLP in the chapter's notation: a^{l-1} → z^l = W^l ã^{l-1} → a^l = σ(z^l) → ... → C, with
              δ^l = ∂C/∂z^l on the z^l nodes (autograd's, so for a batch of B it includes the 1/B of C).

Nodes created inside `tg.name_scope(...)` (every module call opens one) are drawn in labelled clusters;
`depth=` keeps only the outer levels, and `collapse=True` (or a list of scope names) draws a whole module as
one box, which keeps a 10-layer MLP readable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backprop_by_hand.equations import weights_from_linear
from ..engine import ops
from ..engine.autograd import topological_order
from ..engine.function import Context
from ..engine.tensor import Tensor
from .drawing import Drawing, fmt_number, fmt_shape, html_label, math_plain, summarize
from .tracing import Record, Trace, find_record

VIEWS = ("forward", "backward", "chapter")
RANKDIRS = ("LR", "TB", "RL", "BT")
FONT = "Helvetica"

STYLES: dict[str, dict[str, str]] = {
    "input": dict(shape="box", style="rounded,filled", fillcolor="#d6e6f5", color="#4a7ab0"),
    "parameter": dict(shape="box", style="rounded,filled", fillcolor="#fde0b6", color="#c77c12"),
    "intermediate": dict(shape="box", style="rounded,filled", fillcolor="#f4f4f4", color="#9a9a9a"),
    "output": dict(shape="box", style="rounded,filled,bold", fillcolor="#f7c5c0", color="#c0392b"),
    "op": dict(shape="ellipse", style="filled", fillcolor="#dff0d8", color="#5b9a4a", margin="0.05,0.02"),
    "backward": dict(shape="box", style="filled", fillcolor="#e8e0f4", color="#7a5ea8"),
    "accumulate": dict(shape="box", style="rounded,filled", fillcolor="#fde0b6", color="#c77c12"),
    "seed": dict(shape="box", style="rounded,filled,bold", fillcolor="#f7c5c0", color="#c0392b"),
    "collapsed": dict(shape="box3d", style="filled", fillcolor="#fff4cc", color="#b59b32"),
}
LEGEND = {
    "input": "input / constant (no gradient)",
    "parameter": "parameter (a leaf that requires grad)",
    "intermediate": "intermediate value",
    "output": "output (the root, e.g. the loss C)",
    "op": "operation",
    "backward": "backward node (a grad_fn)",
    "accumulate": "AccumulateGrad: adds into leaf.grad",
    "seed": "seed: d(root)/d(root)",
    "collapsed": "a module drawn as one box",
}
ACTIVATIONS = {ops.Sigmoid: "sigmoid", ops.ReLU: "relu", ops.Tanh: "tanh", ops.Heaviside: "heaviside"}
NOT_KEPT = "not kept: draw what ran inside viz.trace()"
SEP = "\n"  # statistics take two lines in a label, one in the listing


# ---------------------------------------------------------------------------------------------------------------
# The graph as drawn: nodes with labelled lines, edges, notes (one structure for DOT and for the text listing)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Node:
    key: str
    kind: str
    lines: list[tuple[str, str]]  # (style, text): styles "title", "meta", "data", "grad", "note"
    scope: tuple[str, ...] = ()
    text: str = ""  # its line in the plain-text listing ("" for none)
    markup: bool = False  # titles use the x^{l} superscript markup (chapter view)


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    style: str = ""


@dataclass
class GraphModel:
    kind: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, node: Node) -> str:
        self.nodes[node.key] = node
        return node.key

    def edge(self, src: str, dst: str, label: str = "", style: str = "") -> None:
        self.edges.append(Edge(src, dst, label, style))

    def listing(self) -> str:
        return "\n".join(n.text.replace(SEP, ", ") for n in self.nodes.values() if n.text)


# ---------------------------------------------------------------------------------------------------------------
# Reading the engine's graph
# ---------------------------------------------------------------------------------------------------------------


def _param_names(params: Any) -> dict[int, str]:
    """id(tensor) → name, from a mapping name → Tensor, an iterable of pairs, or anything with named_parameters()."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters") and callable(params.named_parameters):
        params = dict(params.named_parameters())
    items = params.items() if isinstance(params, Mapping) else params
    names: dict[int, str] = {}
    try:
        for name, tensor in items:
            if not isinstance(tensor, Tensor):
                raise TypeError
            names.setdefault(id(tensor), str(name))
    except (TypeError, ValueError):
        raise TypeError(
            "params= must map names to Tensors, e.g. dict(model.named_parameters()), or be a module"
        ) from None
    return names


class _Reader:
    """Values, gradients and names of the nodes reachable from some roots (with or without a trace)."""

    def __init__(self, roots: tuple[Tensor, ...], params: Any, trace: Trace | None, limit: int) -> None:
        for i, r in enumerate(roots):
            if not isinstance(r, Tensor):
                raise TypeError(f"draw_graph needs Tensors to draw, got {type(r).__name__} as root {i}")
        if not roots:
            raise ValueError("draw_graph needs at least one tensor (usually the loss)")
        if trace is not None and not isinstance(trace, Trace):
            raise TypeError(f"trace= must be what viz.trace() returned, got {type(trace).__name__}")
        self.roots = roots
        self.names = _param_names(params)
        self.trace = trace
        self.limit = limit
        self.root_of = {r.grad_fn: r for r in roots if r.grad_fn is not None}
        self.order = topological_order([r.grad_fn for r in roots if r.grad_fn is not None])  # root first
        self.forward_order = self.order[::-1]
        self.consumers: dict[Context, list[tuple[Context, int]]] = {}
        leaves: dict[int, Tensor] = {id(r): r for r in roots if r.grad_fn is None}
        for node in self.forward_order:
            for i, e in enumerate(node.edges):
                if isinstance(e, Context):
                    self.consumers.setdefault(e, []).append((node, i))
                elif isinstance(e, Tensor):
                    leaves[id(e)] = e
        self.leaves = list(leaves.values())
        self.backward_ran = (
            any(n.released for n in self.order)
            or any(t.grad is not None for t in self.leaves if t.requires_grad)
            or any(t is not None and t.grad is not None for t in map(self.tensor, self.order))
        )

    def record(self, node: Context) -> Record | None:
        return find_record(node, self.trace)

    def tensor(self, node: Context) -> Tensor | None:
        """The output tensor of `node`, if anything still holds it."""
        if node in self.root_of:
            return self.root_of[node]
        record = self.record(node)
        return record.output if record is not None else node.output()

    def name(self, t: Tensor, default: str) -> str:
        return self.names.get(id(t)) or t.name or default

    def data_line(self, t: Tensor | None, label: str = "data") -> tuple[str, str]:
        if t is None:
            return ("note", f"{label}: {NOT_KEPT}")
        return ("data", f"{label}: {summarize(t.data, self.limit, sep=SEP)}")

    def grad_line(self, t: Tensor | None, is_leaf: bool, label: str = "grad") -> tuple[str, str]:
        if t is None:
            return ("note", f"{label}: {NOT_KEPT}")
        if t.grad is not None:
            return ("grad", f"{label}: {summarize(t.grad.data, self.limit, kind='grad', sep=SEP)}")
        if self.backward_ran and not is_leaf:
            return ("note", f"{label}: not retained (use viz.trace() or retain_grad())")
        return ("note", f"{label}: not computed yet (call backward())")

    @staticmethod
    def meta(shape: tuple[int, ...] | None, dtype: Any) -> str:
        return f"{fmt_shape(shape)} {dtype}" if dtype is not None else fmt_shape(shape)

    def op_detail(self, node: Context) -> str:
        """Settings of an operation as recorded by a trace: 'axis=(1,)', '·, 2' for a scalar operand."""
        record = self.record(node)
        if record is None:
            return ""
        parts = []
        if any(not isinstance(a, (Tensor, np.ndarray)) for a in record.args):
            parts = ["·" if isinstance(a, (Tensor, np.ndarray)) else _short(a) for a in record.args]
        parts += self.settings(node)
        return ", ".join(parts)

    def settings(self, node: Context) -> list[str]:
        record = self.record(node)
        if record is None:
            return []
        return [f"{k}={_short(v)}" for k, v in record.kwargs.items() if v is not None and v is not False]

    def scalar_arg(self, node: Context, index: int) -> str | None:
        record = self.record(node)
        if record is None or index >= len(record.args) or isinstance(record.args[index], (Tensor, np.ndarray)):
            return None
        return _short(record.args[index])


def _short(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return fmt_number(v)
    if isinstance(v, np.ndarray):
        return f"array{fmt_shape(v.shape)}"
    text = repr(v)
    return text if len(text) <= 24 else text[:21] + "..."


# ---------------------------------------------------------------------------------------------------------------
# Forward view
# ---------------------------------------------------------------------------------------------------------------


def _forward_model(r: _Reader) -> GraphModel:
    g = GraphModel("forward")
    keys: dict[int, str] = {}  # id(Context or Tensor) → value-node key
    numbers: dict[str, int] = {}
    root_ids = {id(t) for t in r.roots}

    def value_key() -> str:
        return f"v{len(numbers)}"

    def leaf(t: Tensor, consumer_scopes: list[tuple[str, ...]]) -> str:
        if id(t) in keys:
            return keys[id(t)]
        key = value_key()
        numbers[key] = len(numbers)
        if t.requires_grad:
            kind, name = "parameter", r.name(t, "leaf")
        else:
            kind, name = "input", r.name(t, "constant")
        if id(t) in root_ids:
            kind = "output"
        lines = [("title", name), ("meta", r.meta(t.shape, t.dtype)), r.data_line(t)]
        if t.requires_grad:
            lines.append(r.grad_line(t, is_leaf=True))
        # a parameter used inside one module is drawn in that module's cluster
        scope = consumer_scopes[0] if kind == "parameter" and len(set(consumer_scopes)) == 1 else ()
        text = f"%{numbers[key]} = {kind} {name!r} {r.meta(t.shape, t.dtype)}  " + "  ".join(
            f"{s[1]}" for s in lines[2:]
        )
        g.add(Node(key, kind, lines, scope, text))
        keys[id(t)] = key
        return key

    def constant(node: Context, index: int, record: Record | None) -> str | None:
        """A positional input that needs no gradient: a tensor/array (drawn), a scalar (in the op's label)."""
        value = record.args[index] if record is not None else None
        if isinstance(value, Tensor):
            return leaf(value, [])
        if record is not None and not isinstance(value, np.ndarray):
            return None  # a Python scalar: shown in the operation's label
        shape = node.input_shapes[index]
        if shape is None:
            return None
        if isinstance(value, np.ndarray):
            if id(value) in keys:
                return keys[id(value)]
            lines = [("title", "constant"), ("meta", r.meta(value.shape, value.dtype)), r.data_line(Tensor._wrap(value))]
        else:
            lines = [("title", "constant"), ("meta", r.meta(shape, node.input_dtypes[index])), ("note", f"data: {NOT_KEPT}")]
        key = value_key()
        numbers[key] = len(numbers)
        g.add(Node(key, "input", lines, (), f"%{numbers[key]} = input 'constant' {lines[1][1]}  {lines[2][1]}"))
        keys[id(value) if value is not None else id((node, index))] = key
        return key

    for t in r.roots:
        if t.grad_fn is None:
            leaf(t, [])
    for i, node in enumerate(r.forward_order):
        record = r.record(node)
        inputs: list[str | None] = []
        for j, e in enumerate(node.edges):
            if isinstance(e, Context):
                inputs.append(keys[id(e)])
            elif isinstance(e, Tensor):
                inputs.append(leaf(e, [c.scope for c, _ in _uses_of_leaf(r, e)]))
            else:
                inputs.append(constant(node, j, record))
        op_key = f"op{i}"
        detail = r.op_detail(node)
        op_name = node.function.__name__
        op_lines = [("title", op_name)] + ([("note", detail)] if detail else [])
        g.add(Node(op_key, "op", op_lines, node.scope))
        for j, k in enumerate(inputs):
            if k is not None:
                g.edge(k, op_key, "" if len(inputs) == 1 else "")
        out = r.tensor(node)
        key = value_key()
        numbers[key] = len(numbers)
        kind = "output" if node in r.root_of else "intermediate"
        title = (out.name if out is not None and out.name else None) or ("output" if kind == "output" else "")
        lines = ([("title", title)] if title else []) + [("meta", r.meta(node.shape, node.dtype)), r.data_line(out)]
        lines.append(r.grad_line(out, is_leaf=False))
        args = ", ".join(
            f"%{numbers[k]}" if k is not None else (r.scalar_arg(node, j) or "·") for j, k in enumerate(inputs)
        )
        args = ", ".join([args] + r.settings(node)) if args else ", ".join(r.settings(node))
        scope = "/".join(node.scope)
        text = (
            f"%{numbers[key]} = {op_name}({args}) -> {r.meta(node.shape, node.dtype)}"
            + (f"  [{scope}]" if scope else "")
            + "  "
            + "  ".join(s[1] for s in lines if s[0] != "title" and s[0] != "meta")
        )
        g.add(Node(key, kind, lines, node.scope, text))
        g.edge(op_key, key)
        keys[id(node)] = key
    return g


def _uses_of_leaf(r: _Reader, leaf: Tensor) -> list[tuple[Context, int]]:
    cache = getattr(r, "_leaf_uses", None)
    if cache is None:
        cache = {}
        for node in r.forward_order:
            for i, e in enumerate(node.edges):
                if isinstance(e, Tensor):
                    cache.setdefault(id(e), []).append((node, i))
        r._leaf_uses = cache  # type: ignore[attr-defined]
    return cache.get(id(leaf), [])


# ---------------------------------------------------------------------------------------------------------------
# Backward view
# ---------------------------------------------------------------------------------------------------------------


def _backward_model(r: _Reader) -> GraphModel:
    g = GraphModel("backward")
    keys: dict[int, str] = {}
    lines_out: list[str] = []
    for i, t in enumerate(r.roots):
        if t.grad_fn is None:
            continue
        seed = f"seed{i}"
        what = "∂C/∂C = 1" if t.size == 1 else f"gradient {fmt_shape(t.shape)} (passed to backward)"
        g.add(Node(seed, "seed", [("title", r.name(t, "output")), ("meta", what)], (), f"seed {what} -> {t.grad_fn.name()}"))
    for i, node in enumerate(r.order):
        key = f"b{i}"
        keys[id(node)] = key
        out = r.tensor(node)
        lines = [("title", node.name()), ("meta", f"receives ∂C/∂out {fmt_shape(node.shape)}")]
        if out is not None and out.grad is not None:
            lines.append(("grad", f"∂C/∂out: {summarize(out.grad.data, r.limit, kind='grad', sep=SEP)}"))
        extras = []
        if node.released:
            extras.append("saved values freed")
        if node._hooks:
            extras.append(f"{len(node._hooks)} hook(s)")
        if node.retains_grad and r.record(node) is None:
            extras.append("retains grad")
        if extras:
            lines.append(("note", ", ".join(extras)))
        g.add(Node(key, "backward", lines, node.scope))
    for i, t in enumerate(r.roots):
        if t.grad_fn is not None:
            g.edge(f"seed{i}", keys[id(t.grad_fn)], fmt_shape(t.shape))
    for node in r.order:
        targets = []
        for j, e in enumerate(node.edges):
            if e is None:
                continue
            if isinstance(e, Tensor):
                if id(e) not in keys:
                    k = f"acc{len(keys)}"
                    keys[id(e)] = k
                    uses = [c.scope for c, _ in _uses_of_leaf(r, e)]
                    scope = uses[0] if len(set(uses)) == 1 else ()
                    g.add(Node(k, "accumulate", [
                        ("title", r.name(e, "leaf")), ("meta", f"AccumulateGrad {fmt_shape(e.shape)}"),
                        r.grad_line(e, is_leaf=True, label=".grad"),
                    ], scope))
                target = keys[id(e)]
                targets.append(f"AccumulateGrad({r.name(e, 'leaf')})")
            else:
                target = keys[id(e)]
                targets.append(e.name())
            g.edge(keys[id(node)], target, fmt_shape(node.input_shapes[j]))
        scope = "/".join(node.scope)
        lines_out.append(
            f"{node.name()} {fmt_shape(node.shape)} -> " + (", ".join(targets) or "(nothing)")
            + (f"  [{scope}]" if scope else "")
        )
    for k, line in zip([f"b{i}" for i in range(len(r.order))], lines_out):
        g.nodes[k].text = line
    for t in r.roots:
        if t.grad_fn is None and t.requires_grad:
            g.add(Node("leafroot", "accumulate", [("title", r.name(t, "leaf")), r.grad_line(t, True, ".grad")], (),
                       f"AccumulateGrad({r.name(t, 'leaf')})"))
    return g


# ---------------------------------------------------------------------------------------------------------------
# Chapter view
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class _Layer:
    matmul: Context
    weight: Tensor
    bias: Tensor | None
    z: Context
    act: Context | None
    prev_index: int  # which input of the matmul is a^{l-1}
    record_args: tuple[Any, ...] | None


def _weight_input(node: Context) -> tuple[int, Tensor] | None:
    for i in (1, 0):
        e = node.edges[i]
        if isinstance(e, Tensor) and e.ndim == 2:
            return i, e
        if isinstance(e, Context) and e.function is ops.Transpose and isinstance(e.edges[0], Tensor):
            if e.edges[0].ndim == 2:
                return i, e.edges[0]
    return None


def find_layers(r: _Reader) -> list[_Layer]:
    """The MLP's layers, in data-flow order: a MatMul with a 2-D parameter (maybe transposed), an optional
    Add of a 1-D parameter (the bias), an optional activation right after."""
    layers = []
    for node in r.forward_order:
        if node.function is not ops.MatMul:
            continue
        found = _weight_input(node)
        if found is None:
            continue
        w_index, weight = found
        z, bias = node, None
        uses = r.consumers.get(node, [])
        if len(uses) == 1 and uses[0][0].function is ops.Add:
            add, k = uses[0]
            other = add.edges[1 - k]
            if isinstance(other, Tensor) and other.ndim == 1:
                z, bias = add, other
        act = None
        uses = r.consumers.get(z, [])
        if len(uses) == 1 and uses[0][0].function in ACTIVATIONS:
            act = uses[0][0]
        record = r.record(node)
        layers.append(_Layer(node, weight, bias, z, act, 1 - w_index, record.args if record else None))
    return layers


def _chapter_weights(weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The chapter's W^l = [weight | bias], n_l × (n_{l-1}+1), from a weight in PyTorch's layout (out, in) or in
    the `x @ W` layout (in, out)."""
    if bias is None:
        return weight
    if weight.shape[0] != bias.shape[0] and weight.shape[1] == bias.shape[0]:  # x @ W: W is (in, out)
        weight = weight.T
    return weights_from_linear(weight, bias)


def _chapter_model(r: _Reader, loss_label: str | None) -> GraphModel:
    if len(r.roots) != 1 or r.roots[0].grad_fn is None:
        raise ValueError("the chapter view draws one loss computed by an MLP: pass the loss tensor (one root)")
    layers = find_layers(r)
    if not layers:
        raise ValueError(
            "the chapter view needs an MLP: no matrix product with a 2-D parameter (W^l) was found in this "
            "graph; draw it with view='forward' instead"
        )
    g = GraphModel("chapter")
    L = len(layers)
    outputs: dict[int, str] = {}  # id(Context) → chapter node key
    in_layers: set[int] = set()
    for layer in layers:
        for n in (layer.matmul, layer.z, layer.act):
            if n is not None:
                in_layers.add(id(n))
        e = layer.matmul.edges[1 - layer.prev_index]
        if isinstance(e, Context) and e.function is ops.Transpose:
            in_layers.add(id(e))

    def value(key: str, kind: str, title: str, node: Context | None, t: Tensor | None, grad_label: str | None,
              text_name: str, shape: Any = None, dtype: Any = None) -> str:
        shape = node.shape if node is not None else shape
        dtype = node.dtype if node is not None else dtype
        lines = [("title", title), ("meta", r.meta(shape, dtype)), r.data_line(t)]
        if grad_label:
            lines.append(r.grad_line(t, is_leaf=False, label=grad_label))
        text = f"{text_name:<8} {r.meta(shape, dtype):<22} " + "  ".join(s[1] for s in lines[2:])
        return g.add(Node(key, kind, lines, (), text, markup=True))

    # a^0: the matmul's other input in layer 1
    first = layers[0]
    a0_edge = first.matmul.edges[first.prev_index]
    a0_tensor = None
    if first.record_args is not None and isinstance(first.record_args[first.prev_index], Tensor):
        a0_tensor = first.record_args[first.prev_index]
    elif isinstance(a0_edge, Context):
        a0_tensor = r.tensor(a0_edge)
    elif isinstance(a0_edge, Tensor):
        a0_tensor = a0_edge
    prev = value("a0", "input", "a^{0} = x", None, a0_tensor, None, "a^0 = x",
                 first.matmul.input_shapes[first.prev_index], first.matmul.input_dtypes[first.prev_index])
    if isinstance(a0_edge, Context):
        outputs[id(a0_edge)] = prev
    for l, layer in enumerate(layers, start=1):
        # where a^{l-1} comes from: the previous layer's output, possibly through ops the chapter does not name
        if l > 1:
            src, via = _trace_back(layer.matmul.edges[layer.prev_index], outputs)
            prev_key, prev_label = (src, " → ".join(via)) if src is not None else (prev, "?")
        else:
            prev_key, prev_label = prev, ""
        w, b = layer.weight, layer.bias
        names = " + ".join(r.name(t, "?") for t in (w, b) if t is not None)
        wdata = _chapter_weights(w.data, None if b is None else b.data)
        lines = [("title", f"W^{{{l}}}"), ("note", names), ("meta", f"{fmt_shape(wdata.shape)} {w.dtype}"),
                 ("data", f"data: {summarize(wdata, r.limit, sep=SEP)}")]
        if w.grad is not None and (b is None or b.grad is not None):
            gdata = _chapter_weights(w.grad.data, None if b is None else b.grad.data)
            lines.append(("grad", f"∂C/∂W: {summarize(gdata, r.limit, kind='grad', sep=SEP)}"))
        else:
            lines.append(("note", "∂C/∂W: not computed yet (call backward())"))
        wkey = g.add(Node(f"W{l}", "parameter", lines, (), f"W^{l:<6} {fmt_shape(wdata.shape):<22} ({names})  "
                          + "  ".join(s[1] for s in lines[3:]), markup=True))
        tilde = f"[a^{{{l - 1}}}; 1]" if b is not None else f"a^{{{l - 1}}}"
        op_names = [layer.matmul.function.__name__] + (["Add"] if b is not None else [])
        op = g.add(Node(f"lin{l}", "op", [("title", f"z^{{{l}}} = W^{{{l}}} {tilde}"), ("note", " + ".join(op_names))],
                        (), markup=True))
        g.edge(prev_key, op, prev_label, "dashed" if prev_label else "")
        g.edge(wkey, op)
        z_t = r.tensor(layer.z)
        last = l == L
        if layer.act is None:
            zkey = value(f"z{l}", "intermediate", f"z^{{{l}}} = a^{{{l}}} (no activation)", layer.z, z_t,
                         f"δ^{{{l}}} = ∂C/∂z^{{{l}}}", f"z^{l}=a^{l}")
            g.edge(op, zkey)
            outputs[id(layer.z)] = zkey
            prev = zkey
            continue
        zkey = value(f"z{l}", "intermediate", f"z^{{{l}}}", layer.z, z_t, f"δ^{{{l}}} = ∂C/∂z^{{{l}}}", f"z^{l}")
        g.edge(op, zkey)
        outputs[id(layer.z)] = zkey
        akey = value(f"a{l}", "intermediate", f"a^{{{l}}}" + (" = ŷ" if last else ""), layer.act,
                     r.tensor(layer.act), None, f"a^{l}")
        # a^l = σ(z^l) elementwise: drawn as a labelled arrow rather than one more node per layer
        g.edge(zkey, akey, f"σ ({ACTIVATIONS[layer.act.function]})")
        outputs[id(layer.act)] = akey
        prev = akey

    # the loss: every operation after the last layer, drawn as one node, with its constant inputs (y)
    root = r.roots[0]
    rest = [n for n in r.forward_order if id(n) not in in_layers and id(n) not in outputs]
    rest_ids = {id(n) for n in rest}
    y_key = None
    for n in rest:
        record = r.record(n)
        for j, e in enumerate(n.edges):
            if e is None and n.input_shapes[j] and y_key is None:
                t = record.args[j] if record is not None and isinstance(record.args[j], Tensor) else None
                y_key = value("y", "input", "y (targets)", None, t, None, "y", n.input_shapes[j], n.input_dtypes[j])
    prims = []
    for n in rest:
        name = n.function.__name__
        if not prims or prims[-1] != name:
            prims.append(name)
    loss_title = loss_label or "C (the loss)"
    loss_op = g.add(Node("loss", "op", [("title", loss_title), ("note", ", ".join(prims) or "(no operation)")], (),
                         markup=True))
    feeding = set()
    for n in rest:
        for e in n.edges:
            if isinstance(e, Context) and id(e) not in rest_ids:
                src, _ = _trace_back(e, outputs)
                if src is not None:
                    feeding.add(src)
    for src in sorted(feeding, key=list(g.nodes).index) or [prev]:
        g.edge(src, loss_op)
    if y_key is not None:
        g.edge(y_key, loss_op)
    c = g.add(Node("C", "output", [("title", "C"), ("meta", r.meta(root.shape, root.dtype)),
                                   ("data", f"value: {summarize(root.data, r.limit)}")], (),
                   f"C        {r.meta(root.shape, root.dtype):<22} value: {summarize(root.data, r.limit)}  ({math_plain(loss_title)})",
                   markup=True))
    g.edge(loss_op, c)
    batch = first.matmul.input_shapes[first.prev_index]
    b_text = f"B = {batch[0]}" if batch and len(batch) == 2 else "B samples"
    g.notes = [
        f"δ^{{l}} on z^{{l}} is autograd's ∂C/∂z^{{l}} for the batch ({b_text}): it includes the 1/B of "
        f"C = 1/B Σ_{{i}} C_{{i}} (row i is δ^{{l}}_{{i}} / B), as in tinygrad_edu.backprop_by_hand",
        "W^{l} = [weight | bias]: the bias is its last column; ∂C/∂W is shown in W's own layout, "
        "the chapter's (∂C/∂W^{l})ᵀ",
        "a^{l} = σ(z^{l}) elementwise; the rows of a^{l} and z^{l} are the B samples",
    ]
    return g


def _trace_back(e: Any, known: dict[int, str]) -> tuple[str | None, list[str]]:
    """Walk back from an input through single-input operations to a node the chapter view has drawn."""
    via: list[str] = []
    while isinstance(e, Context):
        if id(e) in known:
            return known[id(e)], via[::-1]
        inputs = [x for x in e.edges if isinstance(x, Context)]
        via.append(e.function.__name__)
        if len(inputs) != 1:
            return None, via[::-1]
        e = inputs[0]
    return None, via[::-1]


# ---------------------------------------------------------------------------------------------------------------
# Clusters, collapsing, DOT
# ---------------------------------------------------------------------------------------------------------------


def _collapse(g: GraphModel, which: bool | Collection[str]) -> GraphModel:
    """Replace the nodes of each chosen scope by one box (edges re-attached, duplicates dropped)."""
    scopes = {n.scope for n in g.nodes.values() if n.scope}
    if which is True:
        chosen = {s for s in scopes if not any(o != s and o[: len(s)] == s for o in scopes)}  # innermost
    else:
        names = set(which)  # type: ignore[arg-type]
        chosen = {s for s in scopes if s[-1] in names or "/".join(s) in names}
        unknown = names - {s[-1] for s in scopes} - {"/".join(s) for s in scopes}
        if unknown:
            known = sorted({"/".join(s) for s in scopes})
            raise ValueError(f"collapse: no scope named {sorted(unknown)}; the graph has {known or 'no scopes'}")
    if not chosen:
        return g
    owner: dict[str, str] = {}
    out = GraphModel(g.kind, notes=list(g.notes))
    boxes: dict[tuple[str, ...], list[Node]] = {}
    for key, node in g.nodes.items():
        s = next((c for c in chosen if node.scope[: len(c)] == c), None)
        if s is None:
            out.add(node)
        else:
            boxes.setdefault(s, []).append(node)
            owner[key] = "m_" + "_".join(s).replace(".", "_")
    for s, members in boxes.items():
        ops: list[str] = []
        params = []
        shapes = []
        for m in members:
            if m.kind in ("op", "backward"):
                if m.lines[0][1] not in ops:
                    ops.append(m.lines[0][1])
            elif m.kind in ("parameter", "accumulate"):
                params.append(f"{m.lines[0][1]} {m.lines[1][1]}")
            elif m.kind in ("intermediate", "output"):
                shapes.append(next(t for st, t in m.lines if st == "meta"))
        lines = [("title", "/".join(s)), ("meta", f"{len([m for m in members if m.kind in ('op', 'backward')])} ops: "
                                          + ", ".join(ops))]
        lines += [("data", p) for p in params]
        if shapes:
            lines.append(("note", f"out: {shapes[-1]}"))
        out.add(Node(owner[members[0].key], "collapsed", lines, s[:-1]))
    seen = set()
    for e in g.edges:
        src, dst = owner.get(e.src, e.src), owner.get(e.dst, e.dst)
        if src == dst or (src, dst) in seen:
            continue
        seen.add((src, dst))
        out.edges.append(Edge(src, dst, e.label, e.style))
    return out


def to_drawing(g: GraphModel, rankdir: str = "LR", depth: int | None = None, legend: bool = True,
               title: str | None = None) -> Drawing:
    """Emit a GraphModel as DOT: clusters from scopes (cut at `depth`), styles per kind, a legend."""
    d = Drawing(
        name=f"{g.kind}_graph",
        graph_attr=dict(rankdir=rankdir, fontname=FONT, fontsize="12", nodesep="0.25", ranksep="0.35",
                        newrank="true", labeljust="l"),
        node_attr=dict(fontname=FONT, fontsize="11", margin="0.1,0.05"),
        edge_attr=dict(fontname=FONT, fontsize="9", color="#666666", fontcolor="#666666", arrowsize="0.7"),
    )
    d.kind = g.kind
    d.text = math_plain(g.listing())
    if title:
        d.attr(label=html_label([("title", title)]), labelloc="t")
    tree: dict[tuple[str, ...], list[Node]] = {}
    for node in g.nodes.values():
        scope = node.scope if depth is None else node.scope[:depth]
        tree.setdefault(scope, []).append(node)
    paths = set()
    for scope in tree:
        for i in range(1, len(scope) + 1):
            paths.add(scope[:i])
    counter = [0]

    def emit(graph: Any, path: tuple[str, ...]) -> None:
        for node in tree.get(path, []):
            graph.node(node.key, label=html_label(node.lines, node.markup), **STYLES[node.kind])
        for child in sorted(p for p in paths if len(p) == len(path) + 1 and p[: len(path)] == path):
            counter[0] += 1
            with graph.subgraph(name=f"cluster_{counter[0]}") as c:
                c.attr(label=html_label([("meta", child[-1])]), style="rounded,dashed", color="#8c8c8c",
                       fontsize="10")
                emit(c, child)

    emit(d, ())
    for e in g.edges:
        attrs = {"style": e.style} if e.style else {}
        if e.label:
            attrs["label"] = html_label([("note", e.label)], markup=g.kind == "chapter")
        if g.kind == "backward":
            attrs.setdefault("color", "#7a5ea8")
        d.edge(e.src, e.dst, **attrs)
    if legend:
        _legend(d, g)
    return d


def _legend(d: Drawing, g: GraphModel) -> None:
    """One node holding a table: a swatch per kind of node present, then the notes (wrapped)."""
    import textwrap

    from .drawing import esc, math_html

    rows = ['<TR><TD COLSPAN="2" ALIGN="LEFT" BORDER="0"><B>legend</B></TD></TR>']
    for k in LEGEND:
        if any(n.kind == k for n in g.nodes.values()):
            style = STYLES[k]
            rounded = ' STYLE="rounded"' if "rounded" in style.get("style", "") or style["shape"] == "ellipse" else ""
            rows.append(
                f'<TR><TD WIDTH="22" HEIGHT="14" BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}"{rounded}></TD>'
                f'<TD ALIGN="LEFT" BORDER="0"><FONT POINT-SIZE="10">{esc(LEGEND[k])}</FONT></TD></TR>'
            )
    for note in g.notes:
        wrapped = "<BR ALIGN=\"LEFT\"/>".join(math_html(line) for line in textwrap.wrap(note, 60))
        rows.append(f'<TR><TD COLSPAN="2" ALIGN="LEFT" BORDER="0"><FONT POINT-SIZE="9" COLOR="#555555">'
                    f'{wrapped}<BR ALIGN="LEFT"/></FONT></TD></TR>')
    table = '<TABLE BORDER="1" COLOR="#bbbbbb" STYLE="rounded" CELLBORDER="1" CELLSPACING="3" CELLPADDING="2">'
    d.node("legend", label="<" + table + "".join(rows) + "</TABLE>>", shape="plain")


# ---------------------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------------------


def build_model(*roots: Tensor, view: str = "forward", params: Any = None, trace: Trace | None = None,
                max_elements: int = 4, loss_label: str | None = None) -> GraphModel:
    """The graph as nodes and edges (what draw_graph and graph_text render)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}: choose one of {', '.join(VIEWS)}")
    if not isinstance(max_elements, int) or max_elements < 0:
        raise ValueError(f"max_elements must be a non-negative integer, got {max_elements!r}")
    r = _Reader(roots, params, trace, max_elements)
    if view == "forward":
        return _forward_model(r)
    if view == "backward":
        return _backward_model(r)
    return _chapter_model(r, loss_label)


def draw_graph(
    *roots: Tensor,
    view: str = "forward",
    params: Any = None,
    trace: Trace | None = None,
    rankdir: str = "LR",
    depth: int | None = None,
    collapse: bool | Collection[str] = False,
    legend: bool = True,
    max_elements: int = 4,
    title: str | None = None,
    loss_label: str | None = None,
) -> Drawing:
    """Draw the graph that computed `roots` (usually the loss). Returns a `Drawing` (a graphviz.Digraph).

    view         "forward" (values and operations), "backward" (what backward() walks) or "chapter" (an MLP
                 as a^{l-1}, W^l, z^l, a^l, C with δ^l = ∂C/∂z^l).
    params       names for parameters: dict(model.named_parameters()), a module, or pairs (name, tensor).
    trace        what `viz.trace()` recorded during the forward pass (default: the most recent trace);
                 without one, intermediate values that are gone are shown as "not kept".
    rankdir      "LR" (left to right, default), "TB", "RL" or "BT".
    depth        draw clusters for the first `depth` levels of name scopes only (0: no clusters).
    collapse     True: draw each innermost module as one box; or the names of the scopes to collapse.
    max_elements a tensor with at most this many elements shows its numbers, a larger one statistics.
    loss_label   the chapter view's label for the loss, e.g. "C = 1/B Σ_i ‖y_i − a^{L}_i‖²".
    """
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be a non-negative integer or None, got {depth!r}")
    g = build_model(*roots, view=view, params=params, trace=trace, max_elements=max_elements, loss_label=loss_label)
    text = g.listing()
    if collapse:
        g = _collapse(g, collapse)
    d = to_drawing(g, rankdir=rankdir, depth=depth, legend=legend, title=title)
    d.text = math_plain(text)
    return d


def graph_text(*roots: Tensor, view: str = "forward", params: Any = None, trace: Trace | None = None,
               max_elements: int = 4, loss_label: str | None = None) -> str:
    """The same graph as plain text, one line per operation (and per leaf), for terminals and diffs."""
    g = build_model(*roots, view=view, params=params, trace=trace, max_elements=max_elements, loss_label=loss_label)
    return math_plain(g.listing())


__all__ = ["Drawing", "GraphModel", "build_model", "draw_graph", "find_layers", "graph_text", "to_drawing"]
