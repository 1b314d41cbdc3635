"""Seeded minibatches: determinism, full coverage per epoch, the last partial batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu.data import DataLoader, iterate_minibatches


def data(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(2 * n, dtype=np.float64).reshape(n, 2), np.arange(n)


def labels_of(batches: object) -> list[list[int]]:
    return [yb.tolist() for _, yb in batches]  # type: ignore[attr-defined]


@given(n=st.integers(0, 60), batch_size=st.integers(1, 17), seed=st.integers(0, 2**32 - 1))
def test_each_sample_once_per_epoch_and_pairs_stay_aligned(n: int, batch_size: int, seed: int) -> None:
    X, y = data(n)
    batches = list(iterate_minibatches(X, y, batch_size, seed=seed))
    assert len(batches) == -(-n // batch_size)
    assert all(len(xb) == batch_size for xb, _ in batches[:-1])
    seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], dtype=int)
    assert sorted(seen.tolist()) == list(range(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # each X row still goes with its label


def test_seeded_determinism() -> None:
    X, y = data(50)
    first = labels_of(iterate_minibatches(X, y, 8, seed=3))
    assert first == labels_of(iterate_minibatches(X, y, 8, seed=3))
    assert first != labels_of(iterate_minibatches(X, y, 8, seed=4))
    assert first != [list(range(i, min(i + 8, 50))) for i in range(0, 50, 8)]  # actually shuffled


def test_no_shuffle_keeps_order_and_gives_views() -> None:
    X, y = data(10)
    batches = list(iterate_minibatches(X, y, 4, shuffle=False))
    assert labels_of(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert np.shares_memory(batches[0][0], X)


def test_last_partial_batch_kept_by_default_dropped_on_request() -> None:
    X, y = data(10)
    assert [len(yb) for _, yb in iterate_minibatches(X, y, 4, seed=0)] == [4, 4, 2]
    assert [len(yb) for _, yb in iterate_minibatches(X, y, 4, seed=0, drop_last=True)] == [4, 4]
    assert list(iterate_minibatches(X, y, 20, drop_last=True)) == []


def test_bad_arguments_fail_at_the_call() -> None:
    X, y = data(5)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        iterate_minibatches(X, y, 0)  # no next() needed
    with pytest.raises(ValueError, match="X has 5 samples but y has 4"):
        iterate_minibatches(X, y[:4], 2)
    with pytest.raises(TypeError):
        iterate_minibatches(X, y, 2.5)  # type: ignore[arg-type]


def test_dataloader_len_epochs_and_reproducibility() -> None:
    X, y = data(10)
    loader = DataLoader(X, y, batch_size=4, seed=7)
    assert len(loader) == 3 and len(DataLoader(X, y, 4, drop_last=True)) == 2
    epoch1, epoch2 = labels_of(loader), labels_of(loader)
    assert epoch1 != epoch2  # reshuffled every epoch
    assert sorted(label for batch in epoch2 for label in batch) == list(range(10))
    replay = DataLoader(X, y, batch_size=4, seed=7)
    assert [labels_of(replay), labels_of(replay)] == [epoch1, epoch2]  # same seed, same epochs
    assert "batches=3" in repr(loader)
    assert labels_of(DataLoader(X, y, 4, shuffle=False)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_generator_seed_advances() -> None:
    X, y = data(20)
    rng = np.random.default_rng(0)
    a, b = labels_of(iterate_minibatches(X, y, 5, seed=rng)), labels_of(iterate_minibatches(X, y, 5, seed=rng))
    assert a != b
