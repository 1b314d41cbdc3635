"""engine/shape.py: every operation's forward against numpy (or PyTorch's definition where numpy has none),
backward against central differences in float64 with hypothesis (random shapes, axes, indices with repeats,
re-used inputs), and second derivatives through the two primitives (Pad, Einsum)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import gradcheck
from tinygrad_edu.testing import axes, shapes, tensors

TIGHT = dict(rtol=1e-6, atol=1e-8)


def check(fn, *inputs, **tol):
    assert gradcheck(fn, list(inputs), **{**TIGHT, **tol})


def second(fn):
    def first(*xs):
        return tg.grad(fn(*xs).sum(), xs[0], create_graph=True)[0]
    return first


def axis_of(data, ndim, label="axis"):
    return data.draw(st.integers(-ndim, ndim - 1), label=label)


@given(data=st.data())
def test_flip(data):
    x = data.draw(tensors(), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    np.testing.assert_array_equal(x.flip(axis).numpy(), np.flip(x.numpy(), axis))
    check(lambda x: tg.flip(x, axis) * x, x)  # x re-used


@given(data=st.data())
def test_roll(data):
    x = data.draw(tensors(), label="x")
    shift = data.draw(st.integers(-5, 5), label="shift")
    axis = None if x.ndim == 0 else data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1), label="axis")
    np.testing.assert_array_equal(x.roll(shift, axis).numpy(), np.roll(x.numpy(), shift, axis))
    check(lambda x: tg.roll(x, shift, axis) * x, x)


def test_roll_several_axes():
    x = tg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    np.testing.assert_array_equal(x.roll((1, -2), (0, 1)).numpy(), np.roll(x.numpy(), (1, -2), (0, 1)))
    np.testing.assert_array_equal(tg.roll(x, 1, dims=0).numpy(), np.roll(x.numpy(), 1, 0))


@given(data=st.data())
def test_repeat_and_tile(data):
    x = data.draw(tensors(), label="x")
    axis = None if x.ndim == 0 else data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1), label="axis")
    n = x.size if axis is None else x.shape[axis]
    repeats = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), min_size=n, max_size=n), label="repeats")
    np.testing.assert_array_equal(x.repeat(repeats, axis=axis).numpy(), np.repeat(x.numpy(), repeats, axis))
    check(lambda x: tg.repeat(x, repeats, axis), x)
    reps = data.draw(st.integers(1, 3) | st.lists(st.integers(1, 3), max_size=4).map(tuple), label="reps")
    np.testing.assert_array_equal(x.tile(reps).numpy(), np.tile(x.numpy(), reps))
    check(lambda x: tg.tile(x, reps), x)


@st.composite
def along(draw, max_index=5):
    """(x, indices, axis) for take_along_axis: indices with x's axes, any length along `axis` (repeats)."""
    x = draw(tensors(shape=shapes(min_dims=1)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    shape = list(x.shape)
    shape[axis] = draw(st.integers(1, max_index))
    shape = [n if i == axis % x.ndim else draw(st.sampled_from([n, 1])) for i, n in enumerate(shape)]
    indices = draw(hnp.arrays(np.int64, tuple(shape), elements=st.integers(0, x.shape[axis] - 1)))
    return x, indices, axis


@given(args=along())
def test_take_along_axis(args):
    x, indices, axis = args
    np.testing.assert_array_equal(tg.take_along_axis(x, indices, axis).numpy(),
                                  np.take_along_axis(x.numpy(), indices, axis))
    check(lambda x: x.take_along_axis(indices, axis), x)


@given(data=st.data())
def test_gather_and_scatter_add_follow_pytorch(data):
    x = data.draw(tensors(shape=shapes(min_dims=1)), label="x")
    dim = axis_of(data, x.ndim, "dim")
    shape = tuple(data.draw(st.integers(1, 4), label="n") if i == dim % x.ndim else data.draw(st.integers(1, n))
                  for i, n in enumerate(x.shape))
    index = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, x.shape[dim] - 1)), label="index")
    expected = np.empty(shape)  # PyTorch's definition, element by element
    for position in np.ndindex(*shape):
        source = list(position)
        source[dim] = index[position]
        expected[position] = x.numpy()[tuple(source)]
    np.testing.assert_array_equal(x.gather(dim, index).numpy(), expected)
    check(lambda x: tg.gather(x, dim, index), x)
    src = data.draw(tensors(shape=shape), label="src")
    added = x.numpy().copy()
    for position in np.ndindex(*shape):
        target = list(position)
        target[dim] = index[position]
        added[tuple(target)] += src.numpy()[position]
    np.testing.assert_allclose(x.scatter_add(dim, index, src).numpy(), added, rtol=1e-12)
    check(lambda x, src: tg.scatter_add(x, dim, index, src) * x, x, src)


@given(data=st.data())
def test_diag(data):
    x = data.draw(tensors(shape=shapes(min_dims=1, max_dims=2)), label="x")
    k = data.draw(st.integers(-3, 3), label="k")
    np.testing.assert_array_equal(x.diag(k).numpy(), np.diag(x.numpy(), k))
    check(lambda x: tg.diag(x, k), x)


@given(data=st.data())
def test_tril_and_triu(data):
    x = data.draw(tensors(shape=shapes(min_dims=2)), label="x")
    k = data.draw(st.integers(-3, 3), label="k")
    np.testing.assert_array_equal(x.tril(k).numpy(), np.tril(x.numpy(), k))
    np.testing.assert_array_equal(x.triu(k).numpy(), np.triu(x.numpy(), k))
    check(lambda x: tg.tril(x, k) + tg.triu(x, k) * x, x)


@given(data=st.data())
def test_pad(data):
    x = data.draw(tensors(shape=shapes(min_dims=1)), label="x")
    widths = data.draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=x.ndim, max_size=x.ndim),
                       label="widths")
    value = data.draw(st.floats(-2, 2), label="value")
    np.testing.assert_array_equal(x.pad(widths, value).numpy(), np.pad(x.numpy(), widths, constant_values=value))
    check(lambda x: tg.pad(x, widths, value), x)
    check(second(lambda x: tg.pad(x * x, widths, value)), x, rtol=1e-5, atol=1e-7)


def test_pad_widths_as_numpy_takes_them():
    assert tg.tensor(2.0).pad(1).item() == 2.0  # a 0-d tensor has no axis to pad
    x = tg.tensor(np.ones((2, 3)))
    assert x.pad(1).shape == (4, 5) and x.pad((1, 2)).shape == (5, 6) and x.pad(((0, 0), (2, 0))).shape == (2, 5)
    with pytest.raises(ValueError, match=r"pad: pad_width .* does not fit tensor of shape \(2, 3\)"):
        x.pad([(1, 1)] * 3)
    with pytest.raises(ValueError, match="widths must be >= 0"):
        x.pad(-1)


@given(data=st.data())
def test_masked_fill_and_where_with_a_number(data):
    x = data.draw(tensors(), label="x")
    mask = data.draw(hnp.arrays(bool, hnp.broadcastable_shapes(x.shape)), label="mask")
    assume(np.broadcast_shapes(mask.shape, x.shape) == x.shape)
    np.testing.assert_array_equal(x.masked_fill(mask, -1.0).numpy(), np.where(mask, -1.0, x.numpy()))
    check(lambda x: tg.masked_fill(x, mask, 0.5) * x, x)
    np.testing.assert_array_equal(tg.where(mask, x, 0.0).numpy(), np.where(mask, x.numpy(), 0.0))
    check(lambda x: tg.where(mask, 2.0, x), x)
    check(lambda x: tg.where(mask, x, 0), x)


def test_where_of_two_numbers_is_a_tensor():
    y = tg.where(np.array([True, False]), 1.0, 2.0)
    assert isinstance(y, tg.Tensor) and y.tolist() == [1.0, 2.0]


@given(data=st.data())
def test_sort_and_topk(data):
    x = data.draw(tensors(shape=shapes(min_dims=1), distinct=True), label="x")  # no ties: one order
    axis = axis_of(data, x.ndim)
    descending = data.draw(st.booleans(), label="descending")
    expected = np.sort(x.numpy(), axis=axis)
    np.testing.assert_array_equal(x.sort(axis, descending).numpy(), np.flip(expected, axis) if descending else expected)
    check(lambda x: tg.sort(x, axis, descending) * np.arange(x.shape[axis]).reshape(
        [-1 if i == axis % x.ndim else 1 for i in range(x.ndim)]), x)
    k = data.draw(st.integers(0, x.shape[axis]), label="k")
    largest = data.draw(st.booleans(), label="largest")
    values, indices = x.topk(k, axis, largest)
    order = np.argsort(-x.numpy() if largest else x.numpy(), axis=axis)
    np.testing.assert_array_equal(indices.numpy(), np.take(order, np.arange(k), axis=axis))
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x.numpy(), indices.numpy(), axis))
    check(lambda x: tg.topk(x, k, axis, largest)[0], x)


def test_sort_and_topk_send_the_gradient_to_the_selected_elements():
    x = tg.tensor([3.0, 1.0, 2.0, 3.0], requires_grad=True)
    values, indices = x.topk(2)
    assert values.tolist() == [3.0, 3.0] and indices.tolist() == [0, 3]  # ties: the first ones, in order
    (values * tg.tensor([10.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [10.0, 0.0, 0.0, 1.0]
    x.grad = None
    (x.sort() * tg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [3.0, 1.0, 2.0, 4.0]
    assert x.sort(axis=None).shape == (4,) and x.argsort().tolist() == [1, 2, 0, 3]


EINSUMS = [  # (subscripts, operand shapes)
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 2)]), ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]),
    ("ij,k->ik", [(2, 3), (4,)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("abc,cd,d->ab", [(2, 2, 3), (3, 2), (2,)]),
    ("ij,j->i", [(2, 3), (1,)]),
]


@pytest.mark.parametrize("subscripts, shape_list", EINSUMS, ids=[e[0] for e in EINSUMS])
@given(data=st.data())
def test_einsum(subscripts, shape_list, data):
    operands = [data.draw(tensors(shape=s), label=f"operand {i}") for i, s in enumerate(shape_list)]
    np.testing.assert_allclose(tg.einsum(subscripts, *operands).numpy(),
                               np.einsum(subscripts, *(o.numpy() for o in operands)), rtol=1e-12, atol=1e-12)
    check(lambda *xs: tg.einsum(subscripts, *xs), *operands)
    check(second(lambda *xs: tg.einsum(subscripts, *xs) * tg.einsum(subscripts, *xs)), *operands, rtol=1e-5, atol=1e-6)


def test_einsum_refuses_what_it_does_not_do():
    x = tg.tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match="'...' is not supported"):
        tg.einsum("...ij->...ji", x)
    with pytest.raises(ValueError, match="a letter repeated in one operand"):
        tg.einsum("ii->i", x)
    with pytest.raises(ValueError, match="names 2 operands, got 1"):
        tg.einsum("ij,jk->ik", x)
    with pytest.raises(ValueError, match=r"einsum 'ij,jk->ik' on shapes \(2, 2\), \(3, 2\)"):
        tg.einsum("ij,jk->ik", x, np.ones((3, 2)))


@given(data=st.data())
def test_outer(data):
    a, b = data.draw(tensors(), label="a"), data.draw(tensors(), label="b")
    np.testing.assert_allclose(tg.outer(a, b).numpy(), np.outer(a.numpy(), b.numpy()), rtol=1e-15)
    check(lambda a, b: tg.outer(a, b) * tg.outer(a, a).sum(), a, b)


# ---------------------------------------------------------------------------------------------------------------
# PyTorch's spellings of reshape, broadcast_to and concatenate
# ---------------------------------------------------------------------------------------------------------------


@given(data=st.data())
def test_flatten_unsqueeze_view_expand(data):
    x = data.draw(tensors(shape=shapes(min_dims=1)), label="x")
    start = axis_of(data, x.ndim, "start")
    end = data.draw(st.integers(start % x.ndim, x.ndim - 1), label="end")
    merged = x.shape[:start % x.ndim] + (int(np.prod(x.shape[start % x.ndim:end + 1])),) + x.shape[end + 1:]
    assert x.flatten(start, end).shape == merged and x.flatten().shape == (x.size,)
    np.testing.assert_array_equal(tg.flatten(x, start, end).numpy(), x.numpy().reshape(merged))
    dim = data.draw(st.integers(-x.ndim - 1, x.ndim), label="dim")
    assert x.unsqueeze(dim).shape == np.expand_dims(x.numpy(), dim).shape
    assert x.view(-1).shape == (x.size,) and x.T.view(x.size).tolist() == x.numpy().T.reshape(-1).tolist()
    lead = data.draw(st.integers(1, 3), label="lead")
    sizes = (lead,) + tuple(-1 if n > 1 else data.draw(st.sampled_from([-1, 1, 3])) for n in x.shape)
    target = (lead,) + tuple(n if s == -1 else s for n, s in zip(x.shape, sizes[1:]))
    np.testing.assert_array_equal(x.expand(*sizes).numpy(), np.broadcast_to(x.numpy(), target))
    check(lambda x: x.flatten(start, end).unsqueeze(0).view(-1) * x.view(-1), x)
    check(lambda x: x.expand(sizes), x)


def test_cat_and_stack_spellings():
    a, b = tg.tensor(np.ones((2, 3)), requires_grad=True), tg.tensor(np.zeros((1, 3)), requires_grad=True)
    assert tg.cat([a, b]).shape == (3, 3) and tg.cat([a, a], dim=1).shape == (2, 6) and tg.cat([a, b], axis=0).shape == (3, 3)
    check(lambda a, b: tg.cat([a, b, a], dim=0), a, b)
    with pytest.raises(ValueError, match=r"cannot concatenate shapes \(2, 3\), \(1, 3\) along axis 1"):
        tg.cat([a, b], dim=1)
