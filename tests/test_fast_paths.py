"""The speed-ups of the engine give the same numbers as the plain definitions they shortcut.

- `backward_arrays` (an op's backward formula on numpy arrays, used when create_graph=False) against the op's
  Tensor `backward` (used with create_graph=True), for every op that has one;
- the fused squared-error loss (`ops.SquaredErrorSum`, behind `tg.mse`) against the loss written out;
- dtypes: a float32 graph stays float32 on both paths.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine import ops
from tinygrad_edu.engine.function import Function

rng = np.random.default_rng(0)


def leaf(*shape, dtype=np.float64, positive=False):
    values = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return tg.tensor(values.astype(dtype), requires_grad=True)


# (name, function of the inputs, input shapes): broadcasting and scalar operands included.
CASES = [
    ("add", lambda a, b: a + b, [(3, 4), (4,)]),
    ("add scalar", lambda a: a + 2.0, [(3, 4)]),
    ("sub", lambda a, b: a - b, [(3, 4), (3, 1)]),
    ("mul", lambda a, b: a * b, [(2, 3, 4), (3, 4)]),
    ("mul scalar", lambda a: 0.5 * a, [(5,)]),
    ("div", lambda a, b: a / b, [(3, 4), (4,)]),
    ("neg", lambda a: -a, [(3,)]),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)]),
    ("matmul vector", lambda a, b: a @ b, [(4,), (4, 2)]),
    ("matmul batch", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("exp", lambda a: a.exp(), [(3, 4)]),
    ("log", lambda a: a.log(), [(3, 4)]),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)]),
    ("tanh", lambda a: a.tanh(), [(3, 4)]),
    ("relu", lambda a: a.relu(), [(3, 4)]),
    ("sum axis", lambda a: a.sum(axis=1), [(3, 4)]),
    ("sum keepdims", lambda a: a.sum(axis=0, keepdims=True), [(3, 4)]),
    ("mean", lambda a: a.mean(), [(3, 4)]),
    ("mse chapter", lambda a, b: tg.mse(a, b), [(5, 3), (5, 3)]),
    ("mse mean", lambda a, b: tg.mse(a, b, reduction="mean"), [(5, 3), (5, 3)]),
    ("mse sum 1-D", lambda a, b: tg.mse(a, b, reduction="sum"), [(5,), (5,)]),
    ("an MLP layer", lambda x, w, b: (x @ w + b).sigmoid(), [(4, 3), (3, 2), (2,)]),
]


def both_paths(fn, shapes, dtype):
    """Gradients of Σ u·fn(inputs) (u random) computed without and with create_graph."""
    inputs = [leaf(*s, dtype=dtype, positive=True) for s in shapes]
    out = fn(*inputs)
    u = rng.standard_normal(out.shape).astype(dtype)
    fast = tg.grad((out * u).sum(), inputs, retain_graph=True)
    slow = tg.grad((out * u).sum(), inputs, create_graph=True)
    return fast, slow


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, fn, shapes", CASES, ids=[c[0] for c in CASES])
def test_backward_arrays_agrees_with_backward(name, fn, shapes, dtype):
    fast, slow = both_paths(fn, shapes, dtype)
    for f, s in zip(fast, slow):
        assert f.dtype == s.dtype == dtype and f.shape == s.shape
        np.testing.assert_allclose(f.data, s.data, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_every_op_with_backward_arrays_is_covered():
    """A new backward_arrays needs a case above (names by the ops' classes)."""
    with_arrays = {name for name, cls in vars(ops).items()
                   if isinstance(cls, type) and issubclass(cls, Function) and cls.backward_arrays is not None}
    assert with_arrays == {"Add", "Sub", "Mul", "Div", "Neg", "MatMul", "Exp", "Log", "Sigmoid", "Tanh", "ReLU",
                           "Sum", "SquaredErrorSum"}


def test_without_create_graph_the_tensor_backward_is_not_called(monkeypatch):
    calls = []
    original = ops.MatMul.backward
    monkeypatch.setattr(ops.MatMul, "backward", staticmethod(lambda ctx, g: calls.append(1) or original(ctx, g)))
    x, w = leaf(4, 3), leaf(3, 2)
    (x @ w).sum().backward()
    assert calls == []  # the array formula ran
    tg.grad((x @ w).sum(), [w], create_graph=True)
    assert calls == [1]


def test_saved_arrays_still_detect_in_place_changes():
    w = leaf(3, 2)
    y = (leaf(4, 3) @ w).sum()
    with tg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_second_derivatives_still_go_through_backward():
    x = leaf(5, positive=True)
    assert tg.gradgradcheck(lambda x: x.sigmoid() * x.exp(), [x])
    p, y = leaf(4, 3), leaf(4, 3)
    assert tg.gradgradcheck(lambda p, y: tg.mse(p.tanh(), y), [p, y])


@pytest.mark.parametrize("reduction", ["chapter", "mean", "sum", "none"])
def test_fused_mse_equals_the_loss_written_out(reduction):
    p, y = leaf(6, 3, dtype=np.float32), tg.tensor(rng.standard_normal((6, 3)).astype(np.float32))
    loss = tg.mse(p, y, reduction=reduction)
    squared = (p - y) * (p - y)
    written = {"chapter": squared.sum(axis=1).mean(), "mean": squared.mean(), "sum": squared.sum(),
               "none": squared.sum(axis=1)}[reduction]
    assert loss.dtype == np.float32 and loss.shape == written.shape
    np.testing.assert_allclose(loss.data, written.data, rtol=1e-6)
    (g_fused,) = tg.grad(loss.sum(), [p])
    (g_written,) = tg.grad(written.sum(), [p])
    assert g_fused.dtype == np.float32
    np.testing.assert_allclose(g_fused.data, g_written.data, rtol=1e-6)
    if reduction != "none":
        assert loss.grad_fn.name() == "SquaredErrorSumBackward"


def test_fused_mse_gradient_for_the_target_too():
    p, y = leaf(4, 2), leaf(4, 2)
    tg.mse(p, y).backward()
    np.testing.assert_allclose(p.grad.data, 2 / 4 * (p.data - y.data))
    np.testing.assert_allclose(y.grad.data, -p.grad.data)
    assert tg.gradcheck(lambda p, y: tg.mse(p, y, reduction="mean"), [p, y])


def test_sum_to_refuses_shapes_that_are_not_a_broadcast():
    x = tg.tensor(np.ones((2, 3)))
    for shape in [(2,), (4,), (1, 2, 3, 4), (3, 2)]:
        with pytest.raises(ValueError, match=r"cannot sum a tensor of shape \(2, 3\) to shape"):
            x.sum_to(shape)
    assert x.sum_to((1, 3)).shape == (1, 3) and x.sum_to((3,)).shape == (3,) and x.sum_to(()).shape == ()


def test_weight_gradient_of_a_transposed_matmul_is_a_plain_array_in_the_weights_layout():
    """nn.Linear computes x @ W.mT: W's gradient comes back in W's own layout, owning its memory (no copy)."""
    x = rng.standard_normal((5, 4)).astype(np.float32)
    W = tg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    A = tg.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    u = rng.standard_normal((5, 3)).astype(np.float32)
    ((tg.tensor(x) @ W.mT) * u).sum().backward()
    ((A.mT @ W.mT) * u).sum().backward()
    np.testing.assert_allclose(W.grad.data, u.T @ x + u.T @ A.data.T, rtol=1e-5)
    np.testing.assert_allclose(A.grad.data, (u @ W.data).T, rtol=1e-5)
    for t in (W, A):
        assert t.grad.data.flags.c_contiguous and t.grad.dtype == np.float32
    fresh = tg.tensor(W.data, requires_grad=True)
    ((tg.tensor(x) @ fresh.mT) * u).sum().backward()
    assert fresh.grad.data.base is None  # the product itself, not a copy of it or a view


@pytest.mark.parametrize("path", ["W.mT.mT", "W", "W.reshape(12).reshape(3, 4)"])
@pytest.mark.parametrize("passed", ["G", "G.T.T"])
def test_the_callers_gradient_never_becomes_a_grad(path, passed):
    """backward(G) must not leave G (or the array behind a view of it) in .grad, whichever way it reaches W."""
    W = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    G = rng.standard_normal((3, 4))
    eval(path).backward(eval(passed))
    assert not np.shares_memory(W.grad.data, G)
    G[...] = 0
    assert np.abs(W.grad.data).sum() > 0
