"""numpy interoperability and the functional losses (the chapter's MSE, cross-entropy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck
from tinygrad_edu.testing import arrays, tensors

# ----------------------------------------------------------------------------------------------------------------
# numpy interop
# ----------------------------------------------------------------------------------------------------------------


def test_numpy_operands_stay_in_the_graph():
    t = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (np.ones(3) * t, np.ones(3) + t, np.ones(3) - t, np.ones(3) / t, np.ones((2, 3)) @ t, 2 - t,
                   np.exp(t), np.sum(t), np.mean(t, axis=0), np.maximum(t, 2.0), np.concatenate([t, t]),
                   np.where(np.array([True, False, True]), t, 0.0), np.reshape(t, (3, 1)), np.tanh(t)):
        assert isinstance(result, Tensor) and result.grad_fn is not None, result
    y = (np.array([1.0, 10.0, 100.0]) * t).sum()
    y.backward()
    assert t.grad.tolist() == [1.0, 10.0, 100.0]


def test_numpy_reads_values():
    t = tg.tensor([[1.0, 2.0]], requires_grad=True)
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.tolist() == [[1.0, 2.0]]
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.shape(t) == (1, 2) and np.ndim(t) == 2
    assert (np.greater(t, 1.5)).tolist() == [[False, True]]


def test_numpy_functions_without_a_derivative_raise_with_a_hint():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"numpy.median cannot be differentiated.*t.numpy\(\)"):
        np.median(t)
    with pytest.raises(TypeError, match=r"numpy.dot cannot be differentiated.*a @ b"):
        np.dot(t, t)
    with pytest.raises(TypeError, match=r"numpy.linalg.norm.*t.norm\(\)"):
        np.linalg.norm(t)
    with pytest.raises(TypeError, match=r"numpy.arcsinh cannot be differentiated"):
        np.arcsinh(t)
    with pytest.raises(TypeError, match=r"numpy.add.reduce.* is not supported"):
        np.add.reduce(t)


def test_numpy_functions_on_tensors_outside_the_graph_give_numpys_plain_results():
    p = tg.tensor([3.0, 4.0], requires_grad=True)
    (p * p).sum().backward()  # p.grad = [6, 8] requires no grad
    assert np.linalg.norm(p.grad) == 10.0 and np.percentile(p.grad, 50) == 7.0 and np.median(p.grad) == 7.0
    assert np.add.reduce(p.grad) == 14.0 and np.arcsinh(p.grad).tolist() == np.arcsinh([6.0, 8.0]).tolist()
    assert np.dot(p.grad, p.grad) == 100.0 and np.linalg.norm([p.grad, p.grad], axis=1).tolist() == [10.0, 10.0]
    for result in (np.linalg.norm(p.grad), np.percentile(p.grad, [10, 90]), np.dot(p.grad, p.grad)):
        assert not isinstance(result, Tensor)
    data = tg.tensor([[1.0, 5.0], [3.0, 2.0]])
    assert np.percentile(data, 50, axis=0).tolist() == [2.0, 3.5] and np.cov(data).shape == (2, 2)
    assert np.histogram(data, bins=2)[0].tolist() == [2, 2]


def test_numpy_ufuncs_of_the_new_operations_stay_in_the_graph():
    t = tg.tensor([0.5, 1.0], requires_grad=True)
    for f in (np.sin, np.cos, np.tan, np.sinh, np.cosh, np.arcsin, np.arctan, np.log2, np.log10, np.log1p, np.exp2,
              np.expm1, np.square, np.floor, np.sign):
        y = f(t)
        assert isinstance(y, Tensor) and y.grad_fn is not None, f
        np.testing.assert_allclose(y.numpy(), f(t.numpy()), rtol=1e-15)
    for y in (np.var(t), np.std(t, ddof=1), np.prod(t), np.cumsum(t), np.cumprod(t), np.flip(t), np.roll(t, 1), np.tile(t, 2),
              np.repeat(t, 2), np.pad(t, 1), np.sort(t), np.outer(t, t), np.einsum("i,i->", t, t), np.diag(t),
              np.tril(np.outer(t, t)), np.take_along_axis(t, np.array([1, 0]), 0)):
        assert isinstance(y, Tensor) and y.grad_fn is not None, y
    with pytest.raises(TypeError, match="out=.... is not supported"):
        np.add(t, 1, out=np.zeros(2))


# ----------------------------------------------------------------------------------------------------------------
# MSE: the chapter's cost and PyTorch's reductions
# ----------------------------------------------------------------------------------------------------------------


def test_mse_chapter_reduction_is_the_chapters_cost():
    y_hat = tg.tensor([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], requires_grad=True)
    y = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    per_sample = [1.0, 1.0, 4.0]  # ‖y_i - ŷ_i‖² (eq. 98)
    assert tg.mse(y_hat, y, reduction="none").tolist() == per_sample
    assert np.isclose(tg.mse(y_hat, y).item(), np.mean(per_sample))  # C = 1/N Σ ‖y_i - ŷ_i‖²
    assert np.isclose(tg.mse(y_hat, y, reduction="mean").item(), np.mean(per_sample) / 2)  # PyTorch's MSELoss
    assert np.isclose(tg.mse(y_hat, y, reduction="sum").item(), 6.0)
    (g,) = tg.grad(tg.mse(y_hat, y), y_hat)
    np.testing.assert_allclose(g.numpy(), 2 * (y_hat.numpy() - y) / 3)  # -2/N (y - ŷ), cf. eq. (111)
    assert tg.mse(tg.tensor([1.0, 3.0]), tg.tensor([0.0, 0.0])).item() == 5.0  # 1-D: N scalar samples


def test_mse_refuses_silent_broadcasting():
    with pytest.raises(ValueError, match=r"prediction has shape \(4, 1\) but target has shape \(4,\)"):
        tg.mse(tg.zeros(4, 1), tg.zeros(4))
    with pytest.raises(ValueError, match="unknown reduction 'avg'"):
        tg.mse(tg.zeros(2), tg.zeros(2), reduction="avg")


@given(st.data())
def test_mse_gradients(data):
    shape = data.draw(st.sampled_from([(3,), (2, 3), (2, 2, 2)]), label="shape")
    pred = data.draw(tensors(shape), label="pred")
    target = data.draw(arrays(shape), label="target")
    for reduction in ("chapter", "mean", "sum", "none"):
        assert gradcheck(lambda p: tg.mse(p, target, reduction=reduction), [pred], rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------------------------------------------
# Cross-entropy
# ----------------------------------------------------------------------------------------------------------------


def np_cross_entropy(logits, labels):
    m = logits.max(1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


@given(tensors((4, 3)), st.lists(st.integers(0, 2), min_size=4, max_size=4))
def test_cross_entropy_matches_numpy_and_one_hot(logits, labels):
    labels = np.array(labels)
    np.testing.assert_allclose(tg.cross_entropy(logits, labels).item(), np_cross_entropy(logits.numpy(), labels))
    one_hot = np.eye(3)[labels]
    np.testing.assert_allclose(tg.cross_entropy(logits, one_hot).item(), np_cross_entropy(logits.numpy(), labels))
    assert gradcheck(lambda z: tg.cross_entropy(z, labels), [logits], rtol=1e-6, atol=1e-8)
    assert gradcheck(lambda z: tg.cross_entropy(z, one_hot, reduction="none"), [logits], rtol=1e-6, atol=1e-8)
    (g,) = tg.grad(tg.cross_entropy(logits, labels), logits)
    np.testing.assert_allclose(g.numpy(), (logits.softmax(1).numpy() - one_hot) / 4, atol=1e-12)  # (softmax - Y)/N


def test_cross_entropy_is_stable_and_validates():
    logits = tg.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]], requires_grad=True)
    loss = tg.cross_entropy(logits, np.array([0, 0]))
    assert np.isclose(loss.item(), 1000.0)
    loss.backward()
    assert np.all(np.isfinite(logits.grad.numpy()))
    with pytest.raises(ValueError, match="target class 3 is outside 0..2"):
        tg.cross_entropy(tg.zeros(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"class-index targets must have shape \(2,\)"):
        tg.cross_entropy(tg.zeros(2, 3), np.array([[0], [1]]))
    with pytest.raises(ValueError, match=r"logits must have shape \(N, C\) or \(N, C, d1, ...\)"):
        tg.cross_entropy(tg.zeros(3), np.array([0]))


def test_one_coercion_of_operands_refuses_what_is_not_a_number_with_one_message():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    calls = [lambda: t + "a", lambda: "a" - t, lambda: t @ "a", lambda: tg.maximum(t, "a"), lambda: np.add(t, "a"),
             lambda: tg.where([True, False], t, "a"), lambda: tg.concatenate([t, "a"])]
    for call in calls:
        with pytest.raises(TypeError, match="Tensor operations take numbers, arrays of numbers and Tensors, got str 'a'"):
            call()


def test_numpy_reductions_on_tensors_take_numpys_argument_order_and_refuse_dtype_and_out():
    t = tg.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    np.testing.assert_allclose(np.var(t, 0, None, None, 1).numpy(), np.var(t.numpy(), 0, None, None, 1))
    np.testing.assert_allclose(np.prod(t, 1, keepdims=True).numpy(), np.prod(t.numpy(), 1, keepdims=True))
    with pytest.raises(TypeError, match=r"numpy.var on a Tensor does not take dtype=: cast first with t.astype"):
        np.var(t, dtype=np.float32)
    with pytest.raises(TypeError, match="numpy.cumsum on a Tensor does not take out="):
        np.cumsum(t, out=np.zeros(4))
