"""scikit-learn's 8×8 digits as the embedded default, the Dataset container and its helpers."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_edu.data import Dataset, image_side, load_digits, train_val_split
from tinygrad_edu.functional import one_hot

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits()


def test_shapes_and_ranges(digits: Dataset) -> None:
    assert digits.X_train.shape == (1437, 64) and digits.X_test.shape == (360, 64)
    assert digits.y_train.shape == (1437,) and digits.y_test.shape == (360,)
    assert digits.X_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert digits.n_features == 64 and digits.image_shape == (8, 8) and digits.n_classes == 10
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0  # 0..16 divided by 16
    assert set(digits.y_train.tolist()) == set(range(10)) == set(digits.y_test.tolist())
    assert digits.name == "digits" and digits.X_val is None


def test_split_is_a_seeded_partition(digits: Dataset) -> None:
    from sklearn.datasets import load_digits as sklearn_load_digits

    again = load_digits()
    np.testing.assert_array_equal(again.X_train, digits.X_train)
    np.testing.assert_array_equal(again.y_test, digits.y_test)
    other = load_digits(seed=1)
    assert not np.array_equal(other.y_train, digits.y_train)
    # train and test together are exactly the original 1 797 samples
    everything = np.concatenate([digits.X_train, digits.X_test]).astype(np.float64) * 16
    original = sklearn_load_digits().data
    assert sorted(map(bytes, everything.astype(np.uint8))) == sorted(map(bytes, original.astype(np.uint8)))


def test_options() -> None:
    ds = load_digits(dtype=np.float64, test_size=297, val_size=100)
    assert ds.X_train.dtype == np.float64
    assert (len(ds.X_train), len(ds.X_val), len(ds.X_test)) == (1400, 100, 297)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"test_size must be in 1\.\.1796"):
        load_digits(test_size=0)
    with pytest.raises(ValueError, match="dtype must be a floating type"):
        load_digits(dtype=np.uint8)


def test_proportional_validation_split(digits: Dataset) -> None:
    split = digits.split_validation()
    assert split.X_val is not None and split.X_val.shape == (240, 64) and split.X_train.shape == (1197, 64)
    np.testing.assert_array_equal(split.X_val, digits.X_train[-240:])
    assert "val=(240, 64)" in repr(split)


def test_image_side() -> None:
    assert image_side(784) == 28 and image_side(64) == 8 and image_side(np.int64(1)) == 1
    with pytest.raises(ValueError, match="cannot show 63 features as a square image: 63 is not a perfect square"):
        image_side(63)
    with pytest.raises(ValueError, match="not a perfect square"):
        image_side(-4)


def test_one_hot() -> None:
    out = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(out.numpy(), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert not out.requires_grad and out.dtype == np.float64  # the chapter's targets, in float64 by default
    assert one_hot([1], 2, dtype=np.float32).dtype == np.float32
    assert one_hot(np.array([], dtype=np.int64), 10).shape == (0, 10)
    assert one_hot(load_digits().y_test).shape == (360, 10)  # num_classes defaults to the largest label + 1
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.9 for 10 classes, found 0\.\.10"):
        one_hot(np.array([0, 10]), 10)
    with pytest.raises(ValueError, match=r"one_hot expects integer labels.*use labels.astype\(int\)"):
        one_hot(np.array([0.0, 1.0]), 2)


def test_train_val_split_and_dataset_checks() -> None:
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    _, y_tr, X_val, y_val = train_val_split(X, y, 3)
    assert y_tr.tolist() == list(range(7)) and y_val.tolist() == [7, 8, 9] and X_val.shape == (3, 2)
    with pytest.raises(ValueError, match="X has 10 samples but y has 9"):
        train_val_split(X, y[:9], 1)
    expected = "train: expected X of shape (n, p) and y of shape (n,), got (10, 2) and (9,)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        Dataset(X, y[:9], X, y)


def test_import_is_light() -> None:
    """`import tinygrad_edu.data` pulls in neither scikit-learn, tqdm nor the HTTP client."""
    code = (
        "import sys, tinygrad_edu.data\n"
        "print(sorted(m for m in ('sklearn', 'tqdm', 'urllib.request', 'http.client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
