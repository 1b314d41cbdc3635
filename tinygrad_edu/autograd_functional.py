"""Derivative transforms: Jacobians, Hessians and their products, named as PyTorch's torch.autograd.functional.

    >>> from tinygrad_edu.autograd_functional import hessian, hvp
    >>> f = lambda w: (w ** 4).sum()
    >>> hessian(f, tg.tensor([1.0, 2.0]))          # diag(12 w²)
    tensor([[12.,  0.],
            [ 0., 48.]])

Each transform takes a function `func` of one Tensor or of a tuple of Tensors and differentiates it at
`inputs`. Everything is built on one primitive, `tg.grad` (reverse mode: one backward pass gives vᵀJ, the
gradient of vᵀf). With `create_graph=True` that backward is itself recorded (the engine writes every
backward with Tensor operations), so it can be differentiated again:

    vjp      vᵀ J                1 backward pass
    jvp      J v                 2 backward passes (the "double vjp": wᵀJ, recorded, differentiated in w)
    hvp      H v                 1 backward pass with create_graph, then 1 backward through that gradient
    jacobian J   (m × n)          m backward passes, one per output element (m = the output's size)
    hessian  H   (n × n)          1 gradient with create_graph, then n HVPs with the unit vectors (n = inputs' size)

So the Hessian of a function of 100 parameters costs 100 Hessian-vector products, each one backward pass
through the gradient's graph (which holds the function's: 21 nodes for the 8 of a 1-10-1 MLP's MSE), and
100² numbers of memory; an HVP alone needs O(n) memory, which is why Hessian-free Newton (optim.NewtonCG)
uses only HVPs.

The inputs are not changed and their `.grad` is not touched: the transforms differentiate fresh leaves
holding the same values. Results are Tensors without a graph unless `create_graph=True`. Where a path from
an input to an output carries no gradient (the output does not depend on it) the result is zeros, as
PyTorch's default (`strict=False`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .engine.autograd import grad
from .engine.ops import stack
from .engine.tensor import Tensor, enable_grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vjp"]


def _as_tuple(x: Any, what: str, fn_name: str) -> tuple[tuple[Tensor, ...], bool]:
    """(the tensors, whether a single Tensor was given), or a TypeError naming what was wrong."""
    single = isinstance(x, Tensor)
    items = (x,) if single else x
    if not isinstance(items, (tuple, list)) or not all(isinstance(t, Tensor) for t in items):
        got = type(x).__name__ if not isinstance(x, (tuple, list)) else \
            f"a {type(x).__name__} holding " + ", ".join(type(t).__name__ for t in x)
        raise TypeError(f"{fn_name}: {what} must be a Tensor or a tuple of Tensors, got {got}")
    return tuple(items), single


def _leaves(inputs: tuple[Tensor, ...], fn_name: str) -> tuple[Tensor, ...]:
    """Fresh leaves with the inputs' values that require grad (the caller's tensors stay untouched)."""
    for i, t in enumerate(inputs):
        if t.dtype.kind != "f":
            raise TypeError(f"{fn_name}: input {i} has dtype {t.dtype}; derivatives need floating-point inputs")
    return tuple(Tensor(t.data, requires_grad=True) for t in inputs)


def _outputs(func: Callable, leaves: tuple[Tensor, ...], fn_name: str) -> tuple[tuple[Tensor, ...], bool]:
    with enable_grad():
        out = func(*leaves)
    return _as_tuple(out, "the function's output", fn_name)


def _vectors(v: Any, like: tuple[Tensor, ...], what: str, fn_name: str) -> tuple[Tensor, ...]:
    """`v` as a tuple of Tensors of the shapes of `like` (None: a single 1 for a single one-element tensor)."""
    if v is None:
        if len(like) != 1 or like[0].size != 1:
            raise ValueError(f"{fn_name}: v may be omitted only when the {what} is a single one-element "
                             f"tensor; here it has shapes {[t.shape for t in like]}")
        return (Tensor(np.ones(like[0].shape, like[0].dtype)),)
    vs, _ = _as_tuple(v, "v", fn_name)
    if len(vs) != len(like):
        raise ValueError(f"{fn_name}: v has {len(vs)} tensors but the {what} has {len(like)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if a.shape != b.shape:
            raise ValueError(f"{fn_name}: v[{i}] has shape {a.shape} but tensor {i} of the {what} has shape "
                             f"{b.shape}: they must match")
    return tuple(Tensor(a.data.astype(b.dtype, copy=False)) for a, b in zip(vs, like))


def _grads(outputs: tuple[Tensor, ...], inputs: tuple[Tensor, ...], grad_outputs: Any,
           create_graph: bool) -> tuple[Tensor, ...]:
    """d(Σ grad_outputsᵀ outputs)/d(inputs), zeros where an input is not used (or nothing requires grad)."""
    live = [i for i, o in enumerate(outputs) if o.requires_grad]
    if not live:
        return tuple(Tensor(np.zeros(t.shape, t.dtype)) for t in inputs)
    found = grad([outputs[i] for i in live], inputs,
                 None if grad_outputs is None else [grad_outputs[i] for i in live],
                 retain_graph=True, create_graph=create_graph, allow_unused=True)
    return tuple(Tensor(np.zeros(t.shape, t.dtype)) if g is None else g if create_graph else g.detach()
                 for g, t in zip(found, inputs))


def _result(items: tuple[Any, ...], single: bool) -> Any:
    return items[0] if single else items


def _detached(t: Tensor, create_graph: bool) -> Tensor:
    return t if create_graph else t.detach()


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), vᵀ J): the gradient of Σ vᵀ func(inputs) with respect to each input.

    `v` has the output's shape(s) (may be omitted for a one-element output). Cost: one forward and one
    backward pass, whatever the sizes: this is what `backward()` computes.
    """
    inputs, single_in = _as_tuple(inputs, "inputs", "vjp")
    leaves = _leaves(inputs, "vjp")
    outs, single_out = _outputs(func, leaves, "vjp")
    vs = _vectors(v, outs, "output", "vjp")
    result = _grads(outs, leaves, vs, create_graph)
    return _result(tuple(_detached(o, create_graph) for o in outs), single_out), _result(result, single_in)


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, Any]:
    """(func(inputs), J v): the directional derivative of func at inputs along v (v has the inputs' shapes).

    Reverse mode gives wᵀJ for any w; that is linear in w, so differentiating it in w along v gives
    (d/dw)(wᵀJ v) = J v. Cost: two backward passes (the first recorded, with create_graph), instead of
    forward mode's one pass carried along.
    """
    inputs, single_in = _as_tuple(inputs, "inputs", "jvp")
    leaves = _leaves(inputs, "jvp")
    outs, single_out = _outputs(func, leaves, "jvp")
    vs = _vectors(v, leaves, "inputs", "jvp")
    dummies = tuple(Tensor(np.zeros(o.shape, o.dtype), requires_grad=True) for o in outs)
    with enable_grad():
        wJ = _grads(outs, leaves, dummies, create_graph=True)
    live = [i for i, g in enumerate(wJ) if g.requires_grad]
    if live:
        found = grad([wJ[i] for i in live], dummies, [vs[i] for i in live], retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(dummies)
    result = tuple(Tensor(np.zeros(o.shape, o.dtype)) if g is None else _detached(g, create_graph)
                   for g, o in zip(found, outs))
    return _result(tuple(_detached(o, create_graph) for o in outs), single_out), _result(result, single_out)


def jacobian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """The Jacobian J[i..., j...] = ∂ output[i...] / ∂ input[j...], of shape output.shape + input.shape.

    Row by row in reverse mode: one backward pass per output element (vᵀJ with v the unit vectors), so a
    function with m output elements costs m backward passes. For tuples: J[k] per input k for one output,
    J[i][k] (output i, input k) for several.
    """
    inputs, single_in = _as_tuple(inputs, "inputs", "jacobian")
    leaves = _leaves(inputs, "jacobian")
    outs, single_out = _outputs(func, leaves, "jacobian")
    rows_per_output = []
    for o in outs:
        blocks: list[list[Tensor]] = [[] for _ in leaves]
        for index in range(o.size):
            unit = np.zeros(o.size, o.dtype)
            unit[index] = 1
            with enable_grad():
                row = _grads((o,), leaves, (Tensor(unit.reshape(o.shape)),), create_graph)
            for k, r in enumerate(row):
                blocks[k].append(r)
        jac = tuple((stack(b) if b else Tensor(np.zeros((0,) + leaf.shape, leaf.dtype))).reshape(o.shape + leaf.shape)
                    for b, leaf in zip(blocks, leaves))
        rows_per_output.append(tuple(_detached(j, create_graph) for j in jac))
    per_output = tuple(_result(r, single_in) for r in rows_per_output)
    return _result(per_output, single_out)


def _scalar_output(func: Callable, leaves: tuple[Tensor, ...], fn_name: str) -> Tensor:
    outs, single = _outputs(func, leaves, fn_name)
    if not single or outs[0].size != 1:
        raise ValueError(f"{fn_name}: the function must return a single one-element Tensor (a cost), got "
                         f"{'a tuple of ' + str(len(outs)) if not single else 'shape ' + str(outs[0].shape)}")
    return outs[0]


def hvp(func: Callable, inputs: Any, v: Any, create_graph: bool = False) -> tuple[Tensor, Any]:
    """(func(inputs), H v) for a scalar function: the Hessian times v without forming H.

    The gradient g(w) is computed with create_graph, then differentiated once more: d(gᵀv)/dw = H v (H is
    symmetric). Cost: one forward pass and two backward passes (the second through the recorded first), O(n) memory.
    """
    inputs, single_in = _as_tuple(inputs, "inputs", "hvp")
    leaves = _leaves(inputs, "hvp")
    out = _scalar_output(func, leaves, "hvp")
    vs = _vectors(v, leaves, "inputs", "hvp")
    with enable_grad():
        g = _grads((out,), leaves, None, create_graph=True)
    result = _grads(g, leaves, vs, create_graph)
    return _detached(out, create_graph), _result(result, single_in)


def hessian(func: Callable, inputs: Any, create_graph: bool = False) -> Any:
    """The Hessian H[i..., j...] = ∂²f / ∂input[i...] ∂input[j...] of a scalar function, shape input.shape * 2.

    One gradient g with create_graph, then one HVP per input element: row j is d(g[j])/dw, the backward of
    g seeded with the j-th unit vector. A function of n parameters costs n HVPs (n backward passes through
    the gradient's graph) and n² numbers; for a tuple of inputs H[a][b] is the block for inputs a and b.
    """
    inputs, single_in = _as_tuple(inputs, "inputs", "hessian")
    leaves = _leaves(inputs, "hessian")
    out = _scalar_output(func, leaves, "hessian")
    with enable_grad():
        g = _grads((out,), leaves, None, create_graph=True)
    blocks = []
    for a, ga in enumerate(g):
        rows: list[list[Tensor]] = [[] for _ in leaves]
        for index in range(ga.size):
            unit = np.zeros(ga.size, ga.dtype)
            unit[index] = 1
            with enable_grad():
                row = _grads((ga,), leaves, (Tensor(unit.reshape(ga.shape)),), create_graph)
            for b, r in enumerate(row):
                rows[b].append(r)
        blocks.append(tuple(_detached(stack(r).reshape(leaves[a].shape + leaves[b].shape), create_graph)
                            if r else Tensor(np.zeros(leaves[a].shape + leaves[b].shape, leaves[b].dtype))
                            for b, r in enumerate(rows)))
    return blocks[0][0] if single_in else tuple(blocks)
