"""The `Dataset` container every loader returns, and small helpers on splits and images."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["DIGIT_CLASSES", "Dataset", "image_side", "train_val_split"]

DIGIT_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))

#: Default validation share of the training set: MNIST's customary 10 000 of 60 000.
VAL_FRACTION = 1 / 6


def image_side(p: int) -> int:
    """Side of the square image a vector of `p` pixels shows (784 -> 28, 64 -> 8); a clear error otherwise."""
    p = operator.index(p)
    if p == 0:
        raise ValueError("cannot show 0 features as a square image: an image needs at least one pixel")
    side = math.isqrt(p) if p > 0 else -1
    if side * side != p:
        hint = ""
        if p > 1 and math.isqrt(p - 1) ** 2 == p - 1:
            hint = f" ({p} = {math.isqrt(p - 1)}² + 1: if the last entry is a bias, drop it, e.g. W[:, :-1])"
        raise ValueError(
            f"cannot show {p} features as a square image: {p} is not a perfect square "
            f"(MNIST images have 784 = 28×28 pixels, 64 for the 8×8 digits){hint}"
        )
    return side


def train_val_split(
    X: np.ndarray, y: np.ndarray, val_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off the LAST `val_size` samples as validation: (X_train, y_train, X_val, y_val).

    Taking the tail, not a random subset, is the MNIST convention (training images 50 000..59 999);
    shuffle beforehand if the order of your data means something.
    """
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} samples but y has {len(y)}")
    if n == 0:
        raise ValueError("cannot split a validation set off 0 training samples")
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must be in 0..{n - 1} for {n} training samples, got {val_size}")
    cut = n - val_size
    return X[:cut], y[:cut], X[cut:], y[cut:]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test (and optional validation) arrays: X of shape (n, p) floats, y of shape (n,) int64."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str = "dataset"
    class_names: tuple[str, ...] = DIGIT_CLASSES
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""  # where the data came from (a directory, a package), to tell sets apart
    #: (rows, cols) each row of X shows as an image. Default: the square of n_features pixels if n_features is
    #: a perfect square, else None (the features are no image). IDX files say it: 28×20 stays 28×20.
    image_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        for part in ("train", "test", "val"):
            X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
            if X is None and y is None:
                continue
            if X is None or y is None or X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
                raise ValueError(
                    f"{part}: expected X of shape (n, p) and y of shape (n,), got "
                    f"{getattr(X, 'shape', None)} and {getattr(y, 'shape', None)}"
                )
        if self.image_shape is None:
            side = math.isqrt(self.n_features)
            if side and side * side == self.n_features:
                object.__setattr__(self, "image_shape", (side, side))  # frozen: set once, here
        elif math.prod(self.image_shape) != self.n_features:
            raise ValueError(
                f"image_shape {tuple(self.image_shape)} has {math.prod(self.image_shape)} pixels but X has "
                f"{self.n_features} features"
            )

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def split_validation(self, val_size: int | None = None) -> Dataset:
        """A copy whose last `val_size` training samples became X_val/y_val.

        Default: a sixth of the training set (10 000 for MNIST's 60 000, 240 for digits' 1 437).
        """
        if self.X_val is not None:
            raise ValueError(f"{self.name} already has a validation split of {len(self.X_val)} samples")
        if val_size is None:
            val_size = round(len(self.X_train) * VAL_FRACTION)
        X_train, y_train, X_val, y_val = train_val_split(self.X_train, self.y_train, val_size)
        return replace(self, X_train=X_train, y_train=y_train, X_val=X_val, y_val=y_val)

    def __repr__(self) -> str:
        parts = [f"train={self.X_train.shape}"]
        if self.X_val is not None:
            parts.append(f"val={self.X_val.shape}")
        parts += [f"test={self.X_test.shape}", f"dtype={self.X_train.dtype}", f"classes={self.n_classes}"]
        source = f", source={self.source!r}" if self.source else ""
        return f"Dataset({self.name!r}, {', '.join(parts)}{source})"
