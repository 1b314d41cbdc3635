"""engine/convolution.py: each operation's forward against a direct loop over pixels, its backward against central
differences in float64 by hypothesis (sizes, strides, padding, dilation, groups), conv_transpose2d as conv2d's
adjoint, fold as unfold's, second derivatives through the three convolution primitives, the tie convention of
max_pool2d, PyTorch's numbers where torch is installed, and the messages for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import gradcheck, gradgradcheck

TIGHT = dict(rtol=1e-6, atol=1e-8)


def padded(x, top, bottom, left, right, fill=0.0):
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)


def conv_loop(x, w, b, stride, pads, dilation, groups):
    """The definition, one output element at a time."""
    xp = padded(x, *pads)
    n, c = x.shape[:2]
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for i in range(n):
        for k in range(o):
            g = k // og
            for p in range(oh):
                for q in range(ow):
                    window = xp[i, g * cg:(g + 1) * cg, p * sh:p * sh + dh * (kh - 1) + 1:dh,
                                q * sw:q * sw + dw * (kw - 1) + 1:dw]
                    y[i, k, p, q] = (window * w[k]).sum() + (0 if b is None else b[k])
    return y


def pool_loop(x, kernel, stride, pads, reduce, dilation=(1, 1), fill=0.0):
    xp = padded(x, *pads, fill=fill)
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for p in range(oh):
        for q in range(ow):
            y[:, :, p, q] = reduce(xp[:, :, p * sh:p * sh + dh * (kh - 1) + 1:dh, q * sw:q * sw + dw * (kw - 1) + 1:dw],
                                   axis=(2, 3))
    return y


@st.composite
def conv_problem(draw, max_side=3):
    """(x, w, b, settings) for conv2d: small images, any stride, padding (an int, a pair, 'same'), dilation,
    groups; the image at least as large as the dilated kernel after padding."""
    groups = draw(st.integers(1, 2), label="groups")
    cg, og = draw(st.integers(1, 2), label="channels per group"), draw(st.integers(1, 2), label="outputs per group")
    kh, kw = draw(st.integers(1, max_side), label="kh"), draw(st.integers(1, max_side), label="kw")
    stride = (draw(st.integers(1, 2), label="sh"), draw(st.integers(1, 2), label="sw"))
    dilation = (draw(st.integers(1, 2), label="dh"), draw(st.integers(1, 2), label="dw"))
    same = stride == (1, 1) and draw(st.booleans(), label="same")
    padding = "same" if same else (draw(st.integers(0, 2), label="ph"), draw(st.integers(0, 1), label="pw"))
    pads = (0, 0) if same else padding
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * pads[0]), dilation[0] * (kh - 1) + 3), label="H")
    w_ = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * pads[1]), dilation[1] * (kw - 1) + 2), label="W")
    n = draw(st.integers(1, 2), label="N")
    seed = draw(st.integers(0, 2**16), label="seed")
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((n, groups * cg, h, w_)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((groups * og, cg, kh, kw)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(groups * og), requires_grad=True) if draw(st.booleans(), label="bias") else None
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def pads_of(x, w, s):
    if s["padding"] == "same":
        th, tw = [d * (k - 1) for d, k in zip(s["dilation"], w.shape[2:])]
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    return s["padding"][0], s["padding"][0], s["padding"][1], s["padding"][1]


@settings(max_examples=25)
@given(problem=conv_problem())
def test_conv2d_forward_is_the_loop_and_backward_the_finite_differences(problem):
    x, w, b, s = problem
    y = tg.conv2d(x, w, b, **s)
    expected = conv_loop(x.data, w.data, None if b is None else b.data, s["stride"], pads_of(x, w, s), s["dilation"],
                         s["groups"])
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    if s["padding"] == "same":
        assert y.shape[2:] == x.shape[2:]
    inputs = [x, w] + ([] if b is None else [b])
    assert gradcheck(lambda x, w, *b: tg.conv2d(x, w, b[0] if b else None, **s), inputs, **TIGHT)


@settings(max_examples=10)
@given(problem=conv_problem(max_side=2))
def test_conv2d_with_the_input_reused_and_second_derivatives(problem):
    x, w, _, s = problem
    # x enters twice: through the convolution and elementwise after it (when the shapes agree, else summed)
    assert gradcheck(lambda x, w: tg.conv2d(x, w, None, **s).tanh().sum() * x.sum(), [x, w], **TIGHT)
    assert gradgradcheck(lambda x, w: tg.conv2d(x, w, None, **s).tanh(), [x, w], **TIGHT)


@settings(max_examples=25)
@given(problem=conv_problem())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(problem):
    """<conv(x, W), y> = <x, conv_transpose(y, W)> for every x and y, with the matching output size."""
    x, w, _, s = problem
    if s["padding"] == "same":
        return  # conv_transpose2d takes PyTorch's symmetric padding only
    y_shape = tg.conv2d(x, w, None, **s).shape
    rng = np.random.default_rng(1)
    y = tg.tensor(rng.standard_normal(y_shape), requires_grad=True)
    # conv's output size is a floor: output_padding recovers the rows a stride dropped
    extra = [n - ((m - 1) * st_ - 2 * p + d * (k - 1) + 1)
             for n, m, st_, p, d, k in zip(x.shape[2:], y_shape[2:], s["stride"], s["padding"], s["dilation"], w.shape[2:])]
    if any(e >= max(st_, d) for e, st_, d in zip(extra, s["stride"], s["dilation"])):
        return  # rows beyond what output_padding can restore: no conv_transpose of that size in PyTorch either
    xt = tg.conv_transpose2d(y, w, None, stride=s["stride"], padding=s["padding"], output_padding=tuple(extra),
                             groups=s["groups"], dilation=s["dilation"])
    assert xt.shape == x.shape
    left = float((tg.conv2d(x, w, None, **s).data * y.data).sum())
    right = float((x.data * xt.data).sum())
    assert left == pytest.approx(right, rel=1e-12, abs=1e-12)
    b = tg.tensor(rng.standard_normal(w.shape[1] * s["groups"]), requires_grad=True)
    kw = dict(stride=s["stride"], padding=s["padding"], output_padding=tuple(extra), groups=s["groups"],
              dilation=s["dilation"])
    assert gradcheck(lambda y, w, b: tg.conv_transpose2d(y, w, b, **kw), [y, w, b], **TIGHT)


def test_the_weight_gradient_primitive_has_second_derivatives():
    from tinygrad_edu.engine.convolution import Conv2dWeight

    rng = np.random.default_rng(2)
    x = tg.tensor(rng.standard_normal((2, 4, 5, 4)), requires_grad=True)
    y = tg.tensor(rng.standard_normal((2, 2, 2, 4)), requires_grad=True)
    s = dict(stride=(2, 1), padding=(0, 1, 1, 0), dilation=(1, 1), groups=2, kernel_size=(3, 2))
    assert gradcheck(lambda x, y: Conv2dWeight.apply(x, y, **s), [x, y], **TIGHT)
    assert gradgradcheck(lambda x, y: Conv2dWeight.apply(x, y, **s), [x, y], **TIGHT)


@settings(max_examples=20)
@given(n=st.integers(1, 2), c=st.integers(1, 3), length=st.integers(3, 8), k=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2), groups=st.integers(1, 2),
       seed=st.integers(0, 99))
def test_conv1d_is_the_loop_and_the_finite_differences(n, c, length, k, stride, padding, dilation, groups, seed):
    if dilation * (k - 1) + 1 > length + 2 * padding:
        return
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((n, c * groups, length)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2 * groups, c, k)), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2 * groups), requires_grad=True)
    y = tg.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = conv_loop(x.data[:, :, None], w.data[:, :, None], b.data, (1, stride), (0, 0, padding, padding),
                         (1, dilation), groups)[:, :, 0]
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, w, b: tg.conv1d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                                               groups=groups), [x, w, b], **TIGHT)


@st.composite
def window_problem(draw, max_kernel=3):
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), dilation[0] * (kh - 1) + 3))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), dilation[1] * (kw - 1) + 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # distinct values at least 1e-2 apart: finite differences never cross a tie of max_pool2d
    values = rng.permutation(np.prod(shape)).reshape(shape) * 0.05 + rng.uniform(-0.01, 0.01, shape)
    return tg.tensor(values, requires_grad=True), (kh, kw), stride, padding, dilation


@settings(max_examples=25)
@given(problem=window_problem())
def test_unfold_and_fold_are_the_windows_and_each_others_adjoint(problem):
    x, kernel, stride, padding, dilation = problem
    cols = tg.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)
    xp = padded(x.data, padding[0], padding[0], padding[1], padding[1])
    n, c = x.shape[:2]
    oh = (xp.shape[2] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (xp.shape[3] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    expected = np.zeros((n, c * kernel[0] * kernel[1], oh * ow))
    for ch in range(c):
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                for p in range(oh):
                    for q in range(ow):
                        expected[:, (ch * kernel[0] + i) * kernel[1] + j, p * ow + q] = \
                            xp[:, ch, p * stride[0] + i * dilation[0], q * stride[1] + j * dilation[1]]
    np.testing.assert_array_equal(cols.data, expected)
    u = tg.tensor(np.random.default_rng(0).standard_normal(cols.shape), requires_grad=True)
    folded = tg.fold(u, x.shape[2:], kernel, dilation=dilation, padding=padding, stride=stride)
    assert folded.shape == x.shape
    assert float((cols.data * u.data).sum()) == pytest.approx(float((x.data * folded.data).sum()), rel=1e-12, abs=1e-12)
    kw = dict(dilation=dilation, padding=padding, stride=stride)
    assert gradcheck(lambda x: tg.unfold(x, kernel, **kw), [x], **TIGHT)
    assert gradcheck(lambda u: tg.fold(u, x.shape[2:], kernel, **kw), [u], **TIGHT)


def test_a_convolution_is_a_matrix_product_of_unfold():
    """What the chapter shows: conv2d(x, W) = W.reshape(C_out, -1) @ unfold(x), reshaped to an image."""
    rng = np.random.default_rng(3)
    x, w = tg.tensor(rng.standard_normal((2, 3, 6, 5))), tg.tensor(rng.standard_normal((4, 3, 3, 2)))
    cols = tg.unfold(x, (3, 2))
    product = (w.reshape(4, -1) @ cols).reshape(2, 4, 4, 4)
    np.testing.assert_allclose(product.data, tg.conv2d(x, w).data, rtol=1e-12)


@settings(max_examples=25)
@given(problem=window_problem())
def test_max_pool2d_is_the_loop_and_the_finite_differences(problem):
    x, kernel, stride, padding, dilation = problem
    y = tg.max_pool2d(x, kernel, stride, padding, dilation)
    pads = (padding[0], padding[0], padding[1], padding[1])
    np.testing.assert_array_equal(y.data, pool_loop(x.data, kernel, stride, pads, np.max, dilation, fill=-np.inf))
    assume(np.isfinite(y.data).all())  # a dilated window that reads padding only is -inf (as PyTorch's): no slope
    assert gradcheck(lambda x: tg.max_pool2d(x, kernel, stride, padding, dilation) * 1.5, [x], **TIGHT)


@settings(max_examples=25)
@given(problem=window_problem())
def test_avg_pool2d_is_the_loop_and_the_finite_differences(problem):
    x, kernel, stride, padding, _ = problem
    y = tg.avg_pool2d(x, kernel, stride, padding)
    pads = (padding[0], padding[0], padding[1], padding[1])
    np.testing.assert_allclose(y.data, pool_loop(x.data, kernel, stride, pads, np.mean), rtol=1e-12, atol=1e-15)
    assert gradcheck(lambda x: tg.avg_pool2d(x, kernel, stride, padding), [x], **TIGHT)


@settings(max_examples=15)
@given(problem=window_problem())
def test_adaptive_avg_pool2d_to_one_pixel_and_to_tiles(problem):
    x = problem[0]
    y = tg.adaptive_avg_pool2d(x, 1)
    assert y.shape == x.shape[:2] + (1, 1)
    np.testing.assert_allclose(y.data, x.data.mean(axis=(2, 3), keepdims=True), rtol=1e-12)
    assert gradcheck(lambda x: tg.adaptive_avg_pool2d(x, (1, 1)), [x], **TIGHT)
    h, w = x.shape[2:]
    tiles = tg.adaptive_avg_pool2d(x, (h, 1))
    np.testing.assert_allclose(tiles.data, x.data.mean(axis=3, keepdims=True), rtol=1e-12)


def ceil_size(n, k, s, p, d=1):
    """PyTorch's output size with ceil_mode: rounded up, less one if the last window starts past the input
    and its top padding."""
    m = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1
    return m - 1 if (m - 1) * s >= n + p else m


def max_loop(x, kernel, stride, padding, dilation, ceil_mode):
    """Each window's maximum and its flat index h·W + w in the plane, one output element at a time: the first
    maximum in row-by-row order, padding skipped (as PyTorch's CPU loop)."""
    n, c, h, w = x.shape
    size = ceil_size if ceil_mode else lambda n_, k, s, p, d: (n_ + 2 * p - d * (k - 1) - 1) // s + 1
    oh, ow = (size(m, k, s, p, d) for m, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))
    y, index = np.full((n, c, oh, ow), -np.inf), np.full((n, c, oh, ow), -1)
    for a in range(n):
        for b in range(c):
            for p in range(oh):
                for q in range(ow):
                    for i in range(kernel[0]):
                        for j in range(kernel[1]):
                            r, t = p * stride[0] - padding[0] + i * dilation[0], q * stride[1] - padding[1] + j * dilation[1]
                            if 0 <= r < h and 0 <= t < w and x[a, b, r, t] > y[a, b, p, q]:
                                y[a, b, p, q], index[a, b, p, q] = x[a, b, r, t], r * w + t
    return y, index


def avg_loop(x, kernel, stride, padding, ceil_mode, count_include_pad):
    """Each window's sum over the input's pixels divided by PyTorch's count: the window cut at the padded
    input's end, then (count_include_pad=False) at the input's."""
    n, c, h, w = x.shape
    size = ceil_size if ceil_mode else lambda n_, k, s, p: (n_ + 2 * p - k) // s + 1
    oh, ow = (size(m, k, s, p) for m, k, s, p in zip((h, w), kernel, stride, padding))
    y = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            r0, t0 = p * stride[0] - padding[0], q * stride[1] - padding[1]
            r1, t1 = min(r0 + kernel[0], h + padding[0]), min(t0 + kernel[1], w + padding[1])
            count = (r1 - r0) * (t1 - t0)
            r0, t0, r1, t1 = max(r0, 0), max(t0, 0), min(r1, h), min(t1, w)
            if not count_include_pad:
                count = (r1 - r0) * (t1 - t0)
            y[:, :, p, q] = x[:, :, r0:r1, t0:t1].sum(axis=(2, 3)) / count
    return y


@settings(max_examples=30)
@given(problem=window_problem(), ceil_mode=st.booleans())
def test_max_pool2d_ceil_mode_and_indices_are_the_loop_and_the_finite_differences(problem, ceil_mode):
    x, kernel, stride, padding, dilation = problem
    y, index = tg.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    expected, expected_index = max_loop(x.data, kernel, stride, padding, dilation, ceil_mode)
    np.testing.assert_array_equal(y.data, expected)
    np.testing.assert_array_equal(index.data, expected_index)
    assert index.dtype == np.int64 and not index.requires_grad
    # the indices pick the maxima out of each flattened plane
    found = np.take_along_axis(x.data.reshape(*x.shape[:2], -1), np.maximum(index.data, 0).reshape(*x.shape[:2], -1),
                               axis=2).reshape(y.shape)
    np.testing.assert_array_equal(np.where(index.data >= 0, found, -np.inf), y.data)
    assume(np.isfinite(y.data).all())
    assert gradcheck(lambda x: tg.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode) * 1.5, [x],
                     **TIGHT)


@settings(max_examples=30)
@given(problem=window_problem(), ceil_mode=st.booleans(), count_include_pad=st.booleans())
def test_avg_pool2d_ceil_mode_and_count_include_pad_are_the_loop_and_the_finite_differences(problem, ceil_mode,
                                                                                          count_include_pad):
    x, kernel, stride, padding, _ = problem
    options = dict(ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    y = tg.avg_pool2d(x, kernel, stride, padding, **options)
    np.testing.assert_allclose(y.data, avg_loop(x.data, kernel, stride, padding, **options), rtol=1e-12, atol=1e-15)
    # x re-used: through the pooling and elementwise
    assert gradcheck(lambda x: tg.avg_pool2d(x, kernel, stride, padding, **options).tanh().sum() * x.sum(), [x],
                     **TIGHT)


def test_ceil_mode_drops_a_window_that_would_start_in_the_padding():
    """H = 5, kernel 2, stride 2, padding 1: (5 + 2 - 2) / 2 + 1 = 3.5 rounds up to 4, but the fourth window would
    start at row 5, past the input and its top padding, so 3 remain: PyTorch's rule."""
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert tg.max_pool2d(x, 2, 2, 1).shape == tg.max_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert tg.max_pool2d(x, 2, 2, 0, ceil_mode=True).shape == (1, 1, 3, 3)  # (5 - 2) / 2 + 1 = 2.5 -> 3
    # the last window holds one row and one column of x: its mean is that pixel, whatever the padding flag
    for include in (True, False):
        assert tg.avg_pool2d(x, 2, 2, 0, ceil_mode=True, count_include_pad=include).data[0, 0, 2, 2] == 24.0


def test_max_pool2d_gives_a_tie_to_the_first_maximum_and_a_nan_its_window():
    x = tg.tensor([[[[1.0, 3.0, 3.0, 0.0], [3.0, 2.0, 0.0, 0.0]]]], requires_grad=True)
    tg.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])  # the window's first 3; the first 0
    x = tg.tensor([[[[1.0, np.nan, 5.0, np.nan]]]], requires_grad=True)
    y = tg.max_pool2d(x, (1, 4))
    y.sum().backward()
    assert np.isnan(y.data).all()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 0, 0, 1]]]])  # the last NaN, as PyTorch's CPU loop
    # overlapping windows that choose the same element add their gradients there
    x = tg.tensor(np.array([[[[0.0, 9.0, 0.0]]]]), requires_grad=True)
    tg.max_pool2d(x, (1, 2), stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0, 2, 0]]]])


def test_float32_stays_float32():
    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = tg.tensor(np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = tg.max_pool2d(tg.conv2d(x, w, padding=1), 2)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: tg.conv2d(np.ones((3, 5, 5)), np.ones((2, 3, 3, 3))), r"input must be 4-D \(N, C, H, W\), got shape "
                                                                     r"\(3, 5, 5\) \(add the batch axis"),
    (lambda: tg.conv2d(np.ones((1, 3, 5, 5)), np.ones((2, 2, 3, 3))), r"the input has 3 channels, but the weight of "
                                                                        r"shape \(2, 2, 3, 3\) with groups=1 expects 2"),
    (lambda: tg.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2), r"groups=2 must divide"),
    (lambda: tg.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), r"kernel spans 3 pixels along H .* more than "
                                                                        r"the padded input's 2"),
    (lambda: tg.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), padding="same", stride=2),
     r"padding='same' needs stride 1"),
    (lambda: tg.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), r"bias must have shape \(2,\)"),
    (lambda: tg.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), stride=0), r"stride must be an int >= 1"),
    (lambda: tg.conv1d(np.ones((1, 5, 5, 1)), np.ones((2, 5, 3))), r"conv1d: input must be 3-D"),
    (lambda: tg.fold(np.ones((1, 8, 5)), (4, 4), 2), r"fold: input of shape \(1, 8, 5\) does not fit"),
    (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), r"padding \(2, 2\) must be at most half"),
    (lambda: tg.adaptive_avg_pool2d(np.ones((1, 1, 5, 5)), 2), r"must divide the input's \(5, 5\)"),
    (lambda: tg.avg_pool2d(np.ones((1, 1, 4, 4)), 3, padding=2), r"avg_pool2d: padding \(2, 2\) must be at most half"),
    (lambda: tg.conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((2, 1, 3, 3))), r"the input has 3 channels"),
    (lambda: tg.conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3)), stride=2, output_padding=2),
     r"output_padding \(2, 2\) must be smaller"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call, message", [
    (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 2, ceil_mode="yes"), r"max_pool2d: ceil_mode must be True or False"),
    (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 2, return_indices=1), r"return_indices must be True or False"),
    (lambda: tg.avg_pool2d(np.ones((1, 1, 4, 4)), 2, count_include_pad=None), r"count_include_pad must be True"),
])
def test_bad_flags_are_named(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def _torch():
    try:
        import torch
    except ImportError:
        pytest.skip("PyTorch is not installed")
    return torch


def test_against_pytorch():
    """The same numbers as torch.nn.functional, forward and backward, including max_pool2d's ties."""
    torch = _torch()
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    s = dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    ours = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y, t = tg.conv2d(*ours, **s), F.conv2d(*theirs, **s)
    u = rng.standard_normal(y.shape)
    (y * u).sum().backward()
    (t * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, c in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, c.grad.numpy(), rtol=1e-12, atol=1e-12)
    ties = np.round(rng.standard_normal((2, 3, 6, 6)))  # many ties in every window
    xo, xt = tg.tensor(ties, requires_grad=True), torch.tensor(ties, requires_grad=True)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, dilation=2)):
        xo.grad = None
        xt.grad = None
        tg.max_pool2d(xo, **kw).sum().backward()
        F.max_pool2d(xt, **kw).sum().backward()
        np.testing.assert_array_equal(xo.grad.data, xt.grad.numpy())
    y = rng.standard_normal((2, 6, 4, 3))
    for kw in (dict(stride=2, output_padding=1), dict(padding=1, dilation=2, groups=2)):
        wt = w if kw.get("groups") == 2 else w[:, :1]
        np.testing.assert_allclose(tg.conv_transpose2d(y, wt, **kw).data,
                                   F.conv_transpose2d(torch.tensor(y), torch.tensor(wt), **kw).numpy(), rtol=1e-12)
    np.testing.assert_allclose(tg.unfold(x, (3, 2), padding=1, stride=2).data,
                               F.unfold(torch.tensor(x), (3, 2), padding=1, stride=2).numpy())
    np.testing.assert_allclose(tg.avg_pool2d(x, 3, 2, 1).data, F.avg_pool2d(torch.tensor(x), 3, 2, 1).numpy(), rtol=1e-12)
    for ceil_mode, include in ((True, True), (True, False), (False, False)):
        for size in ((7, 6), (6, 5)):
            z = x[:, :, :size[0], :size[1]]
            np.testing.assert_allclose(tg.avg_pool2d(z, 3, 2, 1, ceil_mode, include).data,
                                       F.avg_pool2d(torch.tensor(z), 3, 2, 1, ceil_mode, include).numpy(), rtol=1e-12)
    for kw in (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), dict(kernel_size=2, stride=2, ceil_mode=True),
               dict(kernel_size=2, stride=1, dilation=2, padding=1)):
        xo, xt = tg.tensor(ties[:, :, :5], requires_grad=True), torch.tensor(ties[:, :, :5], requires_grad=True)
        (y, index), (t, t_index) = tg.max_pool2d(xo, return_indices=True, **kw), F.max_pool2d(xt, return_indices=True, **kw)
        np.testing.assert_array_equal(y.data, t.detach().numpy())
        np.testing.assert_array_equal(index.data, t_index.numpy())  # ties: the first maximum's index, both
        y.sum().backward()
        t.sum().backward()
        np.testing.assert_array_equal(xo.grad.data, xt.grad.numpy())
    np.testing.assert_allclose(tg.conv2d(x, w[:, :, :2], padding="same", groups=2).data,
                               F.conv2d(torch.tensor(x), torch.tensor(w[:, :, :2]), padding="same", groups=2).numpy(),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=30)
@given(problem=window_problem(), ceil_mode=st.booleans(), count_include_pad=st.booleans())
def test_pooling_options_against_pytorch(problem, ceil_mode, count_include_pad):
    """ceil_mode, count_include_pad and return_indices: PyTorch's outputs, indices and gradients, on values with
    ties (rounded to halves) so that the first-maximum convention is exercised."""
    torch = _torch()
    F = torch.nn.functional
    x, kernel, stride, padding, dilation = problem
    values = np.round(x.data * 2) / 2
    xo, xt = tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    y = tg.avg_pool2d(xo, kernel, stride, padding, ceil_mode, count_include_pad)
    t = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode, count_include_pad)
    np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-12, atol=1e-15)
    u = np.random.default_rng(0).standard_normal(y.shape)
    (y * u).sum().backward()
    (t * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    y, index = tg.max_pool2d(values, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    assume(np.isfinite(y.data).all())  # torch 2.13's CPU loop writes out of bounds on a window of padding only
    xo, xt = tg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    t, t_index = F.max_pool2d(xt, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    np.testing.assert_array_equal(y.data, t.detach().numpy())
    np.testing.assert_array_equal(index.data, t_index.numpy())
    tg.max_pool2d(xo, kernel, stride, padding, dilation, ceil_mode=ceil_mode).sum().backward()
    t.sum().backward()
    np.testing.assert_array_equal(xo.grad.data, xt.grad.numpy())
