"""Running notebooks headless in a fresh kernel of this interpreter: shared by test_notebook.py, test_browser.py
and test_viz_plots.py."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
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


def execute(notebook: Any, tmp_path: Path, env_changes: dict[str, str] | None = None) -> Any:
    """Execute a notebook (a path, or an nbformat NotebookNode) in a fresh kernel whose working directory is a new
    folder in `tmp_path` (nothing is written into the project); returns the executed NotebookNode. Raises
    CellExecutionError, with the cell and the traceback, on any error."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4) if isinstance(notebook, (str, Path)) else notebook
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # as in Jupyter: the kernel's default backend
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update(env_changes or {})
    base = Path(tempfile.mkdtemp(dir=tmp_path, prefix="notebook-"))
    work = base / "cwd"
    work.mkdir()
    client = NotebookClient(nb, km=kernel_manager(base / "kernels"), timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    client.execute(env=env)
    return nb


def offline(tmp_path: Path) -> dict[str, str]:
    """Environment changes that hide MNIST from every place load_mnist looks ($TINYGRAD_EDU_DATA, ./data/mnist in
    the kernel's new working directory, the user cache): the notebooks fall back on the embedded digits."""
    empty = tmp_path / "no_mnist"
    empty.mkdir(exist_ok=True)
    return {"TINYGRAD_EDU_DATA": str(empty), "XDG_CACHE_HOME": str(empty)}


def code_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(cells: list[Any]) -> str:
    return "".join(o.get("text", "") for c in cells for o in c.outputs if o.get("output_type") == "stream")


def count(cells: list[Any], mime: str) -> int:
    return sum(mime in o.get("data", {}) for c in cells for o in c.outputs)


def is_clean(path: Path) -> bool:
    """No outputs and no execution counts, as committed: diffs stay readable."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return bool(code) and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
