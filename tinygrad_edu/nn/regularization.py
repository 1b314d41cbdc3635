"""Layers that behave differently in training and in evaluation: Dropout, BatchNorm1d, BatchNorm2d.

`model.train()` and `model.eval()` switch them (fit trains in train mode, `evaluate` and the predictions run in
eval mode, then restore the mode they found).

Dropout (Srivastava et al. 2014), inverted: in training each element is kept with probability 1 - p and scaled by
1/(1 - p), so that its expected value is unchanged and evaluation is the identity. The masks come from
`generator` if given, else from the package's default generator, so `tg.manual_seed(s)` makes them repeatable.

Batch normalization (Ioffe and Szegedy 2015), PyTorch's semantics. Over the axes of one channel (N for (N, C),
N and L for (N, C, L), N, H and W for (N, C, H, W)), in training:
    x̂ = (x - mean) / √(var + eps)      with the batch's mean and biased variance (divided by the count m),
    y = weight · x̂ + bias               (weight, bias: one per channel, if affine),
and the running statistics move towards the batch's: running = (1 - momentum) · running + momentum · batch, with
the unbiased variance (divided by m - 1) for running_var; momentum=None is the cumulative average (the factor
1/num_batches_tracked). In evaluation x̂ uses running_mean and running_var instead (without
track_running_stats: the batch's, always). The backward is the engine's, through mean, var and sqrt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.tensor import Tensor, bump_version, no_grad, note_untraceable
from .layers import _as_input, _generator
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "Dropout"]


class Dropout(Module):
    """Zeroes each element with probability p in training and scales the others by 1/(1 - p); the identity in
    evaluation (and for p = 0)."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p, self.generator = float(p), generator

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else _as_input(x, np.dtype(np.float64))
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0.0
        note_untraceable("nn.Dropout draws a new random mask at every call in training mode (compile would "
                         "replay the first one); call model.eval() or compile without dropout")
        keep = _generator(self.generator).random(x.shape) >= self.p
        return x * (keep / (1 - self.p)).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}


class _BatchNorm(Module):
    ndims: tuple[int, ...] = (2,)
    layout = "(N, C)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float64) -> None:
        super().__init__()
        who = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) or num_features < 1:
            raise ValueError(f"{who}: num_features must be a positive integer, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{who}: momentum must be in [0, 1] or None, got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"{who}: eps must be > 0, got {eps!r}")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{who}: dtype must be a float dtype (float32 or float64), got {dtype}")
        self.dtype = dtype
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.dtype)
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects inputs of shape {self.layout} with "
                             f"C = {self.num_features}, got {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            count = x.size // self.num_features
            if self.training and count < 2:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel in training, got "
                                 f"input of shape {x.shape}")
            mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
            if self.training and self.track_running_stats:
                self._update(mean.data.reshape(-1), var.data.reshape(-1) * count / (count - 1))
        else:
            mean, var = self.running_mean.reshape(shape), self.running_var.reshape(shape)
        y = (x - mean) / (var + self.eps).sqrt()
        return y * self.weight.reshape(shape) + self.bias.reshape(shape) if self.affine else y

    def _update(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        note_untraceable(f"{type(self).__name__} updates its running statistics with Python numbers in training "
                         f"mode; compile it in eval mode")
        with no_grad():
            self.num_batches_tracked.data[...] += 1
            factor = 1 / int(self.num_batches_tracked.data) if self.momentum is None else self.momentum
            for buffer, value in ((self.running_mean, mean), (self.running_var, unbiased_var)):
                buffer.data[...] = (1 - factor) * buffer.data + factor * value
                bump_version(buffer.data)
            bump_version(self.num_batches_tracked.data)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum, "affine": self.affine,
                "track_running_stats": self.track_running_stats,
                "dtype": self.dtype.name}


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C (PyTorch's)."""

    ndims, layout = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs, per channel C (PyTorch's)."""

    ndims, layout = (4,), "(N, C, H, W)"
