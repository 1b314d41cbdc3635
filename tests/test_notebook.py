"""examples/neural_networks.ipynb runs top to bottom in a fresh kernel, with MNIST when the project has it and
offline on the embedded digits; any error in any cell fails the test."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import require

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "neural_networks.ipynb"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"  # the chapter's files, when this checkout has them
CELL_TIMEOUT = 600  # seconds per cell: generous, the machine may be shared


def have_jupyter() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("nbclient", "nbformat", "ipykernel"))


def kernel_manager(kernels: Path):
    """A kernel manager whose "python3" kernel is this interpreter (sys.executable), whatever kernelspecs the
    machine has installed: an installed spec may name another `python` through PATH."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    spec = kernels / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python",
    }))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)
    return KernelManager(kernel_name="python3", kernel_spec_manager=specs)


def run_notebook(tmp_path: Path, env_changes: dict[str, str]) -> list[dict]:
    """Execute the notebook in `tmp_path` (nothing is written into the project) and return its code cells."""
    import nbformat
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernel's inline backend draws
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(env_changes)
    work = tmp_path / "cwd"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, km=kernel_manager(tmp_path / "kernels"), timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)  # raises CellExecutionError, with the cell and the traceback, on any error
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(cells: list[dict]) -> str:
    return "".join(o.get("text", "") for c in cells for o in c.outputs if o.get("output_type") == "stream")


def count(cells: list[dict], mime: str) -> int:
    return sum(mime in o.get("data", {}) for c in cells for o in c.outputs)


def test_notebook_is_committed_clean():
    """No outputs and no execution counts in the repository: diffs stay readable."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.mark.slow
def test_notebook_runs(tmp_path):
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run the notebook (pip install '.[test]')")
    changes = {}
    if SHARED_MNIST.is_dir() and "TINYGRAD_EDU_DATA" not in os.environ:
        changes["TINYGRAD_EDU_DATA"] = str(SHARED_MNIST)
    cells = run_notebook(tmp_path, changes)
    text = text_of(cells)
    if SHARED_MNIST.is_dir():
        assert "MNIST found" in text
    assert count(cells, "image/png") >= 8  # digits, weights, activations, descent, fits, curves, confusion, errors


@pytest.mark.slow
def test_notebook_runs_offline_on_the_embedded_digits(tmp_path):
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run the notebook (pip install '.[test]')")
    empty = tmp_path / "no_mnist"
    empty.mkdir()
    # every place load_mnist looks: $TINYGRAD_EDU_DATA, ./data/mnist (the kernel runs in tmp_path/cwd), the cache
    cells = run_notebook(tmp_path, {"TINYGRAD_EDU_DATA": str(empty), "XDG_CACHE_HOME": str(empty)})
    text = text_of(cells)
    assert "MNIST files not found" in text and "8×8 digits" in text
    assert "the fixed Softplus passes" in text
