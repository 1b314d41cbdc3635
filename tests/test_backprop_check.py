"""check / check_student: the δ-equations against autograd, per layer, and a student's mistakes named."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.functional import one_hot
from tinygrad_edu.backprop_by_hand import check, check_student
from tinygrad_edu.backprop_by_hand import equations as eq
from tinygrad_edu.backprop_by_hand.mistakes import mistake_variants


class Linear:
    """A minimal layer with PyTorch's layout (the nn module's Linear is checked the same way in test_nn)."""

    def __init__(self, n_in, n_out, rng, dtype=np.float64):
        self.weight = tg.tensor(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), dtype=dtype, requires_grad=True)
        self.bias = tg.tensor(rng.normal(0, 0.1, n_out), dtype=dtype, requires_grad=True)

    def __call__(self, x):
        return x @ self.weight.T + self.bias


class MLP:
    def __init__(self, sizes, activation="sigmoid", output_activation=None, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.sizes, self.activation = list(sizes), activation
        self.output_activation = output_activation or activation
        self.linears = [Linear(a, b, rng, dtype) for a, b in zip(sizes[:-1], sizes[1:])]


def batch(sizes, n=8, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    return X, one_hot(labels, sizes[-1]).numpy(), labels


def test_chapter_network_agrees_with_autograd():
    model = MLP([784, 30, 10])
    X, Y, _ = batch([784, 30, 10], n=16)
    report = check(model, X, Y)
    assert report.ok and report.max_error <= 1e-10
    text = str(report)
    assert "16×785" in text and "10×31" in text and "31×10" in text and "AGREE" in text  # ã^1, W^2, ∂C/∂W^2
    assert "1/B" in text
    assert "<table>" in report._repr_html_()
    # its repr, a cell's value in a REPL, is one short line (the table is print's, or Jupyter's HTML)
    assert re.fullmatch(r"<CheckReport 2 layers, AGREE: max error \d\.\de-\d\d ≤ tolerance 1e-10>", repr(report))
    assert report.verdict() in text and html.escape(report.verdict()) in report._repr_html_()  # one verdict, said once


@settings(max_examples=25)
@given(
    sizes=st.lists(st.integers(1, 20), min_size=2, max_size=5),
    activation=st.sampled_from(["sigmoid", "relu", "tanh", "identity"]),
    output=st.sampled_from(["sigmoid", "identity", "tanh", "relu"]),
    seed=st.integers(0, 2**16),
    zero_rows=st.booleans(),
)
def test_property_random_architectures(sizes, activation, output, seed, zero_rows):
    model = MLP(sizes, activation, output, seed=seed)
    X, Y, _ = batch(sizes, n=5, seed=seed + 1)
    if zero_rows:  # exact zeros at relu inputs: weights and bias of a unit set to 0
        for lin in model.linears:
            lin.weight.data[0] = 0.0
            lin.bias.data[0] = 0.0
    report = check(model, X, Y)
    assert report.ok, str(report)


def test_cross_entropy_beyond_the_chapter():
    model = MLP([6, 5, 4], "relu", "identity")
    X, _, labels = batch([6, 5, 4], n=7)
    assert check(model, X, labels, loss="ce").ok


def test_float32_model_uses_a_float32_tolerance():
    model = MLP([5, 4, 3], dtype=np.float32)
    X, Y, _ = batch([5, 4, 3])
    report = check(model, X, Y)
    assert report.ok and report.tolerance == 1e-4


def chapter_backprop(Ws, X, Y, activation="sigmoid"):
    """A correct student implementation, written independently of equations.py."""
    sig = lambda z: 1 / (1 + np.exp(-z))
    A, Z = [X], []
    for W in Ws:
        Z.append(np.hstack([A[-1], np.ones((len(X), 1))]) @ W.T)
        A.append(sig(Z[-1]))
    B = len(X)
    delta = -2 / B * (Y - A[-1]) * A[-1] * (1 - A[-1])
    grads = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        grads[l] = np.hstack([A[l], np.ones((B, 1))]).T @ delta
        if l:
            delta = (delta @ Ws[l][:, :-1]) * A[l] * (1 - A[l])
    return grads


MUTATIONS = {
    "transposed": lambda g, Ws, X, Y: [G.T for G in g],
    "missing_1_over_B": lambda g, Ws, X, Y: [G * len(X) for G in g],
    "sign_flipped": lambda g, Ws, X, Y: [-G for G in g],
}


def test_check_student_accepts_a_correct_implementation():
    model = MLP([6, 5, 4, 3])
    X, Y, _ = batch([6, 5, 4, 3])
    report = check_student(chapter_backprop, model, X, Y)
    assert report.ok and report.first_wrong_layer is None and "all layers agree" in str(report)


@pytest.mark.parametrize("mistake", sorted(MUTATIONS))
def test_check_student_names_the_mistake(mistake):
    model = MLP([6, 5, 4, 3])
    X, Y, _ = batch([6, 5, 4, 3])
    wrong = lambda Ws, X, Y: MUTATIONS[mistake](chapter_backprop(Ws, X, Y), Ws, X, Y)
    report = check_student(wrong, model, X, Y)
    assert not report.ok and report.first_wrong_layer == 3
    assert mistake in str(report)
    assert repr(report).startswith("<CheckReport 3 layers, DISAGREE: max error ") and len(repr(report)) < 100
    assert repr(report).endswith(", first wrong layer l = 3>")


@pytest.mark.parametrize("mistake", ["no_sigma_prime", "bias_kept"])
def test_check_student_names_recursion_mistakes(mistake):
    model = MLP([6, 5, 4, 3])
    X, Y, _ = batch([6, 5, 4, 3])
    Ws = [eq.weights_from_linear(l.weight.data, l.bias.data) for l in model.linears]
    fwd = eq.forward(Ws, X, "sigmoid")
    wrong_grads = mistake_variants(Ws, fwd, Y)[mistake]
    report = check_student(lambda Ws, X, Y: wrong_grads, model, X, Y)
    assert not report.ok
    assert report.first_wrong_layer == 2  # the output layer is right; the recursion goes wrong below it
    assert mistake in str(report) and report.rows[-1].ok


def test_check_needs_an_mlp_like_model():
    with pytest.raises(TypeError, match="MLP-like model with .linears"):
        check(object(), np.zeros((1, 2)), np.zeros((1, 2)))
