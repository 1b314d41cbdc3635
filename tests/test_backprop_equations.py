"""Tests of tinygrad_edu.backprop_by_hand.equations and .mistakes: the chapter's δ-equations, and the usual
mistakes made in writing them, checked without any autograd.

The reference here is central finite differences of `cost`, computed in float64. No engine module is used:
the point of `equations.py` is to be an independent witness.

Finite differences and the relu kink. relu is not differentiable at 0: a central difference across the kink
averages the two one-sided slopes, while the equations use the convention relu'(0) = 0. So the finite-difference
comparisons skip each weight whose ±h perturbation changes which relu pre-activations are > 0 (the data does
contain exact zeros at relu inputs, from zeroed rows of W); `test_relu_kink_convention` checks the convention
itself, with one-sided differences.
"""

import ast
import math
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_edu.backprop_by_hand import equations as eq
from tinygrad_edu.backprop_by_hand import mistakes

PACKAGE_DIR = Path(eq.__file__).parent
NAMES = list(eq.ACTIVATIONS)


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def random_network(rng, sizes, scale=1.0):
    """Weights W^l of shape n_l × (n_{l-1}+1), entries of size ~ scale / sqrt(fan-in)."""
    return [rng.normal(size=(sizes[l], sizes[l - 1] + 1)) * scale / math.sqrt(sizes[l - 1] + 1)
            for l in range(1, len(sizes))]


def random_targets(rng, B, n_out, loss):
    if loss == "ce":
        return np.eye(n_out)[rng.integers(0, n_out, size=B)]  # one-hot rows
    return rng.normal(size=(B, n_out))


def cost_of(Ws, X, Y, act, out, loss):
    return eq.cost(eq.forward(Ws, X, act, out), Y, loss)


def relu_pattern(Ws, X, act, out):
    """Which relu pre-activations are > 0 (relu layers only): equal patterns mean no kink was crossed."""
    fwd = eq.forward(Ws, X, act, out)
    names = [act] * (len(Ws) - 1) + [out]
    return [Z > 0 for Z, name in zip(fwd.Z, names) if name == "relu"]


def finite_difference_gradients(Ws, X, Y, act, out, loss, h=1e-5):
    """Central differences (C(W + h e) − C(W − h e)) / 2h in the chapter's layout (shape of W^lᵀ), and masks
    marking the entries whose perturbation crosses no relu kink (the only ones where the comparison is fair)."""
    base = relu_pattern(Ws, X, act, out)
    grads, masks = [], []
    for l, W in enumerate(Ws):
        G, smooth = np.zeros(W.T.shape), np.ones(W.T.shape, dtype=bool)
        for j, k in np.ndindex(W.shape):
            costs = []
            for step in (h, -h):
                shifted = [V.copy() for V in Ws]
                shifted[l][j, k] += step
                costs.append(cost_of(shifted, X, Y, act, out, loss))
                pattern = relu_pattern(shifted, X, act, out)
                if any((p != q).any() for p, q in zip(pattern, base)):
                    smooth[k, j] = False
            G[k, j] = (costs[0] - costs[1]) / (2 * h)
        grads.append(G)
        masks.append(smooth)
    return grads, masks


def assert_close_to_fd(result, fd, masks, rtol=1e-6, atol=1e-8):
    """Per layer: ‖G − G_fd‖ ≤ rtol · max(‖G‖, ‖G_fd‖) + atol over the kink-free entries. The atol only matters
    for gradients that are ~0, where rounding in C(W ± h) dominates the finite difference."""
    for l, (G, F, m) in enumerate(zip(result.grads, fd, masks), start=1):
        assert G.shape == F.shape
        err = np.linalg.norm(G[m] - F[m])
        size = max(np.linalg.norm(G[m]), np.linalg.norm(F[m]))
        assert err <= rtol * size + atol, f"layer {l}: |G − FD| = {err:.3g}, |G| = {size:.3g}"


# A random problem: architecture, activations, loss and data, with exact zeros at some relu inputs.
@st.composite
def problems(draw, max_layers=4, max_width=8, max_batch=6):
    L = draw(st.integers(1, max_layers))
    sizes = draw(st.lists(st.integers(1, max_width), min_size=L + 1, max_size=L + 1))
    B = draw(st.integers(1, max_batch))
    act = draw(st.sampled_from(NAMES))
    loss = draw(st.sampled_from(eq.LOSSES))
    out = "softmax" if loss == "ce" else draw(st.sampled_from(NAMES))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    Ws = random_network(rng, sizes, scale)
    X = rng.normal(size=(B, sizes[0]))
    if draw(st.booleans()):
        # A zero row of W^l makes column j of Z^l exactly 0 for every sample: a relu input sitting on the kink.
        l = rng.integers(0, L)
        Ws[l][rng.integers(0, sizes[l + 1])] = 0.0
        X[rng.random(X.shape) < 0.3] = 0.0  # and some exact zeros in the inputs
    Y = random_targets(rng, B, sizes[-1], loss)
    return Ws, X, Y, act, out, loss


# ---------------------------------------------------------------------------------------------------------------
# The module is an independent witness: numpy and the standard library only
# ---------------------------------------------------------------------------------------------------------------


def imports_of(path):
    """(module, level) for every import statement in the file, nested ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_equations_imports_only_numpy_and_stdlib():
    imports = imports_of(PACKAGE_DIR / "equations.py")
    assert imports, "expected at least the numpy import"
    for module, level in imports:
        assert level == 0, f"relative import of {module!r}: equations.py must not import from the package"
        top = module.split(".")[0]
        assert top == "numpy" or top in sys.stdlib_module_names, f"equations.py imports {module!r}"


def test_mistakes_import_only_numpy_stdlib_and_the_equations():
    for module, level in imports_of(PACKAGE_DIR / "mistakes.py"):
        if level:
            assert level == 1 and module in ("", "equations"), f"mistakes.py imports {'.' * level}{module}"
            continue
        top = module.split(".")[0]
        assert top == "numpy" or top in sys.stdlib_module_names, f"mistakes.py imports {module!r}"
    tree = ast.parse((PACKAGE_DIR / "mistakes.py").read_text())
    relative = [alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1
                and node.module is None for alias in node.names]
    assert relative == ["equations"]  # `from . import equations`: not the checker, which imports the engine


def test_package_exposes_check_and_check_student():
    """`from tinygrad_edu.backprop_by_hand import check, check_student` (and tg.check, tg.check_student) work, while
    equations.py itself imports no engine (the test above)."""
    import tinygrad_edu as tg
    from tinygrad_edu.backprop_by_hand import check, check_student, checker

    assert check is checker.check is tg.check and check_student is checker.check_student is tg.check_student


def test_package_reexports_public_names():
    import tinygrad_edu.backprop_by_hand as bp
    from tinygrad_edu.backprop_by_hand import checker

    assert bp.__all__ == [*eq.__all__, *mistakes.__all__, *checker.__all__]
    for module in (eq, mistakes, checker):
        for name in module.__all__:
            assert getattr(bp, name) is getattr(module, name)


# ---------------------------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_activation_derivative_matches_finite_differences(name):
    act = eq.activation(name)
    z = np.array([-3.0, -1.2, -0.3, 0.4, 0.9, 2.5])  # away from relu's kink
    h = 1e-6
    fd = (act(z + h) - act(z - h)) / (2 * h)
    np.testing.assert_allclose(act.prime(z), fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(act.sigma_prime(z, act(z)), act.prime(z))


def test_relu_derivative_at_zero_is_zero():
    relu = eq.activation("relu")
    np.testing.assert_array_equal(relu.prime(np.array([-1.0, 0.0, 1.0])), [0.0, 0.0, 1.0])


def test_sigmoid_is_stable_for_large_inputs():
    z = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = eq.activation("sigmoid")(z)
        ds = eq.activation("sigmoid").prime(z)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    np.testing.assert_allclose(s[1:-1], 1 / (1 + np.exp(-z[1:-1])), rtol=1e-15)
    assert np.all(np.isfinite(ds)) and ds[0] == 0.0 and ds[-1] == 0.0


def test_softmax_and_ce_cost_stable_for_large_logits():
    Z = np.array([[1000.0, 0.0, -1000.0], [5.0, 5.0, 5.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        S = eq.softmax(Z)
        logS = eq.log_softmax(Z)
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    np.testing.assert_allclose(S[1], 1 / 3)
    assert np.all(np.isfinite(logS)) and logS[0, 2] == -2000.0


def test_unknown_activation_lists_valid_names():
    with raises("unknown activation 'swish'; valid names: 'sigmoid', 'relu', 'tanh', 'identity'"):
        eq.activation("swish")
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        eq.forward([np.zeros((2, 3))], np.zeros((1, 2)), activation="softmax")


# ---------------------------------------------------------------------------------------------------------------
# Batch equations against finite differences
# ---------------------------------------------------------------------------------------------------------------

FIXED = [
    # sizes, hidden activation, output activation, loss
    ([2, 3, 2], "sigmoid", "sigmoid", "mse"),  # the chapter's setting
    ([3, 4, 4, 2], "tanh", "identity", "mse"),
    ([4, 5, 3], "relu", "sigmoid", "mse"),
    ([3, 1], "identity", "identity", "mse"),  # linear regression: a single layer
    ([4, 6, 5, 3], "sigmoid", "softmax", "ce"),
    ([3, 4, 3], "relu", "softmax", "ce"),
]


@pytest.mark.parametrize(("sizes", "act", "out", "loss"), FIXED)
def test_fixed_networks_match_finite_differences(sizes, act, out, loss):
    rng = np.random.default_rng(sum(sizes))
    Ws = random_network(rng, sizes)
    X = rng.normal(size=(5, sizes[0]))
    Y = random_targets(rng, 5, sizes[-1], loss)
    result = eq.backprop(Ws, X, Y, act, out, loss)
    fd, masks = finite_difference_gradients(Ws, X, Y, act, out, loss)
    assert all(m.all() for m in masks), "these fixed examples are chosen away from relu kinks"
    assert_close_to_fd(result, fd, masks)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_random_networks_match_finite_differences(problem):
    Ws, X, Y, act, out, loss = problem
    result = eq.backprop(Ws, X, Y, act, out, loss)
    fd, masks = finite_difference_gradients(Ws, X, Y, act, out, loss)
    assert_close_to_fd(result, fd, masks)
    # Δ^l = ∂C/∂Z^l: zero wherever relu'(Z^l) = 0, the exact zeros at the kink included.
    for l in range(1, len(Ws)):
        if act == "relu":
            assert np.all(result.deltas[l - 1][result.Z[l - 1] <= 0] == 0.0)


def test_relu_kink_convention():
    """At z = 0 the equations use relu'(0) = 0, i.e. the left derivative; central differences give the average.

    One sample x = 0, one hidden relu unit whose pre-activation is its bias b = 0, identity output:
    a^2 = 2 relu(b) + 0.5 and C = (3 − a^2)², so dC/db = 0 from the left and −2·2.5·2 = −10 from the right.
    """
    X, Y = np.zeros((1, 2)), np.array([[3.0]])
    W1 = np.array([[1.0, -1.0, 0.0]])  # last column: the bias b = 0
    W2 = np.array([[2.0, 0.5]])
    result = eq.backprop([W1, W2], X, Y, "relu", "identity")
    assert result.Z[0][0, 0] == 0.0
    assert result.deltas[0][0, 0] == 0.0  # δ^1 = δ^2 W^2[:, :1] relu'(0) = 0
    assert result.grads[0][2, 0] == 0.0  # ∂C/∂b (last row of ∂C/∂W^1)

    def cost_at(b):
        return cost_of([np.array([[1.0, -1.0, b]]), W2], X, Y, "relu", "identity", "mse")

    h = 1e-6
    assert (cost_at(0.0) - cost_at(-h)) / h == 0.0
    assert (cost_at(h) - cost_at(0.0)) / h == pytest.approx(-10.0, rel=1e-5)
    assert (cost_at(h) - cost_at(-h)) / (2 * h) == pytest.approx(-5.0, rel=1e-5)  # what a central FD would say


def test_gradient_descent_step_applies_the_transpose_and_lowers_the_cost():
    rng = np.random.default_rng(7)
    Ws = random_network(rng, [3, 4, 2])
    X, Y = rng.normal(size=(8, 3)), rng.random(size=(8, 2))
    result = eq.backprop(Ws, X, Y)
    new = eq.gradient_descent_step(Ws, result.grads, lr=0.1)
    for W, G, V in zip(Ws, result.grads, new):
        np.testing.assert_array_equal(V, W - 0.1 * G.T)
    assert eq.backprop(new, X, Y).cost < result.cost


# ---------------------------------------------------------------------------------------------------------------
# Per-sample (column-vector) functions against the batch functions
# ---------------------------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(problems(max_width=6, max_batch=5))
def test_per_sample_functions_agree_with_batch(problem):
    """C = 1/B Σ_i C_i, so: row i of Z^l is (z^l_i)ᵀ, row i of Δ^l is δ^l_i / B, ∂C/∂W^l = 1/B Σ_i ∂C_i/∂W^l."""
    Ws, X, Y, act, out, loss = problem
    B = X.shape[0]
    batch = eq.backprop(Ws, X, Y, act, out, loss)
    samples = [eq.backprop_sample(Ws, X[i], Y[i], act, out, loss) for i in range(B)]
    for i, s in enumerate(samples):
        for l in range(len(Ws)):
            np.testing.assert_allclose(s.z[l].T, batch.Z[l][i : i + 1], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(s.a[l + 1].T, batch.A[l + 1][i : i + 1], rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(s.deltas[l] / B, batch.deltas[l][i : i + 1], rtol=1e-10, atol=1e-14)
    for l in range(len(Ws)):
        mean_grad = sum(s.grads[l] for s in samples) / B
        np.testing.assert_allclose(mean_grad, batch.grads[l], rtol=1e-10, atol=1e-13)
    assert np.mean([s.cost for s in samples]) == pytest.approx(batch.cost, rel=1e-12, abs=1e-15)


def test_per_sample_shapes_are_the_chapters():
    rng = np.random.default_rng(3)
    Ws = random_network(rng, [4, 3, 2])
    x, y = rng.normal(size=4), rng.random(size=2)
    fwd = eq.forward_sample(Ws, x)
    assert [z.shape for z in fwd.z] == [(3, 1), (2, 1)]  # columns
    assert [a.shape for a in fwd.a] == [(4, 1), (3, 1), (2, 1)]
    d2 = eq.delta_output_sample(y, fwd.z[1])
    d1 = eq.delta_hidden_sample(d2, Ws[1], fwd.z[0])
    assert d2.shape == (1, 2) and d1.shape == (1, 3)  # rows (numerator layout, eq. 109)
    assert eq.weight_gradient_sample(fwd.a[0], d1).shape == (5, 3) == Ws[0].T.shape
    assert eq.augment_sample(x).shape == (5, 1)
    # eq. 111 entry by entry: δ^L_k = −2 (y_k − a_k) σ'(z_k), with σ' = a(1 − a) for the sigmoid
    a = fwd.a[2][:, 0]
    np.testing.assert_allclose(d2[0], -2 * (y - a) * a * (1 - a))


# ---------------------------------------------------------------------------------------------------------------
# Shapes (the chapter's dimension questions)
# ---------------------------------------------------------------------------------------------------------------


def test_weight_gradients_have_the_shape_of_W_transposed():
    rng = np.random.default_rng(4)
    Ws = random_network(rng, [5, 7, 3, 2])
    result = eq.backprop(Ws, rng.normal(size=(6, 5)), rng.random(size=(6, 2)))
    assert [G.shape for G in result.grads] == [W.T.shape for W in Ws] == [(6, 7), (8, 3), (4, 2)]
    assert [D.shape for D in result.deltas] == [Z.shape for Z in result.Z] == [(6, 7), (6, 3), (6, 2)]


def test_shapes_table_for_784_300_10():
    rows = eq.shapes_table([784, 300, 10])
    assert rows == [
        {"layer": 1, "a_prev_aug": (785, 1), "W": (300, 785), "z": (300, 1), "delta": (1, 300),
         "grad": (785, 300)},
        {"layer": 2, "a_prev_aug": (301, 1), "W": (10, 301), "z": (10, 1), "delta": (1, 10), "grad": (301, 10)},
    ]
    text = eq.format_shapes_table(rows).splitlines()
    assert len(text) == 4
    assert text[0].split() == ["l", "ã^{l-1}", "W^l", "z^l", "δ^l", "∂C/∂W^l"]
    assert text[2].split("  ")[-5:] == ["785 × 1", "300 × 785", "300 × 1", "1 × 300", "785 × 300"]
    assert eq.layer_sizes([np.zeros((300, 785)), np.zeros((10, 301))]) == [784, 300, 10]


def test_linear_layout_round_trip():
    weight, bias = np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0])
    W = eq.weights_from_linear(weight, bias)
    np.testing.assert_array_equal(W, [[0, 1, 2, 10], [3, 4, 5, 20]])
    w2, b2 = eq.linear_from_weights(W)
    np.testing.assert_array_equal(w2, weight)
    np.testing.assert_array_equal(b2, bias)
    # z = W ã equals the Linear layer's weight @ x + bias
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(W @ eq.augment_sample(x), (weight @ x + bias)[:, None])
    np.testing.assert_array_equal(eq.augment(np.zeros((2, 3))), [[0, 0, 0, 1], [0, 0, 0, 1]])


# ---------------------------------------------------------------------------------------------------------------
# Validation: the messages say what is wrong
# ---------------------------------------------------------------------------------------------------------------


def raises(message):
    """pytest.raises(ValueError) whose message must contain `message` literally."""
    return pytest.raises(ValueError, match=re.escape(message))


def test_validation_messages_for_shapes():
    X784 = np.zeros((2, 784))
    with raises("W^2 has shape (10, 300) but layer 1 has 300 units, so W^2 needs 301 columns"):
        eq.forward([np.zeros((300, 785)), np.zeros((10, 300))], X784)
    with raises("W^1 has shape (300, 784) but the input has 784 features, so W^1 needs 785 columns"):
        eq.forward([np.zeros((300, 784))], X784)
    with raises("W^1 has shape (3, 3) but the input has 3 features, so W^1 needs 4 columns"):
        eq.forward_sample([np.zeros((3, 3))], np.zeros(3))
    with raises("Ws is empty"):
        eq.forward([], X784)
    with raises("X must be a 2-D array (B samples as rows, n_0 features), got shape (784,)"):
        eq.forward([np.zeros((300, 785))], np.zeros(784))
    with raises("Y has shape (5, 3) but the network output A^L has shape (5, 2)"):
        eq.backprop([np.zeros((3, 3)), np.zeros((2, 4))], np.zeros((5, 2)), np.zeros((5, 3)))
    with raises("W_next has shape (2, 4) but z^l has 2 entries, so W_next needs 3 columns"):
        eq.delta_hidden_sample(np.zeros((1, 2)), np.zeros((2, 4)), np.zeros(2))
    with raises("W_next has shape (2, 4) but Z^l has 2 columns, so W_next needs 3 columns"):
        eq.delta_hidden(np.zeros((5, 2)), np.zeros((2, 4)), np.zeros((5, 2)))
    with raises("delta_next has shape (4, 2); it must be Δ^{l+1}, of shape (5, 2)"):
        eq.delta_hidden(np.zeros((4, 2)), np.zeros((2, 3)), np.zeros((5, 2)))
    with raises("A_prev has 5 rows (samples) but delta has 4"):
        eq.weight_gradient(np.zeros((5, 3)), np.zeros((4, 2)))
    with raises("Z_L must be a 2-D array (B samples as rows), got shape (3,)"):
        eq.delta_output(np.zeros((1, 3)), np.zeros(3))
    with raises("bias has shape (3,) but weight has shape (2, 3), so bias needs shape (2,)"):
        eq.weights_from_linear(np.zeros((2, 3)), np.zeros(3))
    Ws = [np.zeros((3, 3)), np.zeros((2, 4))]
    in_W_shape = [np.zeros((3, 3)), np.zeros((2, 4))]  # ∂C/∂W^2 in W^2's shape rather than W^2ᵀ's
    with raises("∂C/∂W^2 has shape (2, 4) but W^2 has shape (2, 4): the gradient must have the shape of W^2ᵀ"):
        eq.gradient_descent_step(Ws, in_W_shape, lr=0.1)


def test_validation_messages_for_losses():
    Ws = [np.zeros((3, 3)), np.zeros((2, 4))]
    X, one_hot = np.zeros((5, 2)), np.eye(2)[[0, 1, 0, 1, 0]]
    with raises("unknown loss 'mae'; valid losses: 'mse', 'ce'"):
        eq.backprop(Ws, X, np.zeros((5, 2)), loss="mae")
    with raises("loss='ce' expects one-hot targets: each row of Y must sum to 1"):
        eq.backprop(Ws, X, np.zeros((5, 2)), loss="ce")
    with raises("loss='ce' uses a softmax output, but output_activation='sigmoid' was given"):
        eq.backprop(Ws, X, one_hot, output_activation="sigmoid", loss="ce")
    with raises("loss='ce' needs a softmax output, but the forward pass used output_activation='tanh'"):
        eq.deltas(Ws, eq.forward(Ws, X, "tanh"), one_hot, loss="ce")
    with raises("output_activation='softmax' is only supported with loss='ce'"):
        eq.backprop(Ws, X, np.zeros((5, 2)), output_activation="softmax")


# ---------------------------------------------------------------------------------------------------------------
# Usual mistakes
# ---------------------------------------------------------------------------------------------------------------


def generic_problem(loss, act="sigmoid", seed=11):
    rng = np.random.default_rng(seed)
    sizes = [4, 5, 3, 3]  # L = 3, a square-free layout except W^3 (3 × 4)
    Ws = random_network(rng, sizes)
    X = rng.normal(size=(6, 4))
    Y = random_targets(rng, 6, 3, loss)
    out = "softmax" if loss == "ce" else act
    return Ws, eq.forward(Ws, X, act, out), Y


@pytest.mark.parametrize("loss", eq.LOSSES)
@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_each_mistake_differs_from_the_correct_gradients(loss, act):
    Ws, fwd, Y = generic_problem(loss, act)
    correct = eq.weight_gradients(fwd, eq.deltas(Ws, fwd, Y, loss))
    variants = mistakes.mistake_variants(Ws, fwd, Y, loss)
    assert list(variants) == list(mistakes.MISTAKES)
    for name, grads in variants.items():
        assert len(grads) == len(correct)
        same = all(G.shape == V.shape and np.allclose(G, V) for G, V in zip(correct, grads))
        assert not same, f"variant {name!r} equals the correct gradients"


@pytest.mark.parametrize("loss", eq.LOSSES)
def test_mistake_variants_are_what_their_descriptions_say(loss):
    Ws, fwd, Y = generic_problem(loss)
    B, L = Y.shape[0], len(Ws)
    correct = eq.weight_gradients(fwd, eq.deltas(Ws, fwd, Y, loss))
    v = mistakes.mistake_variants(Ws, fwd, Y, loss)
    for l in range(L):
        np.testing.assert_array_equal(v["transposed"][l], correct[l].T)
        np.testing.assert_allclose(v["missing_1_over_B"][l], B * correct[l], rtol=1e-12)
        np.testing.assert_allclose(v["sign_flipped"][l], -correct[l], rtol=1e-12)
    # the recursion mistakes leave the last layer alone and change every earlier one
    for name in ("bias_kept", "no_sigma_prime"):
        np.testing.assert_allclose(v[name][-1], correct[-1], rtol=1e-12)
        assert all(not np.allclose(v[name][l], correct[l]) for l in range(L - 1))


def test_keeping_the_bias_column_and_dropping_the_last_one_is_not_a_mistake():
    """Why "bias_kept" drops the *first* column: (Δ W)[:, :n] = Δ (W[:, :n]), so dropping the last is correct."""
    rng = np.random.default_rng(5)
    D, W = rng.normal(size=(4, 3)), rng.normal(size=(3, 6))
    np.testing.assert_allclose((D @ W)[:, :5], D @ W[:, :5], rtol=1e-13)


def test_documented_coincidences_of_mistakes():
    """Where a variant cannot be told apart from the correct gradient (as mistakes.MISTAKES says)."""
    rng = np.random.default_rng(9)
    Ws = random_network(rng, [3, 4, 2])
    X, Y = rng.normal(size=(1, 3)), rng.normal(size=(1, 2))  # B = 1
    fwd = eq.forward(Ws, X, "identity")
    correct = eq.weight_gradients(fwd, eq.deltas(Ws, fwd, Y))
    v = mistakes.mistake_variants(Ws, fwd, Y)
    for l in range(2):
        np.testing.assert_allclose(v["missing_1_over_B"][l], correct[l])  # B = 1
        np.testing.assert_allclose(v["no_sigma_prime"][l], correct[l])  # σ' = 1
    single = [Ws[0]]  # L = 1: no recursion at all
    fwd1 = eq.forward(single, X, "sigmoid")
    Y1 = rng.normal(size=(1, 4))
    c1 = eq.weight_gradients(fwd1, eq.deltas(single, fwd1, Y1))
    v1 = mistakes.mistake_variants(single, fwd1, Y1)
    np.testing.assert_allclose(v1["bias_kept"][0], c1[0])
    np.testing.assert_allclose(v1["no_sigma_prime"][0], c1[0])
