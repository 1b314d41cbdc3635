"""MNIST: find the four IDX files, validate them, and load them as a `Dataset`.

Directories searched, first complete one wins: an explicit `data_dir`, then ``$TINYGRAD_EDU_DATA``, then
``./data/mnist`` (the course chapter's ``DIR_MNIST``), then the user cache
(``$XDG_CACHE_HOME/tinygrad_edu/mnist``, by default ``~/.cache/tinygrad_edu/mnist``). Each file may be
gzip-compressed or raw, under its usual name or without ``.gz``. Any directory of files in this format
(Fashion-MNIST, KMNIST, ...) loads the same way. Nothing is downloaded unless ``download=True``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .dataset import DIGIT_CLASSES, Dataset, train_val_split
from .digits import load_digits
from .download import DEFAULT_DEADLINE, DEFAULT_MIRRORS, MNIST_FILES, FileSpec, download_files
from .idx import IDXError, read_idx, read_idx_header

__all__ = [
    "ENV_VAR",
    "MNIST_FILENAMES",
    "MNISTNotFoundError",
    "default_cache_dir",
    "load_mnist",
    "load_mnist_images",
    "load_mnist_labels",
    "locate_mnist",
    "search_dirs",
]

ENV_VAR = "TINYGRAD_EDU_DATA"

#: role -> file name, as in the chapter's FILE_TRAIN_IMAGES etc.
MNIST_FILENAMES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


class MNISTNotFoundError(FileNotFoundError):
    """The MNIST files are in none of the searched directories; the message says how to get them."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/tinygrad_edu/mnist``, or ``~/.cache/tinygrad_edu/mnist``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # the XDG spec ignores relative paths
    return base / "tinygrad_edu" / "mnist"


def search_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """The directories searched for the files, in order, each with a label saying why it is searched: `data_dir`
    alone when one is given (a user who names a directory means that one: --data-dir of the command line and the
    examples), else $TINYGRAD_EDU_DATA, ./data/mnist and the user cache. The tests add ../shared/data/mnist."""
    if data_dir is not None:
        return [(Path(data_dir), "data_dir argument")]
    dirs: list[tuple[Path, str]] = []
    if os.environ.get(ENV_VAR):
        dirs.append((Path(os.environ[ENV_VAR]), f"${ENV_VAR}"))
    dirs.append((Path.cwd() / "data" / "mnist", "./data/mnist"))
    dirs.append((default_cache_dir(), "user cache"))
    return dirs


def _find(directory: Path, filename: str) -> Path | None:
    for candidate in (filename, filename.removesuffix(".gz")):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def locate_mnist(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Paths of the four files (keys as in `MNIST_FILENAMES`) from the first directory of `search_dirs(data_dir)`
    holding all four. Raises `MNISTNotFoundError` listing each directory searched and what it lacks."""
    report = []
    for directory, why in search_dirs(data_dir):
        found = {role: _find(directory, name) for role, name in MNIST_FILENAMES.items()}
        if all(found.values()):
            return {role: path for role, path in found.items() if path is not None}
        if not directory.is_dir():
            status = "not a directory" if directory.exists() else "no such directory"
        else:
            missing = [MNIST_FILENAMES[role] for role, path in found.items() if path is None]
            status = "missing " + ", ".join(missing)
        report.append(f"  {directory}  ({why}): {status}")
    env_note = "" if os.environ.get(ENV_VAR) else f"  (${ENV_VAR} is not set)\n"
    raise MNISTNotFoundError(
        "MNIST files not found. Searched, in order:\n"
        + "\n".join(report)
        + "\n"
        + env_note
        + "Needed: "
        + ", ".join(MNIST_FILENAMES.values())
        + " (gzip or raw; the names without .gz work too).\n"
        "To get them: put the four files in ./data/mnist or in the directory named by "
        f"${ENV_VAR}, or download them with load_mnist(download=True) (--download in the examples) "
        f"into {default_cache_dir()}. Offline, load_digits() needs no files at all."
    )


def _check_float(dtype: npt.DTypeLike) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type (float32 or float64), got {dtype}")
    return dtype


def _take(array: np.ndarray, n: int | None, what: str, path: Path) -> np.ndarray:
    if n is None:
        return array
    if not 0 <= n <= len(array):
        raise ValueError(f"{path}: asked for {n} {what} but the file holds {len(array)}")
    return array[:n]


#: kind of file -> (its number of dimensions, what it must hold, for messages)
_LAYOUTS = {"images": (3, "images, a 3-dimensional ubyte array (count×rows×cols)"),
            "labels": (1, "labels, a 1-dimensional ubyte array")}


def _check_header(path: Path, kind: str) -> tuple[int, ...]:
    """The shape `path` declares, checked to be MNIST images or labels ("images", "labels") from its header
    alone, before any of its data is read."""
    shape, dtype = read_idx_header(path)
    ndim, what = _LAYOUTS[kind]
    if len(shape) != ndim or dtype != np.uint8:
        raise IDXError(f"{path}: expected {what}, got {len(shape)} dimensions {'×'.join(map(str, shape))} of {dtype}")
    return shape


def _read_images(path: Path) -> np.ndarray:
    _check_header(path, "images")
    return read_idx(path)


def _read_labels(path: Path) -> np.ndarray:
    _check_header(path, "labels")
    labels = read_idx(path)
    if labels.size and labels.max() > 9:
        at = int(np.argmax(labels > 9))
        raise IDXError(
            f"{path}: labels must be digits 0..9, found {labels[at]} at index {at} (byte {8 + at} of the IDX data)"
        )
    return labels.astype(np.int64)


def _scale(images: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """uint8 (n, rows, cols) -> (n, rows*cols) floats in [0, 1], i.e. x/255 as in the chapter."""
    # one pass, computed in `dtype` (no float64 temporary for float32); equals the chapter's / 255. for float64.
    # rows*cols, not -1: reshape cannot infer a size from 0 images
    return np.divide(images.reshape(len(images), math.prod(images.shape[1:])), dtype.type(255), dtype=dtype)


def load_mnist_images(
    filename: str | os.PathLike[str], num_images: int | None = None, *, dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    """The chapter's loader, validated: flattened images (n, rows*cols) scaled to [0, 1].

    Reads the first `num_images` (default: all). float64 by default, like the chapter's ``/ 255.``.
    """
    path = Path(filename)
    return _scale(_take(_read_images(path), num_images, "images", path), _check_float(dtype))


def load_mnist_labels(filename: str | os.PathLike[str], num_labels: int | None = None) -> np.ndarray:
    """The chapter's label loader, validated: the first `num_labels` (default: all) labels as int64."""
    path = Path(filename)
    return _take(_read_labels(path), num_labels, "labels", path)


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    *,
    dtype: npt.DTypeLike = np.float32,
    val_size: int = 0,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    specs: Mapping[str, FileSpec] = MNIST_FILES,
    timeout: float = 10.0,
    deadline: float | None = DEFAULT_DEADLINE,
    progress: bool = True,
) -> Dataset:
    """Load MNIST (or any directory of files in its format) as a `Dataset`.

    Pixels are floats x/255 in [0, 1], flattened to (n, 784); labels int64. float32 by default: half the
    memory of float64 (MNIST is 220 MB in float32) at no cost in accuracy; pass dtype=np.float64 to match
    the chapter bit for bit. `val_size` > 0 moves the last `val_size` training images to X_val/y_val
    (10 000 is customary; see also `Dataset.split_validation`).

    With ``download=True`` missing files are fetched from `mirrors` (checked against `specs`) into
    `data_dir`, else ``$TINYGRAD_EDU_DATA``, else the user cache; `timeout` bounds each network operation,
    `deadline` the whole download (see `download_file`). Without it, nothing touches the network
    and missing files raise `MNISTNotFoundError` saying where they were looked for (`search_dirs`: `data_dir`
    only, when given).
    """
    dtype = _check_float(dtype)
    try:
        paths = locate_mnist(data_dir)
    except MNISTNotFoundError:
        if not download:
            raise
        if data_dir is not None:
            target = Path(data_dir)
        elif os.environ.get(ENV_VAR):
            target = Path(os.environ[ENV_VAR])
        else:
            target = default_cache_dir()
        missing = [name for name in MNIST_FILENAMES.values() if _find(target, name) is None]
        download_files(target, missing, specs=specs, mirrors=mirrors, timeout=timeout, deadline=deadline,
                       progress=progress)
        paths = locate_mnist(target)

    # the four headers agree before any data is read
    shapes = {role: _check_header(path, role.split("_")[1]) for role, path in paths.items()}
    for part in ("train", "test"):
        if shapes[f"{part}_images"][0] != shapes[f"{part}_labels"][0]:
            raise IDXError(
                f"{paths[f'{part}_images']} holds {shapes[f'{part}_images'][0]} images but "
                f"{paths[f'{part}_labels']} holds {shapes[f'{part}_labels'][0]} labels"
            )
    image_shape = shapes["train_images"][1:]
    if image_shape != shapes["test_images"][1:]:
        raise IDXError(
            f"{paths['train_images']} holds images of {'×'.join(map(str, image_shape))} pixels but "
            f"{paths['test_images']} images of {'×'.join(map(str, shapes['test_images'][1:]))}"
        )
    X = {part: read_idx(paths[f"{part}_images"]) for part in ("train", "test")}
    y = {part: _read_labels(paths[f"{part}_labels"]) for part in ("train", "test")}

    X_train, y_train = _scale(X["train"], dtype), y["train"]
    X_val = y_val = None
    if val_size:
        try:
            X_train, y_train, X_val, y_val = train_val_split(X_train, y_train, val_size)
        except ValueError as exc:
            raise ValueError(f"{paths['train_images']}: {exc}") from None
    return Dataset(
        X_train=X_train,
        y_train=y_train,
        X_test=_scale(X["test"], dtype),
        y_test=y["test"],
        name="MNIST",
        class_names=DIGIT_CLASSES,
        X_val=X_val,
        y_val=y_val,
        source=str(paths["train_images"].parent),
        image_shape=image_shape,
    )


#: What the examples and the notebook say when they run on the embedded digits because MNIST is absent.
DIGITS_INSTEAD = ("MNIST not found: put the four files in ./data/mnist (or $TINYGRAD_EDU_DATA, or --data-dir), "
                  "or pass --download; using scikit-learn's 8×8 digits instead")


def pick_dataset(data_dir: str | os.PathLike[str] | None = None, download: bool = False) -> tuple[str, str | None]:
    """("mnist", None) where `search_dirs(data_dir)` finds the files or `download` will fetch them; else, when no
    `data_dir` was named, ("digits", DIGITS_INSTEAD): how the examples run offline. A named `data_dir` without the
    files raises MNISTNotFoundError, as `tinygrad-edu train --data-dir` does."""
    if download:
        return "mnist", None
    try:
        locate_mnist(data_dir)
        return "mnist", None
    except MNISTNotFoundError:
        if data_dir is not None:
            raise
    return "digits", DIGITS_INSTEAD


def mnist_or_digits(data_dir: str | os.PathLike[str] | None = None, download: bool = False, *,
                    dtype: npt.DTypeLike = np.float32, **options: Any) -> tuple[Dataset, str | None]:
    """The dataset `pick_dataset` chooses, loaded, with its note; `options` go to load_mnist."""
    name, note = pick_dataset(data_dir, download)
    if name == "digits":
        return load_digits(dtype=dtype), note
    return load_mnist(data_dir, download=download, dtype=dtype, **options), None
