"""tinygrad_edu: a teaching-grade automatic differentiation engine on numpy.

    >>> import tinygrad_edu as tg
    >>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])

The engine: `Tensor` (tensor.py), `Function` (function.py, the API every operation is written with), the
primitive operations (ops.py) and the families beside them (elementwise.py, reductions.py, shape.py), composites:
activations and losses (functional/), `backward`/`grad` (autograd.py).
Importing this package imports only numpy; plotting, drawing and datasets load when first used.
"""

from __future__ import annotations

from . import engine  # first: the Tensor, its operations and its backward (each engine file adds its methods)
from . import functional
from .engine.autograd import backward, grad
from .creation import (
    Generator,
    arange,
    default_generator,
    eye,
    full,
    full_like,
    linspace,
    logspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .engine.function import Context, Function
from .compiler import TraceError, compile
from .gradient_check import GradcheckError, GradcheckReport, check_gradients, gradcheck, gradgradcheck
from .functional import cross_entropy, log_softmax, mse, relu, sigmoid, softmax, tanh, heaviside
from .engine.ops import concatenate, maximum, minimum, stack, sum_to, where
from .engine.elementwise import (acos, arccos, arcsin, arctan, asin, atan, ceil, cos, cosh, exp2, expm1, fix, floor, log1p,
                                 log2, log10, round, rsqrt, sign, sin, sinh, square, tan, trunc)
from .engine.reductions import cumprod, cumsum, logsumexp, norm, prod, renorm, std, var
from .engine.shape import (cat, diag, einsum, expand, flatten, flip, gather, masked_fill, outer, pad, repeat, roll,
                           scatter_add, sort, take_along_axis, tile, topk, tril, triu, unsqueeze, view)
from .engine.convolution import (adaptive_avg_pool2d, avg_pool2d, conv1d, conv2d, conv_transpose2d, fold, max_pool2d,
                                 unfold)
from .engine.tensor import (
    Tensor,
    current_scope,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    name_scope,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)

__version__ = "0.1.0"

__all__ = [
    "Context", "Function", "TraceError", "compile", "Generator", "Tensor", "arange", "backward", "concatenate", "cross_entropy",
    "current_scope", "default_generator", "detect_anomaly", "enable_grad", "eye", "full", "full_like", "functional", "grad", "gradcheck", "GradcheckError",
    "GradcheckReport", "check_gradients", "gradgradcheck",
    "heaviside", "is_anomaly_enabled", "is_grad_enabled", "log_softmax", "manual_seed", "maximum", "minimum", "mse", "name_scope",
    "no_grad", "ones", "ones_like", "rand", "rand_like", "randn", "randn_like", "relu", "set_detect_anomaly", "set_grad_enabled",
    "sigmoid", "softmax", "stack", "sum_to", "tanh", "tensor", "where", "zeros", "zeros_like",
    "linspace", "logspace",
    # elementwise.py
    "acos", "arccos", "arcsin", "arctan", "asin", "atan", "ceil", "cos", "cosh", "exp2", "expm1", "fix", "floor",
    "log1p", "log2", "log10", "round", "rsqrt", "sign", "sin", "sinh", "square", "tan", "trunc",
    # reductions.py
    "cumprod", "cumsum", "logsumexp", "norm", "prod", "renorm", "std", "var",
    # shape.py
    "cat", "diag", "einsum", "expand", "flatten", "flip", "gather", "masked_fill", "outer", "pad", "repeat", "roll",
    "scatter_add", "sort", "take_along_axis", "tile", "topk", "tril", "triu", "unsqueeze", "view",
    # convolution.py
    "adaptive_avg_pool2d", "avg_pool2d", "conv1d", "conv2d", "conv_transpose2d", "fold", "max_pool2d", "unfold",
]

# Layers, optimizers, training, data and drawings load on first use, so `import tinygrad_edu` stays light.
_LAZY = {
    "autograd_functional": ("tinygrad_edu.autograd_functional", None),  # jacobian, hessian, hvp, vjp, jvp
    "nn": ("tinygrad_edu.nn", None), "optim": ("tinygrad_edu.optim", None), "data": ("tinygrad_edu.data", None),
    "viz": ("tinygrad_edu.viz", None), "backprop_by_hand": ("tinygrad_edu.backprop_by_hand", None),
    "check": ("tinygrad_edu.backprop_by_hand", "check"),
    "check_student": ("tinygrad_edu.backprop_by_hand", "check_student"),
    "draw": ("tinygrad_edu.viz.graph", "draw_graph"),  # tg.draw(loss): micrograd's draw_dot, torchviz's make_dot
    "fit": ("tinygrad_edu.train", "fit"), "evaluate": ("tinygrad_edu.train", "evaluate"),
    "History": ("tinygrad_edu.train", "History"), "NonFiniteLossError": ("tinygrad_edu.train", "NonFiniteLossError"),
    "save": ("tinygrad_edu.nn.serialization", "save"), "load": ("tinygrad_edu.nn.serialization", "load"),
}


def __getattr__(name: str):  # PEP 562: module attributes computed on access
    if name not in _LAZY:
        raise AttributeError(f"module 'tinygrad_edu' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value
