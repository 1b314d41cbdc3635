"""The gradient bugs of issue 17, each at the reproducer it was found with, and PyTorch's answers."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg

INF = np.inf

# (exponent, y = 0^b, dy/da, dy/db) at a = 0, as torch 2.13 gives them (see Pow's docstring)
AT_ZERO = [(-1.0, INF, -INF, -INF), (-0.5, INF, -INF, -INF), (0.0, 1.0, 0.0, 0.0), (0.5, 0.0, INF, 0.0),
           (1.0, 0.0, 1.0, 0.0), (2.0, 0.0, 0.0, 0.0)]


@pytest.mark.parametrize("b, y, da, db", AT_ZERO)
def test_power_rule_at_zero_with_a_tensor_exponent(b, y, da, db):
    x, e = tg.tensor([0.0], requires_grad=True), tg.tensor([b], requires_grad=True)
    out = x**e
    out.sum().backward()
    assert out.tolist() == [y] and x.grad.tolist() == [da] and e.grad.tolist() == [db]


@pytest.mark.parametrize("b, y, da, db", AT_ZERO)
def test_power_rule_at_zero_with_a_number_as_base_or_exponent(b, y, da, db):
    e = tg.tensor([b], requires_grad=True)
    (0.0**e).sum().backward()  # bug 2: d/dy of 0.0 ** y for y < 0 was NaN
    assert e.grad.tolist() == [db]
    x = tg.tensor([0.0], requires_grad=True)
    (x**b).sum().backward()
    assert x.grad.tolist() == [da]


def test_power_rule_at_zero_under_create_graph_gives_the_same_first_derivatives():
    x, e = tg.tensor([0.0, 0.0, 0.0], requires_grad=True), tg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    gx, ge = tg.grad((x**e).sum(), [x, e], create_graph=True)
    assert gx.tolist() == [-INF, 0.0, 0.0] and ge.tolist() == [-INF, 0.0, 0.0]


@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("method", ["sum", "mean", "max", "min"])
def test_axis_0_and_minus_1_of_a_0d_tensor(method, axis, keepdims):
    x = tg.tensor(2.0, requires_grad=True)
    y = getattr(x, method)(axis, keepdims=keepdims)
    if isinstance(axis, int) and method != "mean":  # numpy takes these (its mean does not); PyTorch all
        assert getattr(np.array(2.0), method)(axis=axis, keepdims=keepdims).shape == ()
    assert y.shape == () and y.item() == 2.0
    y.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_and_log_softmax_of_a_0d_tensor(axis):
    x = tg.tensor(2.0, requires_grad=True)
    assert tg.softmax(x, axis).item() == 1.0 and tg.softmax(x).item() == 1.0
    assert tg.log_softmax(x, axis).item() == 0.0
    tg.log_softmax(x, axis).backward()
    assert x.grad.item() == 0.0


def test_axes_out_of_range_of_a_0d_tensor_still_fail():
    for axis in (1, -2):
        with pytest.raises(np.exceptions.AxisError, match=f"axis {axis} is out of bounds for a tensor of dimension 0"):
            tg.tensor(2.0).sum(axis)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_leafs_grad_keeps_its_dtype_whatever_the_seeds(dtype, create_graph):
    leaf = tg.tensor(np.ones(3, dtype), requires_grad=True)
    leaf.backward(gradient=tg.tensor([1, 2, 3]), create_graph=create_graph)  # an int64 seed
    assert leaf.grad.dtype == dtype and leaf.grad.tolist() == [1.0, 2.0, 3.0]
    y = leaf * 2
    y.backward(gradient=tg.tensor([1, 1, 1]), create_graph=create_graph)
    assert leaf.grad.dtype == dtype and leaf.grad.tolist() == [3.0, 4.0, 5.0]
