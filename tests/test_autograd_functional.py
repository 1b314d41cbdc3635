"""autograd_functional: jacobian, hessian, hvp, vjp, jvp against central finite differences and each other."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import autograd_functional as F
from tinygrad_edu.testing import arrays, shapes

# Smooth functions of one tensor (any shape); each re-uses its input, and broadcasts against a constant.
VECTOR_FUNCTIONS = {
    "tanh(x)·x": lambda x: x.tanh() * x,
    "exp(x/2) + x²": lambda x: (x * 0.5).exp() + x * x,
    "sigmoid(x)·sum(x)": lambda x: x.sigmoid() * x.sum(),
    "x · row": lambda x: x * tg.tensor(np.linspace(-1, 1, x.shape[-1] if x.ndim else 1)),
}
SCALAR_FUNCTIONS = {
    "Σ tanh(x)·x": lambda x: (x.tanh() * x).sum(),
    "log Σ exp(x)": lambda x: x.exp().sum().log(),
    "(Σ x²)² / 4": lambda x: (x * x).sum() * (x * x).sum() * 0.25,
    "Σ sigmoid(x)·x³": lambda x: (x.sigmoid() * x * x * x).sum(),
}

EPS = 1e-6


def numeric_jacobian(f, x: np.ndarray) -> np.ndarray:
    """∂f/∂x by central differences, shape f(x).shape + x.shape."""
    flat = x.ravel()
    out_shape = np.shape(f(x))
    J = np.empty((int(np.prod(out_shape)), flat.size))
    for j in range(flat.size):
        step = np.zeros_like(flat)
        step[j] = EPS
        J[:, j] = (np.ravel(f((flat + step).reshape(x.shape))) - np.ravel(f((flat - step).reshape(x.shape)))) / (2 * EPS)
    return J.reshape(out_shape + x.shape)


def values(fn):
    return lambda a: fn(tg.tensor(a)).numpy()


def gradient(fn):
    def g(a):
        x = tg.tensor(a, requires_grad=True)
        return tg.grad(fn(x), x)[0].numpy()
    return g


points = shapes(max_dims=2, max_side=4).flatmap(lambda s: arrays(shape=s, low=-2, high=2))


@given(points, st.sampled_from(sorted(VECTOR_FUNCTIONS)))
def test_jacobian_matches_finite_differences_and_vjp_jvp(x, name):
    fn = VECTOR_FUNCTIONS[name]
    J = F.jacobian(fn, tg.tensor(x)).numpy()
    np.testing.assert_allclose(J, numeric_jacobian(values(fn), x), atol=1e-6, rtol=1e-5)
    out_shape = J.shape[:J.ndim - x.ndim]
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=out_shape), rng.normal(size=x.shape)
    Jm = J.reshape(u.size, v.size)
    out, uJ = F.vjp(fn, tg.tensor(x), tg.tensor(u))
    np.testing.assert_allclose(uJ.numpy().ravel(), u.ravel() @ Jm, atol=1e-10)
    np.testing.assert_allclose(out.numpy(), values(fn)(x))
    _, Jv = F.jvp(fn, tg.tensor(x), tg.tensor(v))
    np.testing.assert_allclose(Jv.numpy().ravel(), Jm @ v.ravel(), atol=1e-10)


@given(points, st.sampled_from(sorted(SCALAR_FUNCTIONS)))
def test_hessian_matches_finite_differences_of_the_gradient_and_hvp(x, name):
    fn = SCALAR_FUNCTIONS[name]
    H = F.hessian(fn, tg.tensor(x)).numpy()
    assert H.shape == x.shape * 2
    np.testing.assert_allclose(H, numeric_jacobian(gradient(fn), x), atol=1e-5, rtol=1e-4)
    Hm = H.reshape(x.size, x.size)
    np.testing.assert_allclose(Hm, Hm.T, atol=1e-12)
    np.testing.assert_allclose(H, F.jacobian(lambda w: tg.grad(fn(w), w, create_graph=True)[0], tg.tensor(x)).numpy(),
                               atol=1e-12)
    v = np.random.default_rng(1).normal(size=x.shape)
    value, Hv = F.hvp(fn, tg.tensor(x), tg.tensor(v))
    np.testing.assert_allclose(Hv.numpy().ravel(), Hm @ v.ravel(), atol=1e-10)
    assert value.item() == pytest.approx(fn(tg.tensor(x)).item())


@given(arrays(shape=(3,), low=-2, high=2), arrays(shape=(2, 3), low=-2, high=2))
def test_tuples_of_inputs_are_blocks_of_the_whole(a, b):
    def f(p, q):
        return ((p * q).tanh() * q).sum() + (p * p).sum() * q.sum()

    def whole(w):
        return f(w[:3], w[3:].reshape((2, 3)))

    blocks = F.hessian(f, (tg.tensor(a), tg.tensor(b)))
    H = F.hessian(whole, tg.tensor(np.concatenate([a, b.ravel()]))).numpy()
    np.testing.assert_allclose(blocks[0][0].numpy(), H[:3, :3], atol=1e-12)
    np.testing.assert_allclose(blocks[0][1].numpy().reshape(3, 6), H[:3, 3:], atol=1e-12)
    np.testing.assert_allclose(blocks[1][1].numpy().reshape(6, 6), H[3:, 3:], atol=1e-12)
    Ja, Jb = F.jacobian(lambda p, q: p * q, (tg.tensor(a), tg.tensor(b)))
    assert Ja.shape == (2, 3, 3) and Jb.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(Ja.numpy()[1], np.diag(b[1]))


def test_hessian_of_n_parameters_costs_n_hessian_vector_products(monkeypatch):
    calls = []
    original = F.grad
    monkeypatch.setattr(F, "grad", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = tg.tensor(np.linspace(-1, 1, 100))
    H = F.hessian(lambda w: (w.tanh() * w).sum(), x)
    assert len(calls) == 1 + 100  # the gradient (recorded), then one backward through it per parameter
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(np.diag(H.numpy()), 2 * (1 - t * t) - 2 * x.numpy() * t * (1 - t * t), atol=1e-12)


def test_inputs_are_left_alone_and_unused_inputs_get_zeros():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0])
    Hx, Hy = F.hessian(lambda a, b: (a * a).sum(), (x, y))[0]
    assert x.grad is None and not y.requires_grad
    np.testing.assert_array_equal(Hy.numpy(), np.zeros((2, 1)))
    np.testing.assert_array_equal(F.hessian(lambda a: (a * 2).sum(), x).numpy(), np.zeros((2, 2)))  # linear
    assert F.hessian(lambda a: (a * a).sum(), x).grad_fn is None
    assert F.hessian(lambda a: (a * a * a).sum(), x, create_graph=True).requires_grad


def test_bad_arguments_are_named():
    x = tg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="inputs must be a Tensor or a tuple of Tensors, got ndarray"):
        F.jacobian(lambda a: a, np.array([1.0]))
    with pytest.raises(ValueError, match=r"single one-element Tensor \(a cost\), got shape \(2,\)"):
        F.hessian(lambda a: a * a, x)
    with pytest.raises(ValueError, match=r"v\[0\] has shape \(3,\) but tensor 0 of the inputs has shape \(2,\)"):
        F.hvp(lambda a: (a * a).sum(), x, tg.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="v may be omitted only"):
        F.vjp(lambda a: a * a, x)
    with pytest.raises(TypeError, match="dtype int64; derivatives need floating-point"):
        F.jacobian(lambda a: a, tg.tensor([1, 2]))
    with pytest.raises(TypeError, match="the function's output must be a Tensor"):
        F.jacobian(lambda a: 3.0, x)
