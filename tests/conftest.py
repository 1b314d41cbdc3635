"""Shared test configuration: hypothesis profiles and the CI rule for optional resources."""

from __future__ import annotations

import os

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


def require(condition: bool, reason: str) -> None:
    """Skip the test when `condition` is false, except under CI=true, where the missing resource fails it."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI but missing: {reason}")
        pytest.skip(reason)
