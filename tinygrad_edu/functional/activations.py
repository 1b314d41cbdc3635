"""Activation functions: the engine's primitives (sigmoid, relu, tanh, heaviside) and the rest of a course's
list, composed from primitives (where, exp, log, tanh, sigmoid, abs, ...) so that none needs a backward.

One operation is a primitive here, `Erf` (for the exact GELU), because no composition of the engine's
operations computes erf; its forward and backward sit side by side below.

Kinks and NaN follow PyTorch (checked against torch 2 in tests/test_activations.py):
- leaky_relu'(0) = negative_slope; elu'(0) = alpha, selu'(0) = scale·alpha (the x <= 0 branch at 0);
- hardtanh, relu6 (= hardtanh(x, 0, 6)) and hardsigmoid pass the gradient strictly inside their linear part
  only: the derivative is 0 at the corners (hardtanh at min_val and max_val, relu6 at 0 and 6, hardsigmoid
  at ±3) and at NaN (where PyTorch gives 0 or 1 depending on its kernel path: 0 for a short tensor, 1 for a
  long one);
- at NaN, leaky_relu' = negative_slope and elu' = 1, selu' = scale (the branch that is not "x <= 0" or "x > 0").
Numerical care: softplus, logsigmoid and mish use softplus(x) = max(x, 0) + log(1 + e^(-|x|)), which never
overflows, with log(1 + u) computed so that it keeps its relative accuracy for tiny u (softplus(-500) is
e^(-500), not 0). softplus switches to the identity where beta·x > threshold, as PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine.function import Context, Function
from ..engine.ops import Exp, Heaviside, ReLU, Sigmoid, Tanh, operand, where
from ..engine.tensor import Tensor, outside_graph, values

__all__ = [
    "elu", "gelu", "hardsigmoid", "hardtanh", "heaviside", "identity", "leaky_relu", "log_softmax", "logsigmoid",
    "mish", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus", "softsign", "tanh",
]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


# ---------------------------------------------------------------------------------------------------------------
# The primitives of the chapter
# ---------------------------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------------------------
# Piecewise-linear activations
# ---------------------------------------------------------------------------------------------------------------


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x if x > 0 else negative_slope·x."""
    x = _as_tensor(x)
    return where(x > 0, x, x * negative_slope)  # (x > 0 on the tensor: a compiled step sees the mask made)


def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside, 0 at and beyond the corners."""
    if not min_val <= max_val:
        raise ValueError(f"hardtanh: min_val must be <= max_val, got min_val={min_val}, max_val={max_val}")
    x = _as_tensor(x)
    inside, clipped = outside_graph(_clipped, values(x), min_val, max_val)
    return where(inside, x, clipped)  # outside: a constant (NaN stays NaN)


def _clipped(d: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Where low < d < high (False at NaN: no gradient there, as in PyTorch), and d clipped to [low, high].
    (Called through outside_graph: numpy on a tensor's values, which a compiled step must see made.)"""
    return (d > low) & (d < high), np.clip(d, low, high)


def relu6(x: Any) -> Tensor:
    """min(max(x, 0), 6) = hardtanh(x, 0, 6): relu'(0) = 0 as for relu, and the derivative at 6 is 0."""
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Any) -> Tensor:
    """x/6 + 1/2 clipped to [0, 1] (0 below -3, 1 above 3); the gradient is 1/6 strictly inside (-3, 3)."""
    x = _as_tensor(x)
    inside, clipped = outside_graph(_hard_sigmoid_parts, values(x))
    return where(inside, x / 6 + 0.5, clipped)


def _hard_sigmoid_parts(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where -3 < d < 3, and d/6 + 1/2 clipped to [0, 1]. Through outside_graph, as _clipped."""
    return (d > -3) & (d < 3), np.clip(d / 6 + 0.5, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Smooth activations
# ---------------------------------------------------------------------------------------------------------------


def _log1p(u: Tensor) -> Tensor:
    """log(1 + u) for 0 <= u <= 1, accurate for tiny u: with w = 1 + u rounded, log(w)·u/(w - 1) is (Goldberg's
    trick: the rounding error of w cancels in the ratio); where w rounds to 1, log(1 + u) is u itself. The
    ratio is a constant factor (≈ 1, no gradient), so the derivative is its factor times 1/(1 + u)."""
    w = 1 + u
    rounded, ratio = outside_graph(_goldberg_ratio, values(w), values(u))
    return where(rounded, u, w.log() * ratio)


def _goldberg_ratio(w: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where w rounded to 1, and u/(w - 1) elsewhere (1 there). Through outside_graph, as _clipped."""
    rounded = w == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return rounded, np.where(rounded, 1.0, u / (w - 1))


def _softplus(x: Tensor) -> Tensor:
    """log(1 + e^x) = max(x, 0) + log(1 + e^(-|x|)), with both kinks taken on one side (x > 0 or not) so that
    the derivative at 0 is 0 + 1/2, not 0 (as relu'(0) = |x|'(0) = 0 would give)."""
    positive = x > 0
    return where(positive, x, 0.0) + _log1p(where(positive, -x, x).exp())


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(beta·x)) / beta, smooth relu; x itself where beta·x > threshold (PyTorch's switch)."""
    x = _as_tensor(x)
    bx = x * beta if beta != 1 else x
    smooth = _softplus(bx) / beta if beta != 1 else _softplus(bx)
    return where(bx > threshold, x, smooth)


def logsigmoid(x: Any) -> Tensor:
    """log σ(x) = -softplus(-x): finite for every x (log of a computed σ would give -inf below about -37)."""
    return -_softplus(-_as_tensor(x))


def softsign(x: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = _as_tensor(x)
    return x / (1 + x.abs())


def silu(x: Any) -> Tensor:
    """x·σ(x) (also called swish)."""
    x = _as_tensor(x)
    return x * Sigmoid.apply(x)


def mish(x: Any) -> Tensor:
    """x·tanh(softplus(x))."""
    x = _as_tensor(x)
    return x * Tanh.apply(_softplus(x))


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x if x > 0 else alpha·(e^x - 1). The exponential only sees x <= 0, so it cannot overflow."""
    x = _as_tensor(x)
    negative = x <= 0
    return where(negative, alpha * (where(negative, x, 0.0).exp() - 1), x)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> Tensor:
    """scale·elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    return SELU_SCALE * elu(x, SELU_ALPHA)


class Erf(Function):
    """y = erf(x) = 2/√π ∫₀ˣ e^(-t²) dt (scipy's).   dy/dx = 2/√π · e^(-x²)."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray) -> np.ndarray:
        from scipy.special import erf  # imported on first use: `import tinygrad_edu` stays numpy only

        ctx.save_for_backward(x)
        return erf(x)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        (x,) = ctx.saved_tensors
        return g * (2 / math.sqrt(math.pi)) * Exp.apply(-(x * x))  # plain numpy on arrays, in the graph on Tensors


_GELU_APPROXIMATIONS = ("none", "tanh")


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x·Φ(x), Φ the standard normal CDF: x/2·(1 + erf(x/√2)); approximate="tanh" uses
    x/2·(1 + tanh(√(2/π)(x + 0.044715x³))) (Hendrycks and Gimpel's approximation, as PyTorch's)."""
    if approximate not in _GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _as_tensor(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * (x * x * x))
        return 0.5 * x * (1 + Tanh.apply(inner))
    return 0.5 * x * (1 + Erf.apply(x * (1 / math.sqrt(2))))


Tensor.softmax = softmax  # type: ignore[attr-defined]  (t.softmax(axis) is softmax(t, axis))
Tensor.log_softmax = log_softmax  # type: ignore[attr-defined]
