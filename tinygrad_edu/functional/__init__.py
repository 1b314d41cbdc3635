"""Composite functions, built from the engine's primitives (so they need no backward), by family:

  activations.py   sigmoid, relu, tanh, heaviside (the engine's primitives), softmax, log_softmax, leaky_relu,
                   elu, selu, gelu, silu, softplus, softsign, hardtanh, relu6, hardsigmoid, logsigmoid, mish
  losses.py        mse, l1_loss, huber_loss, smooth_l1_loss, binary_cross_entropy(_with_logits), nll_loss,
                   cross_entropy, and one_hot (class labels as target rows)

Every name is also here: `tg.functional.gelu`, `from tinygrad_edu.functional import cross_entropy`.
"""

from .activations import (
    elu,
    gelu,
    hardsigmoid,
    hardtanh,
    heaviside,
    identity,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
)
from .losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse,
    nll_loss,
    one_hot,
    smooth_l1_loss,
)

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "elu", "gelu", "hardsigmoid",
    "hardtanh", "heaviside", "huber_loss", "identity", "l1_loss", "leaky_relu", "log_softmax", "logsigmoid", "mish",
    "mse", "nll_loss", "one_hot", "relu", "relu6", "selu", "sigmoid", "silu", "smooth_l1_loss", "softmax", "softplus",
    "softsign", "tanh",
]
