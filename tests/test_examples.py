"""Every script in examples/ runs in its quick mode (the scripts assert their own numbers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import find_mnist

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # each script is a subprocess of a few seconds

SCRIPTS = sorted((ROOT / "examples").glob("*.py"))
MNIST = find_mnist()  # the chapter's files, when this checkout has them


def example_env() -> dict[str, str]:
    """The environment of an example run: no screen, the package from this checkout, and the MNIST files
    (found through $TINYGRAD_EDU_DATA, as a user would point to theirs) when they are beside the project."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    if MNIST is not None:  # as a user would point to theirs
        env["TINYGRAD_EDU_DATA"] = str(MNIST)
    return env


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs_in_quick_mode(script):
    env = example_env()
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, env=env,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
