"""A differential test: random graphs of the engine's operations, run by tinygrad_edu and by PyTorch's autograd
on the same float64 inputs, with zeros, infinities and NaN among them; values and gradients must agree, NaN
where NaN and the same infinities. Skipped where torch is not installed (it is not a dependency: CI does not
install it, a developer can with `pip install torch`).

Where the two differ on purpose (documented in engine/ops.py), the graphs here avoid it: PyTorch's max/amax
backward multiplies its mask (an infinite gradient becomes NaN off the maximum), ours selects."""

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
