"""The chapter's plots, as matplotlib Figures.

Every function builds a `matplotlib.figure.Figure` directly (never pyplot), and returns it: nothing is kept
in pyplot's global state, so a notebook shows each figure once (as the cell's value), a script shows nothing
unless asked, a loop that makes hundreds of figures leaks none, and everything works with the non-interactive
Agg backend (`fig.savefig("x.png")`). matplotlib is imported when a function is first called. Importing this
module inside IPython (Jupyter) teaches it to show Figures as PNG images, as `%matplotlib inline` does: a
Figure made without pyplot would otherwise print as `<Figure size 450x320 with 1 Axes>` in a fresh kernel.

Images are flat vectors of p pixels (a row of X, a row of W): the side √p is inferred (8 for sklearn's digits,
28 for MNIST), and a p that is not a square is refused with an explanation. The chapter's convention: 0 is
white, 1 is black (colour map "gray_r").
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from math import isqrt
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

from ..data.dataset import image_side  # one definition for data and pictures
from ..nn.metrics import confusion_matrix as count_confusions  # this module's figure has the same name
from ..engine.tensor import Tensor


def _show_figures_in_ipython() -> None:
    """Make the running IPython (a Jupyter kernel) show matplotlib Figures as PNG images.

    Nothing changes outside IPython, nor when a PNG printer for Figures is already there (`%matplotlib inline`
    registers the same one, IPython's `print_figure`, and replaces this one when run later), so a figure is
    never shown twice. Registered by the class's name: matplotlib is not imported until a Figure is shown.
    """
    ipython = sys.modules.get("IPython")  # never imported here: a script has no IPython to teach
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        png.lookup_by_type("matplotlib.figure.Figure")
    except KeyError:
        from IPython.core.pylabtools import print_figure

        png.for_type_by_name("matplotlib.figure", "Figure", partial(print_figure, fmt="png", base64=True))


_show_figures_in_ipython()


MAX_WIDTH = 9.0  # inches: 900 px at matplotlib's 100 dpi, a notebook's output column


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None) -> tuple[Figure, np.ndarray]:
    """A Figure of nrows × ncols axes, at most MAX_WIDTH wide: a wider one is made narrower (panels shrink, fonts
    keep their size) rather than scaled down whole by the notebook, which would shrink its text."""
    from matplotlib.figure import Figure

    if figsize is not None and figsize[0] > MAX_WIDTH:
        figsize = (MAX_WIDTH, figsize[1] * MAX_WIDTH / figsize[0])
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _array(x: Any, what: str) -> np.ndarray:
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numbers, got an array of dtype {a.dtype}")
    return a


def _as_images(images: Any, what: str = "images") -> np.ndarray:
    """(n, p) or (n, side, side) or a single (p,) / (side, side) → (n, side, side)."""
    a = _array(images, what).astype(np.float64, copy=False)
    if a.ndim == 1:
        a = a[None]
    if a.ndim == 2 and a.shape[0] == a.shape[1] and isqrt(a.shape[1]) ** 2 != a.shape[1]:
        a = a[None]  # one square image given as a matrix
    if a.ndim == 2:
        side = image_side(a.shape[1])
        return a.reshape(a.shape[0], side, side)
    if a.ndim == 3 and a.shape[1] == a.shape[2]:
        return a
    raise ValueError(f"{what} must be flat vectors (n, p) or square images (n, side, side), got shape {a.shape}")


def _image(ax: Axes, img: np.ndarray, title: str | None, cmap: str, vmin: float | None = None,
           vmax: float | None = None, title_color: str = "black") -> Any:
    im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9, color=title_color)
    return im


def show_image(image: Any, label: Any = None, cmap: str = "gray_r", size: float = 3.0) -> Figure:
    """One image (a flat vector of p = side² pixels, or a side × side array), titled with its label."""
    img = _as_images(image, "image")
    if img.shape[0] != 1:
        raise ValueError(f"show_image draws one image, got {img.shape[0]}: use image_grid for several")
    fig, axes = _figure(figsize=(size, size))
    _image(axes[0, 0], img[0], None if label is None else f"label {label}", cmap)
    return fig


def image_grid(images: Any, labels: Any = None, predictions: Any = None, ncols: int = 10,
               max_images: int = 100, cmap: str = "gray_r", size: float = 1.1) -> Figure:
    """A grid of images, titled with their labels, or "label → prediction" (red when they differ)."""
    imgs = _as_images(images)[:max_images]
    n = imgs.shape[0]
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    labels = None if labels is None else np.asarray(_array(labels, "labels")).ravel()
    predictions = None if predictions is None else np.asarray(_array(predictions, "predictions")).ravel()
    for what, v in (("labels", labels), ("predictions", predictions)):
        if v is not None and len(v) < n:
            raise ValueError(f"{what} has {len(v)} entries for {n} images")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows))
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.set_axis_off()
            continue
        title, colour = None, "black"
        if labels is not None and predictions is not None:
            title = f"{labels[i]} → {predictions[i]}"
            colour = "black" if labels[i] == predictions[i] else "#c0392b"
        elif labels is not None:
            title = str(labels[i])
        _image(ax, imgs[i], title, cmap, title_color=colour)
    return fig


def misclassified(images: Any, y_true: Any, y_pred: Any, max_images: int = 20, ncols: int = 10) -> Figure:
    """The images whose prediction is wrong, titled "true → predicted" (a figure saying so if there is none)."""
    t = np.asarray(_array(y_true, "y_true")).ravel()
    p = np.asarray(_array(y_pred, "y_pred")).ravel()
    imgs = _as_images(images)
    if not (len(t) == len(p) == imgs.shape[0]):
        raise ValueError(f"got {imgs.shape[0]} images, {len(t)} labels and {len(p)} predictions: they must match")
    wrong = np.flatnonzero(t != p)
    if wrong.size == 0:
        fig, axes = _figure(figsize=(4, 1))
        axes[0, 0].set_axis_off()
        axes[0, 0].text(0.5, 0.5, f"no misclassified example among {len(t)}", ha="center", va="center")
        return fig
    fig = image_grid(imgs[wrong], t[wrong], p[wrong], ncols=ncols, max_images=max_images)
    fig.suptitle(f"{wrong.size} of {len(t)} misclassified (true → predicted)"
                 + (f", first {max_images} shown" if wrong.size > max_images else ""), fontsize=10)
    return fig


def weight_images(weights: Any, rows: Sequence[int] | None = None, what: str = "class",
                  titles: Sequence[str] | None = None, cmap: str = "RdBu_r", ncols: int = 10,
                  size: float = 1.6, drop_bias: str | bool = "auto") -> Figure:
    """Rows of a weight matrix as images: the weights a class (or a hidden unit) gives each pixel.

    `weights` is (units, p) as in PyTorch's `Linear.weight` or scikit-learn's `coef_` (the perceptron's
    weights for "0" and "9": `weight_images(clf.coef_, rows=[0, 9])`). Red is positive, blue negative, on a
    scale symmetric around 0 shared by all panels. drop_bias="auto" drops a last column when p = side² + 1
    (the chapter's W^l with the bias absorbed); True always drops it, False never.
    """
    W = np.asarray(_array(weights, "weights"), dtype=np.float64)
    if W.ndim == 1:
        W = W[None]
    if W.ndim != 2:
        raise ValueError(f"weights must be a (units, p) matrix, got shape {W.shape}")
    p = W.shape[1]
    if drop_bias is True or (drop_bias == "auto" and isqrt(p) ** 2 != p and isqrt(p - 1) ** 2 == p - 1):
        W = W[:, :-1]
    rows = list(range(min(W.shape[0], 20))) if rows is None else [int(r) for r in rows]
    for r in rows:
        if not 0 <= r < W.shape[0]:
            raise ValueError(f"row {r} is out of range: the weights have {W.shape[0]} rows ({what}es 0..{W.shape[0] - 1})")
    if titles is not None and len(titles) != len(rows):
        raise ValueError(f"got {len(titles)} titles for {len(rows)} rows")
    imgs = _as_images(W[rows], "weights")
    vmax = float(np.abs(imgs).max()) or 1.0
    ncols = max(1, min(ncols, len(rows)))
    nrows = -(-len(rows) // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(size * ncols + 0.8, (size + 0.3) * nrows))
    im = None
    for i, ax in enumerate(axes.ravel()):
        if i >= len(rows):
            ax.set_axis_off()
            continue
        title = titles[i] if titles is not None else f"{what} {rows[i]}"
        im = _image(ax, imgs[i], title, cmap, -vmax, vmax)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return fig


def filters(weight: Any, channel: int | None = None, ncols: int = 8, size: float = 1.2, cmap: str = "RdBu_r") -> Figure:
    """A convolution's filters as a grid of small images: `weight` (out_channels, in_channels, kh, kw), as
    Conv2d.weight. One row per input channel (or only `channel`), one panel per output channel; red positive, blue
    negative, on one symmetric scale (a first layer's filters on MNIST: edge and stroke detectors)."""
    W = np.asarray(_array(weight, "weight"), dtype=np.float64)
    if W.ndim != 4:
        raise ValueError(f"weight must be (out_channels, in_channels, kh, kw), as Conv2d.weight, got shape {W.shape}")
    channels = range(W.shape[1]) if channel is None else [int(channel)]
    for c in channels:
        if not 0 <= c < W.shape[1]:
            raise ValueError(f"channel {c} is out of range: the weight has {W.shape[1]} input channels")
    panels = [(o, c) for c in channels for o in range(W.shape[0])]
    ncols = max(1, min(ncols, W.shape[0]))
    nrows = -(-len(panels) // ncols)
    vmax = float(np.abs(W).max()) or 1.0
    fig, axes = _figure(nrows, ncols, figsize=(size * ncols + 0.8, (size + 0.3) * nrows))
    im = None
    for i, ax in enumerate(axes.ravel()):
        if i >= len(panels):
            ax.set_axis_off()
            continue
        o, c = panels[i]
        im = _image(ax, W[o, c], f"filter {o}" + (f", in {c}" if W.shape[1] > 1 else ""), cmap, -vmax, vmax)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="weight")
    return fig


def feature_maps(maps: Any, image: Any = None, ncols: int = 8, size: float = 1.2, cmap: str = "viridis",
                 title: str | None = None) -> Figure:
    """The channels of one image's activations (C, H, W), or (1, C, H, W), as a grid, each on its own scale with
    its range written beneath ("all 0" for a map a relu cut everywhere, which its colours alone would not tell),
    after the input `image` if given: what each filter responds to in that digit. E.g.
    `feature_maps(model.features[:2](x[:1]), image=x[0])` for the first convolution and its activation."""
    A = np.asarray(_array(maps, "maps"), dtype=np.float64)
    if A.ndim == 4 and A.shape[0] == 1:
        A = A[0]
    if A.ndim != 3:
        raise ValueError(f"maps must be one image's channels (C, H, W) or (1, C, H, W), got shape {A.shape}")
    panels: list[tuple[np.ndarray, str, str, str | None]] = []
    if image is not None:
        panels.append((_as_images(image, "image")[0], "input", "gray_r", None))
    panels += [(A[c], f"channel {c}", cmap, _value_range(A[c])) for c in range(A.shape[0])]
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, figsize=(size * ncols + 0.4, (size + 0.5) * nrows + (0.3 if title else 0)))
    for i, ax in enumerate(axes.ravel()):
        if i >= len(panels):
            ax.set_axis_off()
            continue
        img, label, colours, values = panels[i]
        _image(ax, img, label, colours)
        if values is not None:
            ax.set_xlabel(values, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _value_range(a: np.ndarray) -> str:
    low, high = float(a.min()), float(a.max())
    return f"all {low:.2g}" if low == high else f"{low:.2g} to {high:.2g}"


def activation_functions(names: Sequence[str] = ("heaviside", "sigmoid", "relu", "tanh"),
                         x: Any = None) -> Figure:
    """Each activation σ and its derivative σ' computed by the engine (autograd through σ at every x).

    The engine's conventions show: heaviside' is 0 everywhere (its true derivative is a Dirac at 0, useless
    to gradient descent: the chapter's reason to move to the sigmoid), relu'(0) = 0. `names` are those of
    `nn.ACTIVATIONS`, except softmax and log_softmax.
    """
    from ..nn.layers import activation, activation_name

    xs = np.linspace(-5, 5, 1001) if x is None else np.asarray(_array(x, "x"), dtype=np.float64).ravel()
    names = [activation_name(name) for name in names]
    for name in set(names) & {"softmax", "log_softmax"}:  # the sum trick below needs elementwise functions
        raise ValueError(f"{name} is not elementwise (each output depends on every input): it has no curve σ'(x)")
    fig, axes = _figure(1, len(names), figsize=(2.6 * len(names), 2.9))
    for ax, name in zip(axes[0], names):
        t = Tensor(xs, requires_grad=True)
        y = activation(name)(t)
        y.sum().backward()  # d(Σ σ(x_i))/dx_i = σ'(x_i): each x_i only affects its own term
        ax.plot(xs, y.data, color="#1f77b4", lw=2, label="σ(x)")
        ax.plot(xs, t.grad.data, color="#d62728", lw=1.5, ls="--", label="σ'(x), by autograd")
        ax.axhline(0, color="#999999", lw=0.5)
        ax.axvline(0, color="#999999", lw=0.5)
        ax.set_title(name)
        ax.set_xlabel("x")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=9)
    return fig


MARKERS_UP_TO = 50  # epochs: training_curves marks each one up to this many
LOG_SPAN = 100  # training_curves' automatic log scale: when the loss spans more than this factor

_CURVE_KEYS = {
    "loss": ("loss", "train_loss"),
    "val_loss": ("val_loss", "test_loss", "valid_loss"),
    "accuracy": ("accuracy", "acc", "train_accuracy", "train_acc"),
    "val_accuracy": ("val_accuracy", "val_acc", "test_accuracy", "test_acc", "valid_accuracy"),
}


def _history_get(history: Any, keys: Sequence[str]) -> Any:
    if hasattr(history, "history") and isinstance(history.history, Mapping):  # Keras' History
        history = history.history
    for k in keys:
        if isinstance(history, Mapping) and k in history:
            return history[k]
        if not isinstance(history, Mapping) and getattr(history, k, None) is not None:
            return getattr(history, k)
    return None


def training_curves(history: Any = None, *, loss: Sequence[float] | None = None,
                    val_loss: Sequence[float] | None = None, accuracy: Sequence[float] | None = None,
                    val_accuracy: Sequence[float] | None = None, log_loss: bool | None = None,
                    title: str | None = None) -> Figure:
    """Loss (and accuracy, if given) per epoch: from lists, or from a History-like object with per-epoch lists
    (attributes or keys loss / val_loss / accuracy / val_accuracy; `train_loss`, `acc`, `test_loss`... also
    accepted; `tinygrad_edu.fit`'s History works, and so does Keras'). A curve that is all NaN (no validation
    data, no accuracy for a regression) is left out. A History with no epoch yet gives an empty figure.

    Epochs are whole numbers on the axis, and each has a marker while there are at most MARKERS_UP_TO of them
    (beyond, markers would merge into a thick band). log_loss: True or False, or None (default) for a log scale
    when the loss, all positive, spans more than LOG_SPAN (on a linear axis the end of such a curve looks flat).
    """
    curves = dict(loss=loss, val_loss=val_loss, accuracy=accuracy, val_accuracy=val_accuracy)
    if history is not None:
        for name, keys in _CURVE_KEYS.items():
            if curves[name] is None:
                curves[name] = _history_get(history, keys)
    values = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in curves.items() if v is not None and len(v)}
    values = {k: v for k, v in values.items() if not np.isnan(v).all()}
    if "loss" not in values and "val_loss" not in values:
        if history is not None and any(v is not None and len(v) == 0 for v in curves.values()):
            fig, axes = _figure(figsize=(4.5, 3.2))  # a History before its first epoch
            axes[0, 0].text(0.5, 0.5, "no epoch trained yet", ha="center", va="center")
            axes[0, 0].set_axis_off()
            return fig
        raise ValueError("training_curves needs a loss: pass loss=[...] or a history with a 'loss' list")
    from matplotlib.ticker import MaxNLocator

    panels = [("loss", "val_loss")] + ([("accuracy", "val_accuracy")] if {"accuracy", "val_accuracy"} & set(values) else [])
    if log_loss is None:
        losses = np.concatenate([values[k] for k in ("loss", "val_loss") if k in values])
        losses = losses[np.isfinite(losses)]
        log_loss = losses.size > 0 and losses.min() > 0 and losses.max() > LOG_SPAN * losses.min()
    fig, axes = _figure(1, len(panels), figsize=(4.5 * len(panels), 3.2))
    for ax, (train, val) in zip(axes[0], panels):
        for key, style in ((train, "-"), (val, "--")):
            if key in values:
                v = values[key]
                ax.plot(np.arange(1, len(v) + 1), v, style, marker="o" if len(v) <= MARKERS_UP_TO else None, ms=3,
                        label=("validation" if key.startswith("val") else "training"))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # no epoch 2.5, no 600
        ax.set_ylabel(train)
        if train == "loss" and log_loss:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None, normalize: bool = False,
                     class_names: Sequence[str] | None = None) -> Figure:
    """The confusion matrix `nn.confusion_matrix(y_true, y_pred, num_classes)` as an image: rows are true
    classes, columns predictions, counts written in the cells (normalize=True: each row divided by its class
    size, so the diagonal is the per-class recall)."""
    counts = count_confusions(y_true, y_pred, num_classes)
    k = counts.shape[0]
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    fig, axes = _figure(figsize=(0.45 * k + 2.2, 0.45 * k + 1.6))
    ax = axes[0, 0]
    im = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{counts.sum()} samples, accuracy {accuracy:.1%}", fontsize=10)
    if k <= 20:
        threshold = shown.max() / 2 if shown.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{shown[i, j]:.2f}" if normalize else str(counts[i, j])
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > threshold else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Gradient descent on a 2-D cost, with the engine
# ---------------------------------------------------------------------------------------------------------------


def elongated_bowl(w: Tensor) -> Tensor:
    """The default 2-D cost: C(w) = ½ (u² + 8 v²) in coordinates (u, v) rotated by 30° around w* = (1, 0.5).

    Its Hessian has eigenvalues 1 and 8, so gradient descent converges for λ < 2/8 = 0.25, zig-zags as λ
    approaches it, and crawls along the flat direction when λ is small: the chapter's "too small? too big?"
    """
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    dx, dy = w[0] - 1.0, w[1] - 0.5
    u = c * dx + s * dy
    v = -s * dx + c * dy
    return 0.5 * (u * u + 8.0 * v * v)


ELONGATED_BOWL_MINIMUM = (1.0, 0.5)


def descend(cost: Callable[[Tensor], Tensor], w0: Sequence[float], lr: float, steps: int) -> np.ndarray:
    """Gradient descent w ← w − λ dC/dw (eq. 103), the gradient by autograd; returns the iterates w^(0..steps)
    as rows (fewer if they stop being finite: the descent diverged)."""
    if not lr > 0:
        raise ValueError(f"the learning rate λ must be positive, got {lr}")
    if not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    from ..engine.autograd import grad
    from ..engine.tensor import no_grad

    w = Tensor(np.asarray(w0, dtype=np.float64), requires_grad=True)
    path = [w.data.copy()]
    for _ in range(steps):
        c = cost(w)
        if c.size != 1:
            raise ValueError(f"the cost must return a scalar, got shape {c.shape}")
        (g,) = grad(c, w)
        with no_grad():
            w -= lr * g
        if not np.all(np.isfinite(w.data)):
            break
        path.append(w.data.copy())
    return np.array(path)


def _minimum(cost: Callable[[Tensor], Tensor], xs: np.ndarray, ys: np.ndarray, grid: np.ndarray,
             lr: float) -> np.ndarray:
    i, j = np.unravel_index(np.nanargmin(grid), grid.shape)
    start = np.array([xs[j], ys[i]])
    path = descend(cost, start, lr, 500)  # refine the grid's best point
    end = path[-1]
    return end if float(cost(Tensor(end)).item()) <= grid[i, j] else start


def gradient_descent(cost: Callable[[Tensor], Tensor] | None = None, w0: Sequence[float] = (-1.2, 2.0),
                     learning_rates: Sequence[float] = (0.02, 0.12, 0.235), steps: int = 30,
                     minimum: Sequence[float] | None = None, xlim: tuple[float, float] | None = None,
                     ylim: tuple[float, float] | None = None, levels: int = 25) -> Figure:
    """Gradient descent on the contours of a 2-D cost C(w), one panel per learning rate λ.

    The path of the iterates w^(k) (white), the start w^(0) (red dot) and the minimum where dC/dw = 0 (red
    cross); C is minimal in the yellow area. `cost` maps a Tensor of shape (2,) to a scalar Tensor (default:
    `elongated_bowl`); `minimum` defaults to the best grid point refined by descent.
    """
    from matplotlib.lines import Line2D

    if cost is None:
        cost = elongated_bowl
        minimum = ELONGATED_BOWL_MINIMUM if minimum is None else minimum
    if not learning_rates:
        raise ValueError("give at least one learning rate")
    start = np.asarray(w0, dtype=np.float64)
    if start.shape != (2,):
        raise ValueError(f"w0 must be a point of the plane (2 numbers), got shape {start.shape}")
    paths = [descend(cost, start, float(lr), steps) for lr in learning_rates]
    centre = np.asarray(minimum, dtype=np.float64) if minimum is not None else start
    span = max(np.abs(start - centre).max() * 1.5, 0.5)
    xlim = xlim or (centre[0] - span, centre[0] + span)
    ylim = ylim or (centre[1] - span, centre[1] + span)
    X, Y, grid = _costs_on_grid(cost, xlim, ylim)
    xs, ys = X[0], Y[:, 0]
    if minimum is None:
        centre = _minimum(cost, xs, ys, grid, float(min(learning_rates)))
    fig, axes = _figure(1, len(learning_rates), figsize=(3.6 * len(learning_rates), 3.6))
    for ax, lr, path in zip(axes[0], learning_rates, paths):
        ax.contourf(X, Y, grid, levels=levels, cmap="viridis_r")
        ax.contour(X, Y, grid, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
        ax.plot(path[:, 0], path[:, 1], "-o", color="white", lw=1.2, ms=3, label="path", gid="path")
        ax.plot([start[0]], [start[1]], "o", color="red", ms=8, label="start w(0)", gid="start")
        ax.plot([centre[0]], [centre[1]], "x", color="red", ms=11, mew=2.5, label="minimum", gid="minimum")
        first, last = (float(cost(Tensor(p)).item()) for p in (path[0], path[-1]))
        diverged = len(path) < steps + 1 or not last < first  # the cost grew: λ is too big
        ax.set_title(f"λ = {lr:g}: " + ("diverges" if diverged else f"{steps} steps"), fontsize=10)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_aspect("equal")
    handles = [Line2D([], [], color="red", marker="o", ls="", label="start $w^{(0)}$"),
               Line2D([], [], color="red", marker="x", mew=2, ls="", label="minimum, dC/dw = 0")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Beyond gradient descent: the paths of several optimizers on one contour plot
# ---------------------------------------------------------------------------------------------------------------


def rosenbrock(w: Tensor) -> Tensor:
    """Rosenbrock's banana, C(w) = 100 (w₂ − w₁²)² + (1 − w₁)²: a curved valley whose floor falls slowly to the
    minimum (1, 1). Descent zig-zags across the valley; methods that use curvature follow its floor."""
    return 100.0 * (w[1] - w[0] * w[0]) ** 2 + (1.0 - w[0]) ** 2


ROSENBROCK_MINIMUM = (1.0, 1.0)


def default_optimizers(lr: float, momentum: float = 0.9) -> dict[str, Callable[[list[Tensor]], Any]]:
    """The chapter's descent (step λ = lr), momentum (the same λ), CG, L-BFGS (strong Wolfe line searches)
    and Newton, each a function params -> optimizer; the last three take one iteration per step."""
    from .. import optim

    return {
        "plain descent": lambda p: optim.SGD(p, lr=lr),
        "momentum": lambda p: optim.SGD(p, lr=lr, momentum=momentum),
        "CG": lambda p: optim.CG(p, max_iter=1, max_eval=25, tolerance_change=0),
        "L-BFGS": lambda p: optim.LBFGS(p, max_iter=1, max_eval=25, tolerance_change=0, line_search_fn="strong_wolfe"),
        "Newton": lambda p: optim.Newton(p, max_iter=1, tolerance_change=0),
    }


def optimizer_paths(cost: Callable[[Tensor], Tensor], w0: Sequence[float],
                    optimizers: Mapping[str, Callable[[list[Tensor]], Any]], max_steps: int = 1000,
                    gtol: float = 1e-6) -> dict[str, np.ndarray]:
    """name -> the iterates w^(0..k) of each optimizer from w0, one row per step, until ‖∇C‖ < gtol (then k
    is the number of steps it needed) or max_steps. An optimizer whose step takes a closure gets one that
    returns C; the others get C.backward() before step()."""
    from ..engine.autograd import grad

    paths = {}
    for name, make in optimizers.items():
        w = Tensor(np.asarray(w0, dtype=np.float64), requires_grad=True)
        opt = make([w])
        path = [w.data.copy()]
        closure = getattr(opt, "takes_closure", False)
        for _ in range(max_steps):
            if closure:
                if float(np.linalg.norm(grad(cost(w), w)[0].data)) < gtol:
                    break
                opt.step(lambda: cost(w))
            else:
                opt.zero_grad()
                cost(w).backward()
                if float(np.linalg.norm(w.grad.data)) < gtol:
                    break
                opt.step()
            if not np.all(np.isfinite(w.data)):
                break
            path.append(w.data.copy())
        paths[name] = np.array(path)
    return paths


def _costs_on_grid(cost: Callable[[Tensor], Tensor], xlim: tuple[float, float], ylim: tuple[float, float],
                   points: int = 161) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys = np.linspace(*xlim, points), np.linspace(*ylim, points)
    X, Y = np.meshgrid(xs, ys)
    try:  # one vectorised evaluation when the cost broadcasts (it indexes w[0], w[1])
        grid = np.asarray(cost(Tensor(np.stack([X, Y]))).data, dtype=np.float64)
        if grid.shape != X.shape:
            raise ValueError
    except Exception:
        grid = np.array([[float(cost(Tensor(np.array([x, y]))).item()) for x in xs] for y in ys])
    return X, Y, grid


def _costs_along(cost: Callable[[Tensor], Tensor], path: np.ndarray) -> np.ndarray:
    try:  # one evaluation for the whole path when the cost broadcasts
        values = np.asarray(cost(Tensor(np.ascontiguousarray(path.T))).data, dtype=np.float64)
        if values.shape == (len(path),):
            return values
    except Exception:
        pass
    return np.array([float(cost(Tensor(p)).item()) for p in path])


PATH_STYLES = {"plain descent": ("white", "o"), "momentum": ("#ffb000", "s"), "CG": ("#00c0ff", "^"),
               "L-BFGS": ("#ff3db5", "D"), "Newton": ("red", "*")}


def optimizer_comparison(problems: Mapping[str, tuple[Callable[[Tensor], Tensor], Sequence[float], Sequence[float],
                                                       tuple[float, float], tuple[float, float],
                                                       Mapping[str, np.ndarray]]],
                         max_steps: int | None = None) -> tuple[Figure, Figure]:
    """Two figures: the paths on the contours of each cost (one panel per problem, each path labelled with
    its number of steps), and C − C(minimum) against the step on a log scale.

    `problems`: title -> (cost, start, minimum, xlim, ylim, paths from `optimizer_paths`). A path that ran
    `max_steps` steps without converging is labelled "> max_steps"."""
    from matplotlib.lines import Line2D

    fig, axes = _figure(1, len(problems), figsize=(4.4 * len(problems), 4.2))
    curves, curve_axes = _figure(1, len(problems), figsize=(4.4 * len(problems), 3.2))
    for ax, cax, (title, (cost, start, minimum, xlim, ylim, paths)) in zip(axes[0], curve_axes[0], problems.items()):
        X, Y, grid = _costs_on_grid(cost, xlim, ylim)
        best = float(cost(Tensor(np.asarray(minimum, dtype=np.float64))).item())
        shown = np.log10(grid - best + 1e-3)  # log levels: Rosenbrock's valley and its walls both show
        ax.contourf(X, Y, shown, levels=25, cmap="viridis_r")
        ax.contour(X, Y, shown, levels=25, colors="k", linewidths=0.3, alpha=0.4)
        handles = []
        for name, path in paths.items():
            colour, marker = PATH_STYLES.get(name, ("black", "."))
            steps = len(path) - 1
            label = f"{name}: {'> ' if max_steps is not None and steps >= max_steps else ''}{steps} steps"
            ax.plot(path[:, 0], path[:, 1], "-", color=colour, lw=1.2, marker=marker, ms=3.5,
                    markevery=max(1, steps // 40), gid=f"path {name}")
            values = _costs_along(cost, path) - best
            cax.semilogy(np.arange(len(values)), np.maximum(values, 1e-16), color=colour if colour != "white" else "gray",
                         marker=marker, ms=3, markevery=max(1, steps // 20), label=label)
            handles.append(Line2D([], [], color=colour, marker=marker, ls="-", label=label))
        ax.plot([start[0]], [start[1]], "o", color="red", ms=8, mec="white", gid="start")
        ax.plot([minimum[0]], [minimum[1]], "x", color="red", ms=11, mew=2.5, gid="minimum")
        ax.set(xlim=xlim, ylim=ylim, xlabel="$w_1$", ylabel="$w_2$", title=title)
        ax.set_aspect("equal")
        ax.legend(handles=handles, fontsize=7, loc="lower right", framealpha=0.85)
        cax.set(xlabel="step", ylabel="C − C(minimum)", title=title)
        cax.set_xscale("symlog", linthresh=10)
        cax.legend(fontsize=7, loc="best")
    return fig, curves
