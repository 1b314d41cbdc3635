"""Graph semantics: re-use, accumulation, graph lifetime, hooks, retain_grad, no_grad, grad(), deep chains,
higher-order derivatives, the custom-function API and its error messages."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Function, Tensor, gradcheck


def test_reused_nodes_sum_their_gradients():
    x = tg.tensor(3.0, requires_grad=True)
    (g,) = tg.grad(x + x, x)
    assert g.item() == 2.0
    (g,) = tg.grad(x * x, x)
    assert g.item() == 6.0
    # a diamond: a feeds b and c, both feed d
    a = x * 2
    b, c = a.exp(), a * a
    d = b + c
    (g,) = tg.grad(d, x)
    assert np.isclose(g.item(), 2 * np.exp(6.0) + 2 * 2 * 6.0)


def test_gradients_accumulate_across_backward_calls():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]


def test_two_leaves_receiving_the_same_gradient_do_not_share_memory():
    a, b = tg.tensor([1.0, 2.0], requires_grad=True), tg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(tg.tensor([1.0, 1.0]))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    with tg.no_grad():
        a.grad.data *= 10
    assert b.grad.tolist() == [1.0, 1.0]


def test_graph_is_freed_after_backward_unless_retained():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [6.0, 12.0]  # three backward passes of 2x in total
    w = x + 1  # nothing saved: a second pass is fine, as in PyTorch
    w.sum().backward()
    w.sum().backward()


def test_backward_errors_are_clear():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs.*2 elements.*gradient=\.\.\..*\(2,\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        tg.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\)"):
        (x * 2).backward(tg.zeros(3))
    (x * 2).backward(np.array([1.0, 0.5]))
    assert x.grad.tolist() == [2.0, 1.0]


def test_no_grad_context_and_decorator():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            assert (x * 2).requires_grad
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None

    @tg.no_grad()
    def evaluate(v):
        return v * 3

    assert not evaluate(x).requires_grad and tg.is_grad_enabled()


def test_detach_stops_the_gradient():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * x.detach()
    (g,) = tg.grad(y, x)
    assert g.item() == 2.0


def test_retain_grad_and_hooks():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.tolist()))
    leaf_handle = x.register_hook(lambda g: g * 10)  # a returned tensor replaces the gradient
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0]
    assert seen == [[6.0, 12.0]]
    assert x.grad.tolist() == [180.0, 360.0]
    handle.remove()
    leaf_handle.remove()
    x.grad = None
    (x * 3 * x * 3).sum().backward()
    assert x.grad.tolist() == [18.0, 36.0] and len(seen) == 1
    y = x * 1  # an intermediate whose grad is not retained stays None
    y.sum().backward()
    assert y.grad is None
    with pytest.raises(RuntimeError, match="cannot register a hook.*does not require grad"):
        tg.tensor([1.0]).register_hook(print)
    with pytest.raises(RuntimeError, match="can't retain_grad"):
        tg.tensor([1.0]).retain_grad()


def test_hook_on_intermediate_changes_what_flows_further():
    x = tg.tensor(1.0, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 0)
    (y * 5).backward()
    assert x.grad.item() == 0.0


def test_hooks_on_leaves_and_intermediates_go_through_one_helper():
    """A hook may return a numpy array instead of a Tensor, on a leaf as on an intermediate tensor."""
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: np.asarray(g) * 10)
    (w * w).sum().backward()
    assert w.grad.tolist() == [20.0, 40.0]
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: np.asarray(g) + 1)
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_grad_function():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0], requires_grad=True)
    h = x * y
    out = (h * h).sum()
    gx, gh = tg.grad(out, [x, h], retain_graph=True)
    assert gx.tolist() == [18.0, 36.0] and gh.tolist() == [6.0, 12.0]  # an intermediate as input too
    assert x.grad is None  # grad() does not touch .grad
    unused = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1 of grad.*not used.*allow_unused=True"):
        tg.grad(out, [x, unused], retain_graph=True)
    assert tg.grad(out, [x, unused], allow_unused=True)[1] is None
    with pytest.raises(RuntimeError, match="input 0 of grad.. does not require grad"):
        tg.grad(out, [tg.tensor([1.0])])


def test_second_derivatives_and_hessian_vector_product():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    f = (x**3).sum() + (x[0] * x[1]) ** 2
    (g,) = tg.grad(f, x, create_graph=True)
    assert g.requires_grad
    hessian = np.array([[6 * 1 + 2 * 4, 4 * 1 * 2], [4 * 1 * 2, 6 * 2 + 2 * 1]])
    v = tg.tensor([0.5, -1.0])
    (hv,) = tg.grad((g * v).sum(), x)  # Hessian-vector product without forming the Hessian
    np.testing.assert_allclose(hv.numpy(), hessian @ v.numpy())
    # third derivative of sigmoid at 0 through repeated create_graph
    z = tg.tensor(0.0, requires_grad=True)
    (d1,) = tg.grad(z.sigmoid(), z, create_graph=True)
    (d2,) = tg.grad(d1, z, create_graph=True)
    (d3,) = tg.grad(d2, z)
    assert np.isclose(d1.item(), 0.25) and np.isclose(d2.item(), 0.0) and np.isclose(d3.item(), -0.125)


def test_backward_with_create_graph_gives_differentiable_grad():
    x = tg.tensor(3.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    gx = x.grad
    assert gx.item() == 27.0 and gx.requires_grad
    x.grad = None
    gx.backward()
    assert x.grad.item() == 18.0


def test_deep_chain_of_100_000_ops():
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y = y * 2
    y.backward()  # no recursion limit: the topological sort uses an explicit stack
    assert x.grad.item() == 2.0
    del y
    gc.collect()  # tearing the chain down does not overflow the stack either


def test_name_scope_is_recorded_on_nodes():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.name_scope("MLP"):
        with tg.name_scope("layers.0"):
            y = x * 2
            assert tg.current_scope() == ("MLP", "layers.0")
        z = y + 1
    w = z * 3
    assert y.grad_fn.scope == ("MLP", "layers.0") and z.grad_fn.scope == ("MLP",) and w.grad_fn.scope == ()
    with pytest.raises(ValueError, match="non-empty string"):
        with tg.name_scope(""):
            pass


def test_graph_structure_is_inspectable():
    x = tg.tensor([1.0, 2.0], requires_grad=True, name="x")
    c = tg.tensor([3.0, 4.0])
    y = x * c + x
    node = y.grad_fn
    assert node.name() == "AddBackward" and node.shape == (2,) and node.dtype == np.float64
    mul = node.edges[0]
    assert mul.name() == "MulBackward" and mul.edges == (x, None)  # a constant gets no edge
    assert node.edges[1] is x and node.output() is y
    assert mul.constants == (None, c) and node.settings == {}  # what needs no gradient is kept for inspection


def test_a_small_graph_keeps_its_values_and_gradients_and_a_large_one_does_not():
    """As micrograd's Values: a node keeps its output and the gradient backward sent through it, up to
    KEEP_ELEMENTS elements (so a training step's activations are not held by its graph)."""
    from tinygrad_edu.engine.function import KEEP_ELEMENTS

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).sum(axis=0, keepdims=True)
    node = h.grad_fn.edges[0]  # the Mul: its tensor is gone
    assert node.output() is None and node.output_data.tolist() == [3.0, 6.0] and node.output_grad is None
    assert h.grad_fn.settings == {"axis": 0, "keepdims": True}
    h.sum().backward()
    assert node.output_grad.tolist() == [1.0, 1.0] and h.grad_fn.output_grad.tolist() == [1.0]
    s = x.sum()
    (s * s).backward()  # s is used twice: its gradient is a sum of two 0-d arrays, which numpy makes a scalar
    assert s.grad_fn.output_grad.shape == () and s.grad_fn.output_grad == 2 * 3.0
    big = tg.tensor(np.ones(KEEP_ELEMENTS + 1), requires_grad=True)
    s = (big * 3).sum()
    s.backward()
    assert s.grad_fn.edges[0].output_data is None and s.grad_fn.edges[0].output_grad is None


def test_a_leaf_never_shares_its_grad_with_a_node_that_keeps_it():
    """x + 0 hands its gradient to x unchanged: x.grad must be x's own array, since zero_grad(set_to_none=False)
    and optimizers change it in place, and the node's kept gradient must not change with it."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x + 0.0
    (y * 1.0).sum().backward()
    kept = y.grad_fn.output_grad
    assert not np.shares_memory(x.grad.data, kept)
    x.grad.data[...] = 0
    assert kept.tolist() == [1.0, 1.0]


# ----------------------------------------------------------------------------------------------------------------
# The custom-function API (what students write)
# ----------------------------------------------------------------------------------------------------------------


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad.sum()


class TooMany(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def test_custom_function_and_its_second_derivative():
    x = tg.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    assert gradcheck(Cube.apply, [x], rtol=1e-6, atol=1e-8)
    (g,) = tg.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())


def test_custom_function_errors_name_the_problem():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShape.backward returned a gradient of shape \(\) for input 0, which has shape \(2,\).*sum_to"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="TooMany.backward returned 2 gradients, but forward had 1 positional inputs"):
        TooMany.apply(x).sum().backward()


def test_no_bookkeeping_without_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    assert (tg.tensor([1.0]) * 2).grad_fn is None  # no input requires grad: nothing recorded


def test_backward_of_a_large_graph_pauses_the_collector_and_restores_it():
    from tinygrad_edu.engine import autograd

    x = tg.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(autograd.LARGE_GRAPH + 10):
        y = y * 1.0
    seen = []
    y.register_hook(lambda g: seen.append(gc.isenabled()))  # runs during the walk
    y.sum().backward()
    assert seen == [False] and gc.isenabled()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3))
    gc.disable()  # a user who turned it off keeps it off
    try:
        (x * 2.0).sum().backward()
        assert not gc.isenabled()
    finally:
        gc.enable()
