"""One backward per operation, run on numpy arrays (an ordinary backward) and on Tensors (create_graph=True).

- every operation of the engine (ops.py and the families beside it), found by listing the modules: its backward gives the same numbers on arrays as on
  Tensors, returns arrays on arrays (nothing recorded, no Tensor made) and Tensors on Tensors;
- whole graphs: gradients without and with create_graph agree, in float64 and float32;
- the fused squared-error loss (`ops.SquaredErrorSum`, behind `tg.mse`) against the loss written out;
- the accumulation rule: no `.grad` shares memory with the caller's gradient or another `.grad`.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.engine import convolution, elementwise, ops, reductions, shape
from tinygrad_edu.engine.function import Function

rng = np.random.default_rng(0)


def leaf(*shape, dtype=np.float64, positive=False):
    values = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    return tg.tensor(values.astype(dtype), requires_grad=True)


# (name, function of the inputs, input shapes): broadcasting and scalar operands included.
CASES = [
    ("add", lambda a, b: a + b, [(3, 4), (4,)]),
    ("add scalar", lambda a: a + 2.0, [(3, 4)]),
    ("sub", lambda a, b: a - b, [(3, 4), (3, 1)]),
    ("mul", lambda a, b: a * b, [(2, 3, 4), (3, 4)]),
    ("mul scalar", lambda a: 0.5 * a, [(5,)]),
    ("div", lambda a, b: a / b, [(3, 4), (4,)]),
    ("neg", lambda a: -a, [(3,)]),
    ("matmul", lambda a, b: a @ b, [(3, 4), (4, 2)]),
    ("matmul vector", lambda a, b: a @ b, [(4,), (4, 2)]),
    ("matmul batch", lambda a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("exp", lambda a: a.exp(), [(3, 4)]),
    ("log", lambda a: a.log(), [(3, 4)]),
    ("sigmoid", lambda a: a.sigmoid(), [(3, 4)]),
    ("tanh", lambda a: a.tanh(), [(3, 4)]),
    ("relu", lambda a: a.relu(), [(3, 4)]),
    ("sum axis", lambda a: a.sum(axis=1), [(3, 4)]),
    ("sum keepdims", lambda a: a.sum(axis=0, keepdims=True), [(3, 4)]),
    ("mean", lambda a: a.mean(), [(3, 4)]),
    ("mse chapter", lambda a, b: tg.mse(a, b), [(5, 3), (5, 3)]),
    ("mse mean", lambda a, b: tg.mse(a, b, reduction="mean"), [(5, 3), (5, 3)]),
    ("mse sum 1-D", lambda a, b: tg.mse(a, b, reduction="sum"), [(5,), (5,)]),
    ("an MLP layer", lambda x, w, b: (x @ w + b).sigmoid(), [(4, 3), (3, 2), (2,)]),
]


def value(*shape, positive=False):
    return rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)


CONV = dict(stride=(2, 1), padding=(1, 1, 0, 1), dilation=(1, 2), groups=2)

# For every operation of ops.py, calls of `apply` to check: (positional inputs, settings). An operation added to
# ops.py without an entry here fails test_every_operation_has_examples.
EXAMPLES = {
    ops.SumTo: [((value(2, 3),), dict(shape=(3,))), ((value(2, 1, 3),), dict(shape=(1, 3)))],
    ops.BroadcastTo: [((value(3),), dict(shape=(2, 3)))],
    ops.Add: [((value(2, 3), value(3)), {})],
    ops.Sub: [((value(2, 3), value(2, 1)), {})],
    ops.Mul: [((value(2, 3), value(3)), {})],
    ops.Div: [((value(2, 3), value(3, positive=True)), {})],
    ops.Neg: [((value(4),), {})],
    ops.Pow: [((value(2, 3, positive=True), value(3)), {})],
    ops.MatMul: [((value(2, 3), value(3, 4)), {}), ((value(3), value(2, 3, 4)), {}), ((value(2, 3, 4), value(4)), {}),
                 ((value(3), value(3)), {}), ((value(2, 1, 3, 4), value(5, 4, 2)), {})],
    ops.Exp: [((value(2, 3),), {})],
    ops.Log: [((value(2, 3, positive=True),), {})],
    ops.Sqrt: [((value(2, 3, positive=True),), {})],
    ops.Abs: [((value(2, 3),), {})],
    ops.Sigmoid: [((value(2, 3),), {})],
    ops.Tanh: [((value(2, 3),), {})],
    ops.ReLU: [((value(2, 3),), {})],
    ops.Heaviside: [((value(2, 3),), {})],
    ops.Maximum: [((value(2, 3), value(3)), {}), ((np.array([1.0, 2.0]), np.array([1.0, 3.0])), {})],
    ops.Minimum: [((value(2, 3), value(3)), {})],
    ops.Clip: [((value(2, 3),), dict(low=-0.5, high=0.5))],
    ops.Where: [((value(2, 3), value(3)), dict(condition=rng.random((2, 3)) > 0.5))],
    ops.Cast: [((value(2, 3).astype(np.float32),), dict(dtype=np.dtype(np.float64)))],
    ops.Sum: [((value(2, 3),), dict(axis=1)), ((value(2, 3),), dict(axis=0, keepdims=True)), ((value(2, 3),), {})],
    ops.Max: [((value(2, 3),), dict(axis=0)), ((np.array([1.0, 3.0, 3.0]),), {})],
    ops.Min: [((value(2, 3),), dict(axis=1, keepdims=True))],
    ops.SquaredErrorSum: [((value(4, 3), value(4, 3)), dict(scale=0.25))],
    ops.Reshape: [((value(2, 3),), dict(shape=(3, 2)))],
    ops.Transpose: [((value(2, 3, 4),), dict(axes=(2, 0, 1))), ((value(2, 3),), dict(axes=None))],
    ops.GetItem: [((value(3, 4),), dict(index=(slice(None), np.array([0, 0, 2])))), ((value(3, 4),), dict(index=1))],
    ops.ScatterAdd: [((value(3),), dict(index=np.array([0, 2, 0]), shape=(4,)))],
    ops.Concatenate: [((value(2, 3), value(1, 3)), dict(axis=0))],
    **{op: [((value(2, 3),), {})] for op in (elementwise.Sin, elementwise.Cos, elementwise.Tan, elementwise.Sinh,
                                             elementwise.Cosh, elementwise.Atan, elementwise.Exp2, elementwise.Expm1,
                                             elementwise.Sign, elementwise.Floor, elementwise.Ceil, elementwise.Round,
                                             elementwise.Trunc)},
    **{op: [((rng.uniform(-0.9, 0.9, (2, 3)),), {})] for op in (elementwise.Asin, elementwise.Acos)},
    **{op: [((value(2, 3, positive=True),), {})] for op in (elementwise.Log2, elementwise.Log10, elementwise.Log1p,
                                                            elementwise.Rsqrt)},
    reductions.Norm2: [((value(2, 3),), dict(axis=1)), ((np.zeros((2, 3)),), dict(axis=None))],
    reductions.Prod: [((value(2, 3),), dict(axis=1)), ((np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.0]]),), dict(axis=1)),
                      ((value(2, 3),), dict(axis=None, keepdims=True))],
    reductions.Cumsum: [((value(2, 3),), dict(axis=1)), ((value(2, 3),), dict(axis=None))],
    reductions.Cumprod: [((value(2, 3),), dict(axis=1)), ((np.array([[2.0, 0.0, 3.0], [0.0, 1.0, 0.0]]),), dict(axis=1))],
    shape.Pad: [((value(2, 3),), dict(pad_width=((1, 0), (2, 1)), value=0.5))],
    shape.Einsum: [((value(2, 3), value(3, 4)), dict(subscripts="ij,jk->ik")), ((value(2, 3), value(3)), dict(subscripts="ij,j")),
                   ((value(2, 3), value(4)), dict(subscripts="ij,k->ik"))],
    convolution.Conv2d: [((value(2, 4, 5, 4), value(6, 2, 3, 2), value(6)), CONV),
                         ((value(1, 2, 4, 4), value(3, 2, 2, 2), value(3)), dict(CONV, groups=1, padding=(0, 1, 1, 0)))],
    convolution.ConvTranspose2d: [((value(2, 6, 3, 3), value(6, 2, 3, 2), value(4)), dict(CONV, output_size=(5, 4)))],
    convolution.Conv2dWeight: [((value(2, 4, 5, 4), value(2, 6, 3, 3)), dict(CONV, kernel_size=(3, 2)))],
    convolution.Unfold: [((value(2, 3, 5, 4),), dict(kernel_size=(2, 3), dilation=(1, 1), padding=(1, 1, 0, 0),
                                                     stride=(2, 1)))],
    convolution.Fold: [((value(2, 18, 6),), dict(output_size=(5, 4), kernel_size=(2, 3), dilation=(1, 1),
                                                 padding=(1, 1, 0, 0), stride=(2, 1)))],
    convolution.MaxPool2d: [((value(2, 3, 5, 4),), dict(kernel_size=(2, 2), stride=(1, 2), padding=(1, 1, 0, 0),
                                                        dilation=(1, 1)))],
}
FAMILIES = (ops, elementwise, reductions, shape, convolution)
OPERATIONS = sorted((v for m in FAMILIES for v in vars(m).values()  # every operation defined there (no base class)
                     if isinstance(v, type) and issubclass(v, Function) and v.__module__ == m.__name__
                     and v not in (ops.Elementwise, ops.Unary, ops.Binary)),
                    key=lambda op: op.__name__)
NO_GRADIENT = {ops.Heaviside, elementwise.Sign, elementwise.Floor, elementwise.Ceil, elementwise.Round, elementwise.Trunc}


def test_every_operation_has_examples():
    assert set(OPERATIONS) == set(EXAMPLES), "add examples for: " + ", ".join(
        op.__name__ for op in set(OPERATIONS) - set(EXAMPLES))


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.__name__)
def test_one_backward_gives_the_same_numbers_on_arrays_and_on_tensors(op):
    for inputs, settings in EXAMPLES.get(op, []):
        leaves = [tg.tensor(x, requires_grad=True) for x in inputs]
        out = op.apply(*leaves, **settings)
        node = out.grad_fn
        g = rng.standard_normal(out.shape).astype(out.dtype)
        with tg.no_grad():  # how an ordinary backward runs it
            on_arrays = op.backward(node, g)
        with tg.enable_grad():  # how backward(create_graph=True) runs it
            on_tensors = op.backward(node, tg.tensor(g, requires_grad=True))
        on_arrays = on_arrays if isinstance(on_arrays, (tuple, list)) else (on_arrays,)
        on_tensors = on_tensors if isinstance(on_tensors, (tuple, list)) else (on_tensors,)
        assert len(on_arrays) == len(on_tensors) == len(leaves)
        for a, t in zip(on_arrays, on_tensors):
            assert not isinstance(a, tg.Tensor), f"{op.__name__}.backward made a Tensor from arrays"
            assert isinstance(t, (tg.Tensor, np.ndarray))  # an array: a constant gradient (Heaviside's zeros)
            np.testing.assert_allclose(np.asarray(a), np.asarray(t), rtol=1e-14, atol=0)
            if isinstance(t, tg.Tensor) and op not in NO_GRADIENT:
                assert t.requires_grad, f"{op.__name__}.backward on Tensors left the graph"


def test_backward_receives_arrays_without_create_graph_and_tensors_with_it(monkeypatch):
    seen = []
    original = ops.MatMul.backward
    monkeypatch.setattr(ops.MatMul, "backward", staticmethod(lambda ctx, g: seen.append(type(g)) or original(ctx, g)))
    x, w = leaf(4, 3), leaf(3, 2)
    (x @ w).sum().backward()
    tg.grad((x @ w).sum(), [w], create_graph=True)
    assert seen == [np.ndarray, tg.Tensor]


def test_a_backward_written_with_tensor_methods_is_told_what_it_receives():
    class SiLU(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x / (1 + np.exp(-x))

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            s = x.sigmoid()  # a Tensor method: numpy arrays have none
            return g * s * (1 + x * (1 - s))

    x = leaf(3)
    with pytest.raises(AttributeError, match=r"SiLU.backward: .*no attribute 'sigmoid'.*numpy arrays.*np.exp\(x\)"):
        SiLU.apply(x).sum().backward()
    assert tg.grad(SiLU.apply(x).sum(), x, create_graph=True)[0].requires_grad  # on Tensors it works


def both_paths(fn, shapes, dtype):
    """Gradients of Σ u·fn(inputs) (u random) computed without and with create_graph."""
    inputs = [leaf(*s, dtype=dtype, positive=True) for s in shapes]
    out = fn(*inputs)
    u = rng.standard_normal(out.shape).astype(dtype)
    fast = tg.grad((out * u).sum(), inputs, retain_graph=True)
    slow = tg.grad((out * u).sum(), inputs, create_graph=True)
    return fast, slow


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, fn, shapes", CASES, ids=[c[0] for c in CASES])
def test_gradients_without_and_with_create_graph_agree(name, fn, shapes, dtype):
    fast, slow = both_paths(fn, shapes, dtype)
    for f, s in zip(fast, slow):
        assert f.dtype == s.dtype == dtype and f.shape == s.shape
        np.testing.assert_allclose(f.data, s.data, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_saved_values_detect_in_place_changes_on_both_kinds():
    w = leaf(3, 2)
    y = (leaf(4, 3) @ w).sum()
    with tg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    z = (leaf(4, 3) @ w).sum()
    with tg.no_grad():
        w += 0.1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        tg.grad(z, w, create_graph=True)


def test_second_derivatives_go_through_the_same_backward():
    x = leaf(5, positive=True)
    assert tg.gradgradcheck(lambda x: x.sigmoid() * x.exp(), [x])
    p, y = leaf(4, 3), leaf(4, 3)
    assert tg.gradgradcheck(lambda p, y: tg.mse(p.tanh(), y), [p, y])


@pytest.mark.parametrize("reduction", ["chapter", "mean", "sum", "none"])
def test_fused_mse_equals_the_loss_written_out(reduction):
    p, y = leaf(6, 3, dtype=np.float32), tg.tensor(rng.standard_normal((6, 3)).astype(np.float32))
    loss = tg.mse(p, y, reduction=reduction)
    squared = (p - y) * (p - y)
    written = {"chapter": squared.sum(axis=1).mean(), "mean": squared.mean(), "sum": squared.sum(),
               "none": squared.sum(axis=1)}[reduction]
    assert loss.dtype == np.float32 and loss.shape == written.shape
    np.testing.assert_allclose(loss.data, written.data, rtol=1e-6)
    (g_fused,) = tg.grad(loss.sum(), [p])
    (g_written,) = tg.grad(written.sum(), [p])
    assert g_fused.dtype == np.float32
    np.testing.assert_allclose(g_fused.data, g_written.data, rtol=1e-6)
    if reduction != "none":
        assert loss.grad_fn.name() == "SquaredErrorSumBackward"


def test_fused_mse_gradient_for_the_target_too():
    p, y = leaf(4, 2), leaf(4, 2)
    tg.mse(p, y).backward()
    np.testing.assert_allclose(p.grad.data, 2 / 4 * (p.data - y.data))
    np.testing.assert_allclose(y.grad.data, -p.grad.data)
    assert tg.gradcheck(lambda p, y: tg.mse(p, y, reduction="mean"), [p, y])


def test_sum_to_refuses_shapes_that_are_not_a_broadcast():
    x = tg.tensor(np.ones((2, 3)))
    for shape in [(2,), (4,), (1, 2, 3, 4), (3, 2)]:
        with pytest.raises(ValueError, match=r"cannot sum a tensor of shape \(2, 3\) to shape"):
            x.sum_to(shape)
    assert x.sum_to((1, 3)).shape == (1, 3) and x.sum_to((3,)).shape == (3,) and x.sum_to(()).shape == ()


def test_weight_gradient_of_a_transposed_matmul_is_a_plain_array_in_the_weights_layout():
    """nn.Linear computes x @ W.mT: W's gradient comes back in W's own layout, owning its memory (no copy)."""
    x = rng.standard_normal((5, 4)).astype(np.float32)
    W = tg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    A = tg.tensor(rng.standard_normal((4, 5)).astype(np.float32), requires_grad=True)
    u = rng.standard_normal((5, 3)).astype(np.float32)
    ((tg.tensor(x) @ W.mT) * u).sum().backward()
    ((A.mT @ W.mT) * u).sum().backward()
    np.testing.assert_allclose(W.grad.data, u.T @ x + u.T @ A.data.T, rtol=1e-5)
    np.testing.assert_allclose(A.grad.data, (u @ W.data).T, rtol=1e-5)
    for t in (W, A):
        assert t.grad.data.flags.c_contiguous and t.grad.dtype == np.float32
    fresh = tg.tensor(W.data, requires_grad=True)
    ((tg.tensor(x) @ fresh.mT) * u).sum().backward()
    assert fresh.grad.data.base is None  # the product itself, not a copy of it or a view


@pytest.mark.parametrize("path", ["W.mT.mT", "W", "W.reshape(12).reshape(3, 4)"])
@pytest.mark.parametrize("passed", ["G", "G.T.T"])
def test_the_callers_gradient_never_becomes_a_grad(path, passed):
    """backward(G) must not leave G (or the array behind a view of it) in .grad, whichever way it reaches W."""
    W = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    G = rng.standard_normal((3, 4))
    eval(path).backward(eval(passed))
    assert not np.shares_memory(W.grad.data, G)
    G[...] = 0
    assert np.abs(W.grad.data).sum() > 0
