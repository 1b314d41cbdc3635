"""Shared test configuration: hypothesis profiles and the CI rule for optional resources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# CI: no deadline (the machine is shared and noisy), derandomized (a red run is reproducible), and a
# moderate number of examples; sizes are capped by the strategies in tinygrad_edu.testing.
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=40, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))

IN_CI = os.environ.get("CI") == "true"


def pytest_addoption(parser):
    parser.addoption("--update-screenshots", action="store_true",
                     help="test_browser.py: copy its key screenshots into docs/screenshots/")


# the course's copy of the MNIST files, beside this checkout: the last place the tests look
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def find_mnist() -> Path | None:
    """The folder whose four MNIST files the tests use: the first found in the package's own order (`search_dirs`:
    $TINYGRAD_EDU_DATA, ./data/mnist, the user cache), then ../shared/data/mnist; None when there is none."""
    from tinygrad_edu.data import MNISTNotFoundError, locate_mnist

    for where in (None, SHARED_MNIST):
        try:
            return locate_mnist(where)["train_images"].parent
        except MNISTNotFoundError:
            continue
    return None


MNIST_WHERE = "the four MNIST files in $TINYGRAD_EDU_DATA, ./data/mnist, the user cache or ../shared/data/mnist"


def run_cli(argv, capsys):
    """(exit code, stdout, stderr) of `tinygrad-edu argv`, whether it returns or exits (argparse)."""
    from tinygrad_edu.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def require(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false, except under CI=true, where the missing resource fails it."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI but missing: {reason}")
        pytest.skip(reason)
