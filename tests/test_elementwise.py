"""engine/elementwise.py: every operation's forward against numpy, backward against central differences in
float64 (hypothesis: random shapes, 0-d included), the closed-form derivative, second derivatives for the
smooth ones, a re-used input, and the conventions at kinks and domain edges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import gradcheck
from tinygrad_edu.testing import tensors

TIGHT = dict(rtol=1e-6, atol=1e-8)
STEPS = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)  # the jumps of round (halves) and of floor, ceil, trunc (integers)
INTEGERS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)

# name: (engine function, numpy forward, numpy derivative, values strategy kwargs, smooth?)
OPS = {
    "sin": (tg.sin, np.sin, np.cos, {}, True),
    "cos": (tg.cos, np.cos, lambda x: -np.sin(x), {}, True),
    "tan": (tg.tan, np.tan, lambda x: 1 / np.cos(x) ** 2, {"low": -1.4, "high": 1.4}, True),
    "sinh": (tg.sinh, np.sinh, np.cosh, {}, True),
    "cosh": (tg.cosh, np.cosh, np.sinh, {}, True),
    "asin": (tg.asin, np.arcsin, lambda x: 1 / np.sqrt(1 - x * x), {"low": -0.9, "high": 0.9}, True),
    "acos": (tg.acos, np.arccos, lambda x: -1 / np.sqrt(1 - x * x), {"low": -0.9, "high": 0.9}, True),
    "atan": (tg.atan, np.arctan, lambda x: 1 / (1 + x * x), {}, True),
    "log2": (tg.log2, np.log2, lambda x: 1 / (x * np.log(2)), {"low": 0.1, "high": 5.0}, True),
    "log10": (tg.log10, np.log10, lambda x: 1 / (x * np.log(10)), {"low": 0.1, "high": 5.0}, True),
    "log1p": (tg.log1p, np.log1p, lambda x: 1 / (1 + x), {"low": -0.9, "high": 5.0}, True),
    "exp2": (tg.exp2, np.exp2, lambda x: np.exp2(x) * np.log(2), {}, True),
    "expm1": (tg.expm1, np.expm1, np.exp, {}, True),
    "rsqrt": (tg.rsqrt, lambda x: 1 / np.sqrt(x), lambda x: -0.5 * x**-1.5, {"low": 0.1, "high": 5.0}, True),
    "square": (tg.square, np.square, lambda x: 2 * x, {}, True),
    "sign": (tg.sign, np.sign, np.zeros_like, {"avoid": (0.0,)}, False),
    "floor": (tg.floor, np.floor, np.zeros_like, {"avoid": INTEGERS}, False),
    "ceil": (tg.ceil, np.ceil, np.zeros_like, {"avoid": INTEGERS}, False),
    "round": (tg.round, np.round, np.zeros_like, {"avoid": STEPS}, False),
    "trunc": (tg.trunc, np.trunc, np.zeros_like, {"avoid": INTEGERS}, False),
}


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_forward_and_backward(name, data):
    fn, forward, derivative, domain, _ = OPS[name]
    x = data.draw(tensors(**domain), label="x")
    y = fn(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    np.testing.assert_allclose(y.numpy(), forward(x.numpy()), rtol=1e-13, atol=1e-13)
    assert gradcheck(fn, [x], **TIGHT)
    (g,) = tg.grad(fn(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), derivative(x.numpy()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in OPS if OPS[n][4]))
@given(data=st.data())
def test_second_derivative(name, data):
    fn, _, _, domain, _ = OPS[name]
    x = data.draw(tensors(**domain), label="x")

    def first(x):
        return tg.grad(fn(x).sum(), x, create_graph=True)[0]

    assert gradcheck(first, [x], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(OPS))
def test_a_reused_input_and_float32(name):
    fn, forward, derivative, domain, _ = OPS[name]
    x = tg.tensor(np.array([0.31, 0.62, 0.13]) * (1 if domain.get("low", -3) >= 0 else -1) + 0.2, requires_grad=True)
    assert gradcheck(lambda x: fn(x) * x + fn(x), [x], **TIGHT)  # x used three times, fn twice
    x32 = tg.tensor(x.numpy().astype(np.float32), requires_grad=True)
    y = fn(x32)
    y.sum().backward()
    assert y.dtype == x32.grad.dtype == np.float32


def test_methods_functions_and_numpys_names_are_one_operation():
    x = tg.tensor([0.25, 0.5], requires_grad=True)
    for method, function in [("sin", tg.sin), ("arcsin", tg.asin), ("arccos", tg.acos), ("arctan", tg.atan),
                             ("fix", tg.trunc), ("square", tg.square)]:
        np.testing.assert_array_equal(getattr(x, method)().numpy(), function(x).numpy())
    assert tg.sin([0.0, 1.0]).tolist() == np.sin([0.0, 1.0]).tolist()  # lists and arrays become tensors


def test_conventions_at_kinks_and_domain_edges_are_pytorchs():
    x = tg.tensor([-1.0, 0.0, 1.0, 0.5, 1.5, 2.5], requires_grad=True)
    for f in (tg.sign, tg.floor, tg.ceil, tg.round, tg.trunc):  # jumps included: gradient 0
        assert tg.grad(f(x).sum(), x)[0].tolist() == [0.0] * 6, f
    assert tg.round(x).tolist() == [-1.0, 0.0, 1.0, 0.0, 2.0, 2.0]  # halves to even
    edge = tg.tensor([-1.0, 1.0], requires_grad=True)
    assert tg.grad(tg.asin(edge).sum(), edge)[0].tolist() == [np.inf, np.inf]
    assert tg.grad(tg.acos(edge).sum(), edge)[0].tolist() == [-np.inf, -np.inf]
    zero = tg.tensor([0.0], requires_grad=True)
    for f, value, slope in [(tg.log2, -np.inf, np.inf), (tg.log10, -np.inf, np.inf), (tg.rsqrt, np.inf, -np.inf)]:
        assert f(zero).tolist() == [value] and tg.grad(f(zero).sum(), zero)[0].tolist() == [slope], f
    assert tg.log1p(tg.tensor([-1.0])).tolist() == [-np.inf]
    tiny = tg.tensor([1e-300], requires_grad=True)
    assert tg.log1p(tiny).item() == 1e-300 and tg.expm1(tiny).item() == 1e-300  # no 1 + x rounding
    assert tg.sign(tg.tensor([np.nan])).tolist()[0] != tg.sign(tg.tensor([np.nan])).tolist()[0]  # NaN stays NaN


def test_nth_derivatives_of_sin_cos_and_exp2_through_create_graph():
    """DeZero's higher-order test, ported: d^n/dx^n sin x = sin(x + nπ/2), each order a backward of the last."""
    x = tg.tensor(np.linspace(-3, 3, 7), requires_grad=True)
    for f, nth in [(tg.sin, lambda n, v: np.sin(v + n * np.pi / 2)), (tg.cos, lambda n, v: np.cos(v + n * np.pi / 2)),
                   (tg.exp2, lambda n, v: np.log(2) ** n * np.exp2(v))]:
        y = f(x)
        for n in range(1, 5):
            (y,) = tg.grad(y.sum(), x, create_graph=True)
            np.testing.assert_allclose(y.numpy(), nth(n, x.numpy()), rtol=1e-12, atol=1e-12, err_msg=f"{f.__name__} {n}")
