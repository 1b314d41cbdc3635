"""The engine: `Tensor` (tensor.py), `Function` (function.py), the primitive operations (ops.py) and the
backward walk (autograd.py)."""

from . import tensor  # first: tensor.py imports ops and autograd at its end
