"""examples/neural_networks.ipynb runs top to bottom in a fresh kernel, with MNIST when the project has it and
offline on the embedded digits; any error in any cell fails the test. (test_browser.py looks at its pictures.)"""

from __future__ import annotations

import os

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
    assert count(cells, "image/png") >= 10
    # digits, weights, activations, descent, its rivals and their costs, fits, curves, confusion, errors: each shown once, as a PNG, with no
    # `%matplotlib inline` (the library teaches the kernel to show Figures)
    figures = [o for c in cells for o in c.outputs if o.get("data", {}).get("text/plain", "").startswith("<Figure")]
    assert len(figures) == 10 and all("image/png" in o["data"] for o in figures)


@pytest.mark.slow
def test_notebook_runs_offline_on_the_embedded_digits(tmp_path):
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run the notebook (pip install '.[test]')")
    cells = code_cells(execute(NOTEBOOK, tmp_path, offline(tmp_path)))
    text = text_of(cells)
    assert "MNIST files not found" in text and "8×8 digits" in text
    assert "the fixed Softplus passes" in text
