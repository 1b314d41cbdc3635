"""The usual mistakes of a backpropagation written by hand, for `checker.check_student` to name.

Each mistake is one of the three steps of the chapter's backpropagation written wrong, the way a student
writes it; the other two steps are the equations' own:

    Δ^L              where the recursion starts (eq. 111)    equations.delta_output
    Δ^{l+1} → Δ^l    one step of the recursion (eq. 117)     equations.delta_hidden
    ∂C/∂W^l          the gradient from Δ^l (eq. 113)         equations.weight_gradient

So a variant is what the faulty code computes, not a transformation of the correct gradients. Like
equations.py, this module imports no engine.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from . import equations as eq
from .equations import Array, Forward

__all__ = ["MISTAKES", "mistake_variants"]


# The faulty steps: each has the signature of the equations' step it replaces.


def _stored_like_W(A_prev: Array, delta: Array) -> Array:
    return eq.weight_gradient(A_prev, delta).T  # mistake: in W^l's shape, the layout of autograd's .grad


def _without_1_over_B(Y: Array, Z_L: Array, output_activation: str, loss: str, A_L: Array) -> Array:
    if loss == "ce":
        return A_L - Y  # mistake: the / B of the mean cost forgotten
    return -2.0 * (Y - A_L) * eq.activation(output_activation).prime(Z_L, A_L)  # mistake: −2 instead of −2/B


def _sign_flipped(Y: Array, Z_L: Array, output_activation: str, loss: str, A_L: Array) -> Array:
    B = Y.shape[0]
    if loss == "ce":
        return (Y - A_L) / B  # mistake: (y − a) where cross-entropy's gradient is (a − y)
    return -2.0 / B * (A_L - Y) * eq.activation(output_activation).prime(Z_L, A_L)  # mistake: (a − y), −2 kept


def _bias_column_kept(delta_next: Array, W_next: Array, Z: Array, activation: str, A: Array) -> Array:
    # mistake: the whole W^{l+1}, then the *first* column dropped
    return (delta_next @ W_next)[:, 1:] * eq.activation(activation).prime(Z, A)


def _without_sigma_prime(delta_next: Array, W_next: Array, Z: Array, activation: str, A: Array) -> Array:
    return delta_next @ W_next[:, :-1]  # mistake: ⊙ σ'(Z^l) forgotten


@dataclass(frozen=True)
class _Mistake:
    description: str  # a short summary up to the first colon (what check_student prints), then the details
    delta_output: Callable[..., Array] = eq.delta_output
    delta_hidden: Callable[..., Array] = eq.delta_hidden
    weight_gradient: Callable[..., Array] = eq.weight_gradient


_MISTAKES = {
    "transposed": _Mistake(
        "∂C/∂W^l in the shape of W^l instead of W^lᵀ (eq. 113): Gᵀ. Autograd engines store .grad in this "
        "layout, so it is only a mistake against the chapter's layout.",
        weight_gradient=_stored_like_W,
    ),
    "missing_1_over_B": _Mistake(
        "the 1/B of the mean cost forgotten: B times the correct gradient (identical when B = 1).",
        delta_output=_without_1_over_B,
    ),
    "bias_kept": _Mistake(
        "the bias column of W^{l+1} kept in the δ recursion (eq. 117 as printed): Δ^{l+1} W^{l+1} then has n_l+1 "
        "columns and does not conform with σ'(Z^l), so one column must go. Dropping the last one (the bias) gives "
        "exactly the correct result, since (Δ W)[:, :n_l] = Δ W[:, :n_l]. The variant drops the first one, "
        "(Δ^{l+1} W^{l+1})[:, 1:] ⊙ σ'(Z^l), as code written for a bias in column 0 (the x_0 = 1 convention of "
        "many textbooks) does, so that unit j of layer l gets the weights of unit j+1, and the last unit the bias "
        "column. Affects layers l < L; identical when L = 1.",
        delta_hidden=_bias_column_kept,
    ),
    "no_sigma_prime": _Mistake(
        "Σ'(z^l) forgotten in the recursion: Δ^l = Δ^{l+1} W^{l+1}[:, :n_l]. Affects layers l < L; identical "
        "when L = 1 or when the hidden activation is the identity.",
        delta_hidden=_without_sigma_prime,
    ),
    "sign_flipped": _Mistake(
        "(a^L − y) in place of (y − a^L) in δ^L (eq. 111): −1 times the correct gradient.",
        delta_output=_sign_flipped,
    ),
}

MISTAKES: Mapping[str, str] = MappingProxyType({name: m.description for name, m in _MISTAKES.items()})
"""Names and descriptions of the mistake variants produced by `mistake_variants`; each description starts with
a short summary, up to its first colon."""


def mistake_variants(
    Ws: Sequence[ArrayLike], fwd: Forward, Y: ArrayLike, loss: str = "mse"
) -> dict[str, list[Array]]:
    """The gradients a student would get by making each of the `MISTAKES`, keyed by name.

    All have the shape of W^lᵀ except "transposed", which has the shape of W^l. For loss="ce",
    "sign_flipped" is (Y − softmax(Z^L))/B.
    """
    eq.deltas(Ws, fwd, Y, loss)  # checks Ws, fwd, Y and loss, with the equations' messages
    Ws = [np.asarray(W, dtype=np.float64) for W in Ws]
    Y = np.asarray(Y, dtype=np.float64)
    return {name: _gradients(mistake, Ws, fwd, Y, loss) for name, mistake in _MISTAKES.items()}


def _gradients(mistake: _Mistake, Ws: list[Array], fwd: Forward, Y: Array, loss: str) -> list[Array]:
    """equations.deltas then equations.weight_gradients, step by step, with the mistake's steps."""
    L = fwd.L
    ds: list[Array] = [np.empty(0)] * L
    ds[L - 1] = mistake.delta_output(Y, fwd.Z[-1], fwd.output_activation, loss, fwd.A[-1])
    for l in range(L - 1, 0, -1):  # ds[l] is Δ^{l+1}, Ws[l] is W^{l+1}
        ds[l - 1] = mistake.delta_hidden(ds[l], Ws[l], fwd.Z[l - 1], fwd.activation, fwd.A[l])
    return [mistake.weight_gradient(fwd.A[l - 1], ds[l - 1]) for l in range(1, L + 1)]
