"""Non-finite values: masks select instead of multiply, NaN conventions (PyTorch's), anomaly mode, no numpy
warnings from inside the engine, fit stopping on a non-finite loss, and empty batches."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import nn

nan, inf = float("nan"), float("inf")


def grad_of(fn, x, g):
    t = tg.tensor(x, requires_grad=True)
    fn(t).backward(np.asarray(g, dtype=float))
    return t.grad.numpy()


# ----------------------------------------------------------------------------------------------------------------
# Masks select: an infinite gradient stays infinite where it flows and is 0 where it does not
# ----------------------------------------------------------------------------------------------------------------

finite = st.floats(-3, 3, allow_nan=False, width=64)
seeds = st.sampled_from([inf, -inf, 1.0, -2.0])


@given(x=hnp.arrays(np.float64, st.integers(1, 6), elements=finite), data=st.data())
def test_masked_gradients_are_selected_not_multiplied(x, data):
    g = data.draw(hnp.arrays(np.float64, x.shape, elements=seeds), label="g")
    relu = grad_of(lambda t: t.relu(), x, g)
    np.testing.assert_array_equal(relu, np.where(x > 0, g, 0.0))
    clip = grad_of(lambda t: t.clip(-1.0, 1.0), x, g)
    np.testing.assert_array_equal(clip, np.where((x >= -1) & (x <= 1), g, 0.0))
    maximum = grad_of(lambda t: tg.maximum(t, 0.5), x, g)
    np.testing.assert_array_equal(maximum, np.where(x > 0.5, g, np.where(x == 0.5, g / 2, 0.0)))
    minimum = grad_of(lambda t: tg.minimum(t, 0.5), x, g)
    np.testing.assert_array_equal(minimum, np.where(x < 0.5, g, np.where(x == 0.5, g / 2, 0.0)))
    top = grad_of(lambda t: t.max(axis=0), x, g[0])
    assert not np.isnan(top).any() and np.all(top[x < x.max()] == 0)


def test_the_reproducer_relu_of_minus_one_and_two_with_infinite_gradients():
    assert grad_of(lambda t: t.relu(), [-1.0, 2.0], [inf, inf]).tolist() == [0.0, inf]  # was [nan, inf]


# ----------------------------------------------------------------------------------------------------------------
# NaN conventions, PyTorch's (checked against torch 2.13 by tests/test_against_torch.py where it is installed)
# ----------------------------------------------------------------------------------------------------------------


def test_nan_conventions():
    assert grad_of(lambda t: t.relu(), [nan], [1.0]).tolist() == [1.0]  # relu'(NaN) = 1
    assert grad_of(lambda t: t.abs(), [nan, 0.0], [1.0, 1.0]).tolist() == [0.0, 0.0]  # |x|'(NaN) = |x|'(0) = 0
    assert tg.tensor([nan, 0.0, 2.0]).heaviside().tolist() == [0.0, 0.0, 1.0]  # 1 if x > 0 else 0
    a, b = tg.tensor([nan, 1.0], requires_grad=True), tg.tensor([1.0, nan], requires_grad=True)
    tg.maximum(a, b).backward(np.ones(2))
    assert a.grad.tolist() == [1.0, 1.0] and b.grad.tolist() == [1.0, 1.0]  # a NaN takes the gradient too
    assert grad_of(lambda t: t.clip(-1.0, 1.0), [nan], [1.0]).tolist() == [0.0]
    assert grad_of(lambda t: t.max(), [1.0, nan, 3.0, nan], 1.0).tolist() == [0.0, 0.5, 0.0, 0.5]  # NaN ties NaN


# ----------------------------------------------------------------------------------------------------------------
# Anomaly mode
# ----------------------------------------------------------------------------------------------------------------


def test_anomaly_mode_names_the_operation_and_the_line_that_made_a_nan():
    x = tg.tensor([1.0, -1.0], requires_grad=True)
    with tg.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"the result of LogBackward holds NaN.*test_nonfinite\.py:\d+"):
            x.log()
        y = (x * 0.0).sqrt()  # sqrt(0) is finite; its gradient 1/(2·0) is not
        with pytest.raises(FloatingPointError, match=r"gradient for input 0 of SqrtBackward holds infinite.*created "
                                                     r"at .*test_nonfinite\.py:\d+"):
            y.sum().backward()
    assert not tg.is_anomaly_enabled()


def test_set_detect_anomaly_as_a_call_and_as_a_context():
    tg.set_detect_anomaly(True)
    try:
        assert tg.is_anomaly_enabled()
        with pytest.raises(FloatingPointError):
            tg.tensor([0.0], requires_grad=True).log()
    finally:
        tg.set_detect_anomaly(False)
    with tg.set_detect_anomaly(True):
        assert tg.is_anomaly_enabled()
    assert not tg.is_anomaly_enabled()
    assert np.isnan(tg.tensor([-1.0], requires_grad=True).log().item())  # off: NaN goes through silently


def test_numpy_warnings_from_inside_the_engine_do_not_reach_the_user():
    """A program's view (a subprocess: pytest resets the warnings filters for each test): NaN and infinity
    from the engine's operations and backward make no RuntimeWarning, the program's own numpy calls still do."""
    program = """
import warnings
import numpy as np
import tinygrad_edu as tg
inf = float("inf")
x = tg.tensor([0.0, -1.0, 1e308], requires_grad=True)
with warnings.catch_warnings(record=True) as caught:
    for y in (x.log(), x.sqrt(), x * 1e10, 1.0 / x, x.exp(), x.log().softmax(), tg.mse(x * 1e300, x)):
        y.sum().backward()
    (tg.tensor([inf]) - inf).numpy()
print("engine:", sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)}))
with warnings.catch_warnings(record=True) as caught:
    np.log(np.zeros(1))
print("user:", len([w for w in caught if issubclass(w.category, RuntimeWarning)]))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert "engine: []" in done.stdout and "user: 1" in done.stdout, done.stdout + done.stderr
    assert "RuntimeWarning" not in done.stderr, done.stderr


# ----------------------------------------------------------------------------------------------------------------
# fit and a diverging loss
# ----------------------------------------------------------------------------------------------------------------


def diverging_run(**kwargs):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 4)) * 10, rng.standard_normal((64, 2)) * 10
    model = nn.MLP([4, 16, 2], activation="relu", output_activation="identity", generator=rng)
    opt = tg.optim.SGD(model.parameters(), lr=5.0)
    return model, lambda: tg.fit(model, (X, y), "mse", opt, epochs=5, batch_size=8, progress=False, **kwargs)


def test_fit_stops_on_a_non_finite_loss_naming_epoch_and_batch():
    model, run = diverging_run()
    with pytest.raises(tg.NonFiniteLossError, match=r"the loss is (nan|inf) at epoch \d+, batch \d+ of 8.*smaller"):
        run()
    assert all(np.isfinite(p.data).all() for p in model.parameters())  # the weights before the bad update


def test_fit_can_train_on_regardless():
    model, run = diverging_run(nonfinite="continue")
    history = run()
    assert len(history) == 5 and not np.isfinite(history.train_loss[-1])
    with pytest.raises(ValueError, match="nonfinite must be 'raise' or 'continue'"):
        diverging_run(nonfinite="ignore")[1]()


# ----------------------------------------------------------------------------------------------------------------
# Empty batches: empty results, as numpy and PyTorch
# ----------------------------------------------------------------------------------------------------------------


def test_an_empty_batch_gives_empty_results():
    logits = tg.tensor(np.zeros((0, 3)), requires_grad=True)
    assert logits.max(axis=1).shape == (0,) and logits.softmax().shape == (0, 3)
    assert logits.log_softmax(axis=1).shape == (0, 3)
    loss = tg.cross_entropy(logits, np.zeros(0, dtype=np.int64))
    assert np.isnan(loss.item())  # the mean of no samples, as PyTorch
    (logits.softmax() * 2).sum().backward()
    assert logits.grad.shape == (0, 3)
    with pytest.raises(ValueError, match="max of an empty tensor along an empty axis"):
        logits.max(axis=0)  # numpy refuses it too: no maximum of nothing
