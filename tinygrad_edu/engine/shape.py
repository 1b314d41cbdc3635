"""Shapes and indexing beyond reshape, transpose and x[index]: PyTorch's spellings of numpy's shape changes,
flips and rolls, repeats, triangles and diagonals, padding, gathers and scatters, masks, sorting, and einsum.

Almost everything here is a composite of ops.py's primitives, chosen so that its gradient is the obvious one:
a reordering or selection of elements (flip, roll, repeat, diag, gather, take_along_axis, sort, topk) is an
integer-array index (`GetItem`, whose backward adds into zeros with np.add.at, so an element picked twice gets
both gradients); tile is a reshape-broadcast-reshape (its backward sums the copies); tril, triu and masked_fill
are a `where` (the gradient is selected away where the value was replaced). Two primitives: `Pad` (its backward
is a slice of g) and `Einsum` (its backward is an einsum per operand).

numpy's meaning wins where the two differ (see README, "Coming from PyTorch"): `repeat` repeats each element
(PyTorch's repeat_interleave; PyTorch's repeat is `tile`), `flip()` without axes flips all of them, `pad`
takes numpy's pad_width ((before, after) per axis, first axis first), `sort` returns the values only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .function import Context, Function
from .ops import (BroadcastTo, Concatenate, GetItem, Mul, Reshape, ScatterAdd, Where, _axes_argument, broadcast_to,
                  normalize_axes, operand, sum_to)
from .tensor import Tensor, values


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


def _axis(axis: int, ndim: int, who: str) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise np.exceptions.AxisError(f"{who}: axis {axis} is out of bounds for a tensor of dimension {ndim}")
    return axis % max(ndim, 1)


def _indices(index: Any, who: str) -> np.ndarray:
    array = np.asarray(values(index))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{who} needs integer indices, got dtype {array.dtype}"
                        + (" (cast them with .astype(int))" if array.dtype.kind in "fb" else ""))
    return array


# ---------------------------------------------------------------------------------------------------------------
# PyTorch's spellings of reshape, broadcast_to and concatenate
# ---------------------------------------------------------------------------------------------------------------


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Axes start_dim..end_dim (included) merged into one; all of them by default (numpy's x.flatten())."""
    x = _tensor(x)
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    start, end = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for {x._describe()}")
    shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
    return Reshape.apply(x, shape=shape)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """A new axis of length 1 at `dim` (PyTorch's name for expand_dims)."""
    x = _tensor(x)
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise np.exceptions.AxisError(f"unsqueeze: dim {dim} is out of range for {x._describe()} "
                                      f"(it takes {-x.ndim - 1} to {x.ndim})")
    return x.expand_dims(dim)


def view(x: Tensor, *shape: Any) -> Tensor:
    """reshape under PyTorch's name. Unlike PyTorch's view, it copies when the memory layout does not allow a
    view (a transposed tensor), as numpy's reshape does, rather than failing; the gradient is the same."""
    return Reshape.apply(_tensor(x), shape=_axes_argument(shape))


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """broadcast_to under PyTorch's name: -1 keeps an axis's length, new axes go in front."""
    x = _tensor(x)
    sizes = _axes_argument(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand({', '.join(map(str, sizes))}): {x._describe()} has more axes than the "
                         f"{len(sizes)} sizes given")
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if any(n < 0 for n in shape):
        raise ValueError(f"expand({', '.join(map(str, sizes))}): -1 is only allowed for the axes {x._describe()} already has")
    return BroadcastTo.apply(x, shape=shape)


def cat(tensors: Any, dim: int = 0, *, axis: int | None = None) -> Tensor:
    """concatenate under PyTorch's name (dim= or axis=)."""
    tensors = [operand(t) for t in tensors]
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    return Concatenate.apply(*tensors, axis=dim if axis is None else axis)


# ---------------------------------------------------------------------------------------------------------------
# Reordering, repeating and selecting elements: indexing with integer arrays
# ---------------------------------------------------------------------------------------------------------------


def _along(ndim: int, axis: int, index: Any) -> tuple:
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def flip(x: Tensor, axis: Any = None, *, dims: Any = None) -> Tensor:
    """The order of elements reversed along `axis` (all axes if None, as numpy.flip; PyTorch's dims=)."""
    x = _tensor(x)
    axes = normalize_axes(axis if dims is None else dims, x.ndim)
    return GetItem.apply(x, index=tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)))


def roll(x: Tensor, shift: Any, axis: Any = None, *, dims: Any = None) -> Tensor:
    """Elements shifted by `shift` along `axis`, those pushed off one end coming back at the other
    (numpy.roll: the flattened tensor if axis is None; PyTorch's dims=)."""
    x = _tensor(x)
    axis = axis if dims is None else dims
    if axis is None:
        n = x.size
        return GetItem.apply(Reshape.apply(x, shape=(-1,)), index=(np.arange(n) - int(np.sum(shift))) % max(n, 1)
                             ).reshape(x.shape)
    shifts, axes = np.broadcast_arrays(np.atleast_1d(shift), np.atleast_1d(axis))
    total: dict[int, int] = {}
    for s, a in zip(shifts.tolist(), axes.tolist()):
        a = _axis(a, x.ndim, "roll")
        total[a] = total.get(a, 0) + s
    for a, s in total.items():  # one gather per axis
        n = x.shape[a]
        x = GetItem.apply(x, index=_along(x.ndim, a, (np.arange(n) - s) % max(n, 1)))
    return x


def repeat(x: Tensor, repeats: Any, axis: int | None = None) -> Tensor:
    """Each element repeated `repeats` times along `axis` (numpy.repeat, PyTorch's repeat_interleave; the
    flattened tensor if axis is None). PyTorch's x.repeat(2, 3) copies the whole tensor: that is tile."""
    x = _tensor(x)
    if axis is None:
        x, axis = Reshape.apply(x, shape=(-1,)), 0
    axis = _axis(axis, x.ndim, "repeat")
    index = np.repeat(np.arange(x.shape[axis]), repeats)
    return GetItem.apply(x, index=_along(x.ndim, axis, index))


def tile(x: Tensor, reps: Any) -> Tensor:
    """The whole tensor repeated `reps` times along each axis (numpy.tile, PyTorch's repeat)."""
    x = _tensor(x)
    reps = (int(reps),) if np.ndim(reps) == 0 else tuple(int(r) for r in reps)
    d = max(x.ndim, len(reps))
    shape, reps = (1,) * (d - x.ndim) + x.shape, (1,) * (d - len(reps)) + reps
    spread = tuple(n for pair in zip((1,) * d, shape) for n in pair)  # (1, s0, 1, s1, ...)
    copies = tuple(n for pair in zip(reps, shape) for n in pair)  # (r0, s0, r1, s1, ...)
    y = BroadcastTo.apply(Reshape.apply(x, shape=spread), shape=copies)
    return Reshape.apply(y, shape=tuple(r * n for r, n in zip(reps, shape)))


def take_along_axis(x: Tensor, indices: Any, axis: int) -> Tensor:
    """numpy.take_along_axis: y[..., j, ...] = x[..., indices[..., j, ...], ...] along `axis`, the other axes
    of `indices` broadcasting against x's."""
    x, indices = _tensor(x), _indices(indices, "take_along_axis")
    axis = _axis(axis, x.ndim, "take_along_axis")
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices of shape {indices.shape} need as many axes as {x._describe()}")
    index = tuple(indices if i == axis else np.arange(n).reshape([-1 if j == i else 1 for j in range(x.ndim)])
                  for i, n in enumerate(x.shape))
    return GetItem.apply(x, index=index)


def _gather_index(x_shape: tuple[int, ...], dim: int, index: np.ndarray, who: str) -> tuple:
    """The integer-array index of PyTorch's gather/scatter_add: `index` along dim, its own positions elsewhere."""
    if index.ndim != len(x_shape):
        raise ValueError(f"{who}: index of shape {index.shape} needs as many axes as the tensor's {x_shape}")
    for i, (n, m) in enumerate(zip(x_shape, index.shape)):
        if i != dim and m > n:
            raise ValueError(f"{who}: index of shape {index.shape} is larger than the tensor's {x_shape} along axis {i}")
    return tuple(index if i == dim else np.arange(m).reshape([-1 if j == i else 1 for j in range(index.ndim)])
                 for i, m in enumerate(index.shape))


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """PyTorch's gather: y[i][j] = x[i][index[i][j]] for dim = 1 (y has index's shape, which may be smaller
    than x's on the other axes). Equal shapes: the same as take_along_axis."""
    x, index = _tensor(x), _indices(index, "gather")
    return GetItem.apply(x, index=_gather_index(x.shape, _axis(dim, x.ndim, "gather"), index, "gather"))


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """PyTorch's scatter_add: a copy of x with src[i][j] added at x[i][index[i][j]] (dim = 1); positions named
    twice get both. Differentiable in x (g) and in src (g gathered back)."""
    x, index, src = _tensor(x), _indices(index, "scatter_add"), _tensor(src)
    dim = _axis(dim, x.ndim, "scatter_add")
    if src.ndim != index.ndim or any(m > n for m, n in zip(index.shape, src.shape)):
        raise ValueError(f"scatter_add: src of shape {src.shape} must be at least as large as index {index.shape}")
    if src.shape != index.shape:
        src = GetItem.apply(src, index=tuple(slice(0, m) for m in index.shape))
    return x + ScatterAdd.apply(src, index=_gather_index(x.shape, dim, index, "scatter_add"), shape=x.shape)


def diag(x: Tensor, k: int = 0) -> Tensor:
    """numpy.diag: the k-th diagonal of a matrix, or a square matrix with a vector on its k-th diagonal."""
    x = _tensor(x)
    if x.ndim == 1:
        n = x.shape[0] + abs(k)
        rows = np.arange(x.shape[0]) + max(-k, 0)
        return ScatterAdd.apply(x, index=(rows, rows + k), shape=(n, n))
    if x.ndim == 2:
        rows = np.arange(max(0, min(x.shape[0] + min(k, 0), x.shape[1] - max(k, 0)))) + max(-k, 0)
        return GetItem.apply(x, index=(rows, rows + k))
    raise ValueError(f"diag takes a vector or a matrix, got {x._describe()}")


def sort(x: Tensor, axis: int | None = -1, descending: bool = False) -> Tensor:
    """The values sorted along `axis` (numpy.sort: values only, the flattened tensor if axis is None; for
    the indices, argsort). The gradient goes back to where each value came from. NaN sorts last."""
    x = _tensor(x)
    if axis is None:
        x, axis = Reshape.apply(x, shape=(-1,)), 0
    axis = _axis(axis, x.ndim, "sort")
    if x.ndim == 0:
        return x
    order = np.argsort(x.data, axis=axis, kind="stable")
    return take_along_axis(x, np.flip(order, axis) if descending else order, axis)


def topk(x: Tensor, k: int, axis: int = -1, largest: bool = True, sorted: bool = True) -> tuple[Tensor, Tensor]:  # noqa: A002
    """The k largest (or smallest) values along `axis` and their indices, as PyTorch's topk; the gradient goes
    to the selected elements. Among ties, the first ones in x are taken (the sort is stable)."""
    x = _tensor(x)
    axis = _axis(axis, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k = {k} is not between 0 and the length {n} of axis {axis} of {x._describe()}")
    if x.ndim == 0:
        return x, Tensor._wrap(np.array(0))
    keys = -x.data if largest else x.data  # (stable on the negated values: ties keep their order)
    order = np.take(np.argsort(keys, axis=axis, kind="stable"), np.arange(k), axis=axis)
    if not sorted:
        order = np.sort(order, axis=axis)
    return take_along_axis(x, order, axis), Tensor._wrap(order)


# ---------------------------------------------------------------------------------------------------------------
# Masks: where
# ---------------------------------------------------------------------------------------------------------------


def _triangle(x: Tensor, keep: np.ndarray) -> Tensor:
    if x.ndim < 2:
        raise ValueError(f"tril/triu need at least 2 axes, got {x._describe()}")
    return Where.apply(x, 0.0, condition=keep)


def tril(x: Tensor, k: int = 0) -> Tensor:
    """The lower triangle (on and below the k-th diagonal) of the last two axes, zeros above."""
    x = _tensor(x)
    return _triangle(x, np.tri(*x.shape[-2:], k=k, dtype=bool) if x.ndim >= 2 else None)


def triu(x: Tensor, k: int = 0) -> Tensor:
    """The upper triangle (on and above the k-th diagonal) of the last two axes, zeros below."""
    x = _tensor(x)
    return _triangle(x, ~np.tri(*x.shape[-2:], k=k - 1, dtype=bool) if x.ndim >= 2 else None)


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """x with `value` where `mask` holds (a bool mask that broadcasts to x); no gradient flows there."""
    x = _tensor(x)
    mask = np.asarray(values(mask))
    if mask.dtype != bool:
        raise TypeError(f"masked_fill needs a bool mask, got dtype {mask.dtype} (compare, e.g. mask = t > 0)")
    y = Where.apply(operand(value), x, condition=mask)
    if y.shape != x.shape:
        raise ValueError(f"masked_fill: the mask of shape {mask.shape} must broadcast to {x._describe()}")
    return y


# ---------------------------------------------------------------------------------------------------------------
# Primitives: Pad and Einsum
# ---------------------------------------------------------------------------------------------------------------


class Pad(Function):
    """y = x surrounded by `value` (numpy.pad, mode "constant").   Backward: the middle of g, x's place."""

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, pad_width: tuple, value: Any = 0) -> np.ndarray:
        ctx.middle = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x.shape))
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return g[ctx.middle]


def pad(x: Tensor, pad_width: Any, value: Any = 0) -> Tensor:
    """x padded with the constant `value`: pad_width is numpy's, an int, a (before, after) pair for every
    axis, or one pair per axis, first axis first (PyTorch's F.pad lists the last axis first)."""
    x = _tensor(x)
    if x.ndim == 0:
        return x.clone()  # no axis to pad (numpy's pad refuses a 0-d array)
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit {x._describe()}: give an int, a (before, after) "
                         f"pair, or {x.ndim} pairs") from None
    if (widths < 0).any():
        raise ValueError(f"pad: widths must be >= 0, got {pad_width!r}")
    return Pad.apply(x, pad_width=tuple(map(tuple, widths.tolist())), value=value)


def _parse_einsum(subscripts: str, count: int) -> tuple[list[str], str]:
    spec = subscripts.replace(" ", "")
    if "." in spec:
        raise ValueError(f"einsum {subscripts!r}: '...' is not supported; name every axis with a letter")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != count:
        raise ValueError(f"einsum {subscripts!r} names {len(terms)} operands, got {count}")
    for term in terms:
        if not term.isalpha() and term:
            raise ValueError(f"einsum {subscripts!r}: subscripts are letters, got {term!r}")
        if len(set(term)) != len(term):
            raise ValueError(f"einsum {subscripts!r}: a letter repeated in one operand ({term!r}: a diagonal or a "
                             f"trace) is not supported; take it with diag first")
    if not arrow:  # numpy's implicit output: the letters used once, in alphabetical order
        letters = "".join(terms)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    missing = set(output) - set("".join(terms))
    if missing or len(set(output)) != len(output):
        raise ValueError(f"einsum {subscripts!r}: the output names letters not in the inputs, or twice")
    return terms, output


class Einsum(Function):
    """y = numpy.einsum(subscripts, *operands).

    Backward for operand i: g combined with the other operands by an einsum whose output is operand i's
    letters ("ij,jk->ik": dC/da = einsum("ik,jk->ij", g, b)). A letter only operand i has was summed away in
    forward: its gradient is broadcast along it.
    """

    @staticmethod
    def forward(ctx: Context, *operands: np.ndarray, subscripts: str) -> np.ndarray:
        ctx.terms, ctx.output = _parse_einsum(subscripts, len(operands))
        ctx.save_for_backward(*operands)
        try:
            return np.einsum(",".join(ctx.terms) + "->" + ctx.output, *operands)
        except ValueError as e:
            shapes = ", ".join(str(np.shape(x)) for x in operands)
            raise ValueError(f"einsum {subscripts!r} on shapes {shapes}: {e}") from None

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        operands = ctx.saved_tensors
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            terms = [ctx.output] + [t for j, t in enumerate(ctx.terms) if j != i]
            known = set("".join(terms))
            target = ctx.terms[i]
            reached = "".join(c for c in target if c in known)
            others = [x for j, x in enumerate(operands) if j != i]
            gi = Einsum.apply(g, *others, subscripts=",".join(terms) + "->" + reached)
            shape = ctx.input_shapes[i]
            if reached != target:  # letters summed in forward: gradient broadcast along them
                gi = gi.reshape(tuple(n if c in known else 1 for c, n in zip(target, shape)))
            if gi.shape != shape:  # a length-1 axis that einsum broadcast: its copies summed, or g spread
                inter = tuple(1 if n == 1 else m for n, m in zip(shape, gi.shape))
                gi = broadcast_to(sum_to(gi, inter), shape)
            grads.append(gi)
        return tuple(grads)


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """numpy.einsum with its gradient: letters name axes ("ij,jk->ik" is a @ b, "i,i->" a dot product,
    "bij->bji" a batch transpose); without "->" the output is the letters used once, sorted. No '...' and no
    letter twice in one operand."""
    y = Einsum.apply(*(operand(x) for x in operands), subscripts=subscripts)
    return y if isinstance(y, Tensor) else Tensor._wrap(y)


def outer(a: Any, b: Any) -> Tensor:
    """The outer product: y[i, j] = a[i] b[j], both flattened (numpy.outer)."""
    a, b = _tensor(a), _tensor(b)
    return Mul.apply(Reshape.apply(a, shape=(-1, 1)), Reshape.apply(b, shape=(1, -1)))


class _Methods:
    """Tensor methods of this file (tensor.py imports no operation: they are copied onto Tensor below)."""

    flatten, unsqueeze, view, expand = flatten, unsqueeze, view, expand
    flip, roll, tile, take_along_axis, gather, scatter_add = flip, roll, tile, take_along_axis, gather, scatter_add
    diag, sort, topk, tril, triu, masked_fill, pad, outer = diag, sort, topk, tril, triu, masked_fill, pad, outer

    def repeat(self: Tensor, repeats: Any, *more: Any, axis: int | None = None) -> Tensor:
        if more:
            raise TypeError(f"repeat{(repeats, *more)}: Tensor.repeat is numpy's, each element repeated along one "
                            f"axis; PyTorch's repeat({repeats}, {', '.join(map(str, more))}) is "
                            f"tile({(repeats, *more)})")
        return repeat(self, repeats, axis)

    def argsort(self: Tensor, axis: int | None = -1, descending: bool = False) -> Tensor:
        """Indices that sort the tensor (outside the graph: integers have no gradient)."""
        order = np.argsort(self.data, axis=axis, kind="stable")
        return Tensor._wrap(np.flip(order, axis if axis is not None else 0) if descending else order)


for _name, _member in vars(_Methods).items():
    if not _name.startswith("__"):
        setattr(Tensor, _name, _member)

__all__ = ["flatten", "unsqueeze", "view", "expand", "cat", "flip", "roll", "repeat", "tile", "take_along_axis",
           "gather", "scatter_add", "diag", "sort", "topk", "tril", "triu", "masked_fill", "pad", "einsum", "outer",
           "Pad", "Einsum"]
