"""The way out: a model moves to PyTorch (`to_torch`, `from_torch`) and to ONNX (`to_onnx`) with the same outputs.

    from tinygrad_edu.export import to_torch, to_onnx
    net = to_torch(model)                         # a torch.nn.Sequential, the weights copied
    to_onnx(model, "model.onnx", X[:1])           # opset OPSET, batch size left free

Not imported by `import tinygrad_edu`; it needs `pip install 'tinygrad-edu[export]'` (onnx, onnxruntime) for
ONNX and PyTorch for the rest, each imported when first used.

Names are kept: an MLP becomes `Sequential(layers=Sequential(Linear, Sigmoid, ...))` in PyTorch, so both models'
`state_dict` have the same keys ("layers.0.weight", ...) and `load_state_dict` works in either direction; the
ONNX file names its initializers by the same keys. `from_torch` gives back an MLP when the module has the shape
`to_torch` gives one, else a Sequential with the same child names.

Each class that can be exported has one entry in `CONVERTERS`: its torch.nn counterpart and the settings
that carry over (tinygrad_edu's name -> PyTorch's), and the ONNX nodes it becomes. A new layer adds one entry;
a class with none is refused by name (its path in the model too), and so is a Sequential's child that is None.

ONNX: every activation is written with operations onnxruntime runs in float32 and float64 (its CPU kernels of
Elu, Selu, Softplus, LeakyRelu, HardSigmoid, Mish, Erf, ... are float32 only), each following the formula
tinygrad_edu.functional computes, step by step, so the results agree to rounding. erf, for the exact GELU, is
ONNX's Erf in float32 and a series of positive terms in float64 (`_erf`). Likewise onnxruntime 1.32 has no
float64 Conv, AveragePool or GlobalAveragePool: in float64 a convolution is im2col written out (one Slice per
kernel offset, Concat, one MatMul), average pooling a sum of Slices divided by each window's count and global
average pooling a ReduceMean; BatchNormalization, whose epsilon is a float32 attribute, is its arithmetic in
float64. MaxPool and Flatten are ONNX's own in both dtypes.

An ONNX file computes what the model computes in eval mode: Dropout is the identity, BatchNorm uses its running
statistics (the batch's when it does not track them); to_onnx runs the model once in eval mode and restores its
mode. to_torch and from_torch carry each layer's train/eval mode over. LeNet5 becomes
Sequential(features=..., classifier=...) in PyTorch, which takes images (N, C, H, W) only; its ONNX file takes
what the example input is (rows or images) and reshapes rows to images first, as LeNet5 does.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import nn
from ._atomic import atomic_writer
from .engine import convolution as _conv
from .engine.tensor import Tensor, no_grad
from .functional.activations import SELU_ALPHA, SELU_SCALE
from .nn.lenet import _features, _second_padding

__all__ = ["CONVERTERS", "OPSET", "REFUSED", "Converter", "ExportError", "check", "describe", "from_torch", "save_torch", "state_dict_from_torch",
           "state_dict_to_torch", "to_onnx", "to_torch"]

#: The ONNX operator set the files declare (IR version 8, which goes with it): onnxruntime 1.14 and later read it.
OPSET = 17
IR_VERSION = 8
_DTYPES = ("float32", "float64")


class ExportError(ValueError):
    """A model (or a torch module) that cannot be carried across: the message names the module and why."""


# ---------------------------------------------------------------------------------------------------------------
# ONNX graph building
# ---------------------------------------------------------------------------------------------------------------


class _Graph:
    """The nodes and initializers of one ONNX graph, all in one float dtype; `op` returns its output's name."""

    def __init__(self, dtype: np.dtype) -> None:
        from onnx import helper

        self.helper, self.dtype = helper, dtype
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.scope = ""  # the path of the module being written ("layers.0"): node and initializer names
        self.shape: tuple[int, ...] = ()  # the shape of the module's input on the example (its batch size too)
        self._count = 0
        self._constants: dict[float, str] = {}
        self._parameters: dict[int, str] = {}

    def _name(self, what: str) -> str:
        self._count += 1
        return f"{self.scope or 'model'}/{what}_{self._count}"

    def array(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=self.dtype), name))
        return name

    def ints(self, *values: int) -> str:
        """A 1-D int64 initializer (the shapes, axes and pads that ONNX takes as inputs)."""
        from onnx import numpy_helper

        name = self._name("ints")
        self.initializers.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
        return name

    def parameter(self, name: str, tensor: Tensor) -> str:
        """A module's parameter under its state_dict key; a parameter met again (a shared layer) is not copied."""
        if id(tensor) not in self._parameters:
            self._parameters[id(tensor)] = self.array(name, tensor.data)
        return self._parameters[id(tensor)]

    def const(self, value: float) -> str:
        """A scalar of the graph's dtype (one initializer per value)."""
        if value not in self._constants:
            self._constants[value] = self.array(f"const_{len(self._constants)}", np.array(value))
        return self._constants[value]

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        out = self._name(op_type)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], name=out, **attributes))
        return out


def _log1p(g: _Graph, u: str) -> str:
    """log(1 + u) with Goldberg's correction, as functional.activations._log1p (ONNX has no Log1p)."""
    w = g.op("Add", g.const(1.0), u)
    rounded = g.op("Equal", w, g.const(1.0))
    ratio = g.op("Where", rounded, g.const(1.0), g.op("Div", u, g.op("Sub", w, g.const(1.0))))
    return g.op("Where", rounded, u, g.op("Mul", g.op("Log", w), ratio))


def _softplus(g: _Graph, x: str) -> str:
    """max(x, 0) + log(1 + e^(-|x|)), as functional.activations._softplus."""
    positive = g.op("Greater", x, g.const(0.0))
    head = g.op("Where", positive, x, g.const(0.0))
    return g.op("Add", head, _log1p(g, g.op("Exp", g.op("Where", positive, g.op("Neg", x), x))))


def _elu(g: _Graph, x: str, alpha: float) -> str:
    negative = g.op("LessOrEqual", x, g.const(0.0))
    tail = g.op("Mul", g.const(alpha), g.op("Sub", g.op("Exp", g.op("Where", negative, x, g.const(0.0))), g.const(1.0)))
    return g.op("Where", negative, tail, x)


def _clip(g: _Graph, x: str, low: float, high: float) -> str:
    return g.op("Clip", x, g.const(low), g.const(high))


#: erf(t) = 2/√π · t · e^(-t²) · S, S = Σ_n (2t²)^n / (1·3·5···(2n+1)) = 1 + t²/1.5·(1 + t²/2.5·(1 + ...)): every
#: term positive, so nothing cancels, and the constants n + 1.5 are exact (onnxruntime's optimizer drops an Add
#: of a constant too small for float32, so the power-series coefficients, below 1e-45, cannot be used). 100
#: levels reach 1.6e-15 of scipy's erf on [-6, 6]; beyond ±6, erf is ±1 in float64.
_ERF_TERMS, _ERF_CLIP = 100, 6.0


def _erf(g: _Graph, t: str) -> str:
    """ONNX's Erf in float32; in float64 the series above (onnxruntime has no float64 Erf kernel)."""
    if g.dtype == np.float32:
        return g.op("Erf", t)
    t = _clip(g, t, -_ERF_CLIP, _ERF_CLIP)
    t2 = g.op("Mul", t, t)
    total = g.const(1.0)
    for n in reversed(range(_ERF_TERMS)):
        total = g.op("Add", g.const(1.0), g.op("Div", g.op("Mul", t2, total), g.const(n + 1.5)))
    scale = g.op("Mul", g.op("Mul", g.const(2 / math.sqrt(math.pi)), t), g.op("Exp", g.op("Neg", t2)))
    return g.op("Mul", scale, total)


def _gelu(g: _Graph, x: str, approximate: str) -> str:
    half_x = g.op("Mul", g.const(0.5), x)
    if approximate == "tanh":
        cube = g.op("Mul", g.op("Mul", x, x), x)
        inner = g.op("Mul", g.const(math.sqrt(2 / math.pi)), g.op("Add", x, g.op("Mul", g.const(0.044715), cube)))
        return g.op("Mul", half_x, g.op("Add", g.const(1.0), g.op("Tanh", inner)))
    erf = _erf(g, g.op("Mul", x, g.const(1 / math.sqrt(2))))
    return g.op("Mul", half_x, g.op("Add", g.const(1.0), erf))


def _softplus_with(g: _Graph, x: str, beta: float, threshold: float) -> str:
    bx = g.op("Mul", x, g.const(beta)) if beta != 1 else x
    smooth = g.op("Div", _softplus(g, bx), g.const(beta)) if beta != 1 else _softplus(g, bx)
    return g.op("Where", g.op("Greater", bx, g.const(threshold)), x, smooth)


def _key(g: _Graph, name: str) -> str:
    """A parameter's state_dict key: the module's path, then its name."""
    return f"{g.scope}.{name}" if g.scope else name


def _linear_onnx(g: _Graph, m: nn.Linear, x: str) -> str:
    """x Wᵀ + b, W and b initializers named by their state_dict keys."""
    y = g.op("MatMul", x, g.op("Transpose", g.parameter(_key(g, "weight"), m.weight)))
    return y if m.bias is None else g.op("Add", y, g.parameter(_key(g, "bias"), m.bias))


def _onnx_pads(pads: tuple[int, ...]) -> list[int]:
    """(top, bottom, left, right) as ONNX's [top, left, bottom, right]."""
    return [pads[0], pads[2], pads[1], pads[3]]


def _pad(g: _Graph, x: str, pads: tuple[int, ...], value: float = 0.0) -> str:
    if not any(pads):
        return x
    return g.op("Pad", x, g.ints(0, 0, pads[0], pads[2], 0, 0, pads[1], pads[3]), g.const(value))


def _offsets(g: _Graph, x: str, kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> list[str]:
    """The kh·kw strided Slices of a padded image x, one per kernel offset (i, j), each (N, C, OH, OW):
    slice (i, j) holds x[:, :, p·s + i·d, q·s + j·d] (engine/convolution.py's windows, one offset at a time)."""
    slices = []
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            start = (i * dilation[0], j * dilation[1])
            end = (start[0] + stride[0] * (out[0] - 1) + 1, start[1] + stride[1] * (out[1] - 1) + 1)
            slices.append(g.op("Slice", x, g.ints(*start), g.ints(*end), g.ints(2, 3), g.ints(*stride)))
    return slices


def _conv_nodes(g: _Graph, x: str, weight: str, bias: str | None, shape: tuple, w_shape: tuple, stride: tuple,
                pads: tuple, dilation: tuple, groups: int) -> str:
    """conv2d of x, of `shape` (N, C, H, W): ONNX's Conv in float32; in float64 (onnxruntime has no float64 Conv)
    im2col: the Slices of each kernel offset stacked to (N, G, C/G·kh·kw, OH·OW), one MatMul by the weight
    reshaped to (G, C_out/G, C/G·kh·kw), as engine/convolution.py's _conv."""
    o, cg, kh, kw = w_shape
    if g.dtype == np.float32:
        inputs = [x, weight] + ([bias] if bias else [])
        return g.op("Conv", *inputs, kernel_shape=[kh, kw], strides=list(stride), pads=_onnx_pads(pads),
                    dilations=list(dilation), group=groups)
    out = _conv._out_size(shape[2:], (kh, kw), stride, pads, dilation, "conv2d")
    slices = _offsets(g, _pad(g, x, pads), (kh, kw), stride, dilation, out)
    stacked = g.op("Concat", *[g.op("Unsqueeze", t, g.ints(2)) for t in slices], axis=2)  # (N, C, kh·kw, OH, OW)
    cols = g.op("Reshape", stacked, g.ints(-1, groups, cg * kh * kw, out[0] * out[1]))
    w = g.op("Reshape", weight, g.ints(groups, o // groups, cg * kh * kw))
    y = g.op("Reshape", g.op("MatMul", w, cols), g.ints(-1, o, *out))
    return y if bias is None else g.op("Add", y, g.op("Reshape", bias, g.ints(1, o, 1, 1)))


def _conv2d_onnx(g: _Graph, m: nn.Conv2d, x: str) -> str:
    pads = _conv._padding(m.padding, m.kernel_size, m.stride, m.dilation, "Conv2d")
    bias = None if m.bias is None else g.parameter(_key(g, "bias"), m.bias)
    return _conv_nodes(g, x, g.parameter(_key(g, "weight"), m.weight), bias, g.shape, m.weight.shape, m.stride,
                       pads, m.dilation, m.groups)


def _conv1d_onnx(g: _Graph, m: nn.Conv1d, x: str) -> str:
    """Conv1d as conv2d on images one pixel high, as engine/convolution.py computes it."""
    (k,), (s,), (d,) = m.kernel_size, m.stride, m.dilation
    pads = _conv._padding(m.padding if isinstance(m.padding, str) else (0, m.padding[0]), (1, k), (1, s), (1, d),
                          "Conv1d")
    weight = g.op("Unsqueeze", g.parameter(_key(g, "weight"), m.weight), g.ints(2))
    bias = None if m.bias is None else g.parameter(_key(g, "bias"), m.bias)
    n, c, length = g.shape
    y = _conv_nodes(g, g.op("Unsqueeze", x, g.ints(2)), weight, bias, (n, c, 1, length),
                    (m.out_channels, m.in_channels // m.groups, 1, k), (1, s), pads, (1, d), m.groups)
    return g.op("Squeeze", y, g.ints(2))


def _max_pool_onnx(g: _Graph, m: nn.MaxPool2d, x: str) -> str:
    """ONNX's MaxPool (float32 and float64), ceil_mode written as the extra bottom and right padding the engine
    reads: opset 17's shape inference rounds up without PyTorch's rule for a last window that would start in the
    padding (4 windows on H = 5, kernel 2, stride 2, padding 1, where onnxruntime computes PyTorch's 3)."""
    kernel, stride, pads = _conv._pool_args(m.kernel_size, m.stride, m.padding, "MaxPool2d")
    _, pads = _conv._pool_size(g.shape[2:], kernel, stride, pads, m.dilation, m.ceil_mode, "MaxPool2d")
    if not _fits(pads, kernel):  # onnxruntime takes pads smaller than the kernel only: -inf written first
        x, pads = _pad(g, x, pads, -np.inf), (0, 0, 0, 0)
    return g.op("MaxPool", x, kernel_shape=list(kernel), strides=list(stride), pads=_onnx_pads(pads),
                dilations=list(m.dilation))


def _fits(pads: tuple[int, ...], kernel: tuple[int, int]) -> bool:
    return all(p < k for p, k in zip(pads, np.repeat(kernel, 2)))


def _avg_pool_nodes(g: _Graph, x: str, shape: tuple, kernel: tuple, stride: tuple, padding: tuple, ceil_mode: bool,
                    count_include_pad: bool) -> str:
    """ONNX's AveragePool in float32 where its divisor is PyTorch's (always, but for a window that ceil_mode cuts
    while padding counts) and its pads are smaller than the kernel (onnxruntime's rule); else, and in float64 (no
    kernel), the sum of the Slices of each kernel offset divided by the engine's own count of each window."""
    kernel, stride, pads = _conv._pool_args(kernel, stride, padding, "AvgPool2d")
    out, grown = _conv._pool_size(shape[2:], kernel, stride, pads, (1, 1), ceil_mode, "AvgPool2d")
    if g.dtype == np.float32 and (grown == pads or not count_include_pad) and _fits(grown, kernel):
        return g.op("AveragePool", x, kernel_shape=list(kernel), strides=list(stride), pads=_onnx_pads(grown),
                    count_include_pad=int(count_include_pad))
    slices = _offsets(g, _pad(g, x, grown), kernel, stride, (1, 1), out)
    total = slices[0]
    for t in slices[1:]:
        total = g.op("Add", total, t)
    divisor = _conv._divisor(shape[2:], kernel, stride, pads, out, count_include_pad, g.dtype)
    return g.op("Div", total, g.array(g._name("divisor"), divisor))


def _adaptive_avg_pool_onnx(g: _Graph, m: nn.AdaptiveAvgPool2d, x: str) -> str:
    """1 × 1: GlobalAveragePool in float32, ReduceMean over H and W in float64 (no kernel); other sizes, which
    divide the input, are average pooling by tiles, as the engine's."""
    (h, w), (oh, ow) = g.shape[2:], m.output_size
    if (oh, ow) == (1, 1):
        if g.dtype == np.float32:
            return g.op("GlobalAveragePool", x)
        return g.op("ReduceMean", x, axes=[2, 3], keepdims=1)
    return _avg_pool_nodes(g, x, g.shape, (h // oh, w // ow), None, 0, False, True)


def _flatten_onnx(g: _Graph, m: nn.Flatten, x: str) -> str:
    """Flatten(axis=1) for the usual (1, -1); else a Reshape copying the other axes (0) and merging start..end."""
    ndim = len(g.shape)
    start, end = m.start_dim % ndim, m.end_dim % ndim
    if (start, end) == (1, ndim - 1):
        return g.op("Flatten", x, axis=1)
    if start == 0:
        raise ExportError(f"cannot export Flatten{_where(g.scope)} with start_dim=0 to ONNX: it merges the batch "
                          f"axis, which the file leaves free")
    merged = int(np.prod(g.shape[start:end + 1]))
    return g.op("Reshape", x, g.ints(*([0] * start), merged, *([0] * (ndim - end - 1))))


def _batch_norm_onnx(g: _Graph, m: Any, x: str) -> str:
    """Eval mode. With running statistics: ONNX's BatchNormalization in float32; in float64 its arithmetic,
    (x - mean) / √(var + eps) · weight + bias, as the layer computes it (the op's epsilon is a float32
    attribute: 1e-5 rounded moves the result by 1e-13). Without them, the batch's mean and biased variance."""
    c = m.num_features
    if m.affine:
        scale, shift = g.parameter(_key(g, "weight"), m.weight), g.parameter(_key(g, "bias"), m.bias)
    else:
        scale, shift = g.array(g._name("ones"), np.ones(c)), g.array(g._name("zeros"), np.zeros(c))
    if m.track_running_stats:
        mean, var = g.parameter(_key(g, "running_mean"), m.running_mean), g.parameter(_key(g, "running_var"), m.running_var)
        if g.dtype == np.float32:
            return g.op("BatchNormalization", x, scale, shift, mean, var, epsilon=m.eps)
    channel = g.ints(1, c, *([1] * (len(g.shape) - 2)))  # (1, C, 1, ...): one value per channel, broadcast
    if m.track_running_stats:
        centred, var = g.op("Sub", x, g.op("Reshape", mean, channel)), g.op("Reshape", var, channel)
    else:
        axes = [0] + list(range(2, len(g.shape)))
        centred = g.op("Sub", x, g.op("ReduceMean", x, axes=axes, keepdims=1))
        var = g.op("ReduceMean", g.op("Mul", centred, centred), axes=axes, keepdims=1)
    y = g.op("Div", centred, g.op("Sqrt", g.op("Add", var, g.const(m.eps))))
    return g.op("Add", g.op("Mul", y, g.op("Reshape", scale, channel)), g.op("Reshape", shift, channel))


class _Images(nn.Module):
    """LeNet5's first step, as a leaf of the export: rows (N, C·S·S) reshaped to images (N, C, S, S)."""

    def __init__(self, model: nn.LeNet5) -> None:
        super().__init__()
        self.channels, self.size = model.in_channels, model.image_size

    def forward(self, x: Any) -> Any:
        return x.reshape(x.shape[0], self.channels, self.size, self.size)


# ---------------------------------------------------------------------------------------------------------------
# The converters: one entry per class
# ---------------------------------------------------------------------------------------------------------------

OnnxBuilder = Callable[[_Graph, Any, str], str]


@dataclass(frozen=True)
class Converter:
    """How one tinygrad_edu class crosses over.

    torch: the torch.nn class name (None: PyTorch has none, `why_not` says so); settings: (tinygrad_edu's
    attribute, PyTorch's constructor argument and attribute) pairs; onnx(graph, module, x) -> y adds its nodes
    (graph.scope is the module's path in the model, graph.shape its input's); to_torch_args and from_torch_args
    replace `settings` where the arguments are not attributes of the same name (from_torch_args raises
    ExportError for a torch setting tinygrad_edu has not); refuse(module) names a setting that cannot go."""

    torch: str | None
    onnx: OnnxBuilder
    settings: tuple[tuple[str, str], ...] = ()
    why_not: str = ""
    to_torch_args: Callable[[Any], dict[str, Any]] | None = field(default=None)
    from_torch_args: Callable[[Any], dict[str, Any]] | None = field(default=None)
    refuse: Callable[[Any], str] | None = field(default=None)  # why this instance cannot go ("" if it can)


def _unary(op_type: str) -> OnnxBuilder:
    return lambda g, m, x: g.op(op_type, x)


def _linear_from_torch(t: Any) -> dict[str, Any]:
    return {"in_features": t.in_features, "out_features": t.out_features, "bias": t.bias is not None,
            "dtype": str(t.weight.dtype).removeprefix("torch.")}


def _torch_dtype(*tensors: Any) -> str:
    """The numpy name of the first tensor's dtype that is not None (float32 when all are)."""
    return next((str(t.dtype).removeprefix("torch.") for t in tensors if t is not None), "float32")


def _conv_to_torch(m: Any) -> dict[str, Any]:
    return {"in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": m.kernel_size,
            "stride": m.stride, "padding": m.padding, "dilation": m.dilation, "groups": m.groups,
            "bias": m.bias is not None}


def _conv_from_torch(t: Any) -> dict[str, Any]:
    if t.padding_mode != "zeros":
        raise ExportError(f"cannot convert torch's {type(t).__name__} with padding_mode={t.padding_mode!r}: "
                          f"tinygrad_edu pads with zeros only")
    return {**_conv_to_torch(t), "dtype": _torch_dtype(t.weight)}


def _avg_pool_from_torch(t: Any) -> dict[str, Any]:
    if t.divisor_override is not None:
        raise ExportError("cannot convert torch's AvgPool2d with divisor_override: tinygrad_edu's divides by each "
                          "window's count")
    return {"kernel_size": t.kernel_size, "stride": t.stride, "padding": t.padding, "ceil_mode": t.ceil_mode,
            "count_include_pad": t.count_include_pad}


_BATCH_NORM_SETTINGS = tuple((k, k) for k in ("num_features", "eps", "momentum", "affine", "track_running_stats"))


def _batch_norm_from_torch(t: Any) -> dict[str, Any]:
    return {k: getattr(t, k) for k, _ in _BATCH_NORM_SETTINGS} | {"dtype": _torch_dtype(t.weight, t.running_mean)}


CONVERTERS: dict[type[nn.Module], Converter] = {
    nn.Linear: Converter(
        "Linear", _linear_onnx, from_torch_args=_linear_from_torch,
        to_torch_args=lambda m: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None}),
    nn.Identity: Converter("Identity", lambda g, m, x: x),
    nn.Sigmoid: Converter("Sigmoid", _unary("Sigmoid")),
    nn.ReLU: Converter("ReLU", _unary("Relu")),
    nn.Tanh: Converter("Tanh", _unary("Tanh")),
    nn.Heaviside: Converter(
        None, lambda g, m, x: g.op("Cast", g.op("Greater", x, g.const(0.0)), to=_onnx_type(g.dtype)),
        why_not="torch.nn has no step module (torch.heaviside is a function) and its derivative is 0 everywhere"),
    nn.Softmax: Converter("Softmax", lambda g, m, x: g.op("Softmax", x, axis=m.axis), (("axis", "dim"),)),
    nn.LogSoftmax: Converter("LogSoftmax", lambda g, m, x: g.op("LogSoftmax", x, axis=m.axis), (("axis", "dim"),)),
    nn.LeakyReLU: Converter(
        "LeakyReLU",
        lambda g, m, x: g.op("Where", g.op("Greater", x, g.const(0.0)), x, g.op("Mul", x, g.const(m.negative_slope))),
        (("negative_slope", "negative_slope"),)),
    nn.ELU: Converter("ELU", lambda g, m, x: _elu(g, x, m.alpha), (("alpha", "alpha"),)),
    nn.SELU: Converter("SELU", lambda g, m, x: g.op("Mul", g.const(SELU_SCALE), _elu(g, x, SELU_ALPHA))),
    nn.GELU: Converter("GELU", lambda g, m, x: _gelu(g, x, m.approximate), (("approximate", "approximate"),)),
    nn.SiLU: Converter("SiLU", lambda g, m, x: g.op("Mul", x, g.op("Sigmoid", x))),
    nn.Softplus: Converter("Softplus", lambda g, m, x: _softplus_with(g, x, m.beta, m.threshold),
                           (("beta", "beta"), ("threshold", "threshold"))),
    nn.Softsign: Converter("Softsign", lambda g, m, x: g.op("Div", x, g.op("Add", g.const(1.0), g.op("Abs", x)))),
    nn.Hardtanh: Converter("Hardtanh", lambda g, m, x: _clip(g, x, m.min_val, m.max_val),
                           (("min_val", "min_val"), ("max_val", "max_val"))),
    nn.ReLU6: Converter("ReLU6", lambda g, m, x: _clip(g, x, 0.0, 6.0)),
    nn.Hardsigmoid: Converter(
        "Hardsigmoid", lambda g, m, x: _clip(g, g.op("Add", g.op("Div", x, g.const(6.0)), g.const(0.5)), 0.0, 1.0)),
    nn.LogSigmoid: Converter("LogSigmoid", lambda g, m, x: g.op("Neg", _softplus(g, g.op("Neg", x)))),
    nn.Mish: Converter("Mish", lambda g, m, x: g.op("Mul", x, g.op("Tanh", _softplus(g, x)))),
    nn.Conv2d: Converter("Conv2d", _conv2d_onnx, to_torch_args=_conv_to_torch, from_torch_args=_conv_from_torch),
    nn.Conv1d: Converter("Conv1d", _conv1d_onnx, to_torch_args=_conv_to_torch, from_torch_args=_conv_from_torch),
    nn.MaxPool2d: Converter(
        "MaxPool2d", _max_pool_onnx, tuple((k, k) for k in ("kernel_size", "stride", "padding", "dilation",
                                                            "return_indices", "ceil_mode")),
        refuse=lambda m: "return_indices=True makes it return (output, indices), which a Sequential cannot pass "
                         "on" if m.return_indices else ""),
    nn.AvgPool2d: Converter(
        "AvgPool2d", lambda g, m, x: _avg_pool_nodes(g, x, g.shape, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                                                     m.count_include_pad),
        tuple((k, k) for k in ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")),
        from_torch_args=_avg_pool_from_torch),
    nn.AdaptiveAvgPool2d: Converter("AdaptiveAvgPool2d", _adaptive_avg_pool_onnx, (("output_size", "output_size"),)),
    nn.Flatten: Converter("Flatten", _flatten_onnx, (("start_dim", "start_dim"), ("end_dim", "end_dim"))),
    nn.Dropout: Converter("Dropout", lambda g, m, x: x, (("p", "p"),)),  # eval mode: the identity
    nn.BatchNorm1d: Converter("BatchNorm1d", _batch_norm_onnx, _BATCH_NORM_SETTINGS,
                              from_torch_args=_batch_norm_from_torch),
    nn.BatchNorm2d: Converter("BatchNorm2d", _batch_norm_onnx, _BATCH_NORM_SETTINGS,
                              from_torch_args=_batch_norm_from_torch),
    _Images: Converter(None, lambda g, m, x: g.op("Reshape", x, g.ints(-1, m.channels, m.size, m.size)),
                       why_not="it is LeNet5's own reshape of rows to images"),
}

#: Classes of nn refused by name, with the reason.
REFUSED: dict[type[nn.Module], str] = {
    nn.Perceptron: "it outputs the one-hot of an argmax and learns by its own rule, not by gradients, so no "
                   "converter is written for it; its weight and bias are those of an nn.Linear(n_features, "
                   "n_classes), whose argmax predicts the same class",
}


def _onnx_type(dtype: np.dtype) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _where(path: str) -> str:
    return f" (at {path!r})" if path else ""


def _converter(module: nn.Module, path: str) -> Converter:
    cls = type(module)
    if cls in REFUSED:
        raise ExportError(f"cannot export {cls.__name__}{_where(path)}: {REFUSED[cls]}")
    if cls not in CONVERTERS:
        known = ", ".join(sorted(c.__name__ for c in CONVERTERS if c is not _Images)) + ", LeNet5, MLP, Sequential"
        raise ExportError(f"cannot export {cls.__name__}{_where(path)}: the export knows {known} "
                          f"(tinygrad_edu.export.CONVERTERS: one entry a class)")
    conv = CONVERTERS[cls]
    why = conv.refuse(module) if conv.refuse else ""
    if why:
        raise ExportError(f"cannot export {cls.__name__}{_where(path)}: {why}")
    return conv


def check(model: nn.Module) -> None:
    """Raise ExportError naming the first module of `model` that the export cannot carry (to ONNX; to_torch
    also refuses what torch.nn has not)."""
    list(_walk(model))


def _walk(model: nn.Module, path: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The leaf modules of `model` in the order forward calls them, with their paths; containers opened."""
    if isinstance(model, nn.MLP):
        yield from _walk(model.layers, f"{path}.layers" if path else "layers")
    elif type(model) is nn.LeNet5:
        yield path, _Images(model)
        for name in ("features", "classifier"):
            yield from _walk(getattr(model, name), f"{path}.{name}" if path else name)
    elif type(model) is nn.Sequential:
        for name, child in model._modules.items():
            if child is None:
                raise ExportError(f"cannot export the Sequential{_where(path)}: its child {name!r} is None")
            yield from _walk(child, f"{path}.{name}" if path else name)
    else:
        _converter(model, path)
        yield path, model


def _model_dtype(model: nn.Module, fallback: Any = None) -> np.dtype:
    """The one float dtype of the model's parameters and buffers (`fallback` when it has none)."""
    # BatchNorm's num_batches_tracked is an int64 counter: the floating buffers only
    dtypes = {p.dtype for p in model.parameters()} | {b.dtype for b in model.buffers() if b.dtype.kind == "f"}
    if not dtypes and fallback is not None:
        dtypes = {np.dtype(fallback)}
    if len(dtypes) != 1:
        raise ExportError("cannot export a model whose parameters mix dtypes: " + ", ".join(sorted(d.name for d in dtypes))
                          if dtypes else "cannot tell the model's dtype: it has no parameters and the example input is not "
                          "floating-point")
    (dtype,) = dtypes
    if dtype.name not in _DTYPES:
        raise ExportError(f"cannot export a {dtype.name} model: the export writes float32 and float64")
    return dtype


# ---------------------------------------------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError("this needs PyTorch: install it (https://pytorch.org, e.g. pip install torch)") from None
    return torch


def state_dict_to_torch(state: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """A tinygrad_edu state_dict (numpy arrays) as torch tensors under the same keys, for torch's load_state_dict."""
    torch = _torch()
    return OrderedDict((k, torch.from_numpy(np.array(v.data if isinstance(v, Tensor) else v))) for k, v in state.items())


def state_dict_from_torch(state: Mapping[str, Any]) -> OrderedDict[str, np.ndarray]:
    """A torch state_dict as numpy copies under the same keys, for tinygrad_edu's load_state_dict."""
    return OrderedDict((k, v.detach().cpu().numpy().copy()) for k, v in state.items())


def to_torch(model: nn.Module) -> Any:
    """A torch.nn.Module computing what `model` computes, with copies of its weights and buffers and each
    layer's train/eval mode (see the module doc)."""
    torch = _torch()
    if not isinstance(model, nn.Module):
        raise TypeError(f"to_torch needs a tinygrad_edu nn.Module, got {type(model).__name__}")
    dtype = _model_dtype(model, np.float64)
    built: dict[int, Any] = {}  # a module used twice stays one module (shared weights) in PyTorch too

    def build(module: nn.Module, path: str) -> Any:
        if id(module) in built:
            return built[id(module)]
        if isinstance(module, nn.MLP):
            return torch.nn.Sequential(OrderedDict(layers=build(module.layers, f"{path}.layers" if path else "layers")))
        if type(module) is nn.LeNet5:  # images only, as PyTorch's convolutional networks take them
            list(_walk(module, path))
            return torch.nn.Sequential(OrderedDict(
                (name, build(getattr(module, name), f"{path}.{name}" if path else name))
                for name in ("features", "classifier")))
        if type(module) is nn.Sequential:
            list(_walk(module, path))  # every refusal before anything is built
            return torch.nn.Sequential(OrderedDict(
                (name, build(child, f"{path}.{name}" if path else name)) for name, child in module._modules.items()))
        conv = _converter(module, path)
        if conv.torch is None:
            raise ExportError(f"cannot convert {type(module).__name__}{_where(path)} to PyTorch: {conv.why_not}")
        args = conv.to_torch_args(module) if conv.to_torch_args else {t: getattr(module, ours) for ours, t in conv.settings}
        built[id(module)] = getattr(torch.nn, conv.torch)(**args).train(module.training)
        return built[id(module)]

    out = build(model, "").to(getattr(torch, dtype.name))
    out.training = model.training  # the containers' own flag; each layer's mode is its own (built above)
    _load_shared(out, state_dict_to_torch(model.state_dict()), type(model).__name__)
    return out


def _load_shared(target: Any, state: Mapping[str, Any], what: str) -> None:
    """target.load_state_dict(state), where a module used twice is named once in `state` (tinygrad_edu's
    state_dict) or twice (PyTorch's): every key of the target must be in `state` or share its tensor with one."""
    own = target._state_tensors() if isinstance(target, nn.Module) else target.state_dict(keep_vars=True)
    loaded = {id(own[k]) for k in state if k in own}
    target.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)
    missing = [k for k, v in own.items() if k not in state and id(v) not in loaded]
    if missing:  # cannot happen for what to_torch and from_torch build; said rather than assumed
        raise ExportError(f"the converted {what} lacks values for {', '.join(missing)}")


_FROM_TORCH = {conv.torch: cls for cls, conv in CONVERTERS.items() if conv.torch is not None}


def from_torch(module: Any) -> nn.Module:
    """The tinygrad_edu model of a torch module made of the layers both have (an MLP when it has to_torch's
    MLP shape, else a Sequential with the same child names), with copies of its weights."""
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch needs a torch.nn.Module, got {type(module).__name__}")

    built: dict[int, nn.Module] = {}  # a module used twice stays one module

    def build(t: Any, path: str) -> nn.Module:
        if id(t) not in built:
            built[id(t)] = convert(t, path)
        return built[id(t)]

    def convert(t: Any, path: str) -> nn.Module:
        name = type(t).__name__
        if type(t) is torch.nn.Sequential:  # _modules: named_children() would skip a child's second use
            return nn.Sequential(OrderedDict((n, build(c, f"{path}.{n}" if path else n)) for n, c in t._modules.items()))
        if getattr(torch.nn, name, None) is not type(t) or name not in _FROM_TORCH:
            known = ", ".join(sorted(_FROM_TORCH)) + ", Sequential"
            raise ExportError(f"cannot convert torch's {name}{_where(path)} to tinygrad_edu: from_torch knows {known}")
        cls = _FROM_TORCH[name]
        conv = CONVERTERS[cls]
        args = conv.from_torch_args(t) if conv.from_torch_args else {ours: getattr(t, th) for ours, th in conv.settings}
        if any(v is None for v in args.values()) and cls not in (nn.BatchNorm1d, nn.BatchNorm2d):  # momentum
            raise ExportError(f"cannot convert torch's {name}{_where(path)}: its settings {args} include None "
                              f"(e.g. Softmax without dim); give them explicitly")
        try:
            made = cls(**args)
        except (ValueError, TypeError) as error:
            raise ExportError(f"cannot convert torch's {name}{_where(path)}: {error}") from None
        made.train(t.training)
        return made

    model = build(module, "")
    model.training = module.training
    _load_shared(model, state_dict_from_torch(module.state_dict()), type(module).__name__)
    return _as_lenet(_as_mlp(model))


def _as_lenet(model: nn.Module) -> nn.Module:
    """The LeNet5 that `model`, a Sequential(features=Sequential(...), classifier=Sequential(...)), is; else
    `model`. Its image size is the smallest that gives the classifier's input size (28 to 31 give the same
    network, MNIST's 28 is taken)."""
    if type(model) is not nn.Sequential or list(model._modules) != ["features", "classifier"]:
        return model
    features, classifier = model.features, model.classifier
    if type(features) is not nn.Sequential or type(classifier) is not nn.Sequential or len(features) != 6:
        return model
    if type(features[0]) is not nn.Conv2d or type(features[3]) is not nn.Conv2d or type(classifier[-1]) is not nn.Linear:
        return model
    names = {cls: cls.name for cls in nn.ACTIVATIONS.values()}
    if type(features[1]) not in names or type(classifier[1]) is not nn.Linear:
        return model
    pad = features[3].padding
    sizes = [s for s in range(8, 4 * int(np.sqrt(classifier[1].in_features / 16)) + 16)
             if _features(s) == classifier[1].in_features and (_second_padding(s),) * 2 == pad]
    if not sizes:
        return model
    lenet = nn.LeNet5(sizes[0], classifier[-1].out_features, features[0].in_channels, names[type(features[1])],
                      dtype=features[0].weight.dtype, generator=np.random.default_rng(0))
    if repr(lenet.features) != repr(features) or repr(lenet.classifier) != repr(classifier):
        return model
    lenet.load_state_dict(model.state_dict())
    lenet.train(model.training)
    return lenet


def _as_mlp(model: nn.Module) -> nn.Module:
    """The MLP that `model`, a Sequential(layers=Sequential(Linear, act, ..., Linear[, act])), is; else `model`.
    Dropout where MLP puts it (before the first Linear, after each hidden activation) comes back as its
    input_dropout and dropout."""
    if type(model) is not nn.Sequential or list(model._modules) != ["layers"] or type(model.layers) is not nn.Sequential:
        return model
    layers = list(model.layers._modules.values())
    input_dropout = layers[0].p if layers and type(layers[0]) is nn.Dropout else 0.0
    hidden = {m.p for m in layers[1 if input_dropout else 0:] if type(m) is nn.Dropout}
    if len(hidden) > 1:
        return model
    dropout = hidden.pop() if hidden else 0.0
    layers = [m for m in layers if type(m) is not nn.Dropout]
    linears, acts = layers[0::2], layers[1::2]
    if not linears or not all(type(m) is nn.Linear and m.bias is not None for m in linears):
        return model
    if any(type(m) not in CONVERTERS or type(m) is nn.Linear or m.get_config() != type(m)().get_config() for m in acts):
        return model  # MLP builds its activations with their defaults
    hidden = {type(m) for m in acts[: len(linears) - 1]}
    if len(acts) not in (len(linears) - 1, len(linears)) or len(hidden) > 1:
        return model
    if len(acts) == len(linears) and type(acts[-1]) is nn.Identity:
        return model  # MLP writes no module for an identity output
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    if any(a.out_features != b.in_features for a, b in zip(linears, linears[1:])):
        return model
    if len({m.weight.dtype for m in linears}) != 1:
        return model
    names = {cls: cls.name for cls in nn.ACTIVATIONS.values()}
    activation = names[type(acts[0])] if len(linears) > 1 else "identity"
    output = names[type(acts[-1])] if len(acts) == len(linears) else "identity"
    if len(linears) == 1:
        activation = output
    mlp = nn.MLP(sizes, activation, output, dtype=linears[0].weight.dtype, generator=np.random.default_rng(0),
                 dropout=dropout, input_dropout=input_dropout)
    if [n for n, _ in mlp.named_parameters()] != [n for n, _ in model.named_parameters()] or \
            [type(m) for m in mlp.layers] != [type(m) for m in model.layers]:  # the dropouts where MLP puts them
        return model
    mlp.load_state_dict(model.state_dict())
    for ours, theirs in zip([mlp, mlp.layers, *mlp.layers], [model, model.layers, *model.layers]):
        ours.training = theirs.training
    return mlp


def save_torch(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """`to_torch(model)` saved with torch.save, atomically; read it with torch.load(path, weights_only=False)."""
    torch = _torch()
    module = to_torch(model)
    path = Path(path)
    with atomic_writer(path) as f:
        torch.save(module, f)
    return path


# ---------------------------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------------------------


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install 'tinygrad-edu[export]'") from None
    return onnx


def describe(model: nn.Module) -> str:
    """A few words for messages: "64-300-10 sigmoid MLP", or the class name."""
    if isinstance(model, nn.MLP):
        return f"{'-'.join(map(str, model.sizes))} {model.activation} MLP"
    if isinstance(model, nn.LeNet5):
        return f"{'-'.join(map(str, model.sizes))} {model.activation} LeNet-5"
    return type(model).__name__


def to_onnx(model: nn.Module, path: str | os.PathLike[str], example_input: Any) -> Path:
    """Write `model` as an ONNX file (opset OPSET) checked by onnx.checker, atomically; returns the path.

    `example_input` (an array or Tensor of shape (N, ...)) fixes the input's shape except the batch size
    (left free: the input "input" has shape ("batch", ...), the output "output" likewise) and is run through
    the model once, in eval mode, to check it fits (the file computes eval mode; the model's modes and running
    statistics are left as they were)."""
    onnx = _onnx()
    from onnx import helper

    if not isinstance(model, nn.Module):
        raise TypeError(f"to_onnx needs a tinygrad_edu nn.Module, got {type(model).__name__}")
    leaves = list(_walk(model))  # every refusal before anything is run or written
    example = np.asarray(example_input.data if isinstance(example_input, Tensor) else example_input)
    dtype = _model_dtype(model, example.dtype if example.dtype.kind == "f" else None)
    if example.ndim < 2:
        raise ExportError(f"example_input must have a batch axis first, shape (N, ...); got shape {example.shape}")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()  # what the file computes; and BatchNorm's running statistics stay as they are
    try:
        with no_grad():
            out = model(example.astype(dtype))
            shapes, value = [], example.astype(dtype)
            for _, leaf in leaves:  # each layer's input shape, for the nodes that need it (pads, slices)
                shapes.append(np.shape(value))
                value = leaf(value)
    except (ValueError, TypeError) as e:
        raise ExportError(f"the model cannot run on example_input of shape {example.shape}: {e}") from None
    finally:
        for m, mode in modes:
            m.training = mode
    out_shape = np.shape(out.data if isinstance(out, Tensor) else out)

    g = _Graph(dtype)
    x = "input"
    for (leaf_path, leaf), shape in zip(leaves, shapes):
        g.scope, g.shape = leaf_path, shape
        x = CONVERTERS[type(leaf)].onnx(g, leaf, x)
    g.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))
    elem = _onnx_type(dtype)
    graph = helper.make_graph(
        g.nodes, describe(model),
        [helper.make_tensor_value_info("input", elem, ["batch", *example.shape[1:]])],
        [helper.make_tensor_value_info("output", elem, ["batch", *out_shape[1:]])],
        initializer=g.initializers)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="tinygrad_edu")
    onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    with atomic_writer(path) as f:
        f.write(proto.SerializeToString())
    return path
