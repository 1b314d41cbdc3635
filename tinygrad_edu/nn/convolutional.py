"""Convolutional layers: Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and Flatten, with PyTorch's names,
parameter names and shapes (so a state_dict carries over either way). Each is one call of engine/convolution.py.
Like PyTorch's, the convolutions and pools also take one unbatched sample, (C, H, W) (or (C, L) for Conv1d): it
goes through as a batch of one and comes out without the batch axis.

Initialisation is PyTorch's default: weight and bias uniform in ±1/√fan_in, fan_in = in_channels/groups · kernel
area (kaiming_uniform with a = √5 gives that bound), the rule Linear's "pytorch" init follows too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import convolution as conv
from ..engine.ops import operand
from ..engine.shape import flatten
from ..engine.tensor import Tensor
from .layers import _as_input, _generator
from .module import Module, Parameter

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "Conv1d", "Conv2d", "Flatten", "MaxPool2d"]


def _positive(value: Any, what: str, who: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{who}: {what} must be a positive integer, got {value!r}")
    return int(value)


def _sizes(value: Any, n: int, what: str, who: str, low: int = 1) -> tuple[int, ...]:
    sizes = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(sizes) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low
                                  for v in sizes):
        raise ValueError(f"{who}: {what} must be an int >= {low} or {n} of them, got {value!r}")
    return tuple(int(v) for v in sizes)


def _batch_of(x: Tensor, dims: int, who: str, channels: int | None = None) -> tuple[Tensor, bool]:
    """x as a batch (N, C, *spatial), and whether it was one unbatched sample (C, *spatial), which then becomes a
    batch of one; any other shape, or C other than `channels` (when given), is a ValueError naming both."""
    axes = "C, L" if dims == 1 else "C, H, W"
    unbatched = x.ndim == dims + 1
    if x.ndim not in (dims + 1, dims + 2) or (channels is not None and x.shape[-dims - 1] != channels):
        wanted = f" with C = {channels}" if channels is not None else ""
        raise ValueError(f"{who} expects inputs of shape (N, {axes}) or, unbatched, ({axes}){wanted}, "
                         f"got {x.shape}")
    return (x.reshape(1, *x.shape) if unbatched else x), unbatched


def _unbatch(y: Tensor, unbatched: bool) -> Tensor:
    return y.reshape(y.shape[1:]) if unbatched else y


class _ConvNd(Module):
    """What Conv1d and Conv2d share: the weight (out_channels, in_channels/groups, *kernel_size), the bias
    (out_channels,), the settings, and PyTorch's initialisation."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, dtype: Any = np.float64,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        who, n = type(self).__name__, self.dims
        self.in_channels = _positive(in_channels, "in_channels", who)
        self.out_channels = _positive(out_channels, "out_channels", who)
        self.groups = _positive(groups, "groups", who)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{who}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        self.kernel_size = _sizes(kernel_size, n, "kernel_size", who)
        self.stride = _sizes(stride, n, "stride", who)
        self.dilation = _sizes(dilation, n, "dilation", who)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{who}: padding must be an int, 'same' or 'valid', got {padding!r}")
            if padding == "same" and self.stride != (1,) * n:
                raise ValueError(f"{who}: padding='same' needs stride 1, got stride={stride}")
            self.padding: Any = padding
        else:
            self.padding = _sizes(padding, n, "padding", who, low=0)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{who}: dtype must be a float dtype (float32 or float64), got {dtype}")
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.zeros(shape, dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw new values in place, uniform in ±1/√fan_in (PyTorch's default)."""
        rng = _generator(generator)
        bound = 1 / np.sqrt(self.weight[0].size)
        state = {"weight": rng.uniform(-bound, bound, self.weight.shape)}
        if self.bias is not None:
            state["bias"] = rng.uniform(-bound, bound, self.bias.shape)
        self.load_state_dict(state)

    def _input(self, x: Any) -> tuple[Tensor, bool]:
        return _batch_of(_as_input(x, self.weight.dtype), self.dims, self._describe(), self.in_channels)

    def _describe(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"]
        if self.padding != (0,) * self.dims:
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1,) * self.dims:
            parts.append(f"dilation={self.dilation}")
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return ", ".join(parts)

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups, "bias": self.bias is not None,
                "dtype": self.weight.dtype.name}


class Conv2d(_ConvNd):
    """y = conv2d(x, weight, bias): x (N, in_channels, H, W) → (N, out_channels, OH, OW), or (in_channels, H, W)
    → (out_channels, OH, OW); weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,), as
    PyTorch's."""

    dims = 2

    def forward(self, x: Any) -> Tensor:
        x, unbatched = self._input(x)
        return _unbatch(conv.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                    self.groups), unbatched)


class Conv1d(_ConvNd):
    """y = conv1d(x, weight, bias): x (N, in_channels, L) → (N, out_channels, OL), or (in_channels, L) →
    (out_channels, OL); weight (out_channels, in_channels/groups, k), as PyTorch's."""

    dims = 1

    def forward(self, x: Any) -> Tensor:
        x, unbatched = self._input(x)
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return _unbatch(conv.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0],
                                    self.groups), unbatched)


def _pool_input(x: Any, layer: Module) -> tuple[Tensor, bool]:
    """A pool's input as a batch (`_batch_of`); arrays and lists become constant tensors of their own dtype."""
    x = x if isinstance(x, Tensor) else Tensor._wrap(operand(x))
    return _batch_of(x, 2, f"{type(layer).__name__}({layer.extra_repr()})")


def _flag(value: Any, what: str, who: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {what} must be True or False, got {value!r}")
    return bool(value)


class _Pool2d(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False) -> None:
        super().__init__()
        who = type(self).__name__
        self.kernel_size = _sizes(kernel_size, 2, "kernel_size", who)
        self.stride = self.kernel_size if stride is None else _sizes(stride, 2, "stride", who)
        self.padding = _sizes(padding, 2, "padding", who, low=0)
        self.ceil_mode = _flag(ceil_mode, "ceil_mode", who)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                + (", ceil_mode=True" if self.ceil_mode else ""))

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride), "padding": list(self.padding),
                "ceil_mode": self.ceil_mode}


class MaxPool2d(_Pool2d):
    """The maximum of each kernel_size window (stride defaults to kernel_size); a tie's gradient goes to the
    window's first maximum, as PyTorch's. return_indices=True returns (output, indices), each maximum's flat
    index in its (n, c) plane (for a later unpooling; such a layer cannot sit in a Sequential). ceil_mode: the
    output size rounds up (engine/convolution.py's doc)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = _sizes(dilation, 2, "dilation", "MaxPool2d")
        self.return_indices = _flag(return_indices, "return_indices", "MaxPool2d")

    def forward(self, x: Any) -> Any:
        x, unbatched = _pool_input(x, self)
        out = conv.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                              self.return_indices)
        if self.return_indices:
            return _unbatch(out[0], unbatched), _unbatch(out[1], unbatched)
        return _unbatch(out, unbatched)

    def extra_repr(self) -> str:
        return (super().extra_repr() + (f", dilation={self.dilation}" if self.dilation != (1, 1) else "")
                + (", return_indices=True" if self.return_indices else ""))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "dilation": list(self.dilation), "return_indices": self.return_indices}


class AvgPool2d(_Pool2d):
    """The mean of each kernel_size window (stride defaults to kernel_size); the divisor counts the padding
    (count_include_pad=True, PyTorch's default) or only the input's pixels (False). ceil_mode: the output size
    rounds up (engine/convolution.py's doc)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = _flag(count_include_pad, "count_include_pad", "AvgPool2d")

    def forward(self, x: Any) -> Tensor:
        x, unbatched = _pool_input(x, self)
        return _unbatch(conv.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                        self.count_include_pad), unbatched)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


class AdaptiveAvgPool2d(Module):
    """The mean over equal tiles of each image, to output_size (1: global average pooling)."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = _sizes(output_size, 2, "output_size", "AdaptiveAvgPool2d")

    def forward(self, x: Any) -> Tensor:
        x, unbatched = _pool_input(x, self)
        return _unbatch(conv.adaptive_avg_pool2d(x, self.output_size), unbatched)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def get_config(self) -> dict[str, Any]:
        return {"output_size": list(self.output_size)}


class Flatten(Module):
    """Axes start_dim..end_dim merged into one: (N, C, H, W) → (N, C·H·W) by default, as PyTorch's."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Tensor:
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}
