"""The public hypothesis strategies draw what they promise, and assert_gradients_match fails readably."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Function, Tensor
from tinygrad_edu.testing import (
    MAX_DIMS,
    MAX_SIDE,
    arrays,
    assert_gradients_match,
    axes,
    broadcastable_tensors,
    float_dtypes,
    gufunc_tensors,
    matmul_tensors,
    shapes,
    tensors,
)


@given(tensors())
def test_default_tensors(x):
    assert isinstance(x, Tensor) and x.requires_grad and x.dtype == np.float64
    assert x.ndim <= MAX_DIMS and all(1 <= s <= MAX_SIDE for s in x.shape)
    assert np.all(np.isfinite(x.numpy())) and np.all(np.abs(x.numpy()) <= 3.0)


@given(tensors(avoid=(0.0, 1.5), margin=0.25, low=-2.0, high=2.0))
def test_avoid_keeps_values_away_from_kinks(x):
    v = x.numpy()
    assert np.all(np.abs(v) >= 0.25) and np.all(np.abs(v - 1.5) >= 0.25) and np.all(np.abs(v) <= 2.0)


@given(tensors(distinct=True, avoid=(0.0,)))
def test_distinct_values_are_margin_apart(x):
    v = np.sort(x.numpy().reshape(-1))
    assert np.all(np.diff(v) >= 1e-2 * (1 - 1e-9)) and np.all(np.abs(v) >= 1e-2)
    assert np.all((v >= -3.0) & (v <= 3.0))


@given(tensors(shape=(2, 3), dtype=np.float32, low=0.1, high=5.0))
def test_float32_with_bounds_not_representable_in_float32(x):
    assert x.dtype == np.float32 and x.shape == (2, 3) and np.all(x.numpy() >= 0.1) and np.all(x.numpy() <= 5.0)


@given(tensors(shape=shapes(min_dims=2, max_dims=2), dtype=float_dtypes()), arrays(shape=4, dtype=np.int64, low=-2, high=2))
def test_shapes_and_dtypes_as_strategies(x, ints):
    assert x.ndim == 2 and x.dtype in (np.float32, np.float64)
    assert ints.shape == (4,) and ints.dtype == np.int64 and np.all(np.abs(ints) <= 2)


def test_int_tensors_do_not_require_grad():
    assert not tensors(shape=3, dtype=np.int64).example().requires_grad


@given(broadcastable_tensors(3))
def test_broadcastable_tensors_broadcast(ts):
    assert len(ts) == 3
    np.broadcast_shapes(*(t.shape for t in ts))


@given(broadcastable_tensors(2, distinct=True))
def test_distinct_pairs_have_no_ties(pair):
    a, b = pair
    values = np.sort(np.concatenate([a.numpy().reshape(-1), b.numpy().reshape(-1)]))
    assert np.all(np.diff(values) >= 1e-2 * (1 - 1e-9))  # across both tensors
    assert np.min(np.abs(np.subtract(*np.broadcast_arrays(a.numpy(), b.numpy()))), initial=1.0) >= 1e-2 * (1 - 1e-9)


@given(matmul_tensors())
def test_matmul_tensors_multiply(pair):
    a, b = pair
    assert (a @ b).shape == np.matmul(a.numpy(), b.numpy()).shape


@given(gufunc_tensors("(n,k),(k)->(n)"))
def test_gufunc_tensors_follow_the_signature(pair):
    m, v = pair
    assert m.shape[-1] == v.shape[-1]


@given(st.data())
def test_axes_are_valid_for_the_rank(data):
    x = data.draw(arrays())
    axis = data.draw(axes(x.ndim))
    np.sum(x, axis=axis)  # numpy accepts it


def test_impossible_requests_fail_early_and_clearly():
    with pytest.raises(ValueError, match=r"at least 1\.0 away from all of \(0\.0,\)"):
        tensors(low=-0.5, high=0.5, avoid=(0.0,), margin=1.0)
    with pytest.raises(ValueError, match="lower margin"):
        tensors(shape=(10,), low=0.0, high=0.1, distinct=True).example()


# ----------------------------------------------------------------------------------------------------------------
# assert_gradients_match
# ----------------------------------------------------------------------------------------------------------------


def softsign(bug: bool):
    class Softsign(Function):
        """x / (1 + |x|), derivative 1 / (1 + |x|)²."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x / (1 + np.abs(x))

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad / (1 + np.abs(x)) ** (1 if bug else 2)

    return Softsign.apply


def test_assert_gradients_match_passes_for_correct_gradients():
    assert_gradients_match(softsign(False), tensors(avoid=(0.0,)), max_examples=20)
    assert_gradients_match(lambda a, b: a * b.exp(), broadcastable_tensors(2), max_examples=20)  # a pair: 2 inputs
    assert_gradients_match(lambda a, b: a @ b, matmul_tensors(), max_examples=20, fast_mode=True)
    c = tg.tensor([1.0, -2.0])
    assert_gradients_match(lambda x, c: x * c, tensors(shape=(2,)), c, max_examples=5)  # constants pass through
    assert_gradients_match(softsign(False), tg.tensor([0.5, -2.0], requires_grad=True))  # no strategy: one check


def test_assert_gradients_match_shrinks_and_shows_the_report():
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(softsign(True), tensors(avoid=(0.0,)), settings=settings(derandomize=True))
    message = str(info.value)
    assert message.startswith("gradient mismatch for input #0")
    assert "gradcheck FAILED: Softsign.apply, full Jacobian" in message
    assert "analytical" in message and "tolerance" in message
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "Falsifying example" in notes or "Failing test case" in notes  # wording of newer hypothesis
    assert "requires_grad=True" in notes  # the shrunk input is shown


def test_assert_gradients_match_on_fixed_tensors_raises_assertion_error():
    with pytest.raises(AssertionError, match="gradcheck FAILED"):
        assert_gradients_match(softsign(True), tg.tensor([0.5, -2.0], requires_grad=True))
