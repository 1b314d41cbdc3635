"""In-place changes of a value a graph still needs are caught at backward, whichever way the memory was
changed: through the tensor, a view of it (a transpose, a slice, a reshape), a detached alias, an optimizer's
step or load_state_dict; and numpy arrays obtained from a tensor that requires grad cannot be written to."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn

MODIFIED = r"modified by an in-place operation: .* is at version 1; expected version 0"


def leaf(*shape, seed=0):
    return tg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_a_change_through_the_weight_of_a_transposed_product_is_caught():
    x, W = leaf(4, 3), leaf(2, 3, seed=1)
    loss = (x @ W.T).sum()  # MatMul saved W.T, a view of W's memory
    with tg.no_grad():
        W -= 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_an_optimizer_step_between_forward_and_backward_is_caught_for_every_layer():
    model = nn.MLP([3, 4, 2], generator=np.random.default_rng(0))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    x = tg.tensor(np.random.default_rng(1).random((5, 3)))
    loss = tg.mse(model(x), tg.tensor(np.zeros((5, 2))))
    loss.backward(retain_graph=True)
    opt.step()  # the weights the graph saved (through weight.mT) are now other numbers
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*optimizer's step"):
        loss.backward()


def test_a_change_through_a_detached_alias_is_caught():
    x = leaf(3)
    y = (x * x).sum()
    alias = x.detach()
    alias += 1  # the same memory as x
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_a_change_through_a_slice_under_no_grad_is_caught():
    a = leaf(4)
    y = a.exp().sum()  # Exp keeps its output, memory of its own
    z = (a * a).sum()  # Mul keeps a itself
    with tg.no_grad():
        part = a[0:2]
        part += 10
    y.backward()  # unaffected by the change of a
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.backward()


def test_a_change_through_a_reshaped_view_is_caught():
    a = leaf(2, 3)
    y = (a * 2.0 * a).sum()
    with tg.no_grad():
        flat = a.reshape(6)
        flat[0] = 5.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_load_state_dict_between_forward_and_backward_is_caught():
    model = nn.Linear(3, 2, generator=np.random.default_rng(0))
    loss = model(np.ones((1, 3))).sum()
    model.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2)})
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_the_output_kept_for_backward_is_checked_too():
    x = leaf(3)
    y = x.exp()
    with tg.no_grad():
        y += 1  # exp's backward reads its output
    with pytest.raises(RuntimeError, match=r"its output, used by ExpBackward, is at version 1"):
        y.sum().backward()


def test_numpy_arrays_of_a_tensor_that_requires_grad_are_read_only():
    x = leaf(3)
    for array in (x.numpy(), np.asarray(x)):
        assert not array.flags.writeable and np.shares_memory(array, x.data)
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0
    plain = tg.tensor([1.0, 2.0])
    assert plain.numpy() is plain.data and plain.numpy().flags.writeable  # nothing to protect: numpy's own
    assert np.asarray(x, dtype=np.float32).flags.writeable  # a converted copy is the caller's


def test_changes_after_backward_and_to_unrelated_memory_are_fine():
    x, W = leaf(4, 3), leaf(2, 3, seed=1)
    other = leaf(2, 3, seed=2)
    loss = (x @ W.T).sum()
    with tg.no_grad():
        other -= 1  # not saved by this graph
    loss.backward()
    with tg.no_grad():
        W -= 0.1 * W.grad  # after backward: the usual update
    assert W._version == 1 and x._version == 0 and W.T._version == 1  # one version per memory
