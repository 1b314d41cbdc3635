"""Seeded, shuffled minibatches: a generator function and a small DataLoader-like class."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator

import numpy as np

__all__ = ["DataLoader", "SeedLike", "iterate_minibatches"]

SeedLike = int | np.random.Generator | None


def _check(X: np.ndarray, y: np.ndarray, batch_size: int) -> int:
    batch_size = operator.index(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    return batch_size


def iterate_minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: SeedLike = None,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (X_batch, y_batch) pairs covering every sample once; the last batch may be smaller.

    With `shuffle`, the order is a permutation drawn from `seed`: an int gives the same order every
    call (pass a different seed per epoch, or one `np.random.Generator`, to vary it); None draws a
    fresh one. `drop_last` skips a final batch shorter than `batch_size`.
    """
    batch_size = _check(X, y, batch_size)  # checked now, not at the first next()
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else None
    stop = len(X) - len(X) % batch_size if drop_last else len(X)

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, stop, batch_size):
            if order is None:  # slices are views: no copy when not shuffling
                yield X[start : start + batch_size], y[start : start + batch_size]
            else:
                index = order[start : start + batch_size]
                yield X[index], y[index]

    return batches()


class DataLoader:
    """Iterable over minibatches of (X, y), reshuffled each epoch from one seeded generator.

    Two loaders built with the same seed give the same sequence of epochs. ``len(loader)`` is the
    number of batches per epoch.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int = 64,
        *,
        shuffle: bool = True,
        seed: SeedLike = 0,
        drop_last: bool = False,
    ) -> None:
        self.batch_size = _check(X, y, batch_size)
        self.X, self.y = X, y
        self.shuffle, self.drop_last = shuffle, drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.X)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return iterate_minibatches(
            self.X, self.y, self.batch_size, shuffle=self.shuffle, seed=self._rng, drop_last=self.drop_last
        )

    def __repr__(self) -> str:
        return (
            f"DataLoader(n={len(self.X)}, batch_size={self.batch_size}, batches={len(self)}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
