"""The embedded default data set: scikit-learn's 8×8 handwritten digits (bundled, no network)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .dataset import DIGIT_CLASSES, Dataset, train_val_split

__all__ = ["load_digits"]


def load_digits(
    *, dtype: npt.DTypeLike = np.float32, test_size: int = 360, seed: int = 0, val_size: int = 0
) -> Dataset:
    """The 1 797 8×8 digits of ``sklearn.datasets.load_digits`` as a `Dataset`: 64 features in [0, 1].

    Pixels 0..16 are divided by 16. A seeded random permutation puts `test_size` samples (default 360,
    i.e. 20 %, leaving 1 437) in the test set; the same seed gives the same split on every machine.
    `val_size` > 0 moves the last `val_size` training samples to X_val/y_val (240, a sixth, matches
    MNIST's proportion; see `Dataset.split_validation`).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as exc:
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from exc
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type (float32 or float64), got {dtype}")
    bunch = sklearn_load_digits()
    X = (np.asarray(bunch.data) / 16.0).astype(dtype)
    y = np.asarray(bunch.target, dtype=np.int64)
    if not 0 < test_size < len(X):
        raise ValueError(f"test_size must be in 1..{len(X) - 1}, got {test_size}")
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[test_size:], order[:test_size]
    X_train, y_train, X_val, y_val = X[train], y[train], None, None
    if val_size:
        X_train, y_train, X_val, y_val = train_val_split(X_train, y_train, val_size)
    return Dataset(
        X_train=X_train,
        y_train=y_train,
        X_test=X[test],
        y_test=y[test],
        name="digits",
        class_names=DIGIT_CLASSES,
        X_val=X_val,
        y_val=y_val,
        source="sklearn.datasets.load_digits",
    )
