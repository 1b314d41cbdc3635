"""Neuron-level diagrams of an MLP, as in the chapter's figures: layers of neurons (circles) and their links.

    network_diagram([784, 10])                 # "the simplest network for MNIST": p = 784 inputs, K = 10 outputs
    network_diagram([784, 16, 10], bias=True)  # one hidden layer, with the bias neurons ("1") of eq. (97)

A layer larger than `max_neurons` is elided: its first and last neurons are drawn around a "⋮" node that says
how many are hidden, and only the drawn neurons get links. Positions are fixed (graphviz's neato engine with
pinned nodes), so every layer is a straight column in order, like a textbook figure.

Neurons are labelled x₇₈₃, a¹₂₉₉, ŷ₉ in Unicode sub- and superscripts (graphviz's HTML <SUB>/<SUP> land beside
the letter in SVG), and all circles of a diagram share one size, that of its widest label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .drawing import Drawing, esc, math_text

FONT = "Helvetica"
FONT_SIZE = 11  # points, of the neurons' labels
X_STEP, Y_STEP = 2.4, 0.62  # inches between layers and between neurons (at least)
MIN_DIAMETER = 0.42  # inches: a neuron's circle, when its label is short
CHAR_WIDTH = 0.5  # a label character's width in font sizes: Helvetica's (Liberation Sans') letters and digits
                  # measure 0.45-0.5 of it in graphviz, sub- and superscript digits included
PAD = 2.0  # points left free on each side of the widest label


def _shown(n: int, max_neurons: int) -> tuple[list[int], int]:
    """Indices drawn for a layer of n neurons, and how many are elided (drawn as one '⋮' node)."""
    if n <= max_neurons:
        return list(range(n)), 0
    head = max_neurons // 2
    tail = max_neurons - 1 - head
    return list(range(head)) + list(range(n - tail, n)), n - head - tail


def _neuron_label(layer: int, last: int, j: int) -> str:
    if layer == 0:
        return math_text(f"x_{{{j}}}")
    if layer == last:
        return math_text(f"ŷ_{{{j}}}")
    return math_text(f"a^{{{layer}}}_{{{j}}}")


def _diameter(labels: Sequence[str]) -> float:
    """Inches: a circle that holds the widest label's box (estimated CHAR_WIDTH a character, one font size high,
    PAD on each side), or MIN_DIAMETER."""
    width = max(len(label) for label in labels) * CHAR_WIDTH * FONT_SIZE + 2 * PAD
    return max(MIN_DIAMETER, math.hypot(width, FONT_SIZE) / 72)


def _layer_title(layer: int, last: int, n: int) -> str:
    if layer == 0:
        return f"input layer<BR/>p = {n}"
    if layer == last:
        return f"output layer<BR/>K = {n}"
    return f"hidden layer {layer}<BR/>{n} neurons"


def network_diagram(
    sizes: Sequence[int],
    max_neurons: int = 8,
    bias: bool = False,
    title: str | None = None,
    layer_names: Sequence[str] | None = None,
) -> Drawing:
    """A neuron-and-link diagram of a fully connected network with layer sizes `sizes` (inputs first).

    max_neurons  at most this many circles per layer (≥ 3); larger layers are elided with "⋮ (n more)".
    bias         draw a bias neuron "1" under each layer but the last, linked (dashed) to the next layer:
                 z^l = W^l [a^{l-1}; 1], the bias absorbed as the last column of W^l.
    layer_names  titles instead of "input layer p = 784", "hidden layer 1", "output layer K = 10".
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"a network needs at least an input and an output layer, got sizes={sizes}")
    for n in sizes:
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    if not isinstance(max_neurons, int) or max_neurons < 3:
        raise ValueError(f"max_neurons must be an integer ≥ 3 (two neurons and the '⋮'), got {max_neurons!r}")
    if layer_names is not None and len(layer_names) != len(sizes):
        raise ValueError(f"layer_names has {len(layer_names)} names for {len(sizes)} layers")
    last = len(sizes) - 1
    d = Drawing(
        name="network",
        engine="neato",
        graph_attr=dict(splines="false", outputorder="edgesfirst", fontname=FONT, fontsize="12", pad="0.2"),
        node_attr=dict(fontname=FONT, fontsize=str(FONT_SIZE), shape="circle", fixedsize="true", style="filled",
                       penwidth="1.2"),
        edge_attr=dict(color="#8a8a8a", penwidth="0.6", arrowhead="none"),
    )
    d.kind = "network"
    if title:
        d.attr(label=f"<<B>{esc(title)}</B>>", labelloc="t")
    colours = {0: ("#d6e6f5", "#4a7ab0"), last: ("#f7c5c0", "#c0392b")}
    shown_of = [_shown(n, max_neurons) for n in sizes]
    diameter = _diameter([_neuron_label(layer, last, j) for layer, (shown, _) in enumerate(shown_of) for j in shown])
    d.node_attr["width"] = f"{diameter:.3f}"
    y_step = max(Y_STEP, diameter + 0.16)
    columns: list[list[str]] = []
    text = []
    top = (min(max(sizes), max_neurons) + (1 if bias else 0) - 1) * y_step / 2
    for layer, (n, (shown, hidden)) in enumerate(zip(sizes, shown_of)):
        x = layer * X_STEP
        rows = len(shown) + (1 if hidden else 0)
        y = (rows - 1) * y_step / 2
        fill, line = colours.get(layer, ("#f4f4f4", "#777777"))
        names = []
        head = max_neurons // 2 if hidden else len(shown)
        items: list[int | None] = shown[:head] + ([None] if hidden else []) + shown[head:]
        for j in items:
            if j is None:  # the elided neurons
                d.node(f"L{layer}_more", label=f"<⋮<BR/><FONT POINT-SIZE=\"9\">{hidden} more</FONT>>",
                       shape="plain", style="", fixedsize="false", pos=f"{x:.2f},{y:.2f}!")
            else:
                key = f"L{layer}_{j}"
                d.node(key, label=_neuron_label(layer, last, j), fillcolor=fill, color=line, pos=f"{x:.2f},{y:.2f}!")
                names.append(key)
            y -= y_step
        if bias and layer < last:
            d.node(f"L{layer}_bias", label="1", shape="square", width="0.36", fillcolor="#fde0b6", color="#c77c12",
                   pos=f"{x:.2f},{y - 0.15:.2f}!")
        heading = esc(layer_names[layer]) if layer_names else _layer_title(layer, last, n)
        d.node(f"L{layer}_title", label=f"<<FONT POINT-SIZE=\"10\">{heading}</FONT>>", shape="plain", style="", fixedsize="false",
               pos=f"{x:.2f},{top + 0.75:.2f}!")
        columns.append(names)
        text.append(f"layer {layer}: {n} neurons" + (f" ({len(shown)} drawn, {hidden} elided)" if hidden else ""))
    for layer in range(last):
        for a in columns[layer]:
            for b in columns[layer + 1]:
                d.edge(a, b)
        if bias:
            for b in columns[layer + 1]:
                d.edge(f"L{layer}_bias", b, style="dashed", color="#c77c12")
    links = sum(sizes[i] * sizes[i + 1] for i in range(last))
    weights = sum((sizes[i] + 1) * sizes[i + 1] for i in range(last))
    text.append(f"{links} links (weights); with biases {weights} parameters")
    d.text = "\n".join(text)
    return d
