"""The engine, read in this order: tensor.py (the Tensor), function.py (how an operation is written and
recorded), ops.py (the primitive operations the chapter needs, each forward beside its backward), then the
families built on them: elementwise.py (more elementwise math), reductions.py (var, logsumexp, prod, cumsum,
norm), shape.py (shapes, indexing, einsum), convolution.py (conv, pooling, unfold/fold on (N, C, H, W) images);
autograd.py (the backward walk). interop.py is what happens when
numpy functions meet a Tensor. Importing the package imports them all: each adds its methods to Tensor."""

from . import tensor, function, ops, elementwise, reductions, shape, convolution, autograd, interop  # noqa: F401  (in this order)
