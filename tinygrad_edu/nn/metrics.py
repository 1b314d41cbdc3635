"""Classification metrics on numpy arrays (Tensors are accepted and read, never differentiated)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["accuracy", "confusion_matrix", "to_labels"]


def to_labels(values: Any, what: str = "values") -> np.ndarray:
    """Class labels from labels (N,), one-hot/score rows (N, K) -> argmax, or one column (N, 1) -> (x > 0.5).

    A single column is read as a sigmoid probability of class 1 (threshold 0.5); for logits of a binary
    problem, threshold them yourself and pass the labels.
    """
    array = np.asarray(getattr(values, "data", values))
    if array.ndim == 2 and array.shape[1] == 1:
        return (array[:, 0] > 0.5).astype(np.int64) if array.dtype.kind == "f" else array[:, 0].astype(np.int64)
    if array.ndim == 2:
        return np.argmax(array, axis=1)
    if array.ndim == 1:
        if array.dtype.kind == "f" and not np.all(array == np.round(array)):
            raise ValueError(f"{what}: expected integer class labels, got 1-D floats that are not whole numbers "
                             f"(rows of scores (N, K) are read as their argmax)")
        return array.astype(np.int64)
    raise ValueError(f"{what}: expected labels (N,) or rows of scores (N, K), got shape {array.shape}")


def accuracy(outputs_or_labels: Any, labels: Any) -> float:
    """The fraction of samples whose predicted class equals the true one.

    Each argument may be labels (N,), one-hot or score rows (N, K) (argmax taken), or one sigmoid column
    (N, 1) (thresholded at 0.5).
    """
    pred = to_labels(outputs_or_labels, "predictions")
    true = to_labels(labels, "labels")
    if pred.shape != true.shape:
        raise ValueError(f"accuracy: {pred.shape[0]} predictions for {true.shape[0]} labels")
    return float(np.mean(pred == true)) if pred.size else float("nan")


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = how many samples of true class i were predicted as j: rows are the truth, and the arguments
    come in scikit-learn's order.

    `y_true` and `y_pred` are read like in `accuracy`; `num_classes` defaults to 1 + the largest class seen.
    """
    t = to_labels(y_true, "y_true")
    p = to_labels(y_pred, "y_pred")
    if p.shape != t.shape:
        raise ValueError(f"confusion_matrix: {t.shape[0]} true labels (y_true) for {p.shape[0]} predictions (y_pred)")
    if p.size and (p.min() < 0 or t.min() < 0):
        raise ValueError("confusion_matrix: class labels must be non-negative")
    k = int(max(p.max(initial=-1), t.max(initial=-1)) + 1) if num_classes is None else int(num_classes)
    if p.size and max(p.max(), t.max()) >= k:
        raise ValueError(f"confusion_matrix: a class label is >= num_classes={k}")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k).astype(np.int64)
