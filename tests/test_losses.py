"""The losses of tg.functional and their nn modules: values against numpy written loop by loop (and PyTorch,
where installed), gradients against finite differences in float64 (hypothesis), the error messages, stability."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import functional as F
from tinygrad_edu import nn
from tinygrad_edu.testing import arrays, assert_gradients_match, tensors

REDUCTIONS = ("mean", "sum", "none")


def reduce(values, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](values)


# ---------------------------------------------------------------------------------------------------------------
# Bug 4: bool and float labels
# ---------------------------------------------------------------------------------------------------------------


def test_bool_labels_are_refused_with_the_cast_to_use():
    """On main, [False, True, False] was used as a mask: the loss of class 1 for every row (or an IndexError)."""
    logits = tg.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0], [2.0, 1.0, 0.0]])
    for labels in (np.array([False, True, False]), np.array([True, True, False]), tg.tensor([True, False, True])):
        with pytest.raises(TypeError, match=r"targets of dtype bool.*target\.astype\(int\)"):
            F.cross_entropy(logits, labels)
        with pytest.raises(TypeError, match=r"nll_loss: targets of dtype bool"):
            F.nll_loss(F.log_softmax(logits, 1), labels)


def test_float_labels_of_the_label_shape_suggest_a_cast_to_int():
    with pytest.raises(ValueError, match=r"class labels of shape \(3,\) must be integers: use target\.astype\(int\)"):
        F.cross_entropy(tg.zeros(3, 4), np.array([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match=r"probability targets must have the logits' shape \(3, 4\), got \(3, 2\)$"):
        F.cross_entropy(tg.zeros(3, 4), np.zeros((3, 2)))  # not label-shaped: no hint
    with pytest.raises(TypeError, match=r"nll_loss: targets must be integer class indices, got dtype float64; "
                                        r"use target\.astype\(int\)"):
        F.nll_loss(tg.zeros(3, 4), np.array([0.0, 1.0, 3.0]))


# ---------------------------------------------------------------------------------------------------------------
# Cross-entropy and NLL against a loop-by-loop numpy reference
# ---------------------------------------------------------------------------------------------------------------


def np_log_softmax(z, axis=1):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def np_class_loss(log_p, labels, weight, ignore_index, reduction, smoothing):
    """PyTorch's definition, one sample (and position) at a time: log_p (N, C, d...), labels (N, d...)."""
    c = log_p.shape[1]
    w = np.ones(c) if weight is None else weight
    losses, total = np.zeros(labels.shape), 0.0
    for index in np.ndindex(labels.shape):
        y = labels[index]
        if y == ignore_index:
            continue
        column = log_p[(index[0], slice(None)) + index[1:]]
        losses[index] = -(1 - smoothing) * w[y] * column[y] - smoothing / c * np.sum(w * column)
        total += w[y]
    if reduction == "mean":
        return losses.sum() / total
    return losses.sum() if reduction == "sum" else losses


@st.composite
def class_problems(draw, with_ignore=True):
    """(logits (N, C, d...), labels (N, d...), weight or None, ignore_index)."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    extra = draw(st.lists(st.integers(1, 3), max_size=2))
    logits = draw(tensors((n, c, *extra)))
    labels = draw(arrays((n, *extra), dtype=np.int64, low=0, high=c - 1))
    ignore_index = -100
    if with_ignore and draw(st.booleans()):
        ignore_index = draw(st.integers(0, c - 1))
        labels.flat[0] = (ignore_index + 1) % c  # at least one sample is kept
    weight = draw(st.none() | arrays((c,), low=0.2, high=2.0))
    return logits, labels, weight, ignore_index


@given(class_problems(), st.sampled_from(REDUCTIONS), st.sampled_from([0.0, 0.3]))
def test_cross_entropy_with_class_indices_matches_the_reference(problem, reduction, smoothing):
    logits, labels, weight, ignore_index = problem
    got = F.cross_entropy(logits, labels, weight=weight, ignore_index=ignore_index, reduction=reduction,
                          label_smoothing=smoothing)
    expected = np_class_loss(np_log_softmax(logits.numpy()), labels, weight, ignore_index, reduction, smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@given(class_problems(), st.sampled_from(REDUCTIONS))
def test_nll_loss_is_cross_entropy_of_log_probabilities(problem, reduction):
    logits, labels, weight, ignore_index = problem
    log_p = F.log_softmax(logits, 1)
    got = F.nll_loss(log_p, labels, weight=weight, ignore_index=ignore_index, reduction=reduction)
    np.testing.assert_allclose(got.numpy(), np_class_loss(log_p.numpy(), labels, weight, ignore_index, reduction, 0.0),
                               rtol=1e-12, atol=1e-12)
    assert nn.NLLLoss(weight, ignore_index, reduction)(log_p, labels).numpy().tolist() == got.numpy().tolist()


@given(class_problems(), st.sampled_from(REDUCTIONS), st.sampled_from([0.0, 0.25]))
def test_cross_entropy_gradients_by_finite_differences(problem, reduction, smoothing):
    logits, labels, weight, ignore_index = problem
    assert tg.gradcheck(lambda z: F.cross_entropy(z, labels, weight, ignore_index, reduction, smoothing),
                        [logits], rtol=1e-6, atol=1e-8)


@given(st.data())
def test_cross_entropy_with_probabilities(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 4))
    extra = data.draw(st.lists(st.integers(1, 3), max_size=1))
    shape = (n, c, *extra)
    logits = data.draw(tensors(shape))
    raw = data.draw(arrays(shape, low=0.0, high=1.0))
    target = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-9)
    weight = data.draw(st.none() | arrays((c,), low=0.2, high=2.0))
    smoothing = data.draw(st.sampled_from([0.0, 0.2]))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    w = np.ones(c) if weight is None else weight
    smoothed = target * (1 - smoothing) + smoothing / c
    per = -(np_log_softmax(logits.numpy()) * smoothed * w.reshape((c,) + (1,) * len(extra))).sum(axis=1)
    got = F.cross_entropy(logits, target, weight=weight, reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(got.numpy(), reduce(per, reduction), rtol=1e-12, atol=1e-12)  # mean: over N·d...
    assert tg.gradcheck(lambda z: F.cross_entropy(z, target, weight, reduction=reduction, label_smoothing=smoothing),
                        [logits], rtol=1e-6, atol=1e-8)


def test_cross_entropy_edges():
    logits = tg.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    assert math.isnan(F.cross_entropy(logits, np.array([-100, -100])).item())  # all ignored: 0/0, as PyTorch
    loss = F.cross_entropy(logits, np.array([1, -100]))
    loss.backward()
    np.testing.assert_allclose(loss.item(), -np_log_softmax(logits.numpy())[0, 1])
    assert logits.grad.numpy()[1].tolist() == [0.0, 0.0]  # an ignored sample gets no gradient
    with pytest.raises(ValueError, match=r"target class 2 is outside 0\.\.1 for 2 classes \(ignore_index is -100\)"):
        F.cross_entropy(logits, np.array([2, 0]))
    with pytest.raises(ValueError, match=r"weight must hold one number per class, shape \(2,\), got shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]), weight=np.ones(3))
    with pytest.raises(ValueError, match=r"class-index targets must have shape \(2, 3\) for input of shape \(2, 2, 3\)"):
        F.cross_entropy(tg.zeros(2, 2, 3), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\], got 1.5"):
        F.cross_entropy(logits, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="cross_entropy: unknown reduction 'avg'; choose one of mean, sum, none"):
        F.cross_entropy(logits, np.array([0, 1]), reduction="avg")


# ---------------------------------------------------------------------------------------------------------------
# Elementwise losses
# ---------------------------------------------------------------------------------------------------------------


def np_huber(d, delta):
    return np.where(np.abs(d) < delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))


def np_bce(p, y):
    return -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))


ELEMENTWISE = {  # name -> (ours(input, target, reduction), reference(input, target) per element, input range)
    "l1": (F.l1_loss, lambda x, y: np.abs(x - y), (-3, 3)),
    "huber": (lambda x, y, r: F.huber_loss(x, y, r, delta=0.7), lambda x, y: np_huber(x - y, 0.7), (-3, 3)),
    "smooth_l1": (lambda x, y, r: F.smooth_l1_loss(x, y, r, beta=0.5), lambda x, y: np_huber(x - y, 0.5) / 0.5,
                  (-3, 3)),
    "smooth_l1_beta0": (lambda x, y, r: F.smooth_l1_loss(x, y, r, beta=0.0), lambda x, y: np.abs(x - y), (-3, 3)),
    "bce": (lambda x, y, r: F.binary_cross_entropy(x, y, reduction=r), np_bce, (0.02, 0.98)),
    "bce_with_logits": (lambda x, y, r: F.binary_cross_entropy_with_logits(x, y, reduction=r), lambda x, y: np_bce(1 / (1 + np.exp(-x)), y), (-3, 3)),
    "mse_mean": (lambda x, y, r: F.mse(x, y, r), lambda x, y: (x - y) ** 2, (-3, 3)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@given(data=st.data())
def test_elementwise_losses_match_numpy_and_finite_differences(name, data):
    ours, reference, (low, high) = ELEMENTWISE[name]
    reduction = data.draw(st.sampled_from(REDUCTIONS), label="reduction")
    if name == "mse_mean" and reduction == "none":
        reduction = "mean"  # mse's "none" is per sample (the chapter's C_i): tested in test_interop_and_losses
    x = data.draw(tensors(low=low, high=high), label="input")
    y = data.draw(arrays(x.shape, low=0.0, high=1.0), label="target")
    np.testing.assert_allclose(ours(x, y, reduction).numpy(), reduce(reference(x.numpy(), y), reduction),
                               rtol=1e-12, atol=1e-13)
    # the kinks of l1, huber (|d| = delta is smooth) and smooth_l1 at d = 0 are avoided: y is kept 0.01 away
    y_away = np.where(np.abs(x.numpy() - y) < 0.01, y + 0.02, y)
    assert tg.gradcheck(lambda t: ours(t, y_away, reduction), [x], rtol=1e-6, atol=1e-8)
    assert tg.gradcheck(lambda t, u: ours(t, u, reduction), [x, tg.tensor(y_away, requires_grad=True)],
                        rtol=1e-6, atol=1e-8)  # the target's gradient too


def test_weights_broadcast_and_pos_weight():
    x = tg.tensor(np.linspace(-2, 2, 12).reshape(4, 3), requires_grad=True)
    y = (np.arange(12).reshape(4, 3) % 2).astype(float)
    weight, pos_weight = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.2])
    s = 1 / (1 + np.exp(-x.numpy()))
    per = -(pos_weight * y * np.log(s) + (1 - y) * np.log(1 - s)) * weight
    got = F.binary_cross_entropy_with_logits(x, y, weight=weight, reduction="none", pos_weight=pos_weight)
    np.testing.assert_allclose(got.numpy(), per, rtol=1e-12)
    np.testing.assert_allclose(F.binary_cross_entropy(tg.tensor(s), y, weight=weight, reduction="sum").item(),
                               (np_bce(s, y) * weight).sum(), rtol=1e-12)
    assert_gradients_match(
        lambda t: F.binary_cross_entropy_with_logits(t, y, weight=weight, pos_weight=pos_weight), tensors((4, 3)))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\) dtype float64 does not broadcast to the loss's shape \(4, 3\)"):
        F.binary_cross_entropy(tg.tensor(s), y, weight=np.ones(2))


def test_bce_with_logits_is_stable_at_50_and_500():
    x = tg.tensor([-500.0, -50.0, 0.0, 50.0, 500.0, -500.0, 500.0], requires_grad=True)
    y = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
    # -log σ(x) for y = 1, -log(1 - σ(x)) for y = 0, each exact: 500, 50, log 2, 50, e^-500, e^-500, 500
    expected = [500.0, 50.0, math.log(2), 50.0, math.exp(-500), math.exp(-500), 500.0]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-14)
    z = x.numpy()  # the gradient σ(x) - y, written without cancellation: -σ(-x) for y = 1
    np.testing.assert_allclose(x.grad.numpy(), np.where(y == 1, -1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))),
                               rtol=1e-14, atol=1e-300)


def test_bce_clamps_its_logs_at_minus_100_and_checks_probabilities():
    p = tg.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, math.log(2)])  # PyTorch's values
    loss.sum().backward()
    assert p.grad.numpy().tolist() == [0.0, 0.0, -2.0]  # the clamp's slope (PyTorch: ∓1e12): see losses.py
    with pytest.raises(ValueError, match=r"input must hold probabilities in \[0, 1\], found 1.5; apply sigmoid"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), np.array([0.0, 1.0]))


def test_shapes_must_match_and_settings_are_checked():
    for fn in (F.l1_loss, F.huber_loss, F.smooth_l1_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"input has shape \(4, 1\) but target has shape \(4,\)"):
            fn(tg.zeros(4, 1), np.zeros(4))
        with pytest.raises(ValueError, match=r"unknown reduction 'avg'; choose one of mean, sum, none"):
            fn(tg.zeros(4), np.zeros(4), reduction="avg")
    with pytest.raises(ValueError, match="huber_loss: delta must be positive, got 0"):
        F.huber_loss(tg.zeros(2), np.zeros(2), delta=0)
    with pytest.raises(ValueError, match="smooth_l1_loss: beta must be >= 0, got -1"):
        F.smooth_l1_loss(tg.zeros(2), np.zeros(2), beta=-1)


# ---------------------------------------------------------------------------------------------------------------
# one_hot
# ---------------------------------------------------------------------------------------------------------------


def test_one_hot_follows_pytorch_num_classes():
    assert F.one_hot(np.array([2, 0])).numpy().tolist() == [[0, 0, 1], [1, 0, 0]]  # num_classes=-1: max + 1
    assert F.one_hot(np.array([2, 0]), -1).shape == (2, 3) and F.one_hot(np.array([0]), 4).shape == (1, 4)
    grid = F.one_hot(np.array([[0, 1], [2, 1]]), 3)  # labels of any shape get a last axis
    assert grid.shape == (2, 2, 3) and grid.numpy()[1, 0].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="num_classes must be a non-negative integer or -1, got -2"):
        F.one_hot(np.array([0]), -2)
    with pytest.raises(ValueError, match=r"one_hot expects integer labels.*use labels\.astype\(int\)"):
        F.one_hot(np.array([True, False]))


# ---------------------------------------------------------------------------------------------------------------
# Modules and the registries
# ---------------------------------------------------------------------------------------------------------------


def test_loss_modules_compute_their_function():
    rng = np.random.default_rng(0)
    z, labels = rng.standard_normal((5, 3)), np.array([0, 2, 1, 1, -100])
    p, y = 1 / (1 + np.exp(-z)), (rng.random((5, 3)) > 0.5).astype(float)
    w = np.array([1.0, 2.0, 3.0])
    pairs = [
        (nn.CrossEntropyLoss(w, ignore_index=-100, label_smoothing=0.1, reduction="sum")(z, labels),
         F.cross_entropy(z, labels, w, -100, "sum", 0.1)),
        (nn.NLLLoss(w)(F.log_softmax(z, 1), labels), F.nll_loss(F.log_softmax(z, 1), labels, w)),
        (nn.L1Loss()(z, y), F.l1_loss(z, y)),
        (nn.HuberLoss(delta=0.5)(z, y), F.huber_loss(z, y, delta=0.5)),
        (nn.SmoothL1Loss(beta=0.5)(z, y), F.smooth_l1_loss(z, y, beta=0.5)),
        (nn.BCELoss(w)(p, y), F.binary_cross_entropy(p, y, w)),
        (nn.BCEWithLogitsLoss(pos_weight=w)(z, y), F.binary_cross_entropy_with_logits(z, y, pos_weight=w)),
    ]
    for module_value, function_value in pairs:
        assert module_value.item() == function_value.item()
    assert repr(nn.HuberLoss(delta=0.5)).startswith("HuberLoss(delta=0.5, reduction='mean')")
    with pytest.raises(ValueError, match="L1Loss: unknown reduction 'avg'; choose mean, sum or none"):
        nn.L1Loss("avg")


def test_loss_registries():
    assert set(nn.LOSS_MODULES) == {"mse", "ce", "nll", "l1", "huber", "smooth_l1", "bce", "bce_with_logits"}
    assert nn.LOSSES == {"mse": nn.MSELoss, "ce": nn.CrossEntropyLoss}  # those with training recipes
    assert type(nn.loss("binary_cross_entropy_with_logits")) is nn.BCEWithLogitsLoss
    assert nn.loss("huber", delta=0.5).delta == 0.5 and type(nn.loss("MAE")) is nn.L1Loss
    with pytest.raises(ValueError, match="unknown loss 'hinge'; valid names: 'mse', 'ce', 'nll'"):
        nn.loss("hinge")


def test_fit_takes_a_loss_module():
    """fit(loss=<module>) trains with any of them: here BCE with logits on a separable problem."""
    from tinygrad_edu import optim

    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2))
    y = (X[:, :1] + X[:, 1:] > 0).astype(float)
    model = nn.MLP([2, 1], activation="identity", generator=rng)
    history = tg.fit(model, (X, y), nn.BCEWithLogitsLoss(), optim.SGD(model.parameters(), lr=1.0), epochs=20,
                     batch_size=16, progress=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


# ---------------------------------------------------------------------------------------------------------------
# Against PyTorch (skipped without torch)
# ---------------------------------------------------------------------------------------------------------------


def test_class_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(1)
    for shape in ((6, 4), (3, 4, 2, 3)):
        z = rng.standard_normal(shape) * 3
        labels = rng.integers(0, 4, (shape[0],) + shape[2:])
        labels.flat[1] = -100
        probabilities = np.exp(np_log_softmax(rng.standard_normal(shape)))
        w = rng.uniform(0.2, 2.0, 4)
        for target in (labels, probabilities):
            for reduction in REDUCTIONS:
                for options in ({}, {"weight": w}, {"label_smoothing": 0.2}, {"weight": w, "label_smoothing": 0.3}):
                    ours = tg.tensor(z, requires_grad=True)
                    theirs = torch.tensor(z, requires_grad=True)
                    a = F.cross_entropy(ours, target, reduction=reduction, **options)
                    b = tF.cross_entropy(theirs, torch.tensor(target), reduction=reduction,
                                         **{k: torch.tensor(v) if k == "weight" else v for k, v in options.items()})
                    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
                    a.sum().backward()
                    b.sum().backward()
                    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-14)
        log_p = np_log_softmax(z)
        for reduction in REDUCTIONS:
            np.testing.assert_allclose(
                F.nll_loss(log_p, labels, weight=w, reduction=reduction).numpy(),
                tF.nll_loss(torch.tensor(log_p), torch.tensor(labels), weight=torch.tensor(w), reduction=reduction).numpy(),
                rtol=1e-12)


def test_elementwise_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(20) * 3, [-500.0, -50.0, 0.0, 50.0, 500.0]])
    y = np.concatenate([rng.random(20), [1.0, 0.0, 1.0, 1.0, 0.0]])
    p = np.concatenate([1 / (1 + np.exp(-x[:20])), [0.0, 1.0, 0.5, 1e-50, 1 - 1e-12]])
    w = rng.uniform(0.5, 2.0, x.size)
    pairs = [
        (lambda a, r: F.l1_loss(a, y, r), lambda a, r: tF.l1_loss(a, torch.tensor(y), reduction=r), x),
        (lambda a, r: F.huber_loss(a, y, r, 0.8), lambda a, r: tF.huber_loss(a, torch.tensor(y), r, 0.8), x),
        (lambda a, r: F.smooth_l1_loss(a, y, r, 0.6), lambda a, r: tF.smooth_l1_loss(a, torch.tensor(y), reduction=r,
                                                                                      beta=0.6), x),
        (lambda a, r: F.smooth_l1_loss(a, y, r, 0.0), lambda a, r: tF.smooth_l1_loss(a, torch.tensor(y), reduction=r,
                                                                                      beta=0.0), x),
        (lambda a, r: F.binary_cross_entropy_with_logits(a, y, w, r, pos_weight=2.5),
         lambda a, r: tF.binary_cross_entropy_with_logits(a, torch.tensor(y), torch.tensor(w), reduction=r,
                                                          pos_weight=torch.tensor(2.5, dtype=torch.float64)), x),
        (lambda a, r: F.binary_cross_entropy(a, y, w, r),
         lambda a, r: tF.binary_cross_entropy(a, torch.tensor(y), torch.tensor(w), reduction=r), p),
    ]
    for ours_fn, theirs_fn, values in pairs:
        for reduction in REDUCTIONS:
            ours, theirs = tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
            a, b = ours_fn(ours, reduction), theirs_fn(theirs, reduction)
            # atol: where the BCE-with-logits loss is e^-|x| < 1e-16, PyTorch's formula cancels to 0 (see losses.py)
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)
            a.sum().backward()
            b.sum().backward()
            keep = slice(None, 20) if values is p else slice(None)  # BCE's gradient at p = 0, 1: see losses.py
            np.testing.assert_allclose(ours.grad.numpy()[keep], theirs.grad.numpy()[keep], rtol=1e-10, atol=1e-15)


def test_float32_losses_stay_float32():
    rng = np.random.default_rng(3)
    z = tg.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    y = (rng.random((4, 3)) > 0.5).astype(np.float32)
    labels, w = np.array([0, 2, -100, 1]), np.array([1.0, 2.0, 0.5])
    losses = [F.cross_entropy(z, labels, w, label_smoothing=0.1), F.nll_loss(F.log_softmax(z, 1), labels, w),
              F.l1_loss(z, y), F.huber_loss(z, y, delta=0.5), F.smooth_l1_loss(z, y, beta=0.5),
              F.binary_cross_entropy(F.sigmoid(z), y, w), F.binary_cross_entropy_with_logits(z, y, w, pos_weight=w)]
    for loss in losses:
        z.grad = None
        loss.backward()
        assert loss.dtype == np.float32 and z.grad.dtype == np.float32


@pytest.mark.parametrize("name", sorted(nn.LOSS_MODULES))
def test_fit_takes_every_loss_by_name(name):
    """fit(loss="huber") builds the module by name; labels stay labels for ce and nll, become one-hot rows (or a
    column, for the binary losses on one output) for the others, and the loss falls."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 4))
    y = (X.sum(axis=1) > 2).astype(int)
    binary = name in ("bce", "bce_with_logits")
    tg.manual_seed(0)
    body = tg.nn.MLP([4, 8, 1 if binary else 2], activation="tanh",
                     output_activation="sigmoid" if name in ("bce", "mse") else "identity")
    model = tg.nn.Sequential(body, tg.nn.LogSoftmax()) if name == "nll" else body
    history = tg.fit(model, (X, y), loss=name, optimizer=tg.optim.SGD(model.parameters(), lr=0.2), epochs=20,
                     batch_size=16, progress=False)
    assert history.train_loss[-1] < history.train_loss[0], name
