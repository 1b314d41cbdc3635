"""optim: one step of each optimizer against numpy by hand, momentum/Adam over steps, schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import optim


def _param(values, grad, dtype=np.float64):
    p = tg.tensor(values, dtype=dtype, requires_grad=True)
    p.grad = tg.tensor(grad, dtype=dtype)
    return p


def test_sgd_step_is_the_chapters_gradient_descent():
    p = _param([1.0, -2.0], [0.5, 0.25])
    data = p.data
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [1.0 - 0.05, -2.0 - 0.025])
    assert p.data is data and p.is_leaf and p.grad_fn is None  # in place, no graph
    np.testing.assert_array_equal(p.grad.data, [0.5, 0.25])  # the gradient is left alone


def test_sgd_momentum_nesterov_and_weight_decay():
    w0, g1, g2 = np.array([1.0, 2.0]), np.array([0.1, -0.3]), np.array([0.2, 0.4])
    lr, mu, wd = 0.5, 0.9, 0.01
    for nesterov in (False, True):
        p = _param(w0, g1)
        opt = optim.SGD([p], lr=lr, momentum=mu, weight_decay=wd, nesterov=nesterov)
        opt.step()
        p.grad = tg.tensor(g2)
        opt.step()
        w, buf = w0.copy(), None
        for g in (g1, g2):  # PyTorch's formulas
            d = g + wd * w
            buf = d.copy() if buf is None else mu * buf + d
            w = w - lr * (d + mu * buf if nesterov else buf)
        np.testing.assert_allclose(p.data, w, rtol=1e-14)


def test_adam_two_steps_by_hand():
    w0, grads = np.array([0.5, -1.0, 2.0]), [np.array([0.1, -0.2, 0.3]), np.array([-0.4, 0.5, 0.0])]
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.95, 1e-6, 0.1
    for cls in (optim.Adam, optim.AdamW):
        p = _param(w0, grads[0])
        opt = cls([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
        for t, g in enumerate(grads, start=1):
            p.grad = tg.tensor(g)
            opt.step()
            if cls is optim.AdamW:
                w = w * (1 - lr * wd)
            else:
                g = g + wd * w
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(p.data, w, rtol=1e-13)
    # the first Adam step moves every coordinate by about lr, whatever the gradient's scale
    p = _param([0.0, 0.0], [1e-3, -1e3])
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1], rtol=1e-4)


def test_float32_stays_float32_and_none_grads_are_skipped():
    p = _param([1.0, 2.0], [1.0, 1.0], dtype=np.float32)
    q = tg.tensor([3.0], requires_grad=True)
    for opt in (optim.SGD([p, q], lr=0.1, momentum=0.5), optim.Adam([p, q])):
        opt.step()
        assert p.dtype == np.float32 and q.data.tolist() == [3.0]


def test_zero_grad_param_groups_and_errors():
    a, b = _param([1.0], [1.0]), _param([1.0], [1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    opt.step()
    assert a.data.tolist() == [0.9] and b.data.tolist() == [0.0]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="computed by MulBackward"):
        optim.SGD([a * 2], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([a, a], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_step_bumps_the_version_so_stale_graphs_are_caught():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (p * p).sum()
    p.grad = tg.tensor([1.0, 1.0])
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_optimizer_state_dict_round_trip():
    p = _param([1.0, 2.0], [0.3, -0.1])
    opt = optim.Adam([p], lr=0.01)
    opt.step()
    state = opt.state_dict()
    q = _param([1.0, 2.0], [0.3, -0.1])
    q.data[...] = p.data
    opt2 = optim.Adam([q], lr=0.5)
    opt2.load_state_dict(state)
    assert opt2.lr == 0.01
    opt.step()
    opt2.step()
    np.testing.assert_array_equal(p.data, q.data)


def test_schedules():
    p = _param([1.0], [0.0])
    opt = optim.SGD([p], lr=1.0)
    s = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.lr]
    for _ in range(5):
        s.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25] and s.get_last_lr() == [0.25]

    opt = optim.SGD([p], lr=0.2)
    s = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    lrs = [opt.lr]
    for _ in range(4):
        s.step()
        lrs.append(opt.lr)
    np.testing.assert_allclose(lrs, [0.2 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)], atol=1e-15)

    opt = optim.SGD([p], lr=0.1)
    s = optim.LambdaLR(opt, lambda e: 1 / (1 + e))
    s.step()
    s.step()
    assert opt.lr == pytest.approx(0.1 / 3)
    saved = s.state_dict()
    assert saved["last_epoch"] == 2 and "lr_lambda" not in saved

    opt = optim.SGD([p], lr=1.0)
    s = optim.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
    got = [opt.lr]
    for _ in range(3):
        s.step()
        got.append(opt.lr)
    np.testing.assert_allclose(got, [1.0, 0.1, 0.1, 0.01])
    opt = optim.SGD([p], lr=1.0)
    s = optim.ExponentialLR(opt, gamma=0.5)
    s.step()
    assert opt.lr == 0.5
