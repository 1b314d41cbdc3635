"""Valid but degenerate IDX sets on the command line: 0 images, images that are not square. Each command says
what is wrong in one line (exit 2) before it trains or writes anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.cli import main
from tinygrad_edu.data import write_idx
from tinygrad_edu.data.mnist import MNIST_FILENAMES


def write_set(directory: Path, n: int, rows: int, cols: int) -> Path:
    """MNIST's four files, each part holding `n` images of rows×cols pixels."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for part in ("train", "test"):
        write_idx(directory / MNIST_FILENAMES[f"{part}_images"], rng.integers(0, 256, (n, rows, cols), dtype=np.uint8))
        write_idx(directory / MNIST_FILENAMES[f"{part}_labels"], rng.integers(0, 10, n, dtype=np.uint8))
    return directory


def commands(data: Path, tmp_path: Path, n_inputs: int) -> dict[str, list[str]]:
    model = tmp_path / "model.npz"
    tg.save(tg.nn.MLP([n_inputs, 4, 10]), model)
    return {
        "train": ["train", "--data-dir", str(data), "--hidden", "4", "--epochs", "1", "--no-progress",
                  "--out", str(tmp_path / "run")],
        "check": ["check", "--dataset", "mnist", "--data-dir", str(data)],
        "evaluate": ["evaluate", "--model", str(model), "--data-dir", str(data)],
    }


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("n", "rows", "cols"), [(0, 28, 28), (5, 0, 0)])
@pytest.mark.parametrize("command", ["train", "check", "evaluate"])
def test_a_set_of_zero_images_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     command: str, n: int, rows: int, cols: int) -> None:
    data = write_set(tmp_path / "empty", n, rows, cols)
    code, err = run_cli(commands(data, tmp_path, rows * cols or 1)[command], capsys)
    assert (code, err) == (2, f"tinygrad-edu {command}: error: {data}: the set holds {n} training and {n} test "
                              f"images of {rows}×{cols} pixels; train, check and evaluate need at least one image "
                              "in each, of one pixel or more\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("rows", "cols"), [(28, 20), (32, 18)])  # 32×18 = 576 = 24²: not to be drawn as 24×24
@pytest.mark.parametrize("command", ["train", "check", "evaluate"])
def test_non_square_images_are_refused_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       command: str, rows: int, cols: int) -> None:
    data = write_set(tmp_path / "wide", 12, rows, cols)
    code, err = run_cli(commands(data, tmp_path, rows * cols)[command], capsys)
    assert (code, err) == (2, f"tinygrad-edu {command}: error: {data}: its images are {rows}×{cols} pixels; "
                              "the command line takes square images only (train draws them)\n")
    assert not (tmp_path / "run").exists()
