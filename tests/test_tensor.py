"""The Tensor itself: construction, dtypes (numpy's rules), attributes, constructors, seeding, in-place rules."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor


def test_dtype_follows_numpy():
    assert tg.tensor([1.0, 2.0]).dtype == np.float64
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor([True, False]).dtype == np.bool_
    assert tg.tensor([1, 2], dtype=np.float32).dtype == np.float32
    f32 = tg.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    assert (f32 * 2.5).dtype == np.float32  # Python scalars are weak (NEP 50)
    assert (2.5 - f32).dtype == np.float32
    assert (f32 ** 2).dtype == np.float32
    assert (f32 * tg.tensor(2.5)).dtype == np.float64  # a 0-d float64 tensor is strong, like a 0-d array
    assert (f32 * np.float64(2.5)).dtype == np.float64  # so is a numpy scalar
    (f32 * 2.5).sum().backward()
    assert f32.grad.dtype == np.float32  # .grad has the tensor's dtype
    w = tg.tensor([1.0], dtype=np.float32, requires_grad=True)
    (w * tg.tensor(3.0)).sum().backward()  # a float64 result: the gradient is cast back to float32
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [3.0]


def test_data_is_a_copy_of_the_input():
    source = np.array([1.0, 2.0])
    x = tg.tensor(source)
    source[0] = 99
    assert x.tolist() == [1.0, 2.0]
    assert isinstance(x.data, np.ndarray) and x.numpy() is x.data


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating-point tensors can require gradients.*int64.*dtype=float"):
        tg.tensor([1, 2], requires_grad=True)
    x = tg.tensor([1, 2])
    with pytest.raises(TypeError, match="dtype=float"):
        x.requires_grad_()
    with pytest.raises(TypeError, match=r"needs numbers.*<U1"):
        tg.tensor(["a"])


def test_attributes():
    x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True, name="x")
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.is_leaf and x.grad is None and x.grad_fn is None and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name() == "MulBackward"
    assert repr(y.grad_fn) == "<MulBackward>"
    assert x.T.shape == (3, 2) and x.mT.shape == (3, 2)
    assert tg.tensor(3.5).item() == 3.5 and float(tg.tensor([2.0])) == 2.0
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert x.argmax().item() == 5 and x.argmax(axis=1).tolist() == [2, 2] and x.argmin(axis=0).tolist() == [0, 0, 0]
    assert [row.tolist() for row in x] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert x.astype(np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="item.. needs a tensor with one element.*'x'.*has 6"):
        x.item()
    with pytest.raises(TypeError, match="len.. of a 0-d tensor"):
        len(tg.tensor(1.0))


def test_comparisons_give_bool_tensors_outside_the_graph():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert result.dtype == np.bool_ and not result.requires_grad and result.grad_fn is None
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == tg.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    assert len({x, x * 1}) == 2  # tensors hash by identity


def test_repr():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(tg.tensor([1, 2], dtype=np.float32)) == "tensor([1., 2.], dtype=float32)"
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="w")
    assert repr(x * 2) == "tensor([[2., 4.],\n        [6., 8.]], grad_fn=<MulBackward>)"
    assert repr(x).endswith("requires_grad=True, name='w')")


def test_constructors():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).tolist() == [[0.0] * 3] * 2
    assert tg.ones(2).dtype == np.float64 and tg.ones(2, dtype=np.float32).dtype == np.float32
    assert tg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert tg.arange(3).tolist() == [0, 1, 2] and tg.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and tg.eye(2, 3).shape == (2, 3)
    x = tg.randn(3, 2, dtype=np.float32)
    for like in (tg.zeros_like(x), tg.ones_like(x), tg.rand_like(x), tg.randn_like(x), tg.full_like(x, 2)):
        assert like.shape == (3, 2) and like.dtype == np.float32
    r = tg.rand(1000)
    assert 0 <= r.numpy().min() and r.numpy().max() < 1
    assert tg.zeros(2, requires_grad=True).requires_grad
    assert tg.randn(2, name="noise").name == "noise"
    with pytest.raises(ValueError, match="non-negative integers"):
        tg.zeros(2, -1)


def test_seeding_makes_results_reproducible():
    tg.manual_seed(123)
    a = tg.randn(4).tolist(), tg.rand(2).tolist()
    tg.manual_seed(123)
    b = tg.randn(4).tolist(), tg.rand(2).tolist()
    assert a == b
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    assert tg.randn(3, generator=g1).tolist() == tg.randn(3, generator=g2).tolist()
    assert tg.manual_seed(0) is None  # a notebook cell ending with it shows nothing (not `Generator(PCG64) at 0x…`)
    assert isinstance(tg.default_generator(), tg.Generator)
    with pytest.raises(TypeError, match="integer seed, got 1.5"):
        tg.manual_seed(1.5)
    with pytest.raises(ValueError, match="non-negative seed, got -1"):
        tg.manual_seed(-1)


def test_inplace_on_a_leaf_that_requires_grad():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    with pytest.raises(RuntimeError, match=r"in-place '-=' on tensor 'w'.*requires grad.*no_grad"):
        w -= 0.1
    (w * w).sum().backward()
    data = w.data
    with tg.no_grad():
        w -= 0.5 * w.grad
    assert w.data is data  # updated in place, not rebound to a new node
    assert w.tolist() == [0.0, 0.0] and w.is_leaf and w.requires_grad
    with tg.no_grad():
        w += 1
        w *= 3
        w /= 2
        w[0] = 10.0
    assert w.tolist() == [10.0, 1.5]
    plain = tg.tensor([1, 2])
    plain += 1  # tensors that do not require grad update like numpy arrays
    assert plain.tolist() == [2, 3]
    with pytest.raises(TypeError, match=r"in-place '\+=' on tensor of shape \(2,\) and dtype int64 failed"):
        plain += 0.5


def test_inplace_change_of_a_saved_value_is_detected():
    w = tg.tensor([1.0, 2.0], requires_grad=True, name="w")
    y = (w * w).sum()
    with tg.no_grad():
        w += 1
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: tensor 'w'.*version 1; expected version 0"):
        y.backward()


def test_detach_and_requires_grad_():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert d.is_leaf and not d.requires_grad and d.tolist() == [2.0, 4.0]
    assert tg.randn(2).requires_grad_().requires_grad
    with pytest.raises(RuntimeError, match="only change requires_grad of leaf tensors"):
        (x * 2).requires_grad_(False)


def test_grad_can_be_assigned_and_cleared():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    x.grad = tg.tensor([0.5, 0.5])
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.5, 1.5]
    x.grad = None
    assert x.grad is None
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3,\)"):
        x.grad = tg.zeros(3)
