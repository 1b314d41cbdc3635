"""Every differentiable operation: forward against numpy, backward against central differences (float64,
rtol 1e-6), closed-form derivatives at fixed points, and second derivatives for the smooth ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck
from tinygrad_edu.testing import arrays, axes, broadcastable_tensors, matmul_tensors, shapes, tensors

TIGHT = dict(rtol=1e-6, atol=1e-8)


def check(fn, inputs, **tol):
    """Gradcheck with the tight float64 tolerances used for the engine's own ops."""
    assert gradcheck(fn, inputs, **{**TIGHT, **tol})


def second_derivative(fn):
    """x -> d/dx sum(fn(x)) with create_graph=True, so gradcheck of it checks the second derivatives."""

    def first(*xs):
        out = fn(*xs).sum()
        return tg.grad(out, xs[0], create_graph=True)[0]

    return first


def t(values, **kw):
    return tg.tensor(values, requires_grad=True, **kw)


# ----------------------------------------------------------------------------------------------------------------
# Unary elementwise operations
# ----------------------------------------------------------------------------------------------------------------

# name: (engine function, numpy forward, numpy derivative, values strategy kwargs, smooth?)
UNARY = {
    "exp": (lambda x: x.exp(), np.exp, np.exp, {}, True),
    "log": (lambda x: x.log(), np.log, lambda x: 1 / x, {"low": 0.1, "high": 5.0}, True),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, lambda x: 0.5 / np.sqrt(x), {"low": 0.1, "high": 5.0}, True),
    "abs": (lambda x: x.abs(), np.abs, np.sign, {"avoid": (0.0,)}, False),
    "neg": (lambda x: -x, np.negative, lambda x: -np.ones_like(x), {}, False),  # linear: nothing 2nd-order
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)),
                lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, {}, True),
    "tanh": (lambda x: x.tanh(), np.tanh, lambda x: 1 / np.cosh(x) ** 2, {}, True),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, {"avoid": (0.0,)}, False),
    "heaviside": (lambda x: x.heaviside(), lambda x: np.heaviside(x, 0.0), np.zeros_like, {"avoid": (0.0,)}, False),
    "square": (lambda x: x**2, np.square, lambda x: 2 * x, {}, True),
    "cube": (lambda x: x**3, lambda x: x**3, lambda x: 3 * x**2, {}, True),
    "pow_half": (lambda x: x**0.5, np.sqrt, lambda x: 0.5 / np.sqrt(x), {"low": 0.1, "high": 5.0}, True),
    "rpow": (lambda x: 2.0**x, lambda x: 2.0**x, lambda x: np.log(2.0) * 2.0**x, {}, True),
    "clip": (lambda x: x.clip(-1.0, 1.5), lambda x: np.clip(x, -1.0, 1.5), lambda x: ((x >= -1) & (x <= 1.5)) * 1.0,
             {"avoid": (-1.0, 1.5)}, False),
    "astype32_64": (lambda x: x.astype(np.float32).astype(np.float64), lambda x: x.astype(np.float32).astype(np.float64),
                    np.ones_like, {}, False),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_forward_and_backward(name, data):
    fn, forward, derivative, domain, _ = UNARY[name]
    x = data.draw(tensors(**domain), label="x")
    np.testing.assert_allclose(fn(x).numpy(), forward(x.numpy()), rtol=1e-12, atol=1e-12)
    if name != "astype32_64":  # the float32 round trip makes finite differences meaningless
        check(fn, [x])
    (g,) = tg.grad(fn(x).sum(), x)
    np.testing.assert_allclose(g.numpy(), derivative(x.numpy()), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n in UNARY if UNARY[n][4]))
@given(data=st.data())
def test_unary_second_derivative(name, data):
    fn, _, _, domain, _ = UNARY[name]
    x = data.draw(tensors(**domain), label="x")
    check(second_derivative(fn), [x], rtol=1e-5, atol=1e-7)


def test_closed_form_derivatives_at_fixed_points():
    x = t([-2.0, -0.5, 0.5, 2.0])
    cases = {
        "sigmoid": (x.sigmoid(), [0.104993585, 0.235003712, 0.235003712, 0.104993585]),
        "tanh": (x.tanh(), [0.070650825, 0.786447733, 0.786447733, 0.070650825]),
        "relu": (x.relu(), [0.0, 0.0, 1.0, 1.0]),
        "exp": (x.exp(), np.exp([-2.0, -0.5, 0.5, 2.0])),
        "square": (x * x, [-4.0, -1.0, 1.0, 4.0]),
    }
    for name, (y, expected) in cases.items():
        (g,) = tg.grad(y.sum(), x)
        np.testing.assert_allclose(g.numpy(), expected, rtol=1e-8, err_msg=name)


# ----------------------------------------------------------------------------------------------------------------
# Kinks: documented conventions, checked explicitly
# ----------------------------------------------------------------------------------------------------------------


def test_kink_conventions():
    x = t([-1.0, 0.0, 1.0])
    assert tg.grad(x.relu().sum(), x)[0].tolist() == [0.0, 0.0, 1.0]  # relu'(0) = 0
    assert tg.grad(x.heaviside().sum(), x)[0].tolist() == [0.0, 0.0, 0.0]  # step: no gradient
    assert tg.grad(x.abs().sum(), x)[0].tolist() == [-1.0, 0.0, 1.0]  # |x|'(0) = 0
    assert x.heaviside().tolist() == [0.0, 0.0, 1.0]  # the chapter's step is 0 at 0 (eq. 94)
    # ties in max split the gradient
    m = t([1.0, 3.0, 3.0, 2.0])
    assert tg.grad(m.max(), m)[0].tolist() == [0.0, 0.5, 0.5, 0.0]
    assert tg.grad(m.min(), m)[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    a, b = t([1.0, 2.0, 3.0]), t([1.0, 1.0, 4.0])
    ga, gb = tg.grad(tg.maximum(a, b).sum(), [a, b])
    assert ga.tolist() == [0.5, 1.0, 0.0] and gb.tolist() == [0.5, 0.0, 1.0]
    # clip passes the gradient at its boundaries
    c = t([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert tg.grad(c.clip(-1.0, 1.0).sum(), c)[0].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = tg.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0]).sigmoid()
    assert np.all(np.isfinite(y.numpy()))
    np.testing.assert_allclose(y.numpy(), [0.0, 1.9287498479639178e-22, 0.5, 1.0, 1.0], rtol=1e-12)
    y32 = tg.tensor([-100.0, 100.0], dtype=np.float32).sigmoid()
    assert y32.dtype == np.float32 and y32.tolist() == [0.0, 1.0]


# ----------------------------------------------------------------------------------------------------------------
# Binary operations with broadcasting
# ----------------------------------------------------------------------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add, {}),
    "sub": (lambda a, b: a - b, np.subtract, {}),
    "mul": (lambda a, b: a * b, np.multiply, {}),
    "div": (lambda a, b: a / b, np.divide, {"low": 0.5, "high": 3.0}),
    "pow": (lambda a, b: a**b, np.power, {"low": 0.5, "high": 2.0}),
    "maximum": (tg.maximum, np.maximum, {}),
    "minimum": (tg.minimum, np.minimum, {}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_broadcasting(name, data):  # fixed tricky shapes: test_binary_tricky_shapes below
    fn, forward, domain = BINARY[name]
    a, b = data.draw(broadcastable_tensors(2, **domain), label="a, b")
    if name in ("maximum", "minimum"):  # keep away from ties, where the gradient is split by convention
        b = Tensor(np.where(np.abs(a.numpy() - b.numpy()) < 1e-2, b.numpy() + 0.1, b.numpy()), requires_grad=True)
    np.testing.assert_allclose(fn(a, b).numpy(), forward(a.numpy(), b.numpy()), rtol=1e-12)
    check(fn, [a, b])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes_ab", [((3, 1), (1, 4)), ((2, 3), (3,)), ((1,), (2, 1, 3)), ((), (2, 2)), ((2, 1, 1), (1, 3, 1))])
def test_binary_tricky_shapes(name, shapes_ab):
    fn, forward, domain = BINARY[name]
    rng = np.random.default_rng(0)
    low, high = domain.get("low", -3.0), domain.get("high", 3.0)
    a = Tensor(rng.uniform(low, high, shapes_ab[0]), requires_grad=True)
    b = Tensor(rng.uniform(low, high, shapes_ab[1]) + 0.05, requires_grad=True)
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(*shapes_ab)
    np.testing.assert_allclose(out.numpy(), forward(a.numpy(), b.numpy()), rtol=1e-12)
    check(fn, [a, b])
    ga, gb = tg.grad(out.sum(), [a, b])
    assert ga.shape == a.shape and gb.shape == b.shape  # the un-broadcast rule


@pytest.mark.parametrize("name", ["mul", "div", "pow"])
@given(data=st.data())
def test_binary_second_derivatives(name, data):
    fn, _, domain = BINARY[name]
    a, b = data.draw(broadcastable_tensors(2, **domain), label="a, b")
    check(second_derivative(fn), [a, b], rtol=1e-5, atol=1e-7)


def test_scalar_operands_and_reverse_operators():
    x = t([1.0, 2.0, 4.0])
    for fn, expected in [
        (lambda v: 2 - v, [-1.0, -1.0, -1.0]),
        (lambda v: 1 / v, [-1.0, -0.25, -0.0625]),
        (lambda v: 3 * v, [3.0, 3.0, 3.0]),
        (lambda v: v / 4, [0.25, 0.25, 0.25]),
        (lambda v: 2 + v, [1.0, 1.0, 1.0]),
    ]:
        (g,) = tg.grad(fn(x).sum(), x)
        np.testing.assert_allclose(g.numpy(), expected)


def test_pow_with_zero_base_and_zero_exponent():
    x = t([0.0, 2.0])
    y = t([2.0, 3.0])
    gx, gy = tg.grad((x**y).sum(), [x, y])
    np.testing.assert_allclose(gx.numpy(), [0.0, 12.0])
    np.testing.assert_allclose(gy.numpy(), [0.0, 8 * np.log(2.0)])  # d/dy 0^y taken as 0
    (g0,) = tg.grad((x**0).sum(), x)
    assert g0.tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------------------------------------------
# matmul (numpy semantics: 1-D operands, batches)
# ----------------------------------------------------------------------------------------------------------------


@given(matmul_tensors())
@example(pair=(Tensor(np.arange(3.0), requires_grad=True), Tensor(np.arange(3.0) - 1, requires_grad=True)))
@example(pair=(Tensor(np.ones((2, 1, 3, 2)), requires_grad=True), Tensor(np.ones((4, 2, 2)), requires_grad=True)))
@example(pair=(Tensor(np.arange(2.0), requires_grad=True), Tensor(np.ones((3, 2, 4)), requires_grad=True)))
@example(pair=(Tensor(np.ones((3, 2, 4)), requires_grad=True), Tensor(np.arange(4.0), requires_grad=True)))
def test_matmul(pair):
    a, b = pair
    np.testing.assert_allclose((a @ b).numpy(), a.numpy() @ b.numpy(), rtol=1e-12)
    check(lambda a, b: a @ b, [a, b])


def test_matmul_second_derivative_and_errors():
    rng = np.random.default_rng(1)
    a, b = Tensor(rng.normal(size=(2, 3)), requires_grad=True), Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    check(second_derivative(lambda a, b: (a @ b) ** 2), [a, b], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(2, 3\) do not fit.*\(3\).*\(2\)"):
        a @ a
    with pytest.raises(ValueError, match="at least one axis"):
        a @ tg.tensor(2.0)


# ----------------------------------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------------------------------

REDUCTIONS = {
    "sum": (lambda x, **kw: x.sum(**kw), np.sum),
    "mean": (lambda x, **kw: x.mean(**kw), np.mean),
    "max": (lambda x, **kw: x.max(**kw), np.max),
    "min": (lambda x, **kw: x.min(**kw), np.min),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data())
def test_reductions(name, data):
    fn, forward = REDUCTIONS[name]
    shape = data.draw(shapes(min_dims=0), label="shape")
    values = data.draw(arrays(shape), label="values")
    if name in ("max", "min"):  # distinct values: ties are tested separately (the gradient is split)
        values = values + np.arange(values.size).reshape(shape) * 1e-1
    x = Tensor(values, requires_grad=True)
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    np.testing.assert_allclose(fn(x, axis=axis, keepdims=keepdims).numpy(),
                               forward(values, axis=axis, keepdims=keepdims), rtol=1e-12)
    check(lambda x: fn(x, axis=axis, keepdims=keepdims), [x])


def test_reduction_second_derivative_and_errors():
    x = Tensor(np.arange(6.0).reshape(2, 3) / 5, requires_grad=True)
    check(second_derivative(lambda x: x.sum(axis=0) ** 2), [x], rtol=1e-5, atol=1e-7)
    check(second_derivative(lambda x: x.mean(axis=1, keepdims=True) ** 3), [x], rtol=1e-5, atol=1e-7)
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="empty tensor"):
        tg.zeros(0).max()


# ----------------------------------------------------------------------------------------------------------------
# Shapes and indexing
# ----------------------------------------------------------------------------------------------------------------


@given(tensors(shapes(min_dims=1)), st.data())
def test_reshape_transpose_broadcast(x, data):
    n = x.size
    check(lambda x: x.reshape(n), [x])
    check(lambda x: x.reshape(-1, 1) * 2, [x])
    perm = tuple(data.draw(st.permutations(range(x.ndim)), label="perm"))
    np.testing.assert_array_equal(x.transpose(perm).numpy(), np.transpose(x.numpy(), perm))
    np.testing.assert_array_equal(x.permute(*perm).numpy(), np.transpose(x.numpy(), perm))
    check(lambda x: x.transpose(perm) * np.arange(x.size).reshape(np.transpose(x.numpy(), perm).shape), [x])
    check(lambda x: x.T, [x])
    target = (2,) + x.shape
    check(lambda x: x.broadcast_to(target) * np.arange(np.prod(target)).reshape(target), [x])
    check(lambda x: x.expand_dims(0).squeeze(0), [x])


def test_sum_to_is_the_adjoint_of_broadcast_to():
    rng = np.random.default_rng(2)
    b = Tensor(rng.normal(size=(3, 1)), requires_grad=True)
    g = rng.normal(size=(2, 3, 4))
    # <broadcast_to(b), g> == <b, sum_to(g)>: the two are transposes of each other
    lhs = (b.broadcast_to((2, 3, 4)).numpy() * g).sum()
    rhs = (b.numpy() * tg.sum_to(Tensor(g), (3, 1)).numpy()).sum()
    np.testing.assert_allclose(lhs, rhs)
    check(lambda b: tg.sum_to(b.broadcast_to((2, 3, 4)) * g, (3, 1)), [b])
    with pytest.raises(ValueError, match=r"cannot sum a tensor of shape \(2, 3\) to shape \(4,\)"):
        tg.sum_to(Tensor(np.ones((2, 3))), (4,))


INDICES = [
    (slice(1, None),), (0,), (Ellipsis, 1), (np.array([0, 0, 2]),), (np.array([[1], [0]]), np.array([0, 1])),
    (slice(None), np.array([1, 1])), (None, 0), (np.array([True, False, True]),),
]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_getitem(index):
    values = np.arange(12.0).reshape(3, 4) / 7
    x = Tensor(values, requires_grad=True)
    index = index if len(index) > 1 else index[0]
    np.testing.assert_array_equal(x[index].numpy(), values[index])
    check(lambda x: x[index] * 1.5, [x])
    check(second_derivative(lambda x: x[index] ** 2), [x], rtol=1e-5, atol=1e-7)


def test_getitem_repeated_index_accumulates():
    x = t([1.0, 2.0, 3.0])
    (g,) = tg.grad(x[[0, 0, 2, 0]].sum(), x)
    assert g.tolist() == [3.0, 0.0, 1.0]  # np.add.at, not assignment
    y = t([[1.0, 2.0], [3.0, 4.0]])
    (g,) = tg.grad(y[tg.tensor([1, 1])].sum(), y)  # a Tensor as an index
    assert g.tolist() == [[0.0, 0.0], [2.0, 2.0]]
    with pytest.raises(IndexError, match=r"invalid for a tensor of shape \(2, 2\)"):
        y[5]


@given(st.data())
def test_concatenate_and_stack(data):
    shape = data.draw(shapes(min_dims=1, max_dims=2), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    a = data.draw(tensors(shape), label="a")
    other = list(shape)
    other[axis] = data.draw(st.integers(1, 3), label="other side")
    b = data.draw(tensors(tuple(other)), label="b")
    np.testing.assert_array_equal(tg.concatenate([a, b], axis).numpy(), np.concatenate([a.numpy(), b.numpy()], axis))
    check(lambda a, b: tg.concatenate([a, b], axis) * 2, [a, b])
    c = data.draw(tensors(shape), label="c")
    np.testing.assert_array_equal(tg.stack([a, c], axis).numpy(), np.stack([a.numpy(), c.numpy()], axis))
    check(lambda a, c: tg.stack([a, c], axis) ** 2, [a, c])


def test_concatenate_errors():
    with pytest.raises(ValueError, match=r"cannot concatenate shapes \(2, 3\), \(2, 4\) along axis 0"):
        tg.concatenate([tg.zeros(2, 3), tg.zeros(2, 4)])
    with pytest.raises(ValueError, match="stack needs tensors of one shape"):
        tg.stack([tg.zeros(2), tg.zeros(3)])


@given(broadcastable_tensors(2), st.data())
def test_where(pair, data):
    a, b = pair
    shape = np.broadcast_shapes(a.shape, b.shape)
    condition = data.draw(arrays(shape, dtype=bool), label="condition")
    np.testing.assert_array_equal(tg.where(condition, a, b).numpy(), np.where(condition, a.numpy(), b.numpy()))
    check(lambda a, b: tg.where(condition, a, b), [a, b])
    check(second_derivative(lambda a, b: tg.where(condition, a * a, b)), [a, b], rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------------------------------------------
# softmax and log_softmax
# ----------------------------------------------------------------------------------------------------------------


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@given(tensors(shapes(min_dims=1)), st.data())
def test_softmax_and_log_softmax(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    np.testing.assert_allclose(x.log_softmax(axis).numpy(), np_log_softmax(x.numpy(), axis), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.softmax(axis).numpy(), np.exp(np_log_softmax(x.numpy(), axis)), rtol=1e-12)
    weights = np.arange(x.size).reshape(x.shape)  # a non-constant output gradient (sum of softmax is 1)
    check(lambda x: x.softmax(axis) * weights, [x])
    check(lambda x: x.log_softmax(axis) * weights, [x])
    check(second_derivative(lambda x: x.log_softmax(axis) * weights), [x], rtol=1e-5, atol=1e-7)


def test_softmax_is_stable():
    x = tg.tensor([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = x.softmax().numpy()
        lp = x.log_softmax().numpy()
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(lp[0], [0.0, -1000.0, -2000.0])


def test_relu_keeps_the_sign_of_zero_as_pytorch():
    """relu(-0.0) = -0.0 (PyTorch's); it matters downstream: √(relu(x) + other) at x = other = -0 has slope -inf
    for `other`, as in PyTorch (found by test_against_torch's random graphs)."""
    x = tg.tensor([-0.0, 0.0], requires_grad=True)
    other = tg.tensor([-0.0, 0.0], requires_grad=True)
    y = x.relu()
    assert np.signbit(y.data).tolist() == [True, False]
    (y + other).sqrt().sum().backward()
    assert other.grad.data.tolist() == [-np.inf, np.inf]
