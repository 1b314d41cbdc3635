"""examples/neural_networks.ipynb runs top to bottom in a fresh kernel, with MNIST when the project has it and
offline on the embedded digits; any error in any cell fails the test. (test_browser.py looks at its pictures.)"""

from __future__ import annotations

import os
import re

import pytest
from conftest import find_mnist, require
from notebooks import EXAMPLES, ROOT, code_cells, count, execute, have_jupyter, is_clean, offline, text_of

NOTEBOOK = EXAMPLES / "neural_networks.ipynb"
MNIST = find_mnist()  # the chapter's files, when this checkout has them


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_is_committed_clean(path):
    """No outputs and no execution counts in the repository: diffs stay readable."""
    assert is_clean(path)


@pytest.mark.slow
def test_notebook_runs(tmp_path):
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run the notebook (pip install '.[test]')")
    changes = {}
    if MNIST is not None:
        changes["TINYGRAD_EDU_DATA"] = str(MNIST)
    cells = code_cells(execute(NOTEBOOK, tmp_path, changes))
    text = text_of(cells)
    if MNIST is not None:
        assert "MNIST found" in text
    assert count(cells, "image/png") >= 12
    # digits, weights, activations, descent, its rivals and their costs, fits, curves, confusion, errors, LeNet's
    # filters and feature maps: each shown once, as a PNG, with no `%matplotlib inline` (the library teaches the
    # kernel to show Figures)
    figures = [o for c in cells for o in c.outputs if o.get("data", {}).get("text/plain", "").startswith("<Figure")]
    assert len(figures) == 12 and all("image/png" in o["data"] for o in figures)
    assert_lenet_section(cells)


@pytest.mark.slow
def test_notebook_runs_offline_on_the_embedded_digits(tmp_path):
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run the notebook (pip install '.[test]')")
    cells = code_cells(execute(NOTEBOOK, tmp_path, offline(tmp_path)))
    text = text_of(cells)
    assert "MNIST files not found" in text and "8×8 digits" in text
    assert "the fixed Softplus passes" in text
    assert_lenet_section(cells)


def assert_lenet_section(cells):
    """Section 11: im2col checked against conv2d, a LeNet-5 that learnt (far above chance), its graph drawn with
    one box per layer, a convolution's box showing its (N, C, H, W) output."""
    by_id = {c.id: c for c in cells}
    assert "equals conv2d(x, W, padding=2)" in text_of([by_id["im2col"]])
    found = re.search(r"test accuracy: LeNet-5 ([\d.]+) after \d+ epochs", text_of([by_id["lenet-training"]]))
    assert found and float(found[1]) > 0.9, text_of([by_id["lenet-training"]])
    svg = "".join(o["data"].get("image/svg+xml", "") for o in by_id["lenet-graph"].outputs)
    assert "Sequential/conv1" in svg and "1 op: Conv2d" in svg and "conv1.weight (6, 1, 5, 5)" in svg
    assert re.search(r"out: \(4, 6, (28, 28|8, 8)\)", svg), "conv1's box shows its output (N, C, H, W)"
