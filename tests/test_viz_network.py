"""Neuron-level network diagrams."""

from __future__ import annotations

import re
import shutil

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
    assert "x<SUB>783</SUB>" in src and "ŷ<SUB>9</SUB>" in src and "p = 784" in src and "K = 10" in src
    assert "7840 links" in d.text


def test_small_layers_are_drawn_in_full_with_bias():
    src = viz.network_diagram([3, 4, 2], bias=True).source
    assert len(neurons(src)) == 9 and "more" not in src
    assert len(links(src)) == 3 * 4 + 4 * 2 + 4 + 2  # links, then the dashed bias links
    assert src.count("dashed") == 6 and "a<SUP>1</SUP><SUB>3</SUB>" in src


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
