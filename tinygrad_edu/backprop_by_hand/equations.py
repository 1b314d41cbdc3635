"""Backpropagation by hand: the chapter's δ-equations written out in plain numpy.

This module is an *independent witness* for the autograd engine. It imports nothing but numpy and the
standard library, and spells out the equations of the chapter "Training a neural network: backpropagation"
(eqs. 104–120), so that a checker can compare them with automatic differentiation.

Notation (the chapter's: one sample, column vectors, bias absorbed in W)
-----------------------------------------------------------------------
    a^0 = x,    ã^{l-1} = [a^{l-1}; 1],    z^l = W^l ã^{l-1},    a^l = σ(z^l),    l = 1, ..., L.

W^l has shape n_l × (n_{l-1}+1): n_l units in layer l, one column per unit of layer l-1, and a last column
holding the bias. δ^l = ∂C/∂z^l is a *row* vector (numerator layout, eq. 109). For C_i = ‖y_i − a^L_i‖²:

    δ^L      = −2 (y − a^L)ᵀ Σ'(z^L)                    (eq. 111 = 120)
    δ^l      = δ^{l+1} W^{l+1}[:, :n_l] Σ'(z^l)          (eq. 117 = 119, corrected: see below)
    ∂C/∂W^l  = ã^{l-1} δ^l                               (eq. 113 = 118), shape (n_{l-1}+1) × n_l = shape of W^lᵀ

Σ'(z) = diag(σ'(z)). Multiplying a row vector by a diagonal matrix scales its entry j by σ'(z_j), so the code
uses an elementwise product and never builds the n × n matrix (the chapter's last question).

Note for teachers on eqs. (116)–(117). With the bias absorbed, z^{l+1} = W^{l+1} ã^l with ã^l = [σ(z^l); 1].
The last entry of ã^l is the constant 1, which does not depend on z^l, so

    ∂z^{l+1}/∂z^l = W^{l+1}[:, :n_l] Σ'(z^l)      (the bias column of W^{l+1} is dropped).

As printed, (116)–(117) do not even conform: W^{l+1} has n_l+1 columns while Σ'(z^l) is n_l × n_l. They are
right for a network whose biases are kept apart from W (z = W a + b).

Batch form (what the code runs): B samples as rows
---------------------------------------------------
    Ã^{l-1} = [A^{l-1}, 1]                          B × (n_{l-1}+1)
    Z^l     = Ã^{l-1} W^lᵀ,   A^l = σ(Z^l)          B × n_l
    C       = 1/B Σ_i ‖y_i − a^L_i‖²                (eq. 106 with N = B)
    Δ^L     = −(2/B) (Y − A^L) ⊙ σ'(Z^L)
    Δ^l     = (Δ^{l+1} W^{l+1}[:, :n_l]) ⊙ σ'(Z^l)
    ∂C/∂W^l = Ã^{l-1}ᵀ Δ^l                          (n_{l-1}+1) × n_l

Since C = 1/B Σ_i C_i, row i of Δ^l is δ^l_i / B and ∂C/∂W^l = 1/B Σ_i ã^{l-1}_i δ^l_i. Δ^l is exactly ∂C/∂Z^l,
the gradient an autograd engine reports for Z^l (the 1/B included).

Gradient descent, eq. (103), has a transpose: W^l ← W^l − λ (∂C/∂W^l)ᵀ. Autograd engines (PyTorch, for one)
store a weight's gradient in the weight's own shape, i.e. (∂C/∂W^l)ᵀ in the chapter's layout: transpose one
side before comparing.

Beyond the chapter: softmax output with cross-entropy (loss="ce")
-----------------------------------------------------------------
    C = −1/B Σ_i Σ_k y_ik log softmax(z^L_i)_k,    Δ^L = (softmax(Z^L) − Y) / B     (one-hot Y)

Indexing. Python lists start at 0 and the chapter's layers at 1: `Ws[l-1]` is W^l, and likewise `Z[l-1]`,
`deltas[l-1]`, `grads[l-1]` belong to layer l, but `A[l]` is A^l because A also holds A^0 = X.

All computations are done in float64; inputs are converted.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Array",
    "Activation",
    "ACTIVATIONS",
    "LOSSES",
    "activation",
    "softmax",
    "log_softmax",
    "augment",
    "augment_sample",
    "weights_from_linear",
    "linear_from_weights",
    "layer_sizes",
    # per sample (column vectors)
    "SampleForward",
    "SampleBackprop",
    "forward_sample",
    "delta_output_sample",
    "delta_hidden_sample",
    "weight_gradient_sample",
    "backprop_sample",
    # batch (rows)
    "Forward",
    "Backprop",
    "forward",
    "delta_output",
    "delta_hidden",
    "weight_gradient",
    "deltas",
    "weight_gradients",
    "cost",
    "backprop",
    "gradient_descent_step",
    # dimensions
    "shapes_table",
    "format_shapes_table",
]

Array = NDArray[np.float64]

LOSSES = ("mse", "ce")
"""Loss names: "mse" is the chapter's C = 1/B Σ‖y − a^L‖²; "ce" is softmax + cross-entropy (beyond the chapter)."""


# ---------------------------------------------------------------------------------------------------------------
# Activation functions σ and their derivatives σ'
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An elementwise activation σ with its derivative σ'.

    `sigma_prime(z, a)` receives both z and the forward value a = σ(z), so each derivative uses whichever is
    natural: σ' = a(1−a) for the sigmoid, 1−a² for tanh, while relu' needs z.
    """

    name: str
    sigma: Callable[[Array], Array]
    sigma_prime: Callable[[Array, Array], Array]
    formula: str

    def __call__(self, z: Array) -> Array:
        return self.sigma(z)

    def prime(self, z: Array, a: Array | None = None) -> Array:
        """σ'(z); pass a = σ(z) if you have it, to avoid recomputing it."""
        return self.sigma_prime(z, self.sigma(z) if a is None else a)


def _sigmoid(z: Array) -> Array:
    # 1/(1+exp(-z)) overflows in exp for z ≪ 0. With e = exp(-|z|) ≤ 1 nothing overflows:
    # σ(z) = 1/(1+e) for z ≥ 0 and σ(z) = e/(1+e) for z < 0 (multiply top and bottom by exp(z)).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _relu_prime(z: Array, a: Array) -> Array:
    # relu is not differentiable at 0; we take relu'(0) = 0 (PyTorch's convention too): z > 0 is strict.
    return (z > 0).astype(np.float64)


ACTIVATIONS: Mapping[str, Activation] = MappingProxyType(
    {
        "sigmoid": Activation(
            "sigmoid", _sigmoid, lambda z, a: a * (1.0 - a), "σ(z) = 1/(1+e^{-z}),  σ' = σ(1−σ)"
        ),
        "relu": Activation(
            "relu", lambda z: np.maximum(z, 0.0), _relu_prime, "σ(z) = max(z, 0),  σ' = 1 if z > 0 else 0"
        ),
        "tanh": Activation("tanh", np.tanh, lambda z, a: 1.0 - a * a, "σ(z) = tanh z,  σ' = 1 − tanh² z"),
        "identity": Activation(
            "identity", lambda z: np.array(z, dtype=np.float64), lambda z, a: np.ones_like(z), "σ(z) = z,  σ' = 1"
        ),
    }
)
"""The elementwise activations, by name. Softmax is not among them: it mixes the entries of z (its Jacobian is
not diagonal) and is only offered as the output of loss="ce"."""

_SOFTMAX = "softmax"


def activation(name: str) -> Activation:
    """The activation called `name`; a ValueError lists the valid names."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(n) for n in ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; valid names: {valid}") from None


# Several functions below have a parameter called `activation`, which hides the function above inside them.
_lookup_activation = activation


def softmax(z: ArrayLike, axis: int = -1) -> Array:
    """softmax(z)_k = e^{z_k} / Σ_j e^{z_j} along `axis` (beyond the chapter).

    Subtracting max(z) first changes nothing mathematically and keeps exp from overflowing.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z: ArrayLike, axis: int = -1) -> Array:
    """log softmax(z) = z − log Σ_j e^{z_j}, computed without forming softmax (no log 0 for large logits)."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


# ---------------------------------------------------------------------------------------------------------------
# Bias absorption and weight layout
# ---------------------------------------------------------------------------------------------------------------


def augment(A: ArrayLike) -> Array:
    """Ã = [A, 1]: append a column of ones to a batch A (B × n) → B × (n+1), so that Ã Wᵀ includes the bias."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise ValueError(f"augment expects a 2-D batch (B samples as rows), got shape {A.shape}")
    return np.hstack([A, np.ones((A.shape[0], 1))])


def augment_sample(a: ArrayLike) -> Array:
    """ã = [a; 1]: append a 1 to a column vector a (n × 1) → (n+1) × 1, so that W ã includes the bias."""
    a = _as_column(a, "a")
    return np.vstack([a, np.ones((1, 1))])


def weights_from_linear(weight: ArrayLike, bias: ArrayLike) -> Array:
    """W = [weight | bias]: the chapter's W^l from a Linear layer's weight (out × in) and bias (out,)."""
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"weight must be 2-D with shape (out, in), got shape {weight.shape}")
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"bias has shape {bias.shape} but weight has shape {weight.shape}, "
            f"so bias needs shape ({weight.shape[0]},)"
        )
    return np.hstack([weight, bias[:, None]])


def linear_from_weights(W: ArrayLike) -> tuple[Array, Array]:
    """(weight, bias) = (W[:, :-1], W[:, -1]): the inverse of `weights_from_linear`."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] < 2:
        raise ValueError(f"W must be 2-D with at least 2 columns (weights, then the bias), got shape {W.shape}")
    return W[:, :-1].copy(), W[:, -1].copy()


# ---------------------------------------------------------------------------------------------------------------
# Validation (every error says what is wrong and what was expected)
# ---------------------------------------------------------------------------------------------------------------


def layer_sizes(Ws: Sequence[ArrayLike], n_inputs: int | None = None) -> list[int]:
    """[n_0, n_1, ..., n_L] read off the weight matrices, checking that consecutive shapes chain.

    W^l must have shape n_l × (n_{l-1}+1). If `n_inputs` is given, W^1 must have n_inputs+1 columns.
    """
    if len(Ws) == 0:
        raise ValueError("Ws is empty: a network needs at least one weight matrix W^1")
    sizes: list[int] = []
    for l, W in enumerate(Ws, start=1):
        shape = np.shape(W)
        if len(shape) != 2:
            raise ValueError(f"W^{l} must be a 2-D array of shape (n_{l}, n_{l - 1}+1), got shape {shape}")
        if l == 1:
            if n_inputs is not None and shape[1] != n_inputs + 1:
                raise ValueError(
                    f"W^1 has shape {shape} but the input has {n_inputs} features, "
                    f"so W^1 needs {n_inputs + 1} columns (the last one is the bias)"
                )
            if shape[1] < 2:
                raise ValueError(f"W^1 has shape {shape}: it needs at least 2 columns (inputs, then the bias)")
            sizes.append(shape[1] - 1)
        elif shape[1] != sizes[-1] + 1:
            raise ValueError(
                f"W^{l} has shape {shape} but layer {l - 1} has {sizes[-1]} units, "
                f"so W^{l} needs {sizes[-1] + 1} columns (the last one is the bias)"
            )
        if shape[0] < 1:
            raise ValueError(f"W^{l} has shape {shape}: layer {l} needs at least one unit")
        sizes.append(shape[0])
    return sizes


def _as_weights(Ws: Sequence[ArrayLike], n_inputs: int | None = None) -> list[Array]:
    layer_sizes(Ws, n_inputs)
    return [np.asarray(W, dtype=np.float64) for W in Ws]


def _as_column(v: ArrayLike, what: str, n: int | None = None) -> Array:
    """A column vector (n × 1) from a 1-D array or an n × 1 array."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[1] != 1:
        raise ValueError(f"{what} must be a column vector (shape (n,) or (n, 1)), got shape {v.shape}")
    if n is not None and v.shape[0] != n:
        raise ValueError(f"{what} has {v.shape[0]} entries but {n} are expected")
    return v


def _check_loss(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid losses: {', '.join(repr(n) for n in LOSSES)}")


def _output_name(activation_name: str, output_activation: str | None) -> str:
    """Validate the activation names; the output layer uses `activation_name` unless told otherwise."""
    activation(activation_name)  # hidden layers: elementwise activations only
    name = activation_name if output_activation is None else output_activation
    if name != _SOFTMAX:
        activation(name)
    return name


def _output_for_loss(activation_name: str, output_activation: str | None, loss: str) -> str:
    """The output activation `backprop` uses: with loss="ce" the output is softmax."""
    _check_loss(loss)
    if loss == "ce":
        if output_activation not in (None, _SOFTMAX):
            raise ValueError(
                f"loss='ce' uses a softmax output, but output_activation={output_activation!r} was given "
                "(leave it None or pass 'softmax')"
            )
        return _SOFTMAX
    return _output_name(activation_name, output_activation)


def _check_loss_matches_output(loss: str, output_name: str) -> None:
    _check_loss(loss)
    if loss == "ce" and output_name != _SOFTMAX:
        raise ValueError(
            f"loss='ce' needs a softmax output, but the forward pass used output_activation={output_name!r}; "
            "run forward(..., output_activation='softmax')"
        )
    if loss == "mse" and output_name == _SOFTMAX:
        raise ValueError("output_activation='softmax' is only supported with loss='ce'")


def _check_targets(Y: ArrayLike, A_L: Array, loss: str) -> Array:
    Y = np.asarray(Y, dtype=np.float64)
    if Y.shape != A_L.shape:
        raise ValueError(
            f"Y has shape {Y.shape} but the network output A^L has shape {A_L.shape} "
            f"(B = {A_L.shape[0]} samples, n_L = {A_L.shape[1]} outputs)"
        )
    if loss == "ce" and not np.allclose(Y.sum(axis=1), 1.0):
        raise ValueError(
            "loss='ce' expects one-hot targets: each row of Y must sum to 1 "
            "(the formula Δ^L = (softmax(Z^L) − Y)/B relies on it)"
        )
    return Y


# ---------------------------------------------------------------------------------------------------------------
# Per sample, in the chapter's column-vector notation (for teaching; the batch functions below are what runs)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class SampleForward:
    """Forward pass for one sample: z = [z^1, ..., z^L] (each n_l × 1), a = [a^0, ..., a^L] (each n_l × 1)."""

    z: list[Array]
    a: list[Array]
    activation: str
    output_activation: str


@dataclass
class SampleBackprop:
    """Everything for one sample: row vectors δ^l (1 × n_l), ∂C_i/∂W^l ((n_{l-1}+1) × n_l) and C_i."""

    z: list[Array]
    a: list[Array]
    deltas: list[Array]
    grads: list[Array]
    cost: float


def forward_sample(
    Ws: Sequence[ArrayLike], x: ArrayLike, activation: str = "sigmoid", output_activation: str | None = None
) -> SampleForward:
    """a^0 = x, z^l = W^l ã^{l-1}, a^l = σ(z^l) (eqs. 104–105 with the bias absorbed).

    x: shape (n_0,) or (n_0, 1). Hidden layers use `activation`, the output layer `output_activation`
    (default: the same; "softmax" is allowed there, for loss="ce").
    """
    out_name = _output_name(activation, output_activation)
    a = _as_column(x, "x")
    Ws = _as_weights(Ws, n_inputs=a.shape[0])
    zs, as_ = [], [a]
    for l, W in enumerate(Ws, start=1):
        z = W @ augment_sample(a)  # n_l × (n_{l-1}+1) times (n_{l-1}+1) × 1 → n_l × 1
        if l < len(Ws):
            a = ACTIVATIONS[activation](z)
        else:
            a = softmax(z, axis=0) if out_name == _SOFTMAX else ACTIVATIONS[out_name](z)
        zs.append(z)
        as_.append(a)
    return SampleForward(zs, as_, activation, out_name)


def delta_output_sample(
    y: ArrayLike, z_L: ArrayLike, output_activation: str = "sigmoid", loss: str = "mse"
) -> Array:
    """δ^L (1 × n_L row vector) for one sample.

    loss="mse" (eq. 111): δ^L = −2 (y − σ(z^L))ᵀ Σ'(z^L), i.e. entry k is −2 (y_k − a_k) σ'(z_k).
    loss="ce" (beyond the chapter): δ^L = (softmax(z^L) − y)ᵀ; `output_activation` is then ignored.
    y, z_L: shape (n_L,) or (n_L, 1).
    """
    _check_loss(loss)
    z = _as_column(z_L, "z_L")
    y = _as_column(y, "y", n=z.shape[0])
    if loss == "ce":
        return (softmax(z, axis=0) - y).T
    _check_loss_matches_output(loss, output_activation)
    act = activation(output_activation)
    a = act(z)
    # (y − a)ᵀ is a row; multiplying by the diagonal Σ' scales each entry: an elementwise product.
    return -2.0 * (y - a).T * act.prime(z, a).T


def delta_hidden_sample(
    delta_next: ArrayLike, W_next: ArrayLike, z: ArrayLike, activation: str = "sigmoid"
) -> Array:
    """δ^l = δ^{l+1} W^{l+1}[:, :n_l] Σ'(z^l) (eq. 117, bias column of W^{l+1} dropped), a 1 × n_l row vector.

    delta_next: 1 × n_{l+1};  W_next: n_{l+1} × (n_l+1);  z: z^l, shape (n_l,) or (n_l, 1).
    The bias column is dropped because the last entry of ã^l is the constant 1, which does not depend on z^l
    (eq. 117 as printed does not conform when the bias is absorbed: see the module docstring).
    """
    z = _as_column(z, "z")
    n_l = z.shape[0]
    W_next = np.asarray(W_next, dtype=np.float64)
    delta_next = np.asarray(delta_next, dtype=np.float64)
    if W_next.ndim != 2 or W_next.shape[1] != n_l + 1:
        raise ValueError(
            f"W_next has shape {W_next.shape} but z^l has {n_l} entries, so W_next needs {n_l + 1} columns"
        )
    if delta_next.shape != (1, W_next.shape[0]):
        raise ValueError(
            f"delta_next has shape {delta_next.shape}; it must be a row vector of shape (1, {W_next.shape[0]})"
        )
    act = _lookup_activation(activation)
    return (delta_next @ W_next[:, :n_l]) * act.prime(z).T


def weight_gradient_sample(a_prev: ArrayLike, delta: ArrayLike) -> Array:
    """∂C_i/∂W^l = ã^{l-1} δ^l (eq. 113 with the augmented activation), shape (n_{l-1}+1) × n_l = shape of W^lᵀ.

    a_prev: a^{l-1} *without* the 1, shape (n_{l-1},) or (n_{l-1}, 1); delta: δ^l, a 1 × n_l row vector.
    A column times a row is an outer product; its last row, 1 · δ^l, is the gradient of the biases.
    """
    delta = np.asarray(delta, dtype=np.float64)
    if delta.ndim != 2 or delta.shape[0] != 1:
        raise ValueError(f"delta must be a row vector of shape (1, n_l), got shape {delta.shape}")
    return augment_sample(a_prev) @ delta


def backprop_sample(
    Ws: Sequence[ArrayLike],
    x: ArrayLike,
    y: ArrayLike,
    activation: str = "sigmoid",
    output_activation: str | None = None,
    loss: str = "mse",
) -> SampleBackprop:
    """Forward pass, δ^L, the δ recursion and ∂C_i/∂W^l for one sample, with C_i = ‖y − a^L‖² (eq. 110).

    With loss="ce", C_i = −Σ_k y_k log softmax(z^L)_k and the output is softmax. The batch cost is the mean of
    the C_i, so the batch results are: Δ^l row i = δ^l_i / B and ∂C/∂W^l = 1/B Σ_i ∂C_i/∂W^l.
    """
    out_name = _output_for_loss(activation, output_activation, loss)
    Ws = _as_weights(Ws)
    fwd = forward_sample(Ws, x, activation, out_name)
    y = _as_column(y, "y", n=fwd.a[-1].shape[0])
    L = len(Ws)
    ds: list[Array] = [np.empty(0)] * L
    ds[L - 1] = delta_output_sample(y, fwd.z[L - 1], out_name, loss)
    for l in range(L - 1, 0, -1):  # chapter layers l = L-1, ..., 1; ds[l] is δ^{l+1}, Ws[l] is W^{l+1}
        ds[l - 1] = delta_hidden_sample(ds[l], Ws[l], fwd.z[l - 1], activation)
    grads = [weight_gradient_sample(fwd.a[l - 1], ds[l - 1]) for l in range(1, L + 1)]
    cost_i = float(_sample_costs(y.T, fwd.z[-1].T, fwd.a[-1].T, loss)[0])
    return SampleBackprop(fwd.z, fwd.a, ds, grads, cost_i)


# ---------------------------------------------------------------------------------------------------------------
# Batch: B samples as rows (what a program runs)
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Forward:
    """Forward pass of a batch: Z = [Z^1, ..., Z^L] and A = [A^0 = X, A^1, ..., A^L], each B × n_l.

    Mind the offset: Z[l-1] is Z^l but A[l] is A^l.
    """

    Z: list[Array]
    A: list[Array]
    activation: str
    output_activation: str

    @property
    def L(self) -> int:
        """Number of layers with weights."""
        return len(self.Z)


@dataclass
class Backprop:
    """Everything `backprop` computes: Z, A (as in `Forward`), Δ^1..Δ^L, ∂C/∂W^1..∂C/∂W^L and C."""

    Z: list[Array]
    A: list[Array]
    deltas: list[Array]
    grads: list[Array]
    cost: float
    activation: str
    output_activation: str
    loss: str

    @property
    def forward(self) -> Forward:
        return Forward(self.Z, self.A, self.activation, self.output_activation)


def forward(
    Ws: Sequence[ArrayLike], X: ArrayLike, activation: str = "sigmoid", output_activation: str | None = None
) -> Forward:
    """Z^l = Ã^{l-1} W^lᵀ and A^l = σ(Z^l) for a batch X of shape B × n_0 (samples as rows).

    Row i of Z^l is (z^l_i)ᵀ: transposing z = W ã gives zᵀ = ãᵀ Wᵀ, and stacking the rows gives Ã Wᵀ.
    Hidden layers use `activation`; the output layer uses `output_activation` (default: the same; "softmax"
    is allowed there, for loss="ce").
    """
    out_name = _output_name(activation, output_activation)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (B samples as rows, n_0 features), got shape {X.shape}")
    Ws = _as_weights(Ws, n_inputs=X.shape[1])
    Z: list[Array] = []
    A: list[Array] = [X]
    for l, W in enumerate(Ws, start=1):
        Z.append(augment(A[-1]) @ W.T)  # B × (n_{l-1}+1) times (n_{l-1}+1) × n_l → B × n_l
        A.append(ACTIVATIONS[activation](Z[-1]) if l < len(Ws) else _output_values(Z[-1], out_name))
    return Forward(Z, A, activation, out_name)


def _output_values(Z_L: Array, output_activation: str) -> Array:
    """A^L = σ(Z^L), or softmax(Z^L) row by row."""
    return softmax(Z_L, axis=1) if output_activation == _SOFTMAX else ACTIVATIONS[output_activation](Z_L)


def _as_batch(M: ArrayLike, what: str) -> Array:
    M = np.asarray(M, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (B samples as rows), got shape {M.shape}")
    return M


def _check_forward(Ws: list[Array], fwd: Forward) -> None:
    if len(fwd.Z) != len(Ws) or len(fwd.A) != len(Ws) + 1:
        raise ValueError(
            f"the forward record has {len(fwd.Z)} layers (Z) and {len(fwd.A)} activations (A) but Ws has "
            f"{len(Ws)} matrices: expected {len(Ws)} and {len(Ws) + 1}"
        )
    B = fwd.A[0].shape[0]
    for l, W in enumerate(Ws, start=1):
        if fwd.Z[l - 1].shape != (B, W.shape[0]):
            raise ValueError(
                f"Z^{l} in the forward record has shape {fwd.Z[l - 1].shape} but W^{l} has shape {W.shape}, "
                f"so Z^{l} should have shape {(B, W.shape[0])}"
            )


def _sample_costs(Y: Array, Z_L: Array, A_L: Array, loss: str) -> Array:
    """C_i for each row: ‖y_i − a^L_i‖² (mse) or −Σ_k y_ik log softmax(z^L_i)_k (ce)."""
    if loss == "mse":
        return np.sum((Y - A_L) ** 2, axis=1)
    # log softmax from Z^L rather than log(A^L): A^L can round to 0 for large logits.
    return -np.sum(Y * log_softmax(Z_L, axis=1), axis=1)


def cost(fwd: Forward, Y: ArrayLike, loss: str = "mse") -> float:
    """C = 1/B Σ_i ‖y_i − a^L_i‖² (eq. 106, loss="mse"), or C = −1/B Σ_i Σ_k y_ik log softmax(z^L_i)_k
    (loss="ce", beyond the chapter)."""
    _check_loss_matches_output(loss, fwd.output_activation)
    Y = _check_targets(Y, fwd.A[-1], loss)
    return float(np.mean(_sample_costs(Y, fwd.Z[-1], fwd.A[-1], loss)))


def delta_output(
    Y: ArrayLike, Z_L: ArrayLike, output_activation: str = "sigmoid", loss: str = "mse", A_L: ArrayLike | None = None
) -> Array:
    """Δ^L = ∂C/∂Z^L, B × n_L (row i is δ^L_i / B): where the recursion starts.

    loss="mse" (eq. 111 for the batch): Δ^L = −(2/B) (Y − A^L) ⊙ σ'(Z^L)
    loss="ce" (beyond the chapter):     Δ^L = (softmax(Z^L) − Y) / B, with output_activation="softmax"
    A_L: A^L = σ(Z^L), if you have it (the forward pass does), to avoid recomputing it.
    """
    _check_loss_matches_output(loss, output_activation)
    Z_L = _as_batch(Z_L, "Z_L")
    A_L = _output_values(Z_L, output_activation) if A_L is None else _as_batch(A_L, "A_L")
    Y = _check_targets(Y, A_L, loss)
    B = Y.shape[0]
    if loss == "ce":
        return (A_L - Y) / B  # A^L = softmax(Z^L)
    return -2.0 / B * (Y - A_L) * _lookup_activation(output_activation).prime(Z_L, A_L)


def delta_hidden(
    delta_next: ArrayLike, W_next: ArrayLike, Z: ArrayLike, activation: str = "sigmoid", A: ArrayLike | None = None
) -> Array:
    """Δ^l = (Δ^{l+1} W^{l+1}[:, :n_l]) ⊙ σ'(Z^l), B × n_l: one step of the recursion, layer l+1 to layer l
    (eq. 117 for the batch, bias column of W^{l+1} dropped).

    delta_next: Δ^{l+1}, B × n_{l+1};  W_next: W^{l+1}, n_{l+1} × (n_l+1);  Z: Z^l, B × n_l;
    A: A^l = σ(Z^l), if you have it, to avoid recomputing it.
    """
    Z = _as_batch(Z, "Z")
    B, n_l = Z.shape
    W_next = np.asarray(W_next, dtype=np.float64)
    delta_next = np.asarray(delta_next, dtype=np.float64)
    if W_next.ndim != 2 or W_next.shape[1] != n_l + 1:
        raise ValueError(f"W_next has shape {W_next.shape} but Z^l has {n_l} columns, so W_next needs {n_l + 1} columns")
    if delta_next.shape != (B, W_next.shape[0]):
        raise ValueError(
            f"delta_next has shape {delta_next.shape}; it must be Δ^{{l+1}}, of shape {(B, W_next.shape[0])}"
        )
    back = delta_next @ W_next[:, :n_l]  # B × n_{l+1} times n_{l+1} × n_l → B × n_l
    return back * _lookup_activation(activation).prime(Z, A)  # ⊙ σ'(Z^l): the diagonal Σ' as a product


def weight_gradient(A_prev: ArrayLike, delta: ArrayLike) -> Array:
    """∂C/∂W^l = Ã^{l-1}ᵀ Δ^l, shape (n_{l-1}+1) × n_l = shape of W^lᵀ (eq. 113 for the batch).

    A_prev: A^{l-1} *without* the column of ones, B × n_{l-1};  delta: Δ^l, B × n_l. Ã^{l-1}ᵀ Δ^l =
    Σ_i ã^{l-1}_i (δ^l_i / B): the per-sample outer products of eq. 113, averaged. The last row is the gradient
    of the biases.
    """
    A_prev, delta = _as_batch(A_prev, "A_prev"), _as_batch(delta, "delta")
    if A_prev.shape[0] != delta.shape[0]:
        raise ValueError(f"A_prev has {A_prev.shape[0]} rows (samples) but delta has {delta.shape[0]}")
    return augment(A_prev).T @ delta


def deltas(Ws: Sequence[ArrayLike], fwd: Forward, Y: ArrayLike, loss: str = "mse") -> list[Array]:
    """[Δ^1, ..., Δ^L], Δ^l = ∂C/∂Z^l of shape B × n_l (row i is δ^l_i / B): `delta_output`, then
    `delta_hidden` from layer L-1 down to layer 1.

    Δ^L = −(2/B) (Y − A^L) ⊙ σ'(Z^L)                 (eq. 111 for the batch, loss="mse")
    Δ^L = (softmax(Z^L) − Y) / B                      (loss="ce", beyond the chapter)
    Δ^l = (Δ^{l+1} W^{l+1}[:, :n_l]) ⊙ σ'(Z^l)        (eq. 117, bias column dropped)
    """
    Ws = _as_weights(Ws, n_inputs=fwd.A[0].shape[1])
    _check_forward(Ws, fwd)
    L = len(Ws)
    ds: list[Array] = [np.empty(0)] * L
    ds[L - 1] = delta_output(Y, fwd.Z[-1], fwd.output_activation, loss, fwd.A[-1])
    for l in range(L - 1, 0, -1):  # chapter layers l = L-1, ..., 1; ds[l] is Δ^{l+1}, Ws[l] is W^{l+1}
        ds[l - 1] = delta_hidden(ds[l], Ws[l], fwd.Z[l - 1], fwd.activation, fwd.A[l])
    return ds


def weight_gradients(fwd: Forward, deltas: Sequence[ArrayLike]) -> list[Array]:
    """[∂C/∂W^1, ..., ∂C/∂W^L], each `weight_gradient(A^{l-1}, Δ^l)` (eq. 113), of the shape of W^lᵀ."""
    if len(deltas) != fwd.L:
        raise ValueError(f"got {len(deltas)} deltas for a network of {fwd.L} layers")
    grads = []
    for l in range(1, fwd.L + 1):
        D = np.asarray(deltas[l - 1], dtype=np.float64)
        if D.shape != fwd.Z[l - 1].shape:
            raise ValueError(
                f"Δ^{l} has shape {D.shape} but Z^{l} has shape {fwd.Z[l - 1].shape}; they must match"
            )
        grads.append(weight_gradient(fwd.A[l - 1], D))
    return grads


def backprop(
    Ws: Sequence[ArrayLike],
    X: ArrayLike,
    Y: ArrayLike,
    activation: str = "sigmoid",
    output_activation: str | None = None,
    loss: str = "mse",
) -> Backprop:
    """Forward pass, δ's, gradients and cost in one call. loss="ce" uses a softmax output (beyond the chapter)."""
    out_name = _output_for_loss(activation, output_activation, loss)
    fwd = forward(Ws, X, activation, out_name)
    ds = deltas(Ws, fwd, Y, loss)
    grads = weight_gradients(fwd, ds)
    return Backprop(fwd.Z, fwd.A, ds, grads, cost(fwd, Y, loss), activation, out_name, loss)


def gradient_descent_step(Ws: Sequence[ArrayLike], grads: Sequence[ArrayLike], lr: float) -> list[Array]:
    """New weights W^l − λ (∂C/∂W^l)ᵀ (eq. 103: the gradient has the shape of W^lᵀ, hence the transpose)."""
    Ws = _as_weights(Ws)
    if len(grads) != len(Ws):
        raise ValueError(f"got {len(grads)} gradients for {len(Ws)} weight matrices")
    new = []
    for l, (W, G) in enumerate(zip(Ws, grads, strict=True), start=1):
        G = np.asarray(G, dtype=np.float64)
        if G.shape != W.T.shape:
            raise ValueError(
                f"∂C/∂W^{l} has shape {G.shape} but W^{l} has shape {W.shape}: the gradient must have the "
                f"shape of W^{l}ᵀ, {W.T.shape}"
            )
        new.append(W - lr * G.T)
    return new


# ---------------------------------------------------------------------------------------------------------------
# The chapter's dimension questions
# ---------------------------------------------------------------------------------------------------------------

_SHAPE_COLUMNS = {
    "a_prev_aug": "ã^{l-1}",
    "W": "W^l",
    "z": "z^l",
    "delta": "δ^l",
    "grad": "∂C/∂W^l",
}


def shapes_table(sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Per-sample shapes for layers l = 1..L of a network with layer sizes [n_0, ..., n_L].

    Each row: {"layer": l, "a_prev_aug": (n_{l-1}+1, 1), "W": (n_l, n_{l-1}+1), "z": (n_l, 1),
    "delta": (1, n_l), "grad": (n_{l-1}+1, n_l)}. For a batch, Ã, Z and Δ get B rows instead of 1.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least 2 positive layer sizes [n_0, ..., n_L], got {sizes}")
    return [
        {
            "layer": l,
            "a_prev_aug": (sizes[l - 1] + 1, 1),
            "W": (sizes[l], sizes[l - 1] + 1),
            "z": (sizes[l], 1),
            "delta": (1, sizes[l]),
            "grad": (sizes[l - 1] + 1, sizes[l]),
        }
        for l in range(1, len(sizes))
    ]


def format_shapes_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows of `shapes_table` as an aligned text table."""
    header = ["l", *_SHAPE_COLUMNS.values()]
    body = [[str(r["layer"]), *(f"{r[k][0]} × {r[k][1]}" for k in _SHAPE_COLUMNS)] for r in rows]
    widths = [max(len(line[j]) for line in [header, *body]) for j in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
