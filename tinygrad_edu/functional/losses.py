"""Losses, composed from the engine's operations and the activations (so they need no backward), and one_hot,
which turns class labels into the chapter's target rows.

reduction is "mean" (default, except the chapter's mse), "sum" or "none" (one loss per element, or per sample
for the class losses), as in PyTorch. The elementwise losses (mse, l1_loss, huber_loss, smooth_l1_loss, the
binary cross-entropies) refuse a target of another shape than the input: (N, 1) against (N,) would silently
broadcast to (N, N) (PyTorch warns and broadcasts).

The squared-error loss is one primitive (ops.SquaredErrorSum) except with reduction="none": it runs in every
training step. Where PyTorch differs: binary_cross_entropy clamps log p at -100 as PyTorch does, but its gradient
where p < e^-100 (p = 0 included) is 0 here, the slope of the clamp, where PyTorch's formula gives
(p - y)/max(p(1 - p), 1e-12).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.ops import SquaredErrorSum, maximum, where
from ..engine.tensor import Tensor, checked, values
from .activations import _as_tensor, _softplus, log_softmax

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "l1_loss", "mse",
    "nll_loss", "one_hot", "smooth_l1_loss",
]

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, who: str, choices: tuple[str, ...] = REDUCTIONS) -> None:
    if reduction not in choices:
        raise ValueError(f"{who}: unknown reduction {reduction!r}; choose one of {', '.join(choices)}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _same_shapes(input: Any, target: Any, who: str, names: str = "prediction") -> tuple[Tensor, Tensor]:
    input, target = _as_tensor(input), _as_tensor(target)
    if input.shape != target.shape:
        raise ValueError(
            f"{who}: {names} has shape {input.shape} but target has shape {target.shape}; they must be "
            f"equal (reshape one of them explicitly, e.g. target.reshape({', '.join(map(str, input.shape))}))"
        )
    return input, target


# ---------------------------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------------------------


def one_hot(labels: Any, num_classes: int | None = -1, dtype: Any = np.float64) -> Tensor:
    """Rows of `num_classes` zeros with a one at each label: [2, 0] -> [[0, 0, 1], [1, 0, 0]] (the chapter's
    targets y_i); labels of any shape get a last axis of length num_classes. num_classes = -1 (PyTorch's
    default) or None: the largest label + 1. The result needs no gradient. (PyTorch's one_hot gives int64;
    here float64, the targets' dtype, unless `dtype` says otherwise.)"""
    values_ = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if values_.dtype.kind not in "iu":
        raise ValueError(f"one_hot expects integer labels, got shape {values_.shape} dtype {values_.dtype}"
                         + ("; use labels.astype(int)" if values_.dtype.kind in "fb" else ""))
    if num_classes is None or num_classes == -1:
        k = int(values_.max(initial=-1)) + 1
    elif isinstance(num_classes, (int, np.integer)) and not isinstance(num_classes, bool) and num_classes >= 0:
        k = int(num_classes)
    else:
        raise ValueError(f"one_hot: num_classes must be a non-negative integer or -1, got {num_classes!r}")
    if values_.size and (values_.min() < 0 or values_.max() >= k):
        raise ValueError(f"one_hot: labels must lie in 0..{k - 1} for {k} classes, "
                         f"found {values_.min()}..{values_.max()}")
    return Tensor._wrap((values_[..., None] == np.arange(k)).astype(dtype))


# ---------------------------------------------------------------------------------------------------------------
# Regression losses
# ---------------------------------------------------------------------------------------------------------------


_MSE_REDUCTIONS = ("chapter", "mean", "sum", "none")


def mse(prediction: Any, target: Any, reduction: str = "chapter") -> Tensor:
    """Squared error between `prediction` and `target` (axis 0 indexes the samples).

    reduction="chapter" (default): the chapter's cost C = 1/N Σ_i ‖y_i - ŷ_i‖², a mean over the N samples of
                                   each sample's squared error summed over all its other axes;
    reduction="none":              the per-sample costs C_i = ‖y_i - ŷ_i‖² (eq. 98), shape (N,);
    reduction="mean":              PyTorch's MSELoss, the mean over every element (C divided by the outputs
                                   per sample);
    reduction="sum":               Σ_i C_i.
    1-D inputs are N scalar samples. The shapes must match exactly.
    """
    _check_reduction(reduction, "mse", _MSE_REDUCTIONS)
    prediction, target = _same_shapes(prediction, target, "mse")
    if reduction == "none":
        diff = prediction - target
        squared = diff * diff
        return squared.sum(axis=tuple(range(1, squared.ndim))) if squared.ndim > 1 else squared
    # The other reductions are one sum of squares times a constant: one fused operation (ops.SquaredErrorSum).
    count = {"sum": 1, "mean": prediction.size, "chapter": prediction.shape[0] if prediction.ndim else 1}[reduction]
    return SquaredErrorSum.apply(prediction, target, scale=1.0 / count if count else float("nan"))


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """|input - target|; its derivative at input = target is 0 (sign(0), as PyTorch)."""
    _check_reduction(reduction, "l1_loss")
    input, target = _same_shapes(input, target, "l1_loss", "input")
    return _reduce((input - target).abs(), reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """d²/2 where |d| < delta, else delta·(|d| - delta/2), for d = input - target: quadratic near 0, linear
    (slope ±delta) beyond, and smooth at |d| = delta."""
    _check_reduction(reduction, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    input, target = _same_shapes(input, target, "huber_loss", "input")
    d = input - target
    a = d.abs()
    return _reduce(where(a < delta, 0.5 * (d * d), delta * (a - 0.5 * delta)), reduction)


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """d²/(2·beta) where |d| < beta, else |d| - beta/2: huber_loss(delta=beta)/beta; beta = 0 is l1_loss."""
    _check_reduction(reduction, "smooth_l1_loss")
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    loss = huber_loss(input, target, "none", delta=beta)
    return _reduce(loss / beta if beta != 1 else loss, reduction)


# ---------------------------------------------------------------------------------------------------------------
# Binary classification
# ---------------------------------------------------------------------------------------------------------------


def _weighted(loss: Tensor, weight: Any, who: str, what: str = "weight") -> Tensor:
    """loss times a constant weight that broadcasts to its shape (PyTorch's per-element rescaling)."""
    if weight is None:
        return loss
    w = np.asarray(values(weight))
    try:
        fits = np.broadcast_shapes(w.shape, loss.shape) == loss.shape
    except ValueError:
        fits = False
    if not fits or w.dtype.kind not in "iuf":
        raise ValueError(f"{who}: {what} of shape {w.shape} dtype {w.dtype} does not broadcast to the loss's shape "
                         f"{loss.shape}")
    return loss * w.astype(loss.dtype, copy=False)


_LOG_FLOOR = math.exp(-100)  # log p is clamped at -100, as PyTorch's binary_cross_entropy does


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) for probabilities p = input (after a sigmoid) and targets y in [0, 1];
    each log is clamped at -100 so that p = 0 or 1 gives a finite loss. From raw scores, use
    binary_cross_entropy_with_logits: it is exact where σ rounds to 0 or 1."""
    _check_reduction(reduction, "binary_cross_entropy")
    p, y = _same_shapes(input, target, "binary_cross_entropy", "input")
    checked(_check_probabilities, values(p))
    loss = -(y * maximum(p, _LOG_FLOOR).log() + (1 - y) * maximum(1 - p, _LOG_FLOOR).log())
    return _reduce(_weighted(loss, weight, "binary_cross_entropy"), reduction)


def _check_probabilities(d: np.ndarray) -> None:
    if d.size and not ((d >= 0) & (d <= 1)).all():
        bad = d[~((d >= 0) & (d <= 1))][0]
        raise ValueError(f"binary_cross_entropy: input must hold probabilities in [0, 1], found {bad}; apply "
                         f"sigmoid first, or use binary_cross_entropy_with_logits on the raw scores")


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None,
) -> Tensor:
    """binary_cross_entropy(σ(x), y) from the scores x = input: -log σ(x) = softplus(-x) and -log(1 - σ(x)) =
    softplus(x), so the loss is pos_weight·y·softplus(-x) + (1 - y)·softplus(x), finite for every x and exact
    to the last digit for labels 0 and 1 (PyTorch's (1 - y)·x + softplus(-x), the same function, cancels to 0
    where the loss is e^-|x|, below about 1e-16). pos_weight (one per class: it broadcasts along the last axis)
    weighs the positive examples."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, y = _same_shapes(input, target, "binary_cross_entropy_with_logits", "input")
    positive = y * _softplus(-x)
    if pos_weight is not None:
        positive = _weighted(positive, pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
    loss = positive + (1 - y) * _softplus(x)
    return _reduce(_weighted(loss, weight, "binary_cross_entropy_with_logits"), reduction)


# ---------------------------------------------------------------------------------------------------------------
# Classes: cross-entropy and the negative log-likelihood
# ---------------------------------------------------------------------------------------------------------------


def _class_axis_shape(input: Tensor, who: str, what: str) -> tuple[int, int]:
    if input.ndim < 2:
        raise ValueError(f"{who}: {what} must have shape (N, C) or (N, C, d1, ...) with the classes on axis 1, "
                         f"got {input.shape}")
    return input.shape[0], input.shape[1]


def _class_weights(weight: Any, c: int, dtype: np.dtype, who: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(values(weight))
    if w.shape != (c,) or w.dtype.kind not in "iuf":
        raise ValueError(f"{who}: weight must hold one number per class, shape ({c},), got shape {w.shape} "
                         f"dtype {w.dtype}")
    return w.astype(dtype, copy=False)


def _refuse_bool(labels: np.ndarray, who: str) -> None:
    if labels.dtype == np.bool_:
        raise TypeError(f"{who}: targets of dtype bool are neither class indices nor probabilities (PyTorch "
                        f"refuses them too); for classes 0 and 1 pass target.astype(int), for probabilities "
                        f"target.astype(float)")


def _class_index_loss(
    log_p: Tensor, labels: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str,
    label_smoothing: float, who: str,
) -> Tensor:
    """-w_y·log p_y per sample (and per position d1, ...), mixed with the smoothed term -Σ_c w_c log p_c / C;
    samples whose label is ignore_index count for nothing, and "mean" divides by the weight of those kept."""
    n, c = log_p.shape[:2]
    label_shape = (n,) + log_p.shape[2:]
    if labels.shape != label_shape:
        raise ValueError(f"{who}: class-index targets must have shape {label_shape} for input of shape "
                         f"{log_p.shape}, got {labels.shape}")
    kept = labels != ignore_index
    usual = weight is None and bool(kept.all())  # the usual case: every label counts, one operation fewer
    checked(_check_labels, labels, c, ignore_index, usual, who)
    grid = np.indices(label_shape, sparse=True)
    safe = labels if usual else np.where(kept, labels, 0)  # (the labels themselves: a compiled step sees them)
    picked = log_p[(grid[0], safe, *grid[1:])]  # log p[i, y_i, j...], shape label_shape
    if usual:
        loss, total = -picked, float(picked.size)
    else:
        w = np.where(kept, 1.0 if weight is None else weight[safe], 0.0).astype(log_p.dtype)
        loss, total = -(picked * w), float(w.sum())
    if label_smoothing:
        per_class = log_p if weight is None else log_p * weight.reshape((c,) + (1,) * (log_p.ndim - 2))
        smooth = where(kept, -per_class.sum(axis=1), 0.0)
        loss = (1 - label_smoothing) * loss + (label_smoothing / c) * smooth
    if reduction == "mean":
        return loss.sum() / total  # all ignored: 0/0 = nan, as PyTorch
    return loss.sum() if reduction == "sum" else loss


def _check_labels(labels: np.ndarray, c: int, ignore_index: int, usual: bool, who: str) -> None:
    """Class indices in 0..c-1 (or ignore_index); `usual`: none of them is ignore_index (a compiled step was
    traced on such batches and must not be given another kind)."""
    kept = labels != ignore_index
    outside = kept & ((labels < 0) | (labels >= c))
    if outside.any():
        raise ValueError(f"{who}: target class {labels[outside][0]} is outside 0..{c - 1} for {c} classes "
                         f"(ignore_index is {ignore_index})")
    if usual and not kept.all():
        raise ValueError(f"{who}: this batch has labels equal to ignore_index ({ignore_index}), but the compiled "
                         f"step was traced on batches without any: call it eagerly for such batches")


def nll_loss(
    input: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
) -> Tensor:
    """The negative log-likelihood -log p[y] of class indices y = target, from log-probabilities `input`
    (N, C) or (N, C, d1, ...) (a log_softmax's output); class weights w give -w_y log p[y], and "mean"
    divides by Σ w_y over the samples kept (those whose label is not ignore_index)."""
    _check_reduction(reduction, "nll_loss")
    log_p = _as_tensor(input)
    n, c = _class_axis_shape(log_p, "nll_loss", "input")
    labels = np.asarray(values(target))
    _refuse_bool(labels, "nll_loss")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: targets must be integer class indices, got dtype {labels.dtype}"
                        + ("; use target.astype(int)" if labels.dtype.kind == "f" else ""))
    w = _class_weights(weight, c, log_p.dtype, "nll_loss")
    return _class_index_loss(log_p, labels, w, ignore_index, reduction, 0.0, "nll_loss")


def cross_entropy(
    logits: Any, target: Any, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy from raw scores (logits) of shape (N, C) or (N, C, d1, ...), the classes on axis 1.

    `target` is either integer class indices of shape (N,) (or (N, d1, ...)): -1/N Σ_i log softmax(z_i)[y_i],
    that is nll_loss(log_softmax(logits, 1), target) with its weight and ignore_index; or probabilities (one-hot
    rows, soft labels) of the logits' shape: -1/N Σ_i Σ_c w_c y_ic log softmax(z_i)_c, averaged over N (and
    d1, ...) whatever the weights. label_smoothing = ε mixes each target with the uniform distribution:
    (1 - ε)·target + ε/C. Computed with log_softmax, so it stays finite for any logits.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    logits = _as_tensor(logits)
    n, c = _class_axis_shape(logits, "cross_entropy", "logits")
    log_p = log_softmax(logits, axis=1)
    labels = np.asarray(values(target))
    _refuse_bool(labels, "cross_entropy")
    w = _class_weights(weight, c, log_p.dtype, "cross_entropy")
    if labels.dtype.kind in "iu":
        return _class_index_loss(log_p, labels, w, ignore_index, reduction, label_smoothing, "cross_entropy")
    label_shape = (n,) + logits.shape[2:]
    if labels.shape != logits.shape:
        hint = (f"; class labels of shape {label_shape} must be integers: use target.astype(int)"
                if labels.shape == label_shape else "")
        raise ValueError(f"cross_entropy: probability targets must have the logits' shape {logits.shape}, "
                         f"got {labels.shape}{hint}")
    probabilities = _as_tensor(target) if isinstance(target, Tensor) else Tensor._wrap(labels.astype(log_p.dtype))
    if label_smoothing:
        probabilities = probabilities * (1 - label_smoothing) + label_smoothing / c
    terms = log_p * probabilities
    if w is not None:
        terms = terms * w.reshape((c,) + (1,) * (logits.ndim - 2))
    return _reduce(-terms.sum(axis=1), reduction)
