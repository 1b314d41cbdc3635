"""Composite functions and losses, built only from the primitives in ops.py (so they need no backward).

Activations (sigmoid, relu, tanh, heaviside) are primitives for speed and numerical care; softmax,
log_softmax and cross_entropy are compositions whose gradients autograd derives by itself. The squared-error
loss is one primitive (ops.SquaredErrorSum) except with reduction="none": it runs in every training step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine.ops import Heaviside, ReLU, Sigmoid, SquaredErrorSum, Tanh, operand
from .engine.tensor import Tensor


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


def sigmoid(x: Any) -> Tensor:
    """σ(x) = 1 / (1 + e^(-x)); σ' = σ(1 - σ)."""
    return Sigmoid.apply(_as_tensor(x))


def relu(x: Any) -> Tensor:
    """max(x, 0) (eq. 96); relu'(0) = 0 by convention."""
    return ReLU.apply(_as_tensor(x))


def tanh(x: Any) -> Tensor:
    return Tanh.apply(_as_tensor(x))


def heaviside(x: Any) -> Tensor:
    """The step of eq. (94): 1 if x > 0 else 0. Its derivative is taken as 0 everywhere."""
    return Heaviside.apply(_as_tensor(x))


def identity(x: Any) -> Tensor:
    """The identity activation (a linear output layer)."""
    return _as_tensor(x)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / Σ exp(x) along `axis`, computed as exp(x - max) / Σ exp(x - max) so it cannot overflow.

    Subtracting the max changes nothing mathematically (softmax is shift-invariant), so the max is taken
    as a constant (detached): no gradient needs to flow through it.
    """
    x = _as_tensor(x)
    shifted = x - x.detach().max(axis=axis, keepdims=True)
    e = shifted.exp()
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log(softmax(x)) = (x - max) - log Σ exp(x - max): stable for large and very negative x."""
    x = _as_tensor(x)
    shifted = x - x.detach().max(axis=axis, keepdims=True)
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()


def one_hot(labels: Any, num_classes: int | None = None, dtype: Any = np.float64) -> Tensor:
    """Rows of `num_classes` zeros with a one at each label: [2, 0] -> [[0, 0, 1], [1, 0, 0]] (the chapter's
    targets y_i). `num_classes` defaults to the largest label + 1; the result needs no gradient."""
    values = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(f"one_hot expects a 1-D array of integer labels, got shape {values.shape} dtype {values.dtype}")
    k = int(values.max(initial=-1)) + 1 if num_classes is None else int(num_classes)
    if values.size and (values.min() < 0 or values.max() >= k):
        raise ValueError(f"one_hot: labels must lie in 0..{k - 1} for {k} classes, found {values.min()}..{values.max()}")
    rows = np.zeros((values.size, k), dtype=dtype)
    rows[np.arange(values.size), values] = 1
    return Tensor._wrap(rows)


_MSE_REDUCTIONS = ("chapter", "mean", "sum", "none")


def mse(prediction: Any, target: Any, reduction: str = "chapter") -> Tensor:
    """Squared error between `prediction` and `target` (axis 0 indexes the samples).

    reduction="chapter" (default): the chapter's cost C = 1/N Σ_i ‖y_i - ŷ_i‖², a mean over the N samples of
                                   each sample's squared error summed over all its other axes;
    reduction="none":              the per-sample costs C_i = ‖y_i - ŷ_i‖² (eq. 98), shape (N,);
    reduction="mean":              PyTorch's MSELoss, the mean over every element (C divided by the outputs
                                   per sample);
    reduction="sum":               Σ_i C_i.
    1-D inputs are N scalar samples. The shapes must match exactly: (N, 1) against (N,) would silently
    broadcast to an (N, N) matrix of differences, so it is refused.
    """
    prediction, target = _as_tensor(prediction), _as_tensor(target)
    if reduction not in _MSE_REDUCTIONS:
        raise ValueError(f"mse: unknown reduction {reduction!r}; choose one of {', '.join(_MSE_REDUCTIONS)}")
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse: prediction has shape {prediction.shape} but target has shape {target.shape}; they must be "
            f"equal (reshape one of them explicitly, e.g. target.reshape({', '.join(map(str, prediction.shape))}))"
        )
    if reduction == "none":
        diff = prediction - target
        squared = diff * diff
        return squared.sum(axis=tuple(range(1, squared.ndim))) if squared.ndim > 1 else squared
    # The other reductions are one sum of squares times a constant: one fused operation (ops.SquaredErrorSum).
    count = {"sum": 1, "mean": prediction.size, "chapter": prediction.shape[0] if prediction.ndim else 1}[reduction]
    return SquaredErrorSum.apply(prediction, target, scale=1.0 / count if count else float("nan"))


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy -1/N Σ_i log softmax(logits_i)[target_i], from raw scores (logits).

    `target` is either integer class labels of shape (N,) or probabilities / one-hot rows of shape (N, K),
    in which case the loss is -1/N Σ_i Σ_k target_ik log softmax(logits_i)_k. Computed with log_softmax,
    so it stays finite for any logits. reduction: "mean" (default), "sum" or "none" (per sample).
    """
    logits = _as_tensor(logits)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: unknown reduction {reduction!r}; choose mean, sum or none")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, K), got {logits.shape}")
    n, k = logits.shape
    log_p = log_softmax(logits, axis=1)
    values = target.data if isinstance(target, Tensor) else np.asarray(target)
    if values.dtype.kind in "iub":
        if values.shape != (n,):
            raise ValueError(f"cross_entropy: integer targets must have shape ({n},), got {values.shape}")
        if n and (values.min() < 0 or values.max() >= k):
            bad = values[(values < 0) | (values >= k)][0]
            raise ValueError(f"cross_entropy: target class {bad} is outside 0..{k - 1} for {k} logits per sample")
        per_sample = -log_p[np.arange(n), values]
    else:
        if values.shape != (n, k):
            raise ValueError(
                f"cross_entropy: probability targets must have the logits' shape {(n, k)}, got {values.shape}"
            )
        per_sample = -(log_p * _as_tensor(target)).sum(axis=1)
    if reduction == "none":
        return per_sample
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


Tensor.softmax = softmax  # type: ignore[attr-defined]  (t.softmax(axis) is softmax(t, axis))
Tensor.log_softmax = log_softmax  # type: ignore[attr-defined]
