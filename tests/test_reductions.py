"""engine/reductions.py: forward against numpy, backward against central differences in float64 (hypothesis:
random shapes and axes, keepdims, zeros among prod's inputs, a re-used input), second derivatives, and the
conventions at the kinks (a zero vector's 2-norm, ties in the ∞-norm, zeros in prod, renorm at its bound)."""

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


def second(fn):
    def first(x):
        return tg.grad(fn(x).sum(), x, create_graph=True)[0]
    return first


def count(shape, axis):
    if axis is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in np.atleast_1d(axis)])) if shape else 1


@pytest.mark.slow
@given(data=st.data())
def test_var_and_std(data):
    x = data.draw(tensors(), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    ddof = data.draw(st.sampled_from([0, 1]), label="ddof")
    keepdims = data.draw(st.booleans(), label="keepdims")
    assume(count(x.shape, axis) > ddof)
    np.testing.assert_allclose(x.var(axis, ddof=ddof, keepdims=keepdims).numpy(),
                               np.var(x.numpy(), axis=axis, ddof=ddof, keepdims=keepdims), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tg.std(x, axis, ddof, keepdims).numpy(),
                               np.std(x.numpy(), axis=axis, ddof=ddof, keepdims=keepdims), rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda x: x.var(axis, ddof=ddof, keepdims=keepdims) * x.sum(), [x], **TIGHT)  # x re-used
    assume(np.all(np.var(x.numpy(), axis=axis, ddof=ddof) > 1e-3))  # std's slope is infinite where var = 0
    assert gradcheck(lambda x: x.std(axis, ddof=ddof), [x], **TIGHT)


def test_var_spellings_and_second_derivative():
    x = tg.tensor([[1.0, 2.0, 4.0], [0.0, -1.0, 3.0]], requires_grad=True)
    np.testing.assert_allclose(x.var(dim=1, correction=1, keepdim=True).numpy(), np.var(x.numpy(), 1, ddof=1, keepdims=True))
    np.testing.assert_allclose(tg.var(x, axis=1, ddof=1).numpy(), x.var(1, correction=1).numpy())
    assert gradcheck(second(lambda x: x.var(1)), [x], rtol=1e-5, atol=1e-7)
    assert tg.var(tg.tensor([1.0])).item() == 0.0 and np.isnan(tg.var(tg.tensor([1.0]), ddof=1).item())  # 0 / 0
    flat = tg.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]], requires_grad=True)
    (g,) = tg.grad(flat.std(1).sum(), flat)  # equal values: std = 0, gradient 0 (PyTorch's), not NaN
    assert flat.std(1).tolist()[0] == 0.0 and g.tolist()[0] == [0.0, 0.0, 0.0] and np.isfinite(g.numpy()).all()


@given(data=st.data())
def test_logsumexp(data):
    x = data.draw(tensors(low=-30, high=30), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    expected = np.log(np.sum(np.exp(x.numpy()), axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(x.logsumexp(axis, keepdims).numpy(), expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x: x.logsumexp(axis, keepdims), [x], **TIGHT)
    assert gradcheck(second(lambda x: tg.logsumexp(x, axis)), [x], rtol=1e-5, atol=1e-7)


def test_logsumexp_is_stable_and_its_gradient_is_the_softmax():
    x = tg.tensor([[1000.0, 1000.0], [-1000.0, -np.inf], [-np.inf, -np.inf]], requires_grad=True)
    y = x.logsumexp(dim=1)
    np.testing.assert_allclose(y.numpy()[:2], [1000.0 + np.log(2.0), -1000.0])
    assert y.numpy()[2] == -np.inf
    (g,) = tg.grad(y[:2].sum(), x)
    np.testing.assert_allclose(g.numpy()[:2], [[0.5, 0.5], [1.0, 0.0]])


PROD_VALUES = st.sampled_from([0.0, 0.5, -1.5, 2.0, -0.75, 1.25])  # zeros often, and more than one per slice


@given(data=st.data())
def test_prod_with_zeros(data):
    x = tg.tensor(data.draw(hnp.arrays(np.float64, shapes(max_side=3), elements=PROD_VALUES), label="x"),
                  requires_grad=True)
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    np.testing.assert_allclose(x.prod(axis, keepdims).numpy(), np.prod(x.numpy(), axis=axis, keepdims=keepdims))
    assert gradcheck(lambda x: tg.prod(x, axis, keepdims), [x], **TIGHT)  # a polynomial: exact at zeros too
    assert gradcheck(lambda x: x.prod(axis) * x.sum(), [x], **TIGHT)
    if x.size <= 8:  # (a full Jacobian of the gradient: one backward per element)
        assert gradcheck(second(lambda x: x.prod(axis)), [x], rtol=1e-5, atol=1e-6)


def test_prod_sends_each_element_the_product_of_the_others():
    x = tg.tensor([[2.0, 3.0, 4.0], [0.0, 3.0, 4.0], [0.0, 0.0, 4.0]], requires_grad=True)
    (g,) = tg.grad(x.prod(dim=1).sum(), x)
    assert g.tolist() == [[12.0, 8.0, 6.0], [12.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


@given(data=st.data())
def test_cumsum(data):
    x = data.draw(tensors(), label="x")
    axis = data.draw(st.none() | st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label="axis")
    y = x.cumsum(axis)
    if x.ndim == 0 and axis is not None:  # a 0-d tensor's running sum keeps its shape, as PyTorch's
        assert y.shape == () and y.item() == x.item()
    else:
        np.testing.assert_allclose(y.numpy(), np.cumsum(x.numpy(), axis=axis), rtol=1e-12)
    assert gradcheck(lambda x: tg.cumsum(x, axis), [x], **TIGHT)
    assert gradcheck(second(lambda x: x.cumsum(axis) * x.cumsum(axis)), [x], rtol=1e-5, atol=1e-7)


def test_cumsum_spellings():
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.cumsum(dim=0).tolist() == [[1.0, 2.0], [4.0, 6.0]] and x.cumsum().tolist() == [1.0, 3.0, 6.0, 10.0]


def renorm_reference(x, p, dim, maxnorm):
    """torch.renorm's documented rule, one slice at a time."""
    y = np.moveaxis(x.copy(), dim, 0)
    for i in range(len(y)):
        n = np.sum(np.abs(y[i]) ** p) ** (1 / p)
        if n > maxnorm:
            y[i] *= maxnorm / (n + 1e-7)
    return np.moveaxis(y, 0, dim)


@given(data=st.data())
def test_renorm(data):
    p = data.draw(st.sampled_from([1, 2, 3]), label="p")
    x = data.draw(tensors(shape=shapes(min_dims=2), avoid=(0.0,)), label="x")  # |x|'s kink at 0 (p = 1)
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1), label="dim")
    others = tuple(a for a in range(x.ndim) if a != dim % x.ndim)
    norms = np.sum(np.abs(x.numpy()) ** p, axis=others) ** (1 / p)
    maxnorm = data.draw(st.sampled_from([0.5 * norms.min(), float(np.median(norms)), 2 * norms.max()]), label="maxnorm")
    assume(np.all(np.abs(norms - maxnorm) > 1e-3 * maxnorm))  # at ‖x_i‖ = maxnorm the scale has a kink
    y = x.renorm(p, dim, maxnorm)
    np.testing.assert_allclose(y.numpy(), renorm_reference(x.numpy(), p, dim % x.ndim, maxnorm), rtol=1e-12)
    assert np.all(np.sum(np.abs(y.numpy()) ** p, axis=others) ** (1 / p) <= maxnorm * (1 + 1e-12) + 1e-12 * (maxnorm == 0))
    assert gradcheck(lambda x: tg.renorm(x, p, dim, maxnorm) * x, [x], **TIGHT)  # x re-used


def test_renorm_conventions_and_errors():
    x = tg.tensor([[3.0, 4.0], [0.3, 0.4]], requires_grad=True)
    y = x.renorm(2, 0, 1.0)
    np.testing.assert_allclose(y.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)  # rows above 1 scaled, others kept
    at = tg.tensor([[3.0, 4.0]], requires_grad=True)
    (g,) = tg.grad((at.renorm(2, 0, 5.0) * tg.tensor([[1.0, 2.0]])).sum(), at)
    assert g.tolist() == [[1.0, 2.0]]  # at the bound exactly: the unscaled branch (PyTorch's strict >)
    assert gradcheck(second(lambda x: x.renorm(2, 1, 1.0)), [tg.tensor([[1.0, 2.0], [3.0, -4.0]], requires_grad=True)],
                     rtol=1e-5, atol=1e-7)
    for bad, match in (((2, 0, -1.0), "maxnorm must be >= 0"), ((0, 0, 1.0), "p must be > 0"),
                       ((2, 2, 1.0), "axis"), ((2, 0, float("nan")), "maxnorm must be a number"),
                       ((2, 0.5, 1.0), "dim must be an integer")):
        with pytest.raises((ValueError, TypeError), match=match):
            x.renorm(*bad)
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(3,\)"):
        tg.tensor([1.0, 2.0, 3.0]).renorm(2, 0, 1.0)


@pytest.mark.parametrize("order", [None, 2, "fro", 1, 3, np.inf, -np.inf])
@given(data=st.data())
def test_norm(order, data):
    distinct = order in (np.inf, -np.inf)  # no ties between the largest (smallest) |x|: split by convention
    x = data.draw(tensors(low=0.1 if distinct else -3, avoid=() if distinct else (0.0,), distinct=distinct), label="x")
    axis = data.draw(axes(x.ndim), label="axis") if order != "fro" else None
    keepdims = data.draw(st.booleans(), label="keepdims")
    flat = x.numpy().reshape(-1) if axis is None else x.numpy()
    ord_ = 2 if order in (None, "fro") else order
    expected = np.linalg.norm(flat, ord=ord_, axis=axis if axis is not None else None, keepdims=keepdims) \
        if (axis is None or np.ndim(axis) == 0) else np.sum(np.abs(flat) ** ord_, axis=axis, keepdims=keepdims) ** (1 / ord_)
    if axis is None and keepdims:
        expected = np.reshape(expected, (1,) * x.ndim)
    if isinstance(axis, tuple) and order in (np.inf, -np.inf):
        expected = (np.max if order > 0 else np.min)(np.abs(flat), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(x.norm(order, axis, keepdims).numpy(), expected, rtol=1e-12)
    assert gradcheck(lambda x: x.norm(order, axis, keepdims), [x], **TIGHT)


def test_norm_conventions_and_spellings():
    zero = tg.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    (g,) = tg.grad(zero.norm(dim=1).sum(), zero)  # the zero vector's 2-norm: gradient 0, not 0/0 (PyTorch)
    assert g.tolist() == [[0.0, 0.0], [0.6, 0.8]]
    assert gradcheck(second(lambda x: x.norm(axis=1)), [tg.tensor([[1.0, 2.0], [3.0, -4.0]], requires_grad=True)],
                     rtol=1e-5, atol=1e-7)
    ties = tg.tensor([3.0, -3.0, 1.0], requires_grad=True)
    assert tg.grad(ties.norm(np.inf), ties)[0].tolist() == [0.5, -0.5, 0.0]  # split between ties, as max
    assert tg.norm([3.0, 4.0], p=2).item() == 5.0 and tg.norm(tg.tensor([3.0, 4.0]), "fro").item() == 5.0
    for bad in (0, -1, "nuc"):
        with pytest.raises(ValueError, match="norm: ord must be"):
            tg.tensor([1.0]).norm(bad)
    with pytest.raises(TypeError, match="not both"):
        tg.tensor([1.0]).sum(axis=0, dim=0)


@given(data=st.data())
def test_cumprod_with_zeros(data):
    x = tg.tensor(data.draw(hnp.arrays(np.float64, shapes(max_side=3), elements=PROD_VALUES), label="x"),
                  requires_grad=True)
    axis = data.draw(st.none() | st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), label="axis")
    y = x.cumprod(axis)
    if x.ndim == 0 and axis is not None:
        assert y.shape == () and y.item() == x.item()
    else:
        np.testing.assert_array_equal(y.numpy(), np.cumprod(x.numpy(), axis=axis))
    assert gradcheck(lambda x: tg.cumprod(x, axis) * x.sum(), [x], **TIGHT)  # a polynomial: exact at zeros
    zeros_per_slice = (x.numpy() == 0).sum(axis=axis if x.ndim else None)
    if x.size <= 8 and np.all(zeros_per_slice <= 1):  # where its second derivatives are exact
        assert gradcheck(second(lambda x: x.cumprod(axis)), [x], rtol=1e-5, atol=1e-6)


def test_cumprod_gradient_by_hand():
    x = tg.tensor([[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]], requires_grad=True)
    (g,) = tg.grad(x.cumprod(dim=1).sum(), x)
    # d/dx_k Σ_j Π_{i<=j} x_i = Σ_{j>=k} Π_{i<=j, i≠k} x_i: for [2, 3, 4], 1 + 3 + 3·4, 2 + 2·4 and 2·3
    assert g.tolist() == [[1 + 3 + 12, 2 + 8, 6], [1.0, 2 + 8, 0.0], [1 + 3, 0.0, 0.0]]
