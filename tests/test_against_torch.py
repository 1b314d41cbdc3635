"""A differential test: random graphs of the engine's operations, run by tinygrad_edu and by PyTorch's autograd
on the same float64 inputs, with zeros, infinities and NaN among them; values and gradients must agree, NaN
where NaN and the same infinities. Skipped where torch is not installed (it is not a dependency: CI does not
install it, a developer can with `pip install torch`).

Where the two differ on purpose (documented in engine/ops.py), the graphs here avoid it: PyTorch's max/amax
backward multiplies its mask (an infinite gradient becomes NaN off the maximum), ours selects. The operations
of issue 17 are compared at special values below (sign(NaN) is numpy's NaN, PyTorch's 0)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg

torch = pytest.importorskip("torch")

SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, float("inf"), float("-inf"), float("nan")])
# Magnitudes away from underflow: where b·b underflows, PyTorch's −g·a/b² and our −g·y/b part ways (both
# "right" up to rounding), which says nothing about the conventions checked here.
VALUES = st.one_of(st.floats(1e-3, 4), st.floats(-4, -1e-3), SPECIAL)
SIZE = 5

# name -> (tinygrad_edu, torch), each a function of (current, other) where `other` is a second input
STEPS = {
    "add": (lambda x, o: x + o, lambda x, o: x + o),
    "sub": (lambda x, o: o - x, lambda x, o: o - x),
    "mul": (lambda x, o: x * o, lambda x, o: x * o),
    "div": (lambda x, o: x / o, lambda x, o: x / o),
    "neg": (lambda x, o: -x, lambda x, o: -x),
    "exp": (lambda x, o: x.exp(), lambda x, o: x.exp()),
    "log": (lambda x, o: x.log(), lambda x, o: x.log()),
    "sqrt": (lambda x, o: x.sqrt(), lambda x, o: x.sqrt()),
    "abs": (lambda x, o: x.abs(), lambda x, o: x.abs()),
    "sigmoid": (lambda x, o: x.sigmoid(), lambda x, o: x.sigmoid()),
    "tanh": (lambda x, o: x.tanh(), lambda x, o: x.tanh()),
    "relu": (lambda x, o: x.relu(), lambda x, o: x.relu()),
    "maximum": (lambda x, o: tg.maximum(x, o), lambda x, o: torch.maximum(x, o)),
    "minimum": (lambda x, o: tg.minimum(x, o), lambda x, o: torch.minimum(x, o)),
    "clip": (lambda x, o: x.clip(-1.0, 1.5), lambda x, o: x.clamp(-1.0, 1.5)),
    "square": (lambda x, o: x * x, lambda x, o: x * x),
}


@settings(max_examples=300, deadline=None)
@given(
    x=hnp.arrays(np.float64, SIZE, elements=VALUES),
    other=hnp.arrays(np.float64, SIZE, elements=VALUES),
    seed=hnp.arrays(np.float64, SIZE, elements=VALUES),
    steps=st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=5),
)
def test_random_graphs_agree_with_pytorch(x, other, seed, steps):
    ours = [tg.tensor(x, requires_grad=True), tg.tensor(other, requires_grad=True)]
    theirs = [torch.tensor(x, requires_grad=True), torch.tensor(other, requires_grad=True)]
    a, b = ours[0], theirs[0]
    for name in steps:
        a, b = STEPS[name][0](a, ours[1]), STEPS[name][1](b, theirs[1])
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-12, equal_nan=True,
                               err_msg=f"forward of {steps}")
    a.backward(seed)
    b.backward(torch.tensor(seed))
    for mine, reference, which in zip(ours, theirs, ("x", "other")):
        expected = np.zeros(SIZE) if reference.grad is None else reference.grad.numpy()
        got = np.zeros(SIZE) if mine.grad is None else mine.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-12, equal_nan=True,
                                   err_msg=f"gradient of {which} through {steps}")


# The operations of issue 17 at special values: kinks, domain edges, zeros, infinities and NaN.
POINTS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, 1e-300, 3.0, np.inf, -np.inf, np.nan])
UNARY_NEW = ["sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan", "log2", "log10", "log1p", "exp2", "expm1",
             "rsqrt", "sign", "floor", "ceil", "round", "trunc", "square"]


@pytest.mark.parametrize("name", UNARY_NEW)
def test_new_elementwise_operations_agree_with_pytorch_at_special_values(name):
    x, xt = tg.tensor(POINTS, requires_grad=True), torch.tensor(POINTS, requires_grad=True)
    y, yt = getattr(x, name)(), getattr(torch, name)(xt)
    expected = yt.detach().numpy().copy()
    if name == "sign":  # the one difference, on purpose: numpy's sign(NaN) is NaN, PyTorch's 0
        assert torch.sign(torch.tensor(np.nan)).item() == 0.0
        expected[np.isnan(POINTS)] = np.nan
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, equal_nan=True, err_msg=name)
    y.backward(np.ones_like(POINTS))
    yt.backward(torch.ones_like(xt))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, equal_nan=True, err_msg=name)


REDUCTIONS = {  # name: (ours, torch's, input)
    "prod with zeros": (lambda x: x.prod(1), lambda x: x.prod(1), [[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.0, 2.0, 3.0]]),
    "norm at 0": (lambda x: x.norm(dim=1), lambda x: torch.linalg.vector_norm(x, dim=1), [[0.0, 0.0], [3.0, 4.0]]),
    "norm 1": (lambda x: x.norm(1, 1), lambda x: torch.linalg.vector_norm(x, 1, dim=1), [[0.0, -2.0], [3.0, 4.0]]),
    "norm inf ties": (lambda x: x.norm(np.inf, 1), lambda x: torch.linalg.vector_norm(x, float("inf"), dim=1),
                      [[3.0, -3.0, 1.0], [1.0, 2.0, 0.0]]),
    "fro": (lambda x: x.norm("fro"), lambda x: torch.linalg.matrix_norm(x, "fro"), [[1.0, 2.0], [3.0, 4.0]]),
    "std correction 1": (lambda x: x.std(dim=1, correction=1), lambda x: x.std(dim=1, correction=1),
                         [[1.0, 2.0, 4.0], [0.0, 1.0, 0.0]]),
    "std of equal values": (lambda x: x.std(1), lambda x: x.std(1, correction=0), [[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]]),
    "var": (lambda x: x.var(0), lambda x: x.var(0, correction=0), [[1.0, 2.0], [4.0, 0.0]]),
    "logsumexp inf": (lambda x: x.logsumexp(1), lambda x: x.logsumexp(1),
                      [[1000.0, 1000.0], [-np.inf, 0.0], [1.0, 2.0]]),
    "renorm": (lambda x: x.renorm(2, 0, 1.0), lambda x: x.renorm(2, 0, 1.0), [[3.0, 4.0], [0.3, -0.4], [0.6, 0.8]]),
    "renorm columns, p 1": (lambda x: x.renorm(1, 1, 2.0), lambda x: x.renorm(1, 1, 2.0), [[3.0, 0.5], [-1.0, 0.5]]),
    "cumsum": (lambda x: x.cumsum(dim=1), lambda x: x.cumsum(1), [[1.0, np.inf], [2.0, 3.0]]),
    "cumprod with zeros": (lambda x: x.cumprod(dim=1), lambda x: x.cumprod(1),
                           [[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0], [0.0, 0.0, 5.0]]),
    "topk ties": (lambda x: x.topk(2, 1)[0], lambda x: x.topk(2, 1).values, [[3.0, 1.0, 3.0, 2.0]]),
    "sort": (lambda x: x.sort(1, descending=True), lambda x: x.sort(1, descending=True).values,
             [[3.0, 1.0, 2.5, 2.0]]),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_new_reductions_and_selections_agree_with_pytorch(name):
    ours, theirs, values = REDUCTIONS[name]
    x, xt = tg.tensor(values, requires_grad=True), torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12, equal_nan=True)
    seed = np.arange(1.0, y.size + 1).reshape(y.shape)
    y.backward(seed)
    yt.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_power_rule_at_zero_agrees_with_pytorch_for_every_sign_of_the_exponent():
    b = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0])
    a = np.zeros_like(b)
    x, y = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (x**y).sum().backward()
    (xt**yt).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_array_equal(y.grad.numpy(), yt.grad.numpy())
    for exponent in b:  # a number as the exponent, and 0.0 as the base
        x, xt = tg.tensor([0.0], requires_grad=True), torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        (x**exponent).sum().backward()
        (xt**float(exponent)).sum().backward()
        assert x.grad.tolist() == xt.grad.tolist(), exponent
    y, yt = tg.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    (0.0**y).sum().backward()
    (0.0**yt).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), yt.grad.numpy())


SHAPE_OPS = {  # name: (ours, torch's), on a (3, 4) input
    "flip": (lambda x: x.flip(1), lambda x: x.flip(1)),
    "roll": (lambda x: x.roll((1, -1), (0, 1)), lambda x: x.roll((1, -1), (0, 1))),
    "repeat": (lambda x: x.repeat(2, axis=0), lambda x: x.repeat_interleave(2, dim=0)),
    "tile": (lambda x: x.tile((2, 3)), lambda x: x.repeat(2, 3)),
    "tril": (lambda x: x.tril(-1), lambda x: x.tril(-1)),
    "triu": (lambda x: x.triu(1), lambda x: x.triu(1)),
    "diag": (lambda x: x.diag(1), lambda x: x.diag(1)),
    "pad": (lambda x: x.pad(((1, 0), (2, 3)), 0.5), lambda x: torch.nn.functional.pad(x, (2, 3, 1, 0), value=0.5)),
    "gather": (lambda x: x.gather(1, np.array([[0, 0], [3, 1], [2, 2]])),
               lambda x: x.gather(1, torch.tensor([[0, 0], [3, 1], [2, 2]]))),
    "scatter_add": (lambda x: x.scatter_add(0, np.array([[0, 1, 0, 2]]), x[1:2] * 3),
                    lambda x: x.scatter_add(0, torch.tensor([[0, 1, 0, 2]]), x[1:2] * 3)),
    "masked_fill": (lambda x: x.masked_fill(x.numpy() > 0, 2.0), lambda x: x.masked_fill(x > 0, 2.0)),
    "einsum": (lambda x: tg.einsum("ij,kj->ik", x, x), lambda x: torch.einsum("ij,kj->ik", x, x)),
    "outer": (lambda x: tg.outer(x[0], x[1]), lambda x: torch.outer(x[0], x[1])),
    "flatten": (lambda x: x.unsqueeze(0).flatten(1, 2), lambda x: x.unsqueeze(0).flatten(1, 2)),
    "expand": (lambda x: x[:1].expand(2, -1, 4), lambda x: x[:1].expand(2, -1, 4)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_operations_agree_with_pytorch(name):
    values = np.random.default_rng(7).standard_normal((3, 4))
    ours, theirs = SHAPE_OPS[name]
    x, xt = tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    seed = np.random.default_rng(8).standard_normal(y.shape)
    y.backward(seed)
    yt.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
