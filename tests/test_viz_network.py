"""Neuron-level network diagrams."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import pytest
from conftest import require

from tinygrad_edu import viz


def neurons(source: str) -> list[str]:
    return re.findall(r"^\s*(L\d+_\d+) \[", source, flags=re.M)


def links(source: str) -> list[str]:
    return [l for l in source.splitlines() if "->" in l]


def test_simplest_mnist_network_is_elided():
    d = viz.network_diagram([784, 10], max_neurons=8)
    src = d.source
    shown = neurons(src)
    assert len(shown) == 7 + 7  # 4 + 3 drawn around the "⋮" in each layer
    assert "777 more" in src and "3 more" in src
    assert len(links(src)) == 7 * 7
    assert "x₇₈₃" in src and "ŷ₉" in src and "p = 784" in src and "K = 10" in src
    assert "7840 links" in d.text


def test_small_layers_are_drawn_in_full_with_bias():
    src = viz.network_diagram([3, 4, 2], bias=True).source
    assert len(neurons(src)) == 9 and "more" not in src
    assert len(links(src)) == 3 * 4 + 4 * 2 + 4 + 2  # links, then the dashed bias links
    assert src.count("dashed") == 6 and "a¹₃" in src


def test_bad_sizes():
    with pytest.raises(ValueError, match="at least an input and an output"):
        viz.network_diagram([5])
    with pytest.raises(ValueError, match="positive integers"):
        viz.network_diagram([5, 0])
    with pytest.raises(ValueError, match="max_neurons"):
        viz.network_diagram([5, 3], max_neurons=2)


def test_renders(tmp_path):
    require(shutil.which("dot") is not None, "graphviz (apt-get install graphviz)")
    path = viz.network_diagram([784, 16, 10], bias=True, title="one hidden layer").write(tmp_path / "n.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_neurons_are_labelled_in_unicode_sub_and_superscripts():
    """graphviz's HTML <SUB>/<SUP> land beside the letter in SVG; Unicode ones stay where they belong."""
    src = viz.network_diagram([784, 300, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10]).source
    assert "<SUB>" not in src and "<SUP>" not in src
    assert all(label in src for label in ("x₀", "x₇₈₃", "a¹₂₉₉", "a¹²₉", "ŷ₉"))


def layout(d: viz.Drawing) -> tuple[dict, str]:
    """graphviz's own layout of a drawing (-Tjson: node sizes and measured label widths) and what it wrote to
    stderr, from the program the drawing names."""
    done = subprocess.run(["dot", f"-K{d.engine}", "-Tjson"], input=d.source.encode(), capture_output=True, check=True)
    return json.loads(done.stdout), done.stderr.decode()


@pytest.mark.parametrize("sizes", [[784, 300, 10], [784, 30, 10], [1, 3, 1], [10000, 2000, 10]], ids=str)
def test_labels_fit_their_circles_and_graphviz_has_nothing_to_say(sizes):
    require(shutil.which("dot") is not None, "graphviz (apt-get install graphviz)")
    d = viz.network_diagram(sizes)
    graph, stderr = layout(d)
    assert stderr == ""  # no "size too small for label"
    circles = [o for o in graph["objects"] if re.fullmatch(r"L\d+_\d+", o["name"])]
    assert len(circles) == sum(min(n, 7 if n > 8 else n) for n in sizes)
    assert len({o["width"] for o in circles}) == 1  # one size for all, that of the widest label
    diameter = float(circles[0]["width"]) * 72  # points
    for o in circles:
        (text,) = [op for op in o["_ldraw_"] if op["op"] == "T"]
        (font,) = [op for op in o["_ldraw_"] if op["op"] == "F"]
        # the label's box (graphviz's measured width, one font size high) lies inside the circle
        assert math.hypot(text["width"], font["size"]) <= diameter, (o["label"], text["width"], diameter)
    width_px = float(graph["bb"].split(",")[2]) * 4 / 3  # points → CSS pixels
    assert width_px <= 900
