"""PyTorch's spellings where the meaning is numpy's too (aliases), the differences that fail with a message
naming the right spelling, broadcasting messages, and linspace/logspace (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import gradcheck


def leaf(*shape):
    return tg.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "prod", "logsumexp", "var", "std", "norm"])
def test_reductions_take_dim_and_keepdim(method):
    x = leaf(2, 3, 4)
    for axis in (1, (0, 2), -1):
        ours = getattr(x, method)(dim=axis, keepdim=True)
        theirs = getattr(x, method)(axis=axis, keepdims=True)
        assert ours.shape == theirs.shape and np.array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(TypeError, match=f"{method}: pass axis= .* or dim= .*, not both"):
        getattr(x, method)(axis=0, dim=0)


def test_aliases_mean_what_pytorch_means():
    x = leaf(2, 3)
    assert x.clamp(-0.5, 0.5).tolist() == x.clip(-0.5, 0.5).tolist()
    assert x.numel() == x.size == 6
    c = x.clone()
    assert c.grad_fn is not None and not np.shares_memory(c.numpy(), x.numpy()) and c.tolist() == x.tolist()
    c.sum().backward()
    assert x.grad.tolist() == [[1.0] * 3] * 2
    assert (x.float().dtype, x.double().dtype, x.half().dtype) == (np.float32, np.float64, np.float16)
    assert gradcheck(lambda x: x.double() * x.clone(), [x])
    y = tg.tensor([1.0, np.nan, np.inf, -np.inf])
    assert y.isnan().tolist() == [False, True, False, False] and y.isinf().tolist() == [False, False, True, True]
    assert y.isfinite().tolist() == [True, False, False, False] and y.isnan().dtype == bool
    assert x.swapaxes(0, 1).shape == (3, 2) and leaf(2, 3, 4).swapaxes(0, 2).shape == (4, 3, 2)
    assert x.transpose(1, 0).tolist() == x.swapaxes(0, 1).tolist() == x.T.tolist()  # a matrix: the same in both


def test_where_the_meanings_differ_the_other_spelling_says_what_to_write():
    x = leaf(2, 3, 4)
    with pytest.raises(ValueError, match=r"transpose permutes all 3 axes.*use swapaxes\(d0, d1\)"):
        x.transpose(0, 1)
    with pytest.raises(ValueError, match=r"axis 1 has length 3, not 1 .*PyTorch would leave the tensor unchanged"):
        x.squeeze(1)
    assert leaf(2, 1).squeeze(1).shape == (2,)
    with pytest.raises(TypeError, match=r"Tensor.size is numpy's number of elements \(24\).*write .shape"):
        x.size()
    assert x.size == 24 and x.size + 1 == 25
    with pytest.raises(TypeError, match=r"PyTorch's repeat\(2, 1, 1\) is tile\(\(2, 1, 1\)\)"):
        x.repeat(2, 1, 1)
    assert x.repeat(2, axis=0).shape == (4, 3, 4) and x.tile((2, 1, 1)).shape == (4, 3, 4)


@pytest.mark.parametrize("fn, name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"), (lambda a, b: a * b, "mul"),
                                      (lambda a, b: a / b, "div"), (lambda a, b: a ** b, "pow"),
                                      (tg.maximum, "maximum"), (lambda a, b: np.ones((3, 4)) + b, "add")])
def test_broadcasting_failures_name_the_operation_and_both_shapes(fn, name):
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(3, 4\) and \(3,\) do not broadcast"):
        fn(tg.tensor(np.ones((3, 4))), tg.tensor(np.ones(3)))


def test_other_shape_messages():
    with pytest.raises(ValueError, match=r"where\(condition, a, b\): shapes \(2, 3\), \(4,\) and \(\) do not broadcast"):
        tg.where(np.ones((2, 3)) > 0, tg.tensor(np.ones(4)), 1.0)
    with pytest.raises(ValueError, match=r"broadcast_to: a tensor of shape \(3,\) cannot be broadcast to shape \(2, 4\)"):
        tg.tensor(np.ones(3)).broadcast_to((2, 4))
    with pytest.raises(ValueError, match=r"cannot sum a tensor of shape \(3,\) to shape \(2,\): not a broadcast of it"):
        tg.tensor(np.ones(3)).sum_to((2,))
    with pytest.raises(ValueError, match=r"expand\(2\): tensor of shape \(2, 3\) .* has more axes"):
        tg.tensor(np.ones((2, 3))).expand(2)
    with pytest.raises(TypeError, match=r"gather needs integer indices, got dtype float64 \(cast them with .astype\(int\)\)"):
        tg.tensor(np.ones((2, 3))).gather(1, np.zeros((2, 1)))
    with pytest.raises(TypeError, match="masked_fill needs a bool mask"):
        tg.tensor(np.ones(2)).masked_fill(np.array([1, 0]), 0.0)


def test_linspace_and_logspace_are_numpys():
    np.testing.assert_array_equal(tg.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_array_equal(tg.linspace(0, 1, 4, endpoint=False).numpy(), np.linspace(0, 1, 4, endpoint=False))
    np.testing.assert_array_equal(tg.logspace(0, 3, 4).numpy(), [1.0, 10.0, 100.0, 1000.0])
    np.testing.assert_array_equal(tg.logspace(0, 3, 4, base=2.0).numpy(), [1.0, 2.0, 4.0, 8.0])
    t = tg.linspace(-1, 1, 3, dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad and t.is_leaf and tg.linspace(0, 1).shape == (50,)
