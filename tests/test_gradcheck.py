"""gradcheck catches wrong backward passes written with the public Function API (in full and fast mode, at
the default tolerances), lets correct ones pass, and explains what it found."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError, GradcheckReport, check_gradients, gradcheck, gradgradcheck
from tinygrad_edu.gradient_check import FULL_MODE_MAX_SIZE
from tinygrad_edu.testing import tensors

MODES = {"full": False, "fast": True}


# ----------------------------------------------------------------------------------------------------------------
# Operations with a correct backward and with a planted bug (a flag picks which)
# ----------------------------------------------------------------------------------------------------------------


def cube(bug: str | None = None):
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            g = grad * 3 * x * x
            return -g if bug == "sign" else g * 1.01 if bug == "one_percent" else g

    return Cube.apply


def square(bug: str | None = None):
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x if bug == "factor_2" else grad * 2 * x

    return Square.apply


def matmul(bug: str | None = None):
    class MatMul(Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a @ b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            grad_a = grad @ b if bug == "transposed" else grad @ b.T  # the bug type-checks for square b
            return grad_a, a.T @ grad

    return MatMul.apply


def add_bias(bug: str | None = None):
    class AddBias(Function):
        """x (N, D) + b (D,): b is repeated over the N rows, so its gradient sums over axis 0."""

        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, grad):
            if bug == "wrong_axis":
                return grad, grad.sum(axis=1)  # the right shape when N == D, the wrong numbers
            if bug == "mean_not_sum":
                return grad, grad.mean(axis=0)
            return grad, grad.sum(axis=0)

    return AddBias.apply


def softplus(bug: str | None = None):
    class Softplus(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.logaddexp(0.0, x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            s = 1 / (1 + np.exp(-x))  # σ(x), on arrays and on Tensors alike
            return s if bug == "ignores_grad" else grad * s

    return Softplus.apply


def rng_inputs(seed: int, *shapes, low=-3.0, high=3.0):
    rng = np.random.default_rng(seed)
    return [tg.tensor(rng.uniform(low, high, s), requires_grad=True) for s in shapes]


# name: (factory, bug, input shapes, value range) -- the shapes are square where the bug needs it to type-check
PLANTED = {
    "sign error": (cube, "sign", [(3, 4)], (0.3, 3.0)),
    "missing factor 2": (square, "factor_2", [(5,)], (0.3, 3.0)),
    "transposed matrix gradient": (matmul, "transposed", [(2, 3), (3, 3)], (-3.0, 3.0)),
    "1 % error": (cube, "one_percent", [(4,)], (0.3, 3.0)),
    "wrong broadcast reduction (axis)": (add_bias, "wrong_axis", [(3, 3), (3,)], (-3.0, 3.0)),
    "wrong broadcast reduction (mean)": (add_bias, "mean_not_sum", [(4, 3), (3,)], (-3.0, 3.0)),
    "backward ignores its grad": (softplus, "ignores_grad", [(3,)], (-3.0, 3.0)),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(PLANTED))
@pytest.mark.parametrize("seed", range(5))
def test_planted_bugs_are_caught_at_default_tolerances(name, mode, seed):
    factory, bug, shapes, (low, high) = PLANTED[name]
    inputs = rng_inputs(seed, *shapes, low=low, high=high)
    with pytest.raises(GradcheckError):
        gradcheck(factory(bug), inputs, fast_mode=MODES[mode])
    assert gradcheck(factory(None), inputs, fast_mode=MODES[mode])  # the same op, fixed, passes


@pytest.mark.parametrize("mode", sorted(MODES))
@given(x=tensors(low=0.3, high=3.0))
def test_planted_bugs_caught_on_any_input(mode, x):
    for bug in ("sign", "one_percent"):
        with pytest.raises(GradcheckError):
            gradcheck(cube(bug), [x], fast_mode=MODES[mode])
    with pytest.raises(GradcheckError):
        gradcheck(square("factor_2"), [x], fast_mode=MODES[mode])
    assert gradcheck(cube(None), [x], fast_mode=MODES[mode])
    assert gradcheck(square(None), [x], fast_mode=MODES[mode])


@pytest.mark.parametrize("mode", sorted(MODES))
@given(x=tensors(shape=(3, 3)), b=tensors(shape=(3,)))
def test_wrong_broadcast_reduction_caught_on_any_input(mode, x, b):
    with pytest.raises(GradcheckError):
        gradcheck(add_bias("wrong_axis"), [x, b], fast_mode=MODES[mode])
    assert gradcheck(add_bias(None), [x, b], fast_mode=MODES[mode])


@pytest.mark.parametrize("mode", sorted(MODES))
@given(a=tensors(shape=(2, 3)), b=tensors(shape=(3, 3)))
def test_transposed_gradient_caught_on_any_input(mode, a, b):
    # b's off-diagonal pairs differ (b != b.T): with a symmetric b the "bug" would not be one
    if np.abs(b.numpy() - b.numpy().T).max() < 0.1:
        return
    with pytest.raises(GradcheckError):
        gradcheck(matmul("transposed"), [a, b], fast_mode=MODES[mode])
    assert gradcheck(matmul(None), [a, b], fast_mode=MODES[mode])


def scaled_backward(delta: float):
    """Identity whose backward is wrong by the relative error delta (for the detection limit)."""

    class Scaled(Function):
        @staticmethod
        def forward(ctx, y):
            return y.copy()

        @staticmethod
        def backward(ctx, grad):
            return grad * (1 + delta)

    return Scaled.apply


@pytest.mark.parametrize("mode", sorted(MODES))
def test_detection_limit_stated_in_the_docs(mode):
    """The documented limit: relative errors of 0.5 % are caught in both modes, of 0.2 % in full mode;
    0.05 % (below rtol = 0.1 %) is not."""
    for seed in range(10):
        (x,) = rng_inputs(seed, (3, 4))
        for delta in (5e-3,) + ((2e-3,) if mode == "full" else ()):
            with pytest.raises(GradcheckError):
                gradcheck(lambda x: scaled_backward(delta)(x.tanh()), [x], fast_mode=MODES[mode])
        assert gradcheck(lambda x: scaled_backward(5e-4)(x.tanh()), [x], fast_mode=MODES[mode])


# ----------------------------------------------------------------------------------------------------------------
# What the failure says
# ----------------------------------------------------------------------------------------------------------------


def test_message_names_input_element_values_error_and_tolerance():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True, name="x")
    with pytest.raises(GradcheckError) as info:
        gradcheck(cube("sign"), [x])
    message = str(info.value)
    assert "input #0 'x'" in message and "shape (3,)" in message
    assert "at element (2,)" in message  # the worst: |2·3·2²| = 24
    assert "analytical -12, numerical 12" in message
    assert "error 24 > tolerance 0.012" in message
    assert "kink" not in message
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.report, GradcheckReport) and not info.value.report


def test_second_input_and_output_element_are_located():
    a, b = rng_inputs(0, (2, 3), (3, 3))
    b.name = "b"
    with pytest.raises(GradcheckError, match=r"input #1 'b' \(shape \(3, 3\)\)"):
        gradcheck(lambda a, b: tg.maximum(a @ b, -100.0) + 0.0 * a.sum() + _wrong_b(b), [a, b])


def _wrong_b(b):
    class Leaky(Function):
        @staticmethod
        def forward(ctx, b):
            return b.sum()

        @staticmethod
        def backward(ctx, grad):
            return grad * tg.ones((3, 3)) * 1.5

    return Leaky.apply(b)


@pytest.mark.parametrize("fn, values", [
    (lambda x: x.relu(), [0.0, 1.0]),  # relu at its kink
    (lambda x: x.clip(-1.0, 1.0), [1.0, 0.2]),  # clip passes the gradient at its bound
    (lambda x: argmax_max()(x), [1.0, 1.0, 0.5]),  # a tie, all the gradient to the first maximum
    (lambda x: x.heaviside(), [0.0, 1.0]),  # a jump
])
def test_kink_hint(fn, values):
    """(The engine's own max splits the gradient between ties, which agrees with the central difference.)"""
    x = tg.tensor(values, requires_grad=True)
    with pytest.raises(GradcheckError, match="kink") as info:
        gradcheck(fn, [x])
    assert "left and right finite differences disagree" in str(info.value)
    assert gradcheck(fn, [tg.tensor([0.3, -1.2, 0.7][: len(values)], requires_grad=True)])  # away from it


def argmax_max():
    class Max(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.max()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            one_hot = np.zeros(x.shape)
            one_hot[np.argmax(np.asarray(x))] = 1.0
            return grad * tg.tensor(one_hot)

    return Max.apply


def test_fast_mode_message_points_to_full_mode():
    x = rng_inputs(0, (40, 40))[0]
    with pytest.raises(GradcheckError, match="fast mode") as info:
        gradcheck(cube("one_percent"), [x])  # 1600 elements: automatic fast mode
    assert "fast_mode=False" in str(info.value)


def test_report_table_and_html():
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True, name="x")
    report = check_gradients(cube("sign"), [x])
    assert not report and not report.passed and report.mode == "full"
    text = str(report)
    assert text.splitlines()[0].startswith("gradcheck FAILED: Cube.apply, full Jacobian")
    for column in ("input", "shape", "worst at", "analytical", "numerical", "|error|", "tolerance", "result"):
        assert column in text.splitlines()[1]
    assert "FAILED" in text.splitlines()[2]
    html = report._repr_html_()
    assert html.count("<table>") == 1 and "FAILED" in html and "&#x27;x&#x27;" in html
    good = check_gradients(cube(None), [x])
    assert good and "gradcheck passed" in str(good) and "ok" in str(good)
    assert repr(good) == "<GradcheckReport passed: Cube.apply, full mode>"


def test_raise_exception_false_returns_false():
    x = tg.tensor([0.5, 2.0], requires_grad=True)
    assert gradcheck(cube("sign"), [x], raise_exception=False) is False
    assert gradcheck(cube(None), [x], raise_exception=False) is True


def test_float32_warning_uses_pytorch_wording():
    x = tg.tensor([0.5, 2.0], dtype=np.float32, requires_grad=True)
    expected = ("Input #0 requires gradient and is not a double precision floating point. This check will likely "
                "fail if all the inputs are not of double precision floating point.")
    with pytest.warns(UserWarning, match=expected.replace(".", r"\.")):
        gradcheck(lambda x: x * 2, [x], raise_exception=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda x: x * 2, [tg.tensor([0.5], requires_grad=True)])  # float64: no warning


# ----------------------------------------------------------------------------------------------------------------
# The checks beyond the Jacobian
# ----------------------------------------------------------------------------------------------------------------


def test_zero_output_gradient_check():
    x = rng_inputs(0, (3,))[0]
    report = check_gradients(softplus("ignores_grad"), [x])
    zero = next(c for c in report.checks if "zero output gradient" in c.description)
    assert not zero.passed and "does backward multiply by its `grad` argument" in zero.detail
    assert all(c.passed for c in check_gradients(softplus(None), [x]).checks)


def noisy_backward(noise: float):
    rng = np.random.default_rng(0)

    class Noisy(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 2 * x

        @staticmethod
        def backward(ctx, grad):
            return grad * 2 + noise * rng.standard_normal(grad.shape) * grad

    return Noisy.apply


def test_nondeterministic_backward_is_caught_even_below_the_tolerance():
    x = rng_inputs(0, (4,))[0]
    with pytest.raises(GradcheckError, match="backward twice gives the same gradients does not hold"):
        gradcheck(noisy_backward(1e-9), [x])  # far below atol: only running backward twice sees it
    assert gradcheck(noisy_backward(1e-9), [x], nondet_tol=1e-6)
    assert gradcheck(noisy_backward(1e-9), [x], check_determinism=False)


def test_nondeterministic_forward_is_caught():
    rng = np.random.default_rng(0)
    x = rng_inputs(0, (4,))[0]
    report = check_gradients(lambda x: x * tg.tensor(rng.uniform(0.999999, 1.0)), [x], atol=1.0)
    forward = next(c for c in report.checks if c.description.startswith("forward twice"))
    assert not forward.passed and "nondet_tol" in forward.detail


# ----------------------------------------------------------------------------------------------------------------
# Modes, outputs, inputs
# ----------------------------------------------------------------------------------------------------------------


def test_automatic_mode_switch_at_documented_size():
    small = rng_inputs(0, (FULL_MODE_MAX_SIZE,))[0]
    large = rng_inputs(0, (FULL_MODE_MAX_SIZE + 1,))[0]
    assert check_gradients(lambda x: x.tanh(), [small]).mode == "full"
    report = check_gradients(lambda x: x.tanh(), [large])
    assert report.mode == "fast" and report
    big = rng_inputs(0, (200, 300))[0]  # 60 000 elements: fast mode is a handful of passes
    assert gradcheck(lambda x: (x.tanh() * x).sum(axis=0), [big])
    assert check_gradients(lambda x: x.sum(), [big], fast_mode=True).mode == "fast"


def test_fast_mode_is_reproducible_with_its_seed():
    x = rng_inputs(0, (5, 5))[0]
    one = check_gradients(cube("one_percent"), [x], fast_mode=True, seed=3)
    two = check_gradients(cube("one_percent"), [x], fast_mode=True, seed=3)
    assert one.inputs[0].analytical == two.inputs[0].analytical


def test_inputs_and_grads_are_left_untouched():
    x = rng_inputs(0, (2, 3))[0]
    before = x.numpy().copy()
    for fast in (False, True):
        check_gradients(cube("sign"), [x], fast_mode=fast)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None


def test_multiple_outputs_constants_and_unused_inputs():
    a, b, unused = rng_inputs(0, (2, 3), (3,), (2,))
    constant = tg.tensor([1.0, 2.0, 3.0])
    assert gradcheck(lambda a, c, b, u: (a * c, (a + b).exp().sum(axis=1)), [a, constant, b, unused])
    bad = check_gradients(lambda a, b: (a * 2, cube("sign")(b)), [a, b])
    assert not bad.inputs[1].passed and bad.inputs[1].output == 1  # output #1 is the wrong one


def test_output_that_does_not_depend_on_inputs_through_the_graph():
    x = rng_inputs(0, (3,))[0]
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: tg.tensor(np.exp(x.numpy())), [x])  # computed outside the graph: no gradient
    assert gradcheck(lambda x: tg.tensor([1.0, 2.0]) + 0 * x.sum(), [x])


def test_works_inside_no_grad():
    x = rng_inputs(0, (3,))[0]
    with tg.no_grad():
        assert gradcheck(cube(None), [x])
        with pytest.raises(GradcheckError):
            gradcheck(cube("sign"), [x])


def test_clear_errors():
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(lambda x: x * 2, [tg.tensor([1.0])])
    with pytest.raises(TypeError, match="floating-point outputs"):
        gradcheck(lambda x: (x > 0), [tg.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="eps > 0"):
        gradcheck(lambda x: x, [tg.tensor([1.0], requires_grad=True)], eps=0)


def test_domain_edge_gives_a_readable_failure():
    x = tg.tensor([1e-7, 1.0], requires_grad=True)  # x - eps < 0: log is not defined there
    with np.errstate(all="ignore"), pytest.raises(GradcheckError, match="not finite"):
        gradcheck(lambda x: x.log(), [x])


# ----------------------------------------------------------------------------------------------------------------
# Second derivatives
# ----------------------------------------------------------------------------------------------------------------


def cube_detached_backward():
    """First derivative right, but computed in numpy: the graph of the gradient is cut, so d²/dx² is 0."""

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * tg.tensor(3 * np.asarray(x) ** 2)

    return Cube.apply


def test_gradgradcheck():
    x = rng_inputs(0, (3,), low=0.5)[0]
    assert gradgradcheck(cube(None), [x])
    assert gradgradcheck(lambda x: x.sigmoid() * x, [x], fast_mode=True)
    assert gradcheck(cube_detached_backward(), [x])  # first derivatives are right...
    with pytest.raises(GradcheckError, match="input #0"):  # ...second derivatives are not
        gradgradcheck(cube_detached_backward(), [x])
    a, b = rng_inputs(1, (2, 3), (3, 2))
    assert gradgradcheck(lambda a, b: (a @ b).tanh(), [a, b])
    g = tg.tensor(np.ones((2, 2)), requires_grad=False)
    assert gradgradcheck(lambda a, b: (a @ b).tanh(), [a, b], grad_outputs=[g])
