"""Convolution and pooling on images laid out (N, C, H, W): batch, channels, height, width, as PyTorch's.

How convolution becomes one matrix product (im2col). With a kernel of kh × kw, every output pixel (p, q) reads
a window of the (padded) input: x[n, c, p·s + i·d, q·s + j·d] for i < kh, j < kw (stride s, dilation d).
numpy's `sliding_window_view` shows all those windows at once as a view (nothing copied); laid out as a matrix
X of one row per (n, p, q) and one column per (c, i, j), the convolution is

    y = X Wᵀ        (W the weight reshaped to (C_out, C·kh·kw)): one BLAS product, no loop over pixels.

`unfold` is that X (PyTorch's layout: (N, C·kh·kw, L), L = OH·OW window positions), `fold` its adjoint: it adds
each column back onto the pixels its window read (a loop over the kh·kw kernel offsets, never over pixels).

The three primitives of convolution and their backward. All three are the one trilinear form
T(x, W, y) = <conv(x, W), y> = Σ y[n,o,p,q] W[o,c,i,j] x[n,c,p·s+i·d,q·s+j·d], differentiated by each of its
arguments: Conv2d gives conv(x, W) = ∂T/∂y, ConvTranspose2d gives conv_transpose(y, W) = ∂T/∂x, Conv2dWeight
gives ∂T/∂W. With g = dC/d(output), each one's backward is therefore two of the others:

    Conv2d(x, W) = y:            dC/dx = conv_transpose(g, W),      dC/dW = weight(x, g)
    ConvTranspose2d(y, W) = x:   dC/dy = conv(g, W),                dC/dW = weight(g, y)
    Conv2dWeight(x, y) = W:      dC/dx = conv_transpose(y, g),      dC/dy = conv(x, g)

written with the operations themselves, so that gradients of gradients come out right (DeZero's rule); a bias
b[o], added to every pixel of channel o, gets Σ_{n,p,q} g[n,o,p,q]. Groups split the channels into `groups`
independent convolutions (a block-diagonal W): one batched product, one matrix per group.

Pooling. max_pool2d sends each window's gradient to the element its maximum came from, the first one in the
window (row by row) when several are equal: PyTorch's convention on CPU (the engine's `max` reduction splits a tie
equally instead; a pooling window has one winner). A NaN in a window wins it, the last NaN (PyTorch's CPU loop);
a dilated window that reads padding only gives -inf and sends no gradient anywhere. return_indices=True also
gives where each maximum sits, as PyTorch's: the flat index h·W + w in its (n, c) plane of the unpadded input.
avg_pool2d is a sum over unfold's windows divided by each window's count, and adaptive_avg_pool2d to 1 × 1 the
mean over each image: composites whose backward comes from `fold` and `mean`. conv1d is conv2d on images one
pixel high.

ceil_mode (both poolings, PyTorch's rule): the output size rounds up, OH = ceil((H + 2p - d·(k-1) - 1) / s) + 1,
less one if the last window would start beyond the input and its top padding (it would read padding only); the
last windows may then reach past the bottom padding, which is read as more padding (-inf for max, nothing
counted for the mean). avg_pool2d's divisor is the number of pixels a window covers inside the input and its
padding (count_include_pad=True, the default) or inside the input only (False): PyTorch's, which for a window
cut by ceil_mode counts neither the pixels past the padding nor, with False, the padding.

Not here (PyTorch has them): padding modes other than zeros, avg_pool2d's divisor_override, unbatched
(C, H, W) inputs, adaptive pooling to sizes that do not divide the input.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .function import Context, Function
from .ops import ScatterAdd, operand
from .tensor import Tensor

# ---------------------------------------------------------------------------------------------------------------
# Geometry: arguments, output sizes, the windows and their adjoint
# ---------------------------------------------------------------------------------------------------------------


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


def _pair(value: Any, name: str, who: str, low: int = 1) -> tuple[int, int]:
    """An int or a pair of ints, each >= low, as a pair."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and v >= low for v in pair):
        raise ValueError(f"{who}: {name} must be an int >= {low} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
             who: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair, "valid" (none) or "same" (the output keeps the input's
    size, stride 1 only; an odd total goes to the bottom and the right, as PyTorch pads)."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same":
            raise ValueError(f"{who}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"{who}: padding='same' needs stride 1 (got stride={stride}): with a larger stride "
                             f"the output cannot keep the input's size")
        th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = _pair(padding, "padding", who, low=0)
    return ph, ph, pw, pw


def _out_size(size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, ...],
              dilation: tuple[int, int], who: str) -> tuple[int, int]:
    """(OH, OW): how many windows fit, floor((H + pads - d·(k-1) - 1) / s) + 1 along each axis."""
    out = []
    for axis, (n, k, s, before, after, d) in enumerate(zip(size, kernel, stride, pads[::2], pads[1::2], dilation)):
        span = d * (k - 1) + 1
        if n + before + after < span:
            raise ValueError(f"{who}: the kernel spans {span} pixels along {'HW'[axis]} (size {k}, dilation {d}), "
                             f"more than the padded input's {n + before + after} (size {n}, padding {before}+{after})")
        out.append((n + before + after - span) // s + 1)
    return out[0], out[1]


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], pads: tuple[int, ...],
             dilation: tuple[int, int], fill: float = 0.0) -> np.ndarray:
    """Every window of the padded x as a view (N, C, OH, OW, kh, kw): window[n, c, p, q, i, j] =
    x_padded[n, c, p·s + i·d, q·s + j·d]. Only the padding is copied, never the windows."""
    if any(pads):
        x = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]), constant_values=fill)
    spans = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    view = sliding_window_view(x, spans, axis=(2, 3))
    return view[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]


def _col2im(cols: np.ndarray, size: tuple[int, int], stride: tuple[int, int], pads: tuple[int, ...],
            dilation: tuple[int, int]) -> np.ndarray:
    """The adjoint of `_windows`: cols (N, C, OH, OW, kh, kw) added back onto an (N, C, H, W) image, each value
    onto the pixel its window read (padding dropped). One strided addition per kernel offset (i, j)."""
    n, c, oh, ow, kh, kw = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    out = np.zeros((n, c, size[0] + pads[0] + pads[1], size[1] + pads[2] + pads[3]), cols.dtype, like=cols)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[..., i, j]
    return out[:, :, pads[0]:pads[0] + size[0], pads[2]:pads[2] + size[1]]


def _image(x: Any, who: str, name: str = "input") -> None:
    if np.ndim(x) != 4:
        raise ValueError(f"{who}: {name} must be 4-D (N, C, H, W), got shape {np.shape(x)}"
                         + (" (add the batch axis: x.unsqueeze(0))" if np.ndim(x) == 3 else ""))


# ---------------------------------------------------------------------------------------------------------------
# The three products of convolution, on arrays (each one BLAS product per group)
# ---------------------------------------------------------------------------------------------------------------


def _rows(x: np.ndarray, kernel, stride, pads, dilation, groups) -> np.ndarray:
    """im2col: x's windows as (G, N·OH·OW, C/G·kh·kw), one row per output pixel (the one copy of the windows)."""
    win = _windows(x, kernel, stride, pads, dilation)
    n, c, oh, ow, kh, kw = win.shape
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw).transpose(1, 0, 3, 4, 2, 5, 6)
    return win.reshape(groups, n * oh * ow, c // groups * kh * kw)


def _conv(x: np.ndarray, w: np.ndarray, stride, pads, dilation, groups) -> np.ndarray:
    n, o = x.shape[0], w.shape[0]
    oh, ow = _out_size(x.shape[2:], w.shape[2:], stride, pads, dilation, "conv2d")
    y = _rows(x, w.shape[2:], stride, pads, dilation, groups) @ w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    return y.reshape(groups, n, oh, ow, o // groups).transpose(1, 0, 4, 2, 3).reshape(n, o, oh, ow)


def _conv_weight(x: np.ndarray, y: np.ndarray, kernel, stride, pads, dilation, groups) -> np.ndarray:
    n, o, oh, ow = y.shape
    ym = y.reshape(n, groups, o // groups, oh * ow).transpose(1, 2, 0, 3).reshape(groups, o // groups, n * oh * ow)
    return (ym @ _rows(x, kernel, stride, pads, dilation, groups)).reshape(o, x.shape[1] // groups, *kernel)


def _conv_transpose(y: np.ndarray, w: np.ndarray, size, stride, pads, dilation, groups) -> np.ndarray:
    n, o, oh, ow = y.shape
    cg, kh, kw = w.shape[1:]
    ym = y.reshape(n, groups, o // groups, oh * ow).transpose(1, 0, 3, 2).reshape(groups, n * oh * ow, o // groups)
    cols = ym @ w.reshape(groups, o // groups, cg * kh * kw)  # (G, N·OH·OW, C/G·kh·kw)
    cols = cols.reshape(groups, n, oh, ow, cg, kh, kw).transpose(1, 0, 4, 2, 3, 5, 6).reshape(n, groups * cg, oh, ow, kh, kw)
    return _col2im(cols, size, stride, pads, dilation)


def _bias_grad(g: Any) -> Any:
    return g.sum(axis=(0, 2, 3))


def _add_bias(y: np.ndarray, b: Any) -> np.ndarray:
    return y if b is None else y + np.reshape(b, (1, -1, 1, 1))


# ---------------------------------------------------------------------------------------------------------------
# Primitives: Conv2d, ConvTranspose2d, Conv2dWeight (each other's backward), Unfold and Fold, MaxPool2d
# ---------------------------------------------------------------------------------------------------------------


class Conv2d(Function):
    """y[n,o,p,q] = b[o] + Σ_{c,i,j} W[o,c,i,j] x_pad[n,c,p·s+i·d,q·s+j·d] (c over o's group).

    Backward: y is linear in x and in W, so dC/dx[n,c,h,w] = Σ g[n,o,p,q] W[o,c,i,j] over the (p, q, i, j) that
    read pixel (h, w): conv_transpose(g, W); dC/dW[o,c,i,j] = Σ g[n,o,p,q] x_pad[n,c,p·s+i·d,q·s+j·d]: the same
    windows as forward, multiplied by g (Conv2dWeight); dC/db[o] = Σ_{n,p,q} g[n,o,p,q].
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, w: np.ndarray, b: Any, stride: tuple, padding: tuple, dilation: tuple,
                groups: int) -> np.ndarray:
        ctx.save_for_backward(x, w)
        return _add_bias(_conv(x, w, stride, padding, dilation, groups), b)

    @staticmethod
    def backward(ctx: Context, g: Any) -> tuple:
        x, w = ctx.saved_tensors
        s = ctx.settings
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = ConvTranspose2d.apply(g, w, None, output_size=ctx.input_shapes[0][2:], **s) if need_x else None
        gw = Conv2dWeight.apply(x, g, kernel_size=ctx.input_shapes[1][2:], **s) if need_w else None
        return gx, gw, _bias_grad(g) if need_b else None


class ConvTranspose2d(Function):
    """x = conv_transpose(y, W) + b: the adjoint of conv2d in its input, <conv(x, W), y> = <x, conv_transpose(y, W)>.
    Each input pixel y[n,o,p,q] spreads W[o,c,:,:] onto the output at (p·s, q·s) with dilation d, the padding
    then cut away: x[n,c,h,w] = b[c] + Σ y[n,o,p,q] W[o,c,i,j] over h = p·s+i·d-top, w = q·s+j·d-left.

    Backward (h = dC/dx): x is linear in y and in W, and both are T(x, W, y)'s other derivatives: dC/dy =
    conv(h, W), dC/dW = Conv2dWeight(h, y); dC/db[c] = Σ_{n,h,w} h[n,c,h,w].
    """

    @staticmethod
    def forward(ctx: Context, y: np.ndarray, w: np.ndarray, b: Any, stride: tuple, padding: tuple, dilation: tuple,
                groups: int, output_size: tuple) -> np.ndarray:
        ctx.save_for_backward(y, w)
        return _add_bias(_conv_transpose(y, w, output_size, stride, padding, dilation, groups), b)

    @staticmethod
    def backward(ctx: Context, h: Any) -> tuple:
        y, w = ctx.saved_tensors
        s = {k: v for k, v in ctx.settings.items() if k != "output_size"}
        need_y, need_w, need_b = ctx.needs_input_grad
        gy = Conv2d.apply(h, w, None, **s) if need_y else None
        gw = Conv2dWeight.apply(h, y, kernel_size=ctx.input_shapes[1][2:], **s) if need_w else None
        return gy, gw, _bias_grad(h) if need_b else None


class Conv2dWeight(Function):
    """W[o,c,i,j] = Σ_{n,p,q} y[n,o,p,q] x_pad[n,c,p·s+i·d,q·s+j·d]: the weight gradient of conv2d (y = dC/d(conv)).

    Backward (k = dC/dW): W is linear in x and in y: dC/dx = conv_transpose(y, k), dC/dy = conv(x, k).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, y: np.ndarray, stride: tuple, padding: tuple, dilation: tuple,
                groups: int, kernel_size: tuple) -> np.ndarray:
        ctx.save_for_backward(x, y)
        return _conv_weight(x, y, kernel_size, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Context, k: Any) -> tuple:
        x, y = ctx.saved_tensors
        s = {key: v for key, v in ctx.settings.items() if key != "kernel_size"}
        need_x, need_y = ctx.needs_input_grad
        gx = ConvTranspose2d.apply(y, k, None, output_size=ctx.input_shapes[0][2:], **s) if need_x else None
        gy = Conv2d.apply(x, k, None, **s) if need_y else None
        return gx, gy


class Unfold(Function):
    """im2col: y[n, (c,i,j), (p,q)] = x_pad[n, c, p·s+i·d, q·s+j·d], shape (N, C·kh·kw, OH·OW) (PyTorch's layout).

    Backward: y copies pixels (some several times, where windows overlap): each pixel's gradient is the sum of
    g over its copies, dC/dx = fold(g), the adjoint.
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel_size: tuple, dilation: tuple, padding: tuple,
                stride: tuple) -> np.ndarray:
        win = _windows(x, kernel_size, stride, padding, dilation)
        n, c, oh, ow, kh, kw = win.shape
        return win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        return Fold.apply(g, output_size=ctx.input_shapes[0][2:], **ctx.settings)


class Fold(Function):
    """col2im: x[n, c, h, w] = Σ cols[n, (c,i,j), (p,q)] over the windows (p, q) and offsets (i, j) that read
    pixel (h, w) of an image of `output_size`: the adjoint of unfold (fold(unfold(x)) counts each pixel's copies).

    Backward: fold is linear and unfold's adjoint, so its own adjoint is unfold: dC/dcols = unfold(g).
    """

    @staticmethod
    def forward(ctx: Context, cols: np.ndarray, output_size: tuple, kernel_size: tuple, dilation: tuple,
                padding: tuple, stride: tuple) -> np.ndarray:
        oh, ow = _out_size(output_size, kernel_size, stride, padding, dilation, "fold")
        n, ckk, length = cols.shape
        kh, kw = kernel_size
        if ckk % (kh * kw) or length != oh * ow:
            raise ValueError(f"fold: input of shape {cols.shape} does not fit kernel_size {kernel_size} and "
                             f"output_size {tuple(output_size)}: it needs C·{kh * kw} rows and {oh}·{ow} = {oh * ow} "
                             f"columns (the windows of that image)")
        cols = cols.reshape(n, ckk // (kh * kw), kh, kw, oh, ow).transpose(0, 1, 4, 5, 2, 3)
        return _col2im(cols, output_size, stride, padding, dilation)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        s = {k: v for k, v in ctx.settings.items() if k != "output_size"}
        return Unfold.apply(g, **s)


def _window_maxima(x: np.ndarray, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple) -> tuple:
    """Each window's maximum and where it sits in the padded image, (y, rows, cols) of shape (N, C, OH, OW): the
    first maximum of the window (row by row), or its last NaN. Padding is -inf, so it is never chosen unless the
    window reads padding only."""
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _windows(x, kernel, stride, pads, dilation, fill=fill)
    n, c, oh, ow, kh, kw = win.shape
    flat = win.reshape(n, c, oh, ow, kh * kw)
    first = np.argmax(flat, axis=-1)  # the first maximum (numpy's argmax stops at a window's first NaN)
    y = np.take_along_axis(flat, first[..., None], axis=-1)[..., 0]
    if x.dtype.kind == "f":  # a NaN wins its window, and PyTorch's CPU loop keeps its last NaN: found in the
        nan = np.isnan(y)  # windows whose maximum is NaN only (no `if`: the same code for every input)
        first[nan] = kh * kw - 1 - np.argmax(np.isnan(flat[nan])[..., ::-1], axis=-1)
    rows = np.arange(oh)[:, None] * stride[0] + (first // kw) * dilation[0]
    cols = np.arange(ow)[None, :] * stride[1] + (first % kw) * dilation[1]
    return y, rows, cols


class MaxPool2d(Function):
    """y[n,c,p,q] = max over the window (p, q) of x padded with -inf (padding (top, bottom, left, right)).

    Backward: y[n,c,p,q] is one of x's elements, the window's first maximum (row by row, PyTorch's choice on a
    tie): dC/dx gets g[n,c,p,q] there and nothing elsewhere, summed where overlapping windows chose the same
    element (a scatter-add, whose own backward is a gather: second derivatives are 0 but defined).
    """

    @staticmethod
    def forward(ctx: Context, x: np.ndarray, kernel_size: tuple, stride: tuple, padding: tuple,
                dilation: tuple) -> np.ndarray:
        y, rows, cols = _window_maxima(x, kernel_size, stride, padding, dilation)
        n, c = x.shape[:2]
        hp, wp = x.shape[2] + padding[0] + padding[1], x.shape[3] + padding[2] + padding[3]
        planes = np.arange(n * c).reshape(n, c, 1, 1) * (hp * wp)
        ctx.index, ctx.padded = (planes + rows * wp + cols).reshape(-1), (n, c, hp, wp)
        return y

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        n, c, hp, wp = ctx.padded
        pads, (h, w) = ctx.settings["padding"], ctx.input_shapes[0][2:]
        gx = ScatterAdd.apply(g.reshape(-1), index=ctx.index, shape=(n * c * hp * wp,)).reshape(ctx.padded)
        return gx[:, :, pads[0]:pads[0] + h, pads[2]:pads[2] + w]


# ---------------------------------------------------------------------------------------------------------------
# The functions (PyTorch's torch.nn.functional signatures)
# ---------------------------------------------------------------------------------------------------------------


def _check_conv(x: Any, w: Any, b: Any, groups: int, who: str) -> None:
    _image(x, who)
    _image(w, who, "weight")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{who}: groups must be an int >= 1, got {groups!r}")
    c, (o, cg) = x.shape[1], w.shape[:2]
    if c % groups or o % groups:
        raise ValueError(f"{who}: groups={groups} must divide both the input's {c} channels and the weight's "
                         f"{o} output channels")
    if cg * groups != c:
        raise ValueError(f"{who}: the input has {c} channels, but the weight of shape {tuple(w.shape)} with "
                         f"groups={groups} expects {cg * groups} (its axis 1 is channels per group)")
    if b is not None and np.shape(b) != (o,):
        raise ValueError(f"{who}: bias must have shape ({o},), one per output channel, got {np.shape(b)}")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """2-D convolution (PyTorch's cross-correlation, the kernel not flipped): input (N, C, H, W), weight
    (C_out, C/groups, kh, kw), bias (C_out,) or None; padding an int, a pair, "valid" or "same".
    Output (N, C_out, OH, OW), OH = floor((H + 2·padding - dilation·(kh-1) - 1) / stride) + 1."""
    x, w = _tensor(input), _tensor(weight)
    b = None if bias is None else _tensor(bias)
    _check_conv(x, w, b, groups, "conv2d")
    stride, dilation = _pair(stride, "stride", "conv2d"), _pair(dilation, "dilation", "conv2d")
    pads = _padding(padding, w.shape[2:], stride, dilation, "conv2d")
    _out_size(x.shape[2:], w.shape[2:], stride, pads, dilation, "conv2d")
    return Conv2d.apply(x, w, b, stride=stride, padding=pads, dilation=dilation, groups=int(groups))


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,  # noqa: A002
           groups: int = 1) -> Tensor:
    """1-D convolution: input (N, C, L), weight (C_out, C/groups, k): conv2d on images one pixel high."""
    x, w = _tensor(input), _tensor(weight)
    for t, name in ((x, "input"), (w, "weight")):
        if t.ndim != 3:
            raise ValueError(f"conv1d: {name} must be 3-D ({'N, C, L' if name == 'input' else 'C_out, C/groups, k'}), "
                             f"got shape {t.shape}")
    pad = padding if isinstance(padding, str) else (0, _one(padding, "padding"))
    y = conv2d(x.unsqueeze(2), w.unsqueeze(2), bias, stride=(1, _one(stride, "stride")), padding=pad,
               dilation=(1, _one(dilation, "dilation")), groups=groups)
    return y.reshape(y.shape[0], y.shape[1], y.shape[3])


def _one(value: Any, name: str) -> int:
    v = value if isinstance(value, (int, np.integer)) else (value[0] if len(value) == 1 else None)
    if not isinstance(v, (int, np.integer)):
        raise ValueError(f"conv1d: {name} must be an int, got {value!r}")
    return int(v)


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,  # noqa: A002
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """The adjoint of conv2d in its input (PyTorch's signature): input (N, C_in, H, W), weight
    (C_in, C_out/groups, kh, kw) (the shape of the conv2d weight it transposes), output (N, C_out, OH, OW) with
    OH = (H - 1)·stride - 2·padding + dilation·(kh - 1) + output_padding + 1."""
    y, w = _tensor(input), _tensor(weight)
    b = None if bias is None else _tensor(bias)
    who = "conv_transpose2d"
    _image(y, who)
    _image(w, who, "weight")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or y.shape[1] % groups or w.shape[0] % groups:
        raise ValueError(f"{who}: groups={groups!r} must be an int >= 1 dividing the input's {y.shape[1]} channels")
    if w.shape[0] != y.shape[1]:
        raise ValueError(f"{who}: the input has {y.shape[1]} channels, but the weight of shape {w.shape} expects "
                         f"{w.shape[0]} (its axis 0 is the input's channels)")
    c = w.shape[1] * groups
    if b is not None and b.shape != (c,):
        raise ValueError(f"{who}: bias must have shape ({c},), one per output channel, got {b.shape}")
    stride, dilation = _pair(stride, "stride", who), _pair(dilation, "dilation", who)
    ph, pw = _pair(padding, "padding", who, low=0)
    oph, opw = _pair(output_padding, "output_padding", who, low=0)
    if not (oph < max(stride[0], dilation[0]) and opw < max(stride[1], dilation[1])):
        raise ValueError(f"{who}: output_padding {(oph, opw)} must be smaller than the stride or the dilation")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for n, s, p, d, k, op in zip(y.shape[2:], stride, (ph, pw), dilation, w.shape[2:], (oph, opw)))
    if min(size) < 1:
        raise ValueError(f"{who}: the output would be {size}, empty: less padding, or a larger input")
    return ConvTranspose2d.apply(y, w, b, stride=stride, padding=(ph, ph, pw, pw), dilation=dilation,
                                 groups=int(groups), output_size=size)


def _unfold_args(kernel_size: Any, dilation: Any, padding: Any, stride: Any, who: str) -> dict:
    return dict(kernel_size=_pair(kernel_size, "kernel_size", who), dilation=_pair(dilation, "dilation", who),
                padding=tuple(np.repeat(_pair(padding, "padding", who, low=0), 2).tolist()),
                stride=_pair(stride, "stride", who))


def unfold(input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:  # noqa: A002
    """im2col (PyTorch's F.unfold): the windows of input (N, C, H, W) as columns, (N, C·kh·kw, L), L the number
    of window positions. A convolution is then one product: (W.reshape(C_out, -1) @ unfold(x)) + b."""
    x = _tensor(input)
    _image(x, "unfold")
    s = _unfold_args(kernel_size, dilation, padding, stride, "unfold")
    _out_size(x.shape[2:], s["kernel_size"], s["stride"], s["padding"], s["dilation"], "unfold")
    return Unfold.apply(x, **s)


def fold(input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
         stride: Any = 1) -> Tensor:
    """col2im (PyTorch's F.fold): columns (N, C·kh·kw, L) added back onto an (N, C, *output_size) image, each onto
    the pixel its window read; the adjoint of unfold."""
    cols = _tensor(input)
    if cols.ndim != 3:
        raise ValueError(f"fold: input must be 3-D (N, C·kh·kw, L), got shape {cols.shape}")
    return Fold.apply(cols, output_size=_pair(output_size, "output_size", "fold"),
                      **_unfold_args(kernel_size, dilation, padding, stride, "fold"))


def _pool_args(kernel_size: Any, stride: Any, padding: Any, who: str) -> tuple:
    kernel = _pair(kernel_size, "kernel_size", who)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(stride, "stride", who)
    ph, pw = _pair(padding, "padding", who, low=0)
    if 2 * ph > kernel[0] or 2 * pw > kernel[1]:
        raise ValueError(f"{who}: padding {(ph, pw)} must be at most half the kernel {kernel}")
    return kernel, stride, (ph, ph, pw, pw)


def _pool_size(size: tuple, kernel: tuple, stride: tuple, pads: tuple, dilation: tuple, ceil_mode: bool,
               who: str) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """(OH, OW) and the padding the windows read, (top, bottom, left, right): with ceil_mode, the bottom and the
    right grow by what the last window reaches past the padded input (PyTorch's rule, in the module doc)."""
    floor = _out_size(size, kernel, stride, pads, dilation, who)
    if not ceil_mode:
        return floor, pads
    out, grown = [], list(pads)
    for axis, (n, k, s, d) in enumerate(zip(size, kernel, stride, dilation)):
        before, after = pads[2 * axis], pads[2 * axis + 1]
        span = d * (k - 1) + 1
        m = -(-(n + before + after - span) // s) + 1  # ceil
        if (m - 1) * s >= n + before:  # the last window would start in the bottom padding: dropped
            m -= 1
        grown[2 * axis + 1] += max(0, (m - 1) * s + span - (n + before + after))
        out.append(m)
    return (out[0], out[1]), tuple(grown)


def _bool(value: Any, name: str, who: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be True or False, got {value!r}")
    return bool(value)


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,  # noqa: A002
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each window of input (N, C, H, W); stride defaults to kernel_size. On a tie the gradient
    goes to the first maximum of the window, row by row (PyTorch's CPU convention). ceil_mode: the output size
    rounds up (the module doc). return_indices: also each maximum's flat index h·W + w in its (n, c) plane
    (int64, PyTorch's; -1 for a dilated window that reads padding only), as (output, indices)."""
    who = "max_pool2d"
    x = _tensor(input)
    _image(x, who)
    kernel, stride, pads = _pool_args(kernel_size, stride, padding, who)
    dilation = _pair(dilation, "dilation", who)
    _, pads = _pool_size(x.shape[2:], kernel, stride, pads, dilation, _bool(ceil_mode, "ceil_mode", who), who)
    y = MaxPool2d.apply(x, kernel_size=kernel, stride=stride, padding=pads, dilation=dilation)
    if not _bool(return_indices, "return_indices", who):
        return y
    # found again on the arrays (a Function gives one output); the padding taken off the positions
    _, rows, cols = _window_maxima(x.data, kernel, stride, pads, dilation)
    h, w = x.shape[2:]
    rows, cols = rows - pads[0], cols - pads[2]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    return y, Tensor._wrap(np.where(inside, rows * w + cols, -1).astype(np.int64))


def _divisor(size: tuple, kernel: tuple, stride: tuple, pads: tuple, out: tuple, count_include_pad: bool,
             dtype: np.dtype) -> np.ndarray:
    """(OH, OW): how many pixels each window averages, PyTorch's count (the module doc)."""
    counts = []
    for axis, (n, k, s, m) in enumerate(zip(size, kernel, stride, out)):
        before, after = pads[2 * axis], pads[2 * axis + 1]  # after: the padding asked for, not ceil_mode's growth
        start = np.arange(m) * s - before
        end = np.minimum(start + k, n + after)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    return np.outer(counts[0], counts[1]).astype(dtype)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,  # noqa: A002
               count_include_pad: bool = True) -> Tensor:
    """The mean of each window of input (N, C, H, W); stride defaults to kernel_size. Padding counts as zeros
    in the divisor with count_include_pad=True (the default), not at all with False; ceil_mode: the output size
    rounds up (the module doc). A composite: the sum of unfold's columns over each window (its backward: fold),
    divided by the window's count."""
    who = "avg_pool2d"
    x = _tensor(input)
    _image(x, who)
    kernel, stride, pads = _pool_args(kernel_size, stride, padding, who)
    (oh, ow), grown = _pool_size(x.shape[2:], kernel, stride, pads, (1, 1), _bool(ceil_mode, "ceil_mode", who), who)
    divisor = _divisor(x.shape[2:], kernel, stride, pads, (oh, ow),
                       _bool(count_include_pad, "count_include_pad", who),
                       x.dtype if x.dtype.kind == "f" else np.dtype(np.float64))
    n, c = x.shape[:2]
    cols = Unfold.apply(x, kernel_size=kernel, dilation=(1, 1), padding=grown, stride=stride)
    sums = cols.reshape(n, c, kernel[0] * kernel[1], oh * ow).sum(axis=2).reshape(n, c, oh, ow)
    return sums / divisor


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """The mean over equal tiles of each image, output (N, C, *output_size): 1 (or (1, 1)) is the mean of every
    channel (global average pooling); other sizes must divide H and W (the tiles are then avg_pool2d's windows)."""
    x = _tensor(input)
    _image(x, "adaptive_avg_pool2d")
    oh, ow = _pair(output_size, "output_size", "adaptive_avg_pool2d")
    if (oh, ow) == (1, 1):
        return x.mean(axis=(2, 3), keepdims=True)
    h, w = x.shape[2:]
    if h % oh or w % ow:
        raise ValueError(f"adaptive_avg_pool2d: output_size {(oh, ow)} must divide the input's {(h, w)} here "
                         f"(PyTorch's uneven tiles are not implemented)")
    return avg_pool2d(x, (h // oh, w // ow))


__all__ = ["conv1d", "conv2d", "conv_transpose2d", "unfold", "fold", "max_pool2d", "avg_pool2d",
           "adaptive_avg_pool2d", "Conv2d", "ConvTranspose2d", "Conv2dWeight", "Unfold", "Fold", "MaxPool2d"]
