"""Computation graphs as pictures: what the forward pass built, what `backward()` walks, the chapter's MLP.

    loss = tg.mse(model(x), y)
    loss.backward()
    g = tg.draw(loss, params=model)               # tg.draw is viz.draw_graph
    g                                             # in Jupyter: the picture (or the DOT source without `dot`)
    g.write("loss.svg"); print(g.text)            # a file; a plain-text listing, one line per operation

Every value and every gradient of a small graph is drawn as it is: the graph keeps them (outputs of at most
KEEP_ELEMENTS elements, see engine/function.py). A larger intermediate's value lives only as long as its
tensor, and its gradient is not kept: the drawing says so, and `with viz.trace(): ...` around the forward
pass keeps them all (tracing.py).

Three views of the same graph (`view=`):
  "forward"   value nodes (boxes: inputs, parameters, intermediates, the output) and operation nodes (ovals)
              in data-flow order. A value shows its name, shape, dtype, its data and its gradient: the numbers
              for a few elements, statistics (norm, mean, std, min, max) for more, "not computed yet" before
              backward and "not kept" for what the graph did not keep.
  "backward"  the nodes backward() visits (`grad_fn`s such as MulBackward, then AccumulateGrad into each
              leaf), arrows in the direction the gradient travels, each labelled with the gradient's shape.
              A gradient computed with create_graph=True is an ordinary tensor with a graph: draw it with
              either view.
  "chapter"   an MLP in the chapter's notation: a^{l-1} → z^l = W^l ã^{l-1} → a^l = σ(z^l) → ... → C, with
              δ^l = ∂C/∂z^l on the z^l nodes (autograd's, so for a batch of B it includes the 1/B of C).

Nodes created inside `tg.name_scope(...)` (every module call opens one) are drawn in labelled clusters (a
scope of two operations or more of its own; the leaves beside them); `depth=` keeps only the outer levels, and `collapse=True` (or a list of scope names) draws a whole module as
one box, which keeps a 10-layer MLP readable.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backprop_by_hand.equations import weights_from_linear
from ..engine import ops
from ..engine.autograd import topological_order
from ..engine.function import KEEP_ELEMENTS, Context
from ..engine.tensor import Tensor
from .drawing import Drawing, fmt_number, fmt_shape, html_label, math_text, summarize
from .tracing import Trace, traced_output

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
LEAF_KINDS = ("input", "parameter", "accumulate", "seed")
MAX_WIDTH_PX = 900  # a notebook's text column (JupyterLab, nbconvert's HTML, GitHub): drawings are scaled to fit
LEGEND_FROM = 12  # nodes: smaller graphs are drawn without the legend's swatches unless legend=True
ACTIVATIONS = {ops.Sigmoid: "sigmoid", ops.ReLU: "relu", ops.Tanh: "tanh", ops.Heaviside: "heaviside"}
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
    """Values, gradients and names of the nodes reachable from some roots: what the graph keeps (see
    engine/function.py: constants, settings, small values and their gradients), the tensors still alive, and
    what a trace kept."""

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
            any(n.released or n.output_grad is not None for n in self.order)
            or any(t.grad is not None for t in self.leaves if t.requires_grad)
        )

    def tensor(self, node: Context) -> Tensor | None:
        """The output tensor of `node`, if anything still holds it."""
        if node in self.root_of:
            return self.root_of[node]
        traced = traced_output(node, self.trace)
        return traced if traced is not None else node.output()

    def value(self, node: Context) -> np.ndarray | None:
        t = self.tensor(node)
        return t.data if t is not None else node.output_data

    def gradient(self, node: Context) -> np.ndarray | None:
        t = self.tensor(node)
        if t is not None and t.grad is not None:
            return t.grad.data
        return node.output_grad

    def name(self, t: Tensor, default: str) -> str:
        return self.names.get(id(t)) or t.name or default

    def data_line(self, x: Context | Tensor | np.ndarray | None, label: str = "data") -> tuple[str, str]:
        data = self.value(x) if isinstance(x, Context) else x.data if isinstance(x, Tensor) else x
        if data is None:
            return ("note", f"{label}: {_dropped(x)}")
        return ("data", f"{label}: {summarize(data, self.limit, sep=SEP)}")

    def grad_line(self, x: Context | Tensor, label: str = "grad") -> tuple[str, str]:
        """The gradient of a node's output or of a leaf, or why there is none to show."""
        if isinstance(x, Context):
            grad = self.gradient(x)
        else:
            grad = None if x.grad is None else x.grad.data
        if grad is not None:
            return ("grad", f"{label}: {summarize(grad, self.limit, kind='grad', sep=SEP)}")
        if self.backward_ran and isinstance(x, Context) and x.output_data is None:
            return ("note", f"{label}: {_dropped(x)}")
        return ("note", f"{label}: not computed yet (call backward())")  # no walk has reached it

    @staticmethod
    def meta(shape: tuple[int, ...] | None, dtype: Any) -> str:
        return f"{fmt_shape(shape)} {dtype}" if dtype is not None else fmt_shape(shape)

    def op_detail(self, node: Context) -> str:
        """An operation's scalar operands and settings: '·, 2' for x ** 2, 'axis=1'."""
        parts = []
        if any(_is_scalar(c) for c in node.constants):
            parts = [_short(c) if _is_scalar(c) else "·" for c in node.constants]
        return ", ".join(parts + self.settings(node))

    @staticmethod
    def settings(node: Context) -> list[str]:
        return [f"{k}={_short(v)}" for k, v in node.settings.items() if v is not None and v is not False]


def _is_scalar(v: Any) -> bool:
    return v is not None and not isinstance(v, (Tensor, np.ndarray))


def _dropped(node: Context) -> str:
    """What a drawing says of a value the graph did not keep, and how to get it."""
    size = f"{int(np.prod(node.shape)):,} > {KEEP_ELEMENTS:,}".replace(",", " ")
    return f"not kept ({size} elements): use viz.trace()"


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
    keys: dict[int, str] = {}  # id(Context, Tensor or array) → value-node key
    root_ids = {id(t) for t in r.roots}
    values = itertools.count()

    def add_value(key_of: Any, node: Node) -> str:
        keys[id(key_of)] = g.add(node)
        return node.key

    def number(key: str) -> str:
        return "%" + key[1:]

    def leaf(t: Tensor, consumer_scopes: list[tuple[str, ...]]) -> str:
        """A tensor made by no recorded operation: a parameter, or an input that needs no gradient."""
        if id(t) in keys:
            return keys[id(t)]
        key = f"v{next(values)}"
        kind, name = ("parameter", r.name(t, "leaf")) if t.requires_grad else ("input", r.name(t, "constant"))
        if id(t) in root_ids:
            kind = "output"
        lines = [("title", name), ("meta", r.meta(t.shape, t.dtype)), r.data_line(t)]
        if t.requires_grad:
            lines.append(r.grad_line(t))
        # a parameter used inside one module is drawn in that module's cluster
        scope = consumer_scopes[0] if kind == "parameter" and len(set(consumer_scopes)) == 1 else ()
        text = f"{number(key)} = {kind} {name!r} {r.meta(t.shape, t.dtype)}  " + "  ".join(x for _, x in lines[2:])
        return add_value(t, Node(key, kind, lines, scope, text))

    def constant(value: Any) -> str | None:
        """A positional input that gets no gradient: a tensor or an array is drawn, a scalar is in the op's label."""
        if isinstance(value, Tensor):
            return leaf(value, [])
        if not isinstance(value, np.ndarray):
            return None
        if id(value) in keys:
            return keys[id(value)]
        key = f"v{next(values)}"
        lines = [("title", "constant"), ("meta", r.meta(value.shape, value.dtype)), r.data_line(value)]
        return add_value(value, Node(key, "input", lines, (), f"{number(key)} = input 'constant' {lines[1][1]}  "
                                     f"{lines[2][1]}"))

    for t in r.roots:
        if t.grad_fn is None:
            leaf(t, [])
    transposed: set[int] = set()  # Transposes of a parameter used once (x @ W.T): drawn as an arrow labelled ᵀ
    for i, node in enumerate(r.forward_order):
        inputs: list[str | None] = []
        for e, c in zip(node.edges, node.constants):
            if isinstance(e, Context):
                inputs.append(keys[id(e)])
            elif isinstance(e, Tensor):
                inputs.append(leaf(e, [c.scope for c, _ in _uses_of_leaf(r, e)]))
            else:
                inputs.append(constant(c))
        if (node.function is ops.Transpose and isinstance(node.edges[0], Tensor) and node not in r.root_of
                and len(r.consumers.get(node, ())) == 1):
            keys[id(node)] = inputs[0]
            transposed.add(id(node))
            continue
        op_key = f"op{i}"
        detail = r.op_detail(node)
        op_name = node.function.__name__
        g.add(Node(op_key, "op", [("title", op_name)] + ([("note", detail)] if detail else []), node.scope))
        for k, e in zip(inputs, node.edges):
            if k is not None:
                g.edge(k, op_key, "ᵀ (Transpose)" if id(e) in transposed else "")
        out = r.tensor(node)
        key = f"v{next(values)}"
        kind = "output" if node in r.root_of else "intermediate"
        title = (out.name if out is not None and out.name else None) or ("output" if kind == "output" else "")
        lines = ([("title", title)] if title else []) + [("meta", r.meta(node.shape, node.dtype)),
                                                         r.data_line(node), r.grad_line(node)]
        args = [number(k) + ("ᵀ" if id(e) in transposed else "") if k is not None else _short(c)
                for k, e, c in zip(inputs, node.edges, node.constants)]
        scope = "/".join(node.scope)
        text = (
            f"{number(key)} = {op_name}({', '.join(args + r.settings(node))}) -> {r.meta(node.shape, node.dtype)}"
            + (f"  [{scope}]" if scope else "")
            + "  "
            + "  ".join(x for style, x in lines if style not in ("title", "meta"))
        )
        add_value(node, Node(key, kind, lines, node.scope, text))
        g.edge(op_key, key)
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
        grad = r.gradient(node)
        lines = [("title", node.name()), ("meta", f"receives ∂C/∂out {fmt_shape(node.shape)}")]
        if grad is not None:
            lines.append(("grad", f"∂C/∂out: {summarize(grad, r.limit, kind='grad', sep=SEP)}"))
        extras = []
        if node.released:
            extras.append("saved values freed")
        if node._hooks:
            extras.append(f"{len(node._hooks)} hook(s)")
        if node.retains_grad and traced_output(node, r.trace) is None:
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
                        r.grad_line(e, label=".grad"),
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
            g.add(Node("leafroot", "accumulate", [("title", r.name(t, "leaf")), r.grad_line(t, ".grad")], (),
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
        layers.append(_Layer(node, weight, bias, z, act, 1 - w_index))
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

    def value(key: str, kind: str, title: str, x: Context | Tensor | np.ndarray, grad_label: str | None,
              text_name: str) -> str:
        """A value of the chapter's: a node's output (with δ when grad_label is given), a leaf or a constant."""
        shape, dtype = (x.shape, x.dtype)
        lines = [("title", title), ("meta", r.meta(shape, dtype)), r.data_line(x)]
        if grad_label:
            lines.append(r.grad_line(x, label=grad_label))
        text = f"{math_text(text_name):<8} {r.meta(shape, dtype):<22} " + "  ".join(s[1] for s in lines[2:])
        return g.add(Node(key, kind, lines, (), text, markup=True))

    # a^0: the matmul's other input in layer 1
    first = layers[0]
    a0_edge = first.matmul.edges[first.prev_index]
    a0 = a0_edge if a0_edge is not None else first.matmul.constants[first.prev_index]
    prev = value("a0", "input", "a^{0} = x", a0, None, "a⁰ = x")
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
        wkey = g.add(Node(f"W{l}", "parameter", lines, (), f"{math_text(f'W^{{{l}}}'):<8} {fmt_shape(wdata.shape):<22} ({names})  "
                          + "  ".join(s[1] for s in lines[3:]), markup=True))
        tilde = f"[a^{{{l - 1}}}; 1]" if b is not None else f"a^{{{l - 1}}}"
        op_names = [layer.matmul.function.__name__] + (["Add"] if b is not None else [])
        op = g.add(Node(f"lin{l}", "op", [("title", f"z^{{{l}}} = W^{{{l}}} {tilde}"), ("note", " + ".join(op_names))],
                        (), markup=True))
        g.edge(prev_key, op, prev_label, "dashed" if prev_label else "")
        g.edge(wkey, op)
        last = l == L
        if layer.act is None:
            zkey = value(f"z{l}", "intermediate", f"z^{{{l}}} = a^{{{l}}} (no activation)", layer.z,
                         f"δ^{{{l}}} = ∂C/∂z^{{{l}}}", f"z^{{{l}}}=a^{{{l}}}")
            g.edge(op, zkey)
            outputs[id(layer.z)] = zkey
            prev = zkey
            continue
        zkey = value(f"z{l}", "intermediate", f"z^{{{l}}}", layer.z, f"δ^{{{l}}} = ∂C/∂z^{{{l}}}", f"z^{{{l}}}")
        g.edge(op, zkey)
        outputs[id(layer.z)] = zkey
        akey = value(f"a{l}", "intermediate", f"a^{{{l}}}" + (" = ŷ" if last else ""), layer.act, None,
                     f"a^{{{l}}}")
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
        for c in n.constants:
            if isinstance(c, (Tensor, np.ndarray)) and c.ndim and y_key is None:
                y_key = value("y", "input", "y (targets)", c, None, "y")
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
                   f"C        {r.meta(root.shape, root.dtype):<22} value: {summarize(root.data, r.limit)}  ({math_text(loss_title)})",
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
        n_ops = len([m for m in members if m.kind in ("op", "backward")])
        lines = [("title", "/".join(s)), ("meta", f"{n_ops} op{'s' if n_ops != 1 else ''}: " + ", ".join(ops))]
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


def to_drawing(g: GraphModel, rankdir: str | None = None, depth: int | None = None, legend: bool | None = None,
               title: str | None = None) -> Drawing:
    """Emit a GraphModel as DOT: clusters from scopes (cut at `depth`), styles per kind, a legend; the direction
    chosen (rankdir=None) and the size capped so that it fits a notebook's column."""
    d = Drawing(
        name=f"{g.kind}_graph",
        graph_attr=dict(rankdir=rankdir or choose_rankdir(g), size=f"{MAX_WIDTH_PX / 96:.3g},1000", fontname=FONT,
                        fontsize="12", nodesep="0.25", ranksep="0.35", newrank="true", labeljust="l"),
        node_attr=dict(fontname=FONT, fontsize="11", margin="0.1,0.05"),
        edge_attr=dict(fontname=FONT, fontsize="9", color="#666666", fontcolor="#666666", arrowsize="0.7"),
    )
    d.kind = g.kind
    d.text = math_text(g.listing())
    if title:
        d.attr(label=html_label([("title", title)]), labelloc="t")
    # A scope is boxed when it holds two operations or more of its own: a container that only calls its
    # children, or an activation module of one operation, would add a frame (and width) and say nothing.
    # Leaves (a module's parameters too) are drawn outside the boxes, beside the operation they feed: inside,
    # they would sit next to the previous module's output and push the boxes sideways.
    scope_of = {k: () if n.kind in LEAF_KINDS else n.scope if depth is None else n.scope[:depth]
                for k, n in g.nodes.items()}
    operations = Counter(scope_of[k] for k, n in g.nodes.items() if n.kind in ("op", "backward", "collapsed"))
    boxed = {scope for scope, count in operations.items() if scope and count >= 2}

    def box_of(scope: tuple[str, ...]) -> tuple[str, ...]:
        while scope and scope not in boxed:
            scope = scope[:-1]
        return scope

    tree: dict[tuple[str, ...], list[Node]] = {}
    for key, node in g.nodes.items():
        tree.setdefault(box_of(scope_of[key]), []).append(node)
    counter = [0]

    def emit(graph: Any, path: tuple[str, ...]) -> None:
        for node in tree.get(path, []):
            graph.node(node.key, label=html_label(node.lines, node.markup), **STYLES[node.kind])
        for child in sorted(b for b in boxed if box_of(b[:-1]) == path):
            counter[0] += 1
            with graph.subgraph(name=f"cluster_{counter[0]}") as c:
                c.attr(label=html_label([("meta", "/".join(child[len(path):]))]), style="rounded,dashed",
                       color="#8c8c8c", fontsize="10")
                emit(c, child)

    emit(d, ())
    leaves = {k for k, n in g.nodes.items() if n.kind in LEAF_KINDS}
    for e in g.edges:
        attrs = {"style": e.style} if e.style else {}
        if e.src not in leaves and e.dst not in leaves:
            attrs["weight"] = "8"  # the computation runs straight down; leaves join it from the sides
        if e.label:
            attrs["label"] = html_label([("note", e.label)], markup=g.kind == "chapter")
        if g.kind == "backward":
            attrs.setdefault("color", "#7a5ea8")
        d.edge(e.src, e.dst, **attrs)
    swatches = legend if legend is not None else len(g.nodes) > LEGEND_FROM
    if legend is not False and (swatches or g.notes):
        _legend(d, g, swatches)
    return d


def _ranks(g: GraphModel) -> dict[str, int]:
    """Each node's rank as dot places it: the length of the longest path to it from a node with no inputs."""
    inputs: dict[str, list[str]] = {k: [] for k in g.nodes}
    for e in g.edges:
        inputs[e.dst].append(e.src)
    rank: dict[str, int] = {}
    for key in g.nodes:
        stack = [key]
        while stack:
            k = stack[-1]
            missing = [i for i in inputs[k] if i not in rank]
            if missing:
                stack.extend(missing)
            else:
                stack.pop()
                rank[k] = 1 + max((rank[i] for i in inputs[k]), default=-1)
    return rank


def _node_width(node: Node) -> float:
    """About how wide dot draws a node, in pixels (11 pt Helvetica titles, 10 pt lines, 0.1 in margins)."""
    px = [len(piece) * (7.0 if style == "title" else 6.0) for style, text in node.lines for piece in text.split("\n")]
    return max(px, default=0.0) + 24


def choose_rankdir(g: GraphModel) -> str:
    """"TB" (top to bottom) unless left to right is narrower and top to bottom would not fit the column: a chain
    of operations is drawn down the page, many inputs into one sum across it."""
    ranks = _ranks(g)
    rows: dict[int, list[float]] = {}
    for key, node in g.nodes.items():
        rows.setdefault(ranks[key], []).append(_node_width(node))
    across = max((sum(w) + 24 * (len(w) - 1) for w in rows.values()), default=0.0)  # widest rank, side by side
    along = sum(max(w) for w in rows.values()) + 34 * (len(rows) - 1)  # the ranks one after the other
    return "TB" if across <= MAX_WIDTH_PX or across <= along else "LR"


def _legend(d: Drawing, g: GraphModel, swatches: bool) -> None:
    """One node below the graph: a swatch for each kind of node present (two to a row), then the notes."""
    import textwrap

    from .drawing import esc

    cells = []
    if swatches:
        for k in LEGEND:
            if any(n.kind == k for n in g.nodes.values()):
                style = STYLES[k]
                rounded = ' STYLE="rounded"' if "rounded" in style.get("style", "") or style["shape"] == "ellipse" else ""
                cells.append(f'<TD WIDTH="18" HEIGHT="12" BGCOLOR="{style["fillcolor"]}" COLOR="{style["color"]}"'
                             f'{rounded}></TD><TD ALIGN="LEFT" BORDER="0"><FONT POINT-SIZE="9">{esc(LEGEND[k])}'
                             f'</FONT></TD>')
    rows = ["<TR>" + "".join(cells[i:i + 2]) + "</TR>" for i in range(0, len(cells), 2)]
    for note in g.notes:
        wrapped = '<BR ALIGN="LEFT"/>'.join(esc(line) for line in textwrap.wrap(math_text(note), 90))
        rows.append(f'<TR><TD COLSPAN="4" ALIGN="LEFT" BORDER="0"><FONT POINT-SIZE="9" COLOR="#555555">'
                    f'{wrapped}<BR ALIGN="LEFT"/></FONT></TD></TR>')
    table = '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="3" CELLPADDING="1">'
    d.node("legend", label="<" + table + "".join(rows) + "</TABLE>>", shape="plain")
    ranks = _ranks(g)
    if ranks:  # below the last rank: an invisible edge from one of its nodes
        d.edge(max(ranks, key=ranks.__getitem__), "legend", style="invis")


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
    rankdir: str | None = None,
    depth: int | None = None,
    collapse: bool | Collection[str] = False,
    legend: bool | None = None,
    max_elements: int = 4,
    title: str | None = None,
    loss_label: str | None = None,
) -> Drawing:
    """Draw the graph that computed `roots` (usually the loss). Returns a `Drawing` (a graphviz.Digraph).

    view         "forward" (values and operations), "backward" (what backward() walks) or "chapter" (an MLP
                 as a^{l-1}, W^l, z^l, a^l, C with δ^l = ∂C/∂z^l).
    params       names for parameters: dict(model.named_parameters()), a module, or pairs (name, tensor).
    trace        what `viz.trace()` recorded during the forward pass (default: the most recent trace), for
                 the values and gradients of intermediates too large for the graph to keep.
    rankdir      "TB" (top to bottom), "LR" (left to right), "BT" or "RL"; None (default): top to bottom
                 unless left to right is narrower and top to bottom would not fit. Either way the drawing
                 is scaled down to fit a notebook's column (MAX_WIDTH_PX) if it is wider.
    depth        draw clusters for the first `depth` levels of name scopes only (0: no clusters).
    collapse     True: draw each innermost module as one box; or the names of the scopes to collapse.
    legend       True: a legend of the kinds of node; False: none, not even the notes; None (default): the
                 notes, and the legend for graphs of more than LEGEND_FROM nodes.
    max_elements a tensor with at most this many elements shows its numbers, a larger one statistics.
    loss_label   the chapter view's label for the loss, e.g. "C = 1/B Σ_i ‖y_i − a^{L}_i‖²".
    """
    if rankdir is not None and rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)} or None, got {rankdir!r}")
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise ValueError(f"depth must be a non-negative integer or None, got {depth!r}")
    g = build_model(*roots, view=view, params=params, trace=trace, max_elements=max_elements, loss_label=loss_label)
    text = g.listing()
    if collapse:
        g = _collapse(g, collapse)
    d = to_drawing(g, rankdir=rankdir, depth=depth, legend=legend, title=title)
    d.text = math_text(text)
    return d


def graph_text(*roots: Tensor, view: str = "forward", params: Any = None, trace: Trace | None = None,
               max_elements: int = 4, loss_label: str | None = None) -> str:
    """The same graph as plain text, one line per operation (and per leaf), for terminals and diffs."""
    g = build_model(*roots, view=view, params=params, trace=trace, max_elements=max_elements, loss_label=loss_label)
    return math_text(g.listing())


__all__ = ["Drawing", "GraphModel", "build_model", "draw_graph", "find_layers", "graph_text", "to_drawing"]
