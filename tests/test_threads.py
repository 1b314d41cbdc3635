"""Grad mode, anomaly mode, name scopes and the module call stack belong to each thread, as in PyTorch: two
threads training two models and a third running inference under no_grad() give the same numbers as one thread
running the three in turn."""

from __future__ import annotations

import threading

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn

STEPS = 1000


def data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((8, 4)), rng.standard_normal((8, 2))


def train(seed):
    """STEPS steps of SGD on a 4-8-2 MLP; the final weights and the losses."""
    model = nn.MLP([4, 8, 2], activation="tanh", generator=np.random.default_rng(seed))
    opt = tg.optim.SGD(model.parameters(), lr=0.05)
    X, Y = data(seed)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = tg.mse(model(X), tg.tensor(Y))
        loss.backward()  # needs grad mode on in this thread while the inference thread has it off
        opt.step()
        losses.append(loss.item())
    return [p.data.copy() for p in model.parameters()], losses


def infer(seed):
    model = nn.MLP([4, 8, 2], generator=np.random.default_rng(seed))
    X, _ = data(seed)
    outputs = []
    with tg.no_grad():
        for _ in range(STEPS):
            out = model(X)
            assert out.grad_fn is None and not tg.is_grad_enabled()
            outputs.append(out.data.copy())
    return outputs


def test_two_training_threads_and_an_inference_thread_match_one_thread():
    expected = {"a": train(1), "b": train(2), "infer": infer(3)}
    results, errors = {}, []

    def run(name, fn, seed):
        try:
            results[name] = fn(seed)
        except BaseException as error:  # reported below, with its thread
            errors.append((name, error))

    threads = [threading.Thread(target=run, args=args) for args in
               (("a", train, 1), ("b", train, 2), ("infer", infer, 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for name in ("a", "b"):
        weights, losses = results[name]
        assert losses == expected[name][1]
        for w, e in zip(weights, expected[name][0]):
            np.testing.assert_array_equal(w, e)
    for out, e in zip(results["infer"], expected["infer"]):
        np.testing.assert_array_equal(out, e)


def test_each_thread_starts_with_its_own_modes():
    seen = {}

    def probe():
        seen["grad"], seen["anomaly"], seen["scope"] = tg.is_grad_enabled(), tg.is_anomaly_enabled(), tg.current_scope()

    with tg.no_grad(), tg.detect_anomaly(), tg.name_scope("outer"):
        t = threading.Thread(target=probe)
        t.start()
        t.join()
        assert not tg.is_grad_enabled() and tg.is_anomaly_enabled() and tg.current_scope() == ("outer",)
    assert seen == {"grad": True, "anomaly": False, "scope": ()}


def test_a_trace_records_only_its_own_threads_operations():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    started, release = threading.Event(), threading.Event()

    def other():
        started.set()
        release.wait()
        for _ in range(50):
            x * 3.0  # recorded in the other thread, while the trace below is open

    t = threading.Thread(target=other)
    t.start()
    started.wait()
    with tg.viz.trace() as tr:
        release.set()
        y = (x + 1.0).sum()
        t.join()
    assert {out.grad_fn.name() for out in tr.outputs.values()} == {"AddBackward", "SumBackward"}
    assert y.item() == 5.0
