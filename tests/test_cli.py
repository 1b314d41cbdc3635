"""The `tinygrad-edu` command line: train / evaluate / check, the recommended settings, and bad input."""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST_WHERE, find_mnist, require, run_cli
from full_disk import run_with_file_size_limit
from model_files import npy_header, rewrite

from tinygrad_edu import nn
from tinygrad_edu.cli import main
from tinygrad_edu.data import write_idx
from tinygrad_edu.experiment import DIGITS_RECIPES, RECIPES, ConfigError, TrainConfig, recommended
from tinygrad_edu.nn.serialization import load

ROOT = Path(__file__).resolve().parent.parent
METRIC_FIELDS = ("dataset", "n_train", "n_val", "n_test", "architecture", "activation", "loss", "optimizer", "lr",
                 "batch_size", "epochs", "seed", "dtype", "train_accuracy", "val_accuracy", "test_accuracy",
                 "test_error", "train_seconds", "history")


# --------------------------------------------------------------------------------------------------------------
# train and evaluate on the embedded digits
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_train_writes_model_metrics_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(["train", "--dataset", "digits", "--hidden", "32", "--epochs", "4", "--train-limit",
                               "800", "--out", str(out), "--no-progress"], capsys)
    assert code == 0
    for name in ("model.npz", "metrics.json", "curves.png", "weights.png", "misclassified.png",
                 "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.glob(".*.part"))  # atomic writes leave no temporary file
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(METRIC_FIELDS) <= set(metrics)
    assert metrics["dataset"] == "digits" and metrics["architecture"] == [64, 32, 10]
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (800, 240, 360)
    assert (metrics["optimizer"], metrics["lr"], metrics["batch_size"]) == ("sgd", 0.25, 8)  # digits' row
    for key in ("train_accuracy", "val_accuracy", "test_accuracy", "test_error"):
        assert 0 <= metrics[key] <= 1
    assert metrics["test_error"] == pytest.approx(1 - metrics["test_accuracy"])
    assert len(metrics["history"]) == 4 and metrics["history"][0]["epoch"] == 1
    assert 0 < metrics["train_seconds"] <= sum(e["seconds"] for e in metrics["history"])
    assert sum(map(sum, metrics["confusion_matrix"])) == 360
    assert metrics["test_accuracy"] > 0.5  # 4 epochs of the recommended settings leave the plateau on digits
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in stdout and "epoch   4/4" in stdout

    # the saved model is the selected one: evaluating it gives the reported test accuracy
    model = load(out / "model.npz")
    assert model.sizes == [64, 32, 10] and model.dtype == np.float32
    code, stdout, _ = run_cli(["evaluate", "--model", str(out / "model.npz")], capsys)
    assert code == 0
    assert f"accuracy {metrics['test_accuracy']:.4f}" in stdout and "recall" in stdout


@pytest.mark.slow
def test_validation_chooses_the_epoch_and_zero_keeps_the_last(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--hidden", "16", "--epochs", "3", "--no-progress", "--train-limit", "300"]
    assert run_cli(args + ["--out", str(tmp_path / "a")], capsys)[0] == 0
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    val = [e["val_accuracy"] for e in metrics["history"]]
    best = max(metrics["history"], key=lambda e: (e["val_accuracy"], -e["val_loss"], -e["epoch"]))
    assert metrics["selected_epoch"] == best["epoch"]  # best accuracy, then lowest validation loss
    assert metrics["val_accuracy"] == pytest.approx(max(val))
    assert run_cli(args + ["--val-size", "0", "--out", str(tmp_path / "b")], capsys)[0] == 0
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["n_val"] == 0 and metrics["val_accuracy"] is None and metrics["selected_epoch"] == 3
    assert metrics["history"][0]["val_accuracy"] is None


@pytest.mark.slow
def test_same_seed_same_run(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "2", "--no-progress", "--loss", "ce",
            "--activation", "relu", "--dtype", "float64"]
    for name in ("a", "b"):
        assert run_cli(args + ["--out", str(tmp_path / name)], capsys)[0] == 0
    a, b = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    assert a["history"][-1]["train_loss"] == b["history"][-1]["train_loss"]
    assert a["optimizer"] == "momentum" and a["history"][1]["lr"] < a["history"][0]["lr"]  # cosine decay


def test_any_directory_of_idx_files_trains_like_mnist(tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny-idx"
    data.mkdir()
    for prefix, n in (("train", 300), ("t10k", 60)):
        labels = rng.integers(0, 3, n).astype(np.uint8)
        images = np.zeros((n, 6, 6), np.uint8)
        images[np.arange(n), labels, :] = 255  # class k lights up row k: learnable
        write_idx(data / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(data / f"{prefix}-labels-idx1-ubyte.gz", labels)
    code, stdout, _ = run_cli(["train", "--data-dir", str(data), "--hidden", "8", "--epochs", "5", "--no-progress",
                               "--loss", "ce", "--out", str(tmp_path / "out")], capsys)
    assert code == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["dataset"] == "tiny-idx" and metrics["architecture"][0] == 36
    assert metrics["n_train"] == 250 and metrics["n_val"] == 50 and metrics["test_accuracy"] > 0.9


# --------------------------------------------------------------------------------------------------------------
# the recommended settings
# --------------------------------------------------------------------------------------------------------------


def test_recommended_settings_depend_on_loss_and_activation():
    chapter = TrainConfig().resolved()
    assert (chapter.dataset, chapter.hidden, chapter.activation, chapter.output_activation, chapter.loss) == (
        "mnist", (300,), "sigmoid", "sigmoid", "mse")
    assert (chapter.optimizer, chapter.lr, chapter.batch_size, chapter.epochs, chapter.schedule) == (
        "sgd", 0.5, 8, 10, "constant")
    ce = TrainConfig(activation="relu", loss="ce").resolved()
    assert (ce.optimizer, ce.output_activation, ce.batch_size, ce.schedule) == ("momentum", "identity", 64, "cosine")
    digits = TrainConfig(dataset="digits").resolved()
    assert (digits.epochs, digits.lr, digits.batch_size) == (30, 0.25, 8)  # the plateau lasts longer on digits
    assert TrainConfig(dataset="digits", activation="relu", loss="ce").resolved().lr == RECIPES["relu", "ce"].lr
    assert TrainConfig(data_dir="somewhere").resolved().dataset == "idx"
    assert set(RECIPES) == {(a, l) for a in ("sigmoid", "relu", "tanh") for l in ("mse", "ce")}
    assert set(DIGITS_RECIPES) <= set(RECIPES)
    assert all(r.why for r in (*RECIPES.values(), *DIGITS_RECIPES.values()))  # each says what was measured
    # another optimizer without --lr: Adam's usual step, or the same effective step λ / (1 − μ)
    assert recommended("relu", "ce", "adam").lr == 1e-3
    sgd = recommended("sigmoid", "mse")
    assert recommended("sigmoid", "mse", "momentum").lr == pytest.approx(sgd.lr * 0.1)
    assert recommended("relu", "ce", "sgd").lr == pytest.approx(RECIPES["relu", "ce"].lr * 10)
    assert TrainConfig(lr=0.01, batch_size=7).resolved().lr == 0.01


def test_the_choices_come_from_the_registries():
    from tinygrad_edu import nn
    from tinygrad_edu.cli import LOSS_LABELS, build_parser
    from tinygrad_edu.experiment import HIDDEN_ACTIVATIONS

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in ("train", "check", "graph"):
        options = commands[name]._option_string_actions
        assert options["--activation"].choices == HIDDEN_ACTIVATIONS
        assert set(HIDDEN_ACTIVATIONS) == {activation for activation, _ in RECIPES}
        assert options["--loss"].choices == tuple(nn.LOSSES)
    assert commands["train"]._option_string_actions["--output-activation"].choices == tuple(nn.ACTIVATIONS)
    assert set(LOSS_LABELS) == set(nn.LOSSES)  # the graph's legend has a line for every loss


@pytest.mark.parametrize("settings, message", [
    (dict(loss="ce", output_activation="sigmoid"), "must be identity"),
    (dict(dataset="digits", download=True), "embedded"),
    (dict(hidden=(10, 0)), "positive"),
    (dict(activation="softplus"), "unknown activation"),
    (dict(val_size=-1), "val-size"),
])
def test_settings_that_cannot_work_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**settings).resolved()


# --------------------------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit code 2, no traceback
# --------------------------------------------------------------------------------------------------------------


def _corrupt_mnist(directory: Path) -> Path:
    directory.mkdir()
    write_idx(directory / "train-images-idx3-ubyte.gz", np.zeros((20, 28, 28), np.uint8))
    write_idx(directory / "train-labels-idx1-ubyte.gz", np.zeros(20, np.uint8))
    write_idx(directory / "t10k-images-idx3-ubyte", np.zeros((5, 28, 28), np.uint8))
    raw = (directory / "t10k-images-idx3-ubyte").read_bytes()
    (directory / "t10k-images-idx3-ubyte").write_bytes(raw[:-100])  # truncated
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    return directory


@pytest.mark.parametrize("argv, expected", [
    (["train", "--dataset", "cifar"], "invalid choice"),
    (["train", "--hidden", "300,x"], "300,x"),
    (["train", "--hidden", "-5"], "positive"),
    (["train", "--epochs", "0"], "positive integer"),
    (["train", "--lr", "-1"], "positive number"),
    (["train", "--batch-size", "many"], "many"),
    (["train", "--threads", "0"], "positive integer"),
    (["train", "--dataset", "digits", "--loss", "ce", "--output-activation", "sigmoid"], "identity"),
    (["train", "--dataset", "digits", "--val-size", "5000"], "val-size 5000"),
    (["train", "--data-dir", "{tmp}/nothing-here"], "MNIST files not found"),
    (["train", "--data-dir", "{corrupt}"], "t10k-images-idx3-ubyte"),
    (["evaluate", "--model", "{tmp}/missing.npz"], "missing.npz"),
    (["evaluate", "--model", "{notours}"], "not an .npz archive"),
    (["evaluate"], "--model"),
    (["check", "--hidden", "abc"], "abc"),
    (["nonsense"], "invalid choice"),
    (["train", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
    (["check", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
    (["demo", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
    (["graph", "--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
    (["train", "--dataset", "digits", "--hidden", "30000000", "--no-progress"], "64-30000000-10 network.*MAX_MODEL_BYTES"),
    (["check", "--hidden", "30000000"], "64-30000000-10 network.*MAX_MODEL_BYTES"),
    (["graph", "--hidden", "30000000", "--out", "{tmp}/g.dot"], "64-30000000-10 network.*MAX_MODEL_BYTES"),
    (["evaluate", "--model", "{huge}"], "huge.npz.*'state/layers.0.weight.npy'.*8 TiB"),
    (["train", "--dataset", "digits", "--out", "{notours}"], "notours.npz exists and is not a folder"),
    (["train", "--dataset", "digits", "--out", "{notours}/run"], "notours.npz"),
    (["train", "--dataset", "digits", "--out", "/proc/nope"], "--out /proc/nope: cannot write in /proc.*choose a folder"),
    (["evaluate", "--model", "{tmp}"], "is a folder, not a model file: give the model.npz"),
    (["graph", "--out", "{notours}/g.svg"], "cannot write .*notours.npz/g.svg: not a directory: a part of the path is a file"),
])
def test_bad_input_is_one_line_and_exit_2(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing is found in ./data/mnist, and runs/ would land here
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    notours = tmp_path / "notours.npz"
    notours.write_text("these are not weights")
    corrupt = _corrupt_mnist(tmp_path / "corrupt") if "{corrupt}" in argv else None
    huge = tmp_path / "huge.npz"  # a model file whose first weight's .npy header claims 8 TiB
    rewrite(nn.save(nn.MLP([64, 3, 10]), tmp_path / "model.npz"), huge,
            {"state/layers.0.weight.npy": npy_header((1 << 40,), "<f8")})
    argv = [a.format(tmp=tmp_path, corrupt=corrupt, notours=notours, huge=huge) for a in argv]
    before = sorted(tmp_path.iterdir())
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert sorted(tmp_path.iterdir()) == before  # nothing written: no runs/ folder either
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert re.search(expected, lines[0]) and "Traceback" not in err
    assert "epoch" not in out  # refused before training


@pytest.mark.slow
def test_threads_limits_the_blas_pools_during_training_and_evaluation(tmp_path, capsys, monkeypatch):
    """--threads 1: numpy's matrix products run on one thread while the run lasts (threadpoolctl)."""
    import threadpoolctl  # a dependency (pyproject.toml)

    from tinygrad_edu import experiment, nn

    seen = []

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    real_run, real_predict = experiment.run, nn.MLP.predict
    monkeypatch.setattr(experiment, "run", lambda *a, **k: (seen.append(("train", blas_threads())), real_run(*a, **k))[1])
    monkeypatch.setattr(nn.MLP, "predict", lambda *a, **k: (seen.append(("evaluate", blas_threads())), real_predict(*a, **k))[1])
    out = tmp_path / "run"
    assert run_cli(["train", "--dataset", "digits", "--epochs", "1", "--threads", "1", "--no-progress", "--out", str(out)], capsys)[0] == 0
    assert run_cli(["evaluate", "--model", str(out / "model.npz"), "--threads", "1"], capsys)[0] == 0
    assert [name for name, _ in seen][0] == "train" and "evaluate" in [name for name, _ in seen]
    assert any(threads for _, threads in seen), "threadpoolctl found no BLAS library in numpy"
    assert all(threads == {1} for _, threads in seen if threads), seen


def test_corrupt_file_message_names_file_and_byte_offset(tmp_path, capsys):
    code, _, err = run_cli(["train", "--data-dir", str(_corrupt_mnist(tmp_path / "c")), "--no-progress"], capsys)
    assert code == 2 and "t10k-images-idx3-ubyte" in err and "byte" in err


def test_a_process_with_bad_input_prints_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "tinygrad_edu", "train", "--hidden", "3,,4"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("tinygrad-edu train: error:")


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
def test_demo_runs_any_number_of_steps(steps, capsys):
    code, out, err = run_cli(["demo", "--steps", str(steps)], capsys)
    assert "step     0" in out and f"step {steps:5d}" in out  # the first step and the last are printed
    assert code == 1 and len(err.strip().splitlines()) == 1  # XOR is not learned in so few steps, and it says so
    assert f"did not learn XOR in {steps} steps" in err


def test_demo_learns_xor(capsys):
    code, out, err = run_cli(["demo"], capsys)
    assert code == 0 and err == "" and "targets 0 1 1 0" in out


# --------------------------------------------------------------------------------------------------------------
# train --out: one run, one complete folder
# --------------------------------------------------------------------------------------------------------------

TINY_RUN = ["train", "--dataset", "digits", "--hidden", "4", "--epochs", "1", "--train-limit", "100", "--no-progress"]


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_an_existing_run_is_kept_and_overwrite_replaces_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(TINY_RUN + ["--out", str(out)], capsys)[0] == 0
    first = _listing(out)
    code, stdout, _ = run_cli(TINY_RUN + ["--seed", "1", "--out", str(out)], capsys)
    assert code == 0 and f"to {out}-1/" in stdout and f"{out} already holds files: kept" in stdout
    assert _listing(out) == first  # not one byte of the first run changed
    assert json.loads((tmp_path / "run-1" / "metrics.json").read_text())["seed"] == 1
    code, stdout, _ = run_cli(TINY_RUN + ["--seed", "2", "--out", str(out), "--overwrite"], capsys)
    assert code == 0 and f"to {out}/" in stdout
    assert json.loads((out / "metrics.json").read_text())["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-1"]  # and no temporary is left


def test_overwrite_replaces_only_a_run_folder(tmp_path, capsys, monkeypatch):
    from tinygrad_edu import experiment

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("months of work")
    monkeypatch.setattr(experiment, "run", lambda *a, **k: pytest.fail("trained before checking --out"))
    code, _, err = run_cli(TINY_RUN + ["--out", str(mine), "--overwrite"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "thesis.tex" in err
    assert (mine / "thesis.tex").read_text() == "months of work"


def test_an_unwritable_out_is_refused_before_training(tmp_path, capsys, monkeypatch):
    from tinygrad_edu import experiment

    monkeypatch.setattr(experiment, "run", lambda *a, **k: pytest.fail("trained before checking --out"))
    code, _, err = run_cli(TINY_RUN + ["--out", "/proc/nope"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "/proc" in err


@pytest.mark.parametrize("failure, status", [(OSError(errno.ENOSPC, "No space left on device"), 2),
                                             (KeyboardInterrupt(), 130)])
def test_a_run_that_fails_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch, failure, status):
    from tinygrad_edu import experiment

    real, written = experiment._save_figure, []

    def fail_on_the_second_figure(fig, path):
        written.append(path.name)
        if len(written) == 2:
            raise failure
        real(fig, path)

    monkeypatch.setattr(experiment, "_save_figure", fail_on_the_second_figure)
    runs = tmp_path / "runs"
    code, _, err = run_cli(TINY_RUN + ["--out", str(runs / "run")], capsys)
    assert code == status and len(err.strip().splitlines()) == 1
    assert len(written) == 2 and list(tmp_path.iterdir()) == []  # no half folder, no temporary, no runs/


@pytest.mark.slow
def test_sigkill_leaves_one_temporary_which_the_next_run_removes(tmp_path, capsys):
    """A killed run cannot clean up: it leaves its one temporary folder, and the next run into the same place
    removes it (temporaries of processes still running are kept)."""
    script = (
        "import sys, time\n"
        "from tinygrad_edu import experiment\n"
        "from tinygrad_edu.cli import main\n"
        "real = experiment._save_figure\n"
        "def slow(fig, path):\n"
        "    real(fig, path)\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(300)\n"
        "experiment._save_figure = slow\n"
        "main(sys.argv[1:])\n"
    )
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", script, *TINY_RUN, "--out", str(out)], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=tmp_path)
    try:
        for line in child.stdout:
            if line.startswith("writing"):
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    left = [p.name for p in tmp_path.iterdir()]
    assert not out.exists() and len(left) == 1 and left[0].startswith(".run.") and left[0].endswith(".part"), left
    assert run_cli(TINY_RUN + ["--out", str(out)], capsys)[0] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --------------------------------------------------------------------------------------------------------------
# metrics.json
# --------------------------------------------------------------------------------------------------------------


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, which Python writes but JSON does not have."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_metrics_json_is_strict_json_with_null_for_non_finite_numbers(tmp_path):
    from tinygrad_edu.experiment import write_json

    nan, inf = float("nan"), float("inf")
    metrics = {"train_loss": nan, "history": [{"epoch": 1, "train_loss": inf}, {"epoch": 2, "val_loss": -inf}],
               "confusion_matrix": [[1, 0], [0, 1]], "test_accuracy": 0.5, "lr": math.pi, "interrupted": False}
    write_json(tmp_path / "metrics.json", metrics)
    assert strict_json((tmp_path / "metrics.json").read_text()) == {
        **metrics, "train_loss": None, "history": [{"epoch": 1, "train_loss": None}, {"epoch": 2, "val_loss": None}]}


# --------------------------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------------------------


def test_check_with_no_arguments_is_the_chapter_network_on_digits(capsys):
    code, out, _ = run_cli(["check"], capsys)
    assert code == 0
    assert "64-300-10" in out and "AGREE" in out and "300×65" in out  # W^1 with the bias column


def test_check_other_networks(capsys):
    code, out, _ = run_cli(["check", "--hidden", "20,10", "--activation", "relu", "--loss", "ce", "--batch-size", "5",
                            "--seed", "3"], capsys)
    assert code == 0 and "64-20-10-10" in out and "AGREE" in out


def test_check_exits_non_zero_when_the_equations_disagree(capsys, monkeypatch):
    from tinygrad_edu.backprop_by_hand import checker as check_module

    real = check_module.eq.backprop

    def wrong_by_one_percent(*args, **kwargs):
        result = real(*args, **kwargs)
        result.grads[0] *= 1.01
        return result

    monkeypatch.setattr(check_module.eq, "backprop", wrong_by_one_percent)
    code, out, _ = run_cli(["check", "--hidden", "10"], capsys)
    assert code == 1 and "DISAGREE" in out


# --------------------------------------------------------------------------------------------------------------
# graph (the drawings themselves are tested in test_viz_graph.py)
# --------------------------------------------------------------------------------------------------------------


def test_graph_write_failure_is_bad_input_exit_2(tmp_path, capsys):
    (tmp_path / "g.dot").mkdir()  # --out names a folder: the picture cannot be written there
    code, _, err = run_cli(["graph", "--out", str(tmp_path / "g.dot"), "--hidden", "3"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "g.dot" in err
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"]  # no temporary left


def test_graph_on_a_full_disk_keeps_the_old_file(tmp_path):
    out = tmp_path / "g.dot"
    out.write_text("digraph old {}\n")
    result = run_with_file_size_limit(["-m", "tinygrad_edu", "graph", "--out", str(out), "--hidden", "8"], 4096,
                                      cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "g.dot" in result.stderr and "Traceback" not in result.stderr
    assert out.read_text() == "digraph old {}\n" and [p.name for p in tmp_path.iterdir()] == ["g.dot"]


def test_graph_draws_an_nn_mlp_on_the_librarys_digits(tmp_path, capsys):
    code, out, _ = run_cli(["graph", "--out", str(tmp_path / "g.dot"), "--hidden", "5", "--text"], capsys)
    assert code == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")
    assert "64-5-10 sigmoid MLP" in out and "(layers.2.weight + layers.2.bias)" in out  # nn.MLP's own names
    code, _, err = run_cli(["graph", "--out", str(tmp_path / "h.dot"), "--batch", "1438"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "between 1 and 1437" in err


# --------------------------------------------------------------------------------------------------------------
# real MNIST (the chapter's files): a smoke run of the recommended relu + cross-entropy settings
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_mnist_smoke_run(tmp_path, capsys):
    mnist = find_mnist()
    require(mnist is not None, MNIST_WHERE)
    code, out, _ = run_cli(["train", "--data-dir", str(mnist), "--dataset", "mnist", "--hidden", "100",
                            "--activation", "relu", "--loss", "ce", "--train-limit", "10000", "--epochs", "2",
                            "--no-progress", "--out", str(tmp_path)], capsys)
    assert code == 0, out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (metrics["n_train"], metrics["n_val"], metrics["n_test"]) == (10000, 10000, 10000)
    assert metrics["architecture"] == [784, 100, 10]
    assert metrics["test_accuracy"] >= 0.93
    code, out, _ = run_cli(["evaluate", "--model", str(tmp_path / "model.npz"), "--data-dir", str(mnist)],
                           capsys)
    assert code == 0 and f"accuracy {metrics['test_accuracy']:.4f}" in out


def test_a_diverging_run_stops_with_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--dataset", "digits", "--activation", "relu", "--output-activation", "identity",
                            "--lr", "5", "--epochs", "2", "--out", str(out), "--no-progress"], capsys)
    assert code == 1 and not out.exists()
    line = err.strip()
    assert "\n" not in line and "RuntimeWarning" not in err
    assert re.search(r"the loss became (inf|nan) at epoch 1, batch \d+: training stopped and nothing was written; "
                     r"a smaller --lr \(this run: 5\)", line), line


# --------------------------------------------------------------------------------------------------------------
# a closed pipe (`tinygrad-edu ... | head`): quiet, status 141
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    assert main(TINY_RUN + ["--out", str(out)]) == 0
    return out / "model.npz"


@pytest.mark.parametrize("argv", [
    ["--help"], ["train", "--help"], ["demo"], ["check", "--hidden", "4", "--batch-size", "4"],
    ["graph", "--out", "{tmp}/g.dot", "--text"], ["evaluate", "--model", "{model}"], TINY_RUN + ["--out", "{tmp}/r"],
])
def test_a_closed_pipe_ends_quietly(argv, tmp_path, tiny_model):
    """The reader is gone before anything is written: no traceback, no 'Exception ignored', status 0 or 141."""
    argv = [a.format(tmp=tmp_path, model=tiny_model) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "tinygrad_edu", *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    process.stdout.close()  # as `| true` does
    err = process.stderr.read().decode()
    code = process.wait(timeout=300)
    assert code in (0, 128 + signal.SIGPIPE), err
    assert err == "", err
