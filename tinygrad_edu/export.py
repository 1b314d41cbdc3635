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
ONNX's Erf in float32 and a series of positive terms in float64 (`_erf`).
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
from .engine.tensor import Tensor, no_grad
from .functional.activations import SELU_ALPHA, SELU_SCALE

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


def _linear_onnx(g: _Graph, m: nn.Linear, x: str) -> str:
    """x Wᵀ + b, W and b initializers named by their state_dict keys."""
    key = f"{g.scope}." if g.scope else ""
    y = g.op("MatMul", x, g.op("Transpose", g.parameter(key + "weight", m.weight)))
    return y if m.bias is None else g.op("Add", y, g.parameter(key + "bias", m.bias))


# ---------------------------------------------------------------------------------------------------------------
# The converters: one entry per class
# ---------------------------------------------------------------------------------------------------------------

OnnxBuilder = Callable[[_Graph, Any, str], str]


@dataclass(frozen=True)
class Converter:
    """How one tinygrad_edu class crosses over.

    torch: the torch.nn class name (None: PyTorch has none, `why_not` says so); settings: (tinygrad_edu's
    attribute, PyTorch's constructor argument and attribute) pairs; onnx(graph, module, x) -> y adds its nodes
    (graph.scope is the module's path in the model); to_torch_args and from_torch_args replace `settings` where the
    arguments are not attributes of the same name."""

    torch: str | None
    onnx: OnnxBuilder
    settings: tuple[tuple[str, str], ...] = ()
    why_not: str = ""
    to_torch_args: Callable[[Any], dict[str, Any]] | None = field(default=None)
    from_torch_args: Callable[[Any], dict[str, Any]] | None = field(default=None)


def _unary(op_type: str) -> OnnxBuilder:
    return lambda g, m, x: g.op(op_type, x)


def _linear_from_torch(t: Any) -> dict[str, Any]:
    return {"in_features": t.in_features, "out_features": t.out_features, "bias": t.bias is not None,
            "dtype": str(t.weight.dtype).removeprefix("torch.")}


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
}

#: Classes of nn refused by name, with the reason.
REFUSED: dict[type[nn.Module], str] = {
    nn.Perceptron: "it outputs the one-hot of an argmax and learns by its own rule, not by gradients, so no "
                   "converter is written for it; its weight and bias are those of an nn.Linear(n_features, "
                   "n_classes), whose argmax predicts the same class",
}
_NOT_YET = ("it is not exported yet: the convolution, pooling, dropout and batch-norm layers are newer than the "
            "export; each needs one CONVERTERS entry (ONNX's Conv, MaxPool, AveragePool, GlobalAveragePool, "
            "Flatten, BatchNormalization; dropout as the identity of eval mode)")
REFUSED.update({cls: _NOT_YET for cls in (nn.Conv1d, nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                                          nn.Flatten, nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d, nn.LeNet5)})


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
        known = ", ".join(sorted(c.__name__ for c in CONVERTERS)) + ", MLP, Sequential"
        raise ExportError(f"cannot export {cls.__name__}{_where(path)}: the export knows {known} "
                          f"(tinygrad_edu.export.CONVERTERS: one entry a class)")
    return CONVERTERS[cls]


def check(model: nn.Module) -> None:
    """Raise ExportError naming the first module of `model` that the export cannot carry (to ONNX; to_torch
    also refuses what torch.nn has not)."""
    list(_walk(model))


def _walk(model: nn.Module, path: str = "") -> Iterator[tuple[str, nn.Module]]:
    """The leaf modules of `model` in the order forward calls them, with their paths; containers opened."""
    if isinstance(model, nn.MLP):
        yield from _walk(model.layers, f"{path}.layers" if path else "layers")
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
    dtypes = {p.dtype for p in model.parameters()} | {b.dtype for b in model.buffers()}
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
    """A torch.nn.Module computing what `model` computes, with copies of its weights (see the module doc)."""
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
        if type(module) is nn.Sequential:
            list(_walk(module, path))  # every refusal before anything is built
            return torch.nn.Sequential(OrderedDict(
                (name, build(child, f"{path}.{name}" if path else name)) for name, child in module._modules.items()))
        conv = _converter(module, path)
        if conv.torch is None:
            raise ExportError(f"cannot convert {type(module).__name__}{_where(path)} to PyTorch: {conv.why_not}")
        args = conv.to_torch_args(module) if conv.to_torch_args else {t: getattr(module, ours) for ours, t in conv.settings}
        built[id(module)] = getattr(torch.nn, conv.torch)(**args)
        return built[id(module)]

    out = build(model, "").to(getattr(torch, dtype.name))
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
        if any(v is None for v in args.values()):
            raise ExportError(f"cannot convert torch's {name}{_where(path)}: its settings {args} include None "
                              f"(e.g. Softmax without dim); give them explicitly")
        return cls(**args)

    model = build(module, "")
    _load_shared(model, state_dict_from_torch(module.state_dict()), type(module).__name__)
    return _as_mlp(model)


def _as_mlp(model: nn.Module) -> nn.Module:
    """The MLP that `model`, a Sequential(layers=Sequential(Linear, act, ..., Linear[, act])), is; else `model`."""
    if type(model) is not nn.Sequential or list(model._modules) != ["layers"] or type(model.layers) is not nn.Sequential:
        return model
    layers = list(model.layers._modules.values())
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
    mlp = nn.MLP(sizes, activation, output, dtype=linears[0].weight.dtype, generator=np.random.default_rng(0))
    if [n for n, _ in mlp.named_parameters()] != [n for n, _ in model.named_parameters()]:
        return model
    mlp.load_state_dict(model.state_dict())
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
    return type(model).__name__


def to_onnx(model: nn.Module, path: str | os.PathLike[str], example_input: Any) -> Path:
    """Write `model` as an ONNX file (opset OPSET) checked by onnx.checker, atomically; returns the path.

    `example_input` (an array or Tensor of shape (N, ...)) fixes the input's shape except the batch size
    (left free: the input "input" has shape ("batch", ...), the output "output" likewise) and is run through
    the model once to check it fits."""
    onnx = _onnx()
    from onnx import helper

    if not isinstance(model, nn.Module):
        raise TypeError(f"to_onnx needs a tinygrad_edu nn.Module, got {type(model).__name__}")
    leaves = list(_walk(model))  # every refusal before anything is run or written
    example = np.asarray(example_input.data if isinstance(example_input, Tensor) else example_input)
    dtype = _model_dtype(model, example.dtype if example.dtype.kind == "f" else None)
    if example.ndim < 2:
        raise ExportError(f"example_input must have a batch axis first, shape (N, ...); got shape {example.shape}")
    try:
        with no_grad():
            out = model(example.astype(dtype))
    except (ValueError, TypeError) as e:
        raise ExportError(f"the model cannot run on example_input of shape {example.shape}: {e}") from None
    out_shape = np.shape(out.data if isinstance(out, Tensor) else out)

    g = _Graph(dtype)
    x = "input"
    for leaf_path, leaf in leaves:
        g.scope = leaf_path
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
