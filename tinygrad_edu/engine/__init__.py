"""The engine, read in this order: tensor.py (the Tensor), function.py (how an operation is written and
recorded), ops.py (the primitive operations, each forward beside its backward), autograd.py (the backward
walk). interop.py is what happens when numpy functions meet a Tensor. Importing the package imports all five:
each adds its methods to Tensor."""

from . import tensor, function, ops, autograd, interop  # noqa: F401  (in this order: each builds on the last)
