"""Layers: `Linear`, the activation modules and their registry, and the chapter's network `MLP`.

Initialisations of `Linear` (`init=`), for fan_in = in_features, fan_out = out_features:
  "pytorch"          W, b ~ U(-1/√fan_in, 1/√fan_in)            PyTorch's default for nn.Linear
  "xavier"/"glorot"  W ~ U(-√(6/(fan_in+fan_out)), +√(...)), b = 0  keeps the variance of activations and
                                                                   gradients ~constant for sigmoid/tanh
  "he"/"kaiming"     W ~ N(0, 2/fan_in), b = 0                       the same for relu (which halves it)
  "normal"           W, b ~ N(0, 1)                                  Nielsen's book; saturates wide sigmoid layers
  "zeros"            W = 0, b = 0                                    (all units stay identical: tests only)
  a callable         W = init((out, in), generator), b = 0
`Linear` defaults to "pytorch"; `MLP` picks per hidden activation: xavier for sigmoid/tanh, he for relu,
pytorch otherwise. Random draws come from `generator`, or else from the engine's generator (seeded with
`tg.manual_seed`), read when the layer is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import creation
from .. import functional as F
from ..engine.tensor import Tensor
from .module import Module, Parameter, Sequential

__all__ = [
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "INITS",
    "MLP",
    "Hardsigmoid",
    "Hardtanh",
    "Heaviside",
    "Identity",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "Softsign",
    "Tanh",
    "activation",
    "activation_name",
    "init_weight",
]

InitLike = str | Callable[[tuple[int, int], np.random.Generator], Any]

INITS = ("pytorch", "xavier", "glorot", "he", "kaiming", "normal", "zeros")


def _generator(generator: np.random.Generator | None) -> np.random.Generator:
    return generator if generator is not None else creation.default_generator()


def init_weight(
    shape: tuple[int, int], init: InitLike, generator: np.random.Generator | None = None, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) arrays for a Linear layer of `shape` = (out_features, in_features), see the module doc."""
    out_f, in_f = shape
    rng = _generator(generator)
    zeros = np.zeros(out_f)
    if callable(init):
        w = np.asarray(init(shape, rng))
        if w.shape != shape:
            raise ValueError(f"the init function returned a weight of shape {w.shape}, expected {shape}")
        return w.astype(dtype), zeros.astype(dtype)
    scheme = str(init).lower()
    if scheme == "pytorch":
        bound = 1 / np.sqrt(in_f) if in_f else 0.0
        w, b = rng.uniform(-bound, bound, shape), rng.uniform(-bound, bound, out_f)
    elif scheme in ("xavier", "glorot"):
        bound = np.sqrt(6 / (in_f + out_f)) if in_f + out_f else 0.0
        w, b = rng.uniform(-bound, bound, shape), zeros
    elif scheme in ("he", "kaiming"):
        w, b = rng.standard_normal(shape) * (np.sqrt(2 / in_f) if in_f else 0.0), zeros
    elif scheme == "normal":
        w, b = rng.standard_normal(shape), rng.standard_normal(out_f)
    elif scheme == "zeros":
        w, b = np.zeros(shape), zeros
    else:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}, or pass a function (shape, rng) -> array")
    return w.astype(dtype), b.astype(dtype)


def _as_input(x: Any, dtype: np.dtype) -> Tensor:
    """Layers accept numpy arrays too: they become constant tensors of the layer's dtype."""
    if isinstance(x, Tensor):
        return x
    return Tensor._wrap(np.asarray(x, dtype=dtype))


class Linear(Module):
    """y = x Wᵀ + b with PyTorch's layout: `weight` (out_features, in_features), `bias` (out_features,).

    x has shape (..., in_features), usually (N, in_features) with one sample per row; y (..., out_features).
    In the chapter's notation W^l = [weight | bias] and z^l = W^l [a^{l-1}; 1] for one sample (a column).
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, init: InitLike = "pytorch",
        dtype: Any = np.float64, generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be a float dtype (float32 or float64), got {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init if callable(init) else str(init).lower()
        w, b = init_weight((self.out_features, self.in_features), init, generator, dtype)
        self.weight = Parameter(w)
        if bias:
            self.bias = Parameter(b)
        else:
            self.register_parameter("bias", None)

    def reset_parameters(self, init: InitLike | None = None, generator: np.random.Generator | None = None) -> None:
        """Draw new values in place (the same Parameter objects, so optimizers keep them)."""
        w, b = init_weight(self.weight.shape, self.init if init is None else init, generator, self.weight.dtype)
        self.load_state_dict({"weight": w, **({"bias": b} if self.bias is not None else {})})

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs of shape (..., {self.in_features}) "
                f"(one sample per row), got {x.shape}"
            )
        y = x @ self.weight.mT
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None,
                "dtype": self.weight.dtype.name}


# ---------------------------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------------------------


class _Activation(Module):
    name = ""

    def get_config(self) -> dict[str, Any]:
        return {}


class Sigmoid(_Activation):
    """σ(z) = 1/(1 + e^(-z)), σ' = σ(1 - σ): the chapter's activation."""

    name = "sigmoid"

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class ReLU(_Activation):
    """max(z, 0) (eq. 96)."""

    name = "relu"

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Tanh(_Activation):
    name = "tanh"

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Identity(_Activation):
    """z ↦ z: a linear output layer."""

    name = "identity"

    def forward(self, x: Any) -> Any:
        return x


class Heaviside(_Activation):
    """The step of eq. (94): 1 if z > 0 else 0 (its derivative is 0: it cannot be trained by gradients)."""

    name = "heaviside"

    def forward(self, x: Any) -> Tensor:
        return F.heaviside(x)


class Softmax(_Activation):
    """e^{z_k} / Σ_j e^{z_j} along `axis` (computed stably)."""

    name = "softmax"

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class LogSoftmax(Softmax):
    """log softmax along `axis`: the input nll_loss expects (log-probabilities)."""

    name = "log_softmax"

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, axis=self.axis)


class _Elementwise(_Activation):
    """An activation without settings: forward is `function` (a tg.functional one)."""

    function: Callable[[Any], Tensor]

    def forward(self, x: Any) -> Tensor:
        return type(self).function(x)


class SELU(_Elementwise):
    """scale·elu(z, alpha), scale ≈ 1.0507 and alpha ≈ 1.6733 (self-normalising)."""

    name, function = "selu", staticmethod(F.selu)


class SiLU(_Elementwise):
    """z·σ(z) (swish)."""

    name, function = "silu", staticmethod(F.silu)


class Mish(_Elementwise):
    """z·tanh(softplus(z))."""

    name, function = "mish", staticmethod(F.mish)


class Softsign(_Elementwise):
    """z / (1 + |z|)."""

    name, function = "softsign", staticmethod(F.softsign)


class ReLU6(_Elementwise):
    """min(max(z, 0), 6); derivative 0 at 0 and at 6."""

    name, function = "relu6", staticmethod(F.relu6)


class Hardsigmoid(_Elementwise):
    """z/6 + 1/2 clipped to [0, 1]; derivative 0 at ±3."""

    name, function = "hardsigmoid", staticmethod(F.hardsigmoid)


class LogSigmoid(_Elementwise):
    """log σ(z) = -softplus(-z), finite for every z."""

    name, function = "logsigmoid", staticmethod(F.logsigmoid)


class _WithSettings(_Activation):
    """An activation with settings (PyTorch's argument names): `settings` lists them, in order; forward calls
    `function(x, **settings)`; get_config and repr show them."""

    function: Callable[..., Tensor]
    settings: tuple[str, ...] = ()

    def forward(self, x: Any) -> Tensor:
        return type(self).function(x, **self.get_config())

    def get_config(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.settings}

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())


class LeakyReLU(_WithSettings):
    """z if z > 0 else negative_slope·z."""

    name, function, settings = "leaky_relu", staticmethod(F.leaky_relu), ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)


class ELU(_WithSettings):
    """z if z > 0 else alpha·(e^z - 1)."""

    name, function, settings = "elu", staticmethod(F.elu), ("alpha",)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = float(alpha)


class GELU(_WithSettings):
    """z·Φ(z) (Φ the normal CDF, by erf); approximate="tanh" for the tanh formula."""

    name, function, settings = "gelu", staticmethod(F.gelu), ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate


class Softplus(_WithSettings):
    """log(1 + e^(beta·z))/beta, and z where beta·z > threshold."""

    name, function, settings = "softplus", staticmethod(F.softplus), ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)


class Hardtanh(_WithSettings):
    """z clipped to [min_val, max_val]; derivative 0 at the corners."""

    name, function, settings = "hardtanh", staticmethod(F.hardtanh), ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        super().__init__()
        if not min_val <= max_val:
            raise ValueError(f"Hardtanh: min_val must be <= max_val, got min_val={min_val}, max_val={max_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)


ACTIVATIONS: dict[str, type[_Activation]] = {
    cls.name: cls for cls in (Sigmoid, ReLU, Tanh, Identity, Heaviside, Softmax, LogSoftmax, LeakyReLU, ELU, SELU,
                              GELU, SiLU, Softplus, Softsign, Hardtanh, ReLU6, Hardsigmoid, LogSigmoid, Mish)
}
_ALIASES = {"linear": "identity", "none": "identity", "step": "heaviside", "logistic": "sigmoid", "swish": "silu",
            "leakyrelu": "leaky_relu", "log_sigmoid": "logsigmoid"}


def _canonical_name(name: str, registry: Mapping[str, Any], aliases: Mapping[str, str], what: str) -> str:
    """The key of `registry` that `name` or its alias names (case-insensitive); a ValueError lists them."""
    key = str(name).lower() if isinstance(name, str) else name
    key = aliases.get(key, key)
    if key not in registry:
        valid = ", ".join(repr(n) for n in registry)
        raise ValueError(f"unknown {what} {name!r}; valid names: {valid} (aliases: {', '.join(aliases)})")
    return key


def activation_name(name: str) -> str:
    """The canonical name (a key of ACTIVATIONS: "sigmoid", "relu", "gelu", ...) of `name` or an alias."""
    return _canonical_name(name, ACTIVATIONS, _ALIASES, "activation")


def activation(name: str, **settings: Any) -> _Activation:
    """A new activation module by name: activation("relu") -> ReLU(), activation("gelu", approximate="tanh")."""
    return ACTIVATIONS[activation_name(name)](**settings)


# ---------------------------------------------------------------------------------------------------------------
# The chapter's network
# ---------------------------------------------------------------------------------------------------------------


def _default_init(hidden: str) -> str:
    return {"sigmoid": "xavier", "tanh": "xavier", "relu": "he"}.get(hidden, "pytorch")


def predict_classes(model: Module, x: Any) -> np.ndarray:
    """argmax of `model(x)` over the last axis, in eval mode and without a graph, the mode restored after."""
    from ..engine.tensor import no_grad

    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(x)
    finally:
        model.train(was_training)
    return np.argmax(out.data, axis=-1)


class MLP(Module):
    """A fully connected network: sizes = [n_0, n_1, ..., n_L], e.g. [784, 30, 10].

    Layer l computes z^l = a^{l-1} W^lᵀ + b^l and a^l = σ(z^l), with σ = `activation` in hidden layers and
    `output_activation` in the last one: None means the same as the hidden ones (the chapter: sigmoid
    everywhere), "identity" a linear output (logits, for cross-entropy).

    Layout: `layers` is a Sequential (Linear, act, Linear, act, ..., Linear[, output act]) so parameters are
    named layers.0.weight, layers.0.bias, layers.2.weight, ...; an identity output adds no module.
    `linears` lists the Linear layers in order (linears[l-1] holds the chapter's W^l).
    `init` defaults by hidden activation (xavier for sigmoid/tanh, he for relu), see layers.py.
    `dropout` > 0 adds an nn.Dropout after every hidden activation, `input_dropout` > 0 one before the first
    layer (Srivastava et al. 2014 used 0.5 and 0.2), their masks drawn from `generator` as the weights are; the
    parameters' names then follow the modules' positions.
    """

    def __init__(
        self, sizes: Sequence[int], activation: str = "sigmoid", output_activation: str | None = None,
        dtype: Any = np.float64, generator: np.random.Generator | None = None, init: InitLike | None = None,
        dropout: float = 0.0, input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in sizes):
            raise ValueError(
                f"MLP: sizes must list at least two positive integers [n_0 (inputs), ..., n_L (outputs)], got {sizes!r}"
            )
        self.sizes = [int(n) for n in sizes]
        self.activation = activation_name(activation)
        self.output_activation = self.activation if output_activation is None else activation_name(output_activation)
        self.dtype = np.dtype(dtype)
        self.init = _default_init(self.activation) if init is None else (init if callable(init) else str(init).lower())
        rng = _generator(generator)
        from .regularization import Dropout  # (regularization.py imports this file)

        self.dropout, self.input_dropout = float(dropout), float(input_dropout)
        # the masks come from `generator` too, so a seeded MLP trains the same way every time; without one, from
        # the default generator of the moment (tg.manual_seed after building still applies)
        modules: list[Module] = [Dropout(self.input_dropout, generator=generator)] if self.input_dropout else []
        L = len(self.sizes) - 1
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            modules.append(Linear(n_in, n_out, init=self.init, dtype=self.dtype, generator=rng))
            act = self.activation if l < L else self.output_activation
            if l < L or act != "identity":
                modules.append(ACTIVATIONS[act]())
            if l < L and self.dropout:
                modules.append(Dropout(self.dropout, generator=generator))
        self.layers = Sequential(*modules)

    @property
    def linears(self) -> list[Linear]:
        """The Linear layers in order: linears[l-1] is layer l (weight (n_l, n_{l-1}), bias (n_l,))."""
        return [m for m in self.layers if isinstance(m, Linear)]

    def forward(self, x: Any) -> Tensor:
        return self.layers(_as_input(x, self.dtype))

    def predict(self, x: Any) -> np.ndarray:
        """Class indices (argmax of the outputs), computed in eval mode (no dropout) without recording a graph;
        the mode is restored after."""
        return predict_classes(self, x)

    def extra_repr(self) -> str:
        dropout = "".join(f", {name}={value}" for name, value in (("dropout", self.dropout),
                                                                  ("input_dropout", self.input_dropout)) if value)
        return (f"sizes={self.sizes}, activation={self.activation!r}, output_activation={self.output_activation!r}"
                + dropout)

    def get_config(self) -> dict[str, Any]:
        config = {"sizes": self.sizes, "activation": self.activation, "output_activation": self.output_activation,
                  "dtype": self.dtype.name, "init": self.init if isinstance(self.init, str) else "pytorch"}
        config.update({name: value for name, value in (("dropout", self.dropout),
                                                       ("input_dropout", self.input_dropout)) if value})
        return config
