"""benchmarks/run.py --quick runs end to end: it prints the ratio table and writes its results files.

Timings are never asserted (they drift by tens of percent on shared machines); only the plumbing is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # two runs of benchmarks/run.py in a subprocess


def test_quick_benchmark_prints_ratios_and_writes_results(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--no-torch", "--repeats", "1",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Ratios of medians" in out
    rows = [line.split() for line in out.splitlines()]
    for workload in ("1", "3", "6", "7"):
        assert [workload, "engine", "/", "numpy"] in [row[:4] for row in rows], out
    assert "[5] training time to 98 %" in out

    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    machine = results["machine"]
    for key in ("cores", "numpy", "git_commit", "date", "blas_build"):
        assert key in machine
    by_id = {w["id"]: w for w in results["workloads"]}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6, 7]
    # workload 5 needs the MNIST files: measured when ../shared has them (quick: the plumbing only)
    assert "skipped" in by_id[5] or (by_id[5]["ratios"][0]["value"] > 0 and "engine" in by_id[5]["medians"])
    for wid in (1, 2, 3, 4, 6, 7):
        ratios = {r["ratio"]: r["value"] for r in by_id[wid]["ratios"]}
        assert ratios and all(value >= 0 for value in ratios.values()), by_id[wid]  # resident sizes can be 0
    assert {"engine", "numpy"} <= set(by_id[1]["medians"])
    # workload 3 runs 5 short rounds per round of the others: its ratio also comes round by round
    tiny = {r["ratio"]: r for r in by_id[3]["ratios"]}["engine / numpy"]
    assert len(by_id[3]["times"]["engine"]) == 5 and tiny["paired"] > 0

    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "| workload | ratio | value | paired | target | status |" in report
    # A second run replaces the generated section and keeps text written around it.
    (tmp_path / "RESULTS.md").write_text(report + "\nHand-written notes.\n", encoding="utf-8")
    again = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--no-torch", "--repeats", "1",
         "--only", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )
    assert again.returncode == 0, again.stderr
    report = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert report.count("generated results begin") == 1 and "Hand-written notes." in report


def test_the_mnist_results_command_lines_make_the_runs_the_script_makes() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import mnist_results

    from tinygrad_edu.cli import build_parser, train_config

    for name in mnist_results.NETWORKS:
        epochs = mnist_results._epochs(name, None)
        line = mnist_results.cli_recipe(name, epochs, data_dir="/mnist", seed=2)
        args = build_parser().parse_args(line.split()[1:])
        assert train_config(args).resolved() == mnist_results.config_of(name, 2, "/mnist", epochs).resolved(), line
