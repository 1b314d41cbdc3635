"""The chapter's plots, checked through their artists' data (Agg backend, no pyplot state)."""

from __future__ import annotations

import base64
import os
import struct
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from conftest import require
from matplotlib.figure import Figure
from notebooks import ROOT, count, execute, have_jupyter

import tinygrad_edu as tg
from tinygrad_edu import nn, viz
from tinygrad_edu.viz import plots
from tinygrad_edu.viz.plots import ELONGATED_BOWL_MINIMUM, elongated_bowl, image_side


def test_no_pyplot_state():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = viz.activation_functions(("sigmoid",))
    assert isinstance(fig, Figure) and plt.get_fignums() == before


def test_image_side():
    assert image_side(64) == 8 and image_side(784) == 28
    with pytest.raises(ValueError, match="perfect square.*bias"):
        image_side(785)
    with pytest.raises(ValueError, match="64 for the 8×8 digits"):
        viz.show_image(np.zeros(50))


def test_show_image_and_grid():
    rng = np.random.default_rng(0)
    X = rng.random((12, 64))
    fig = viz.show_image(X[3], label=7)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), X[3].reshape(8, 8))
    assert fig.axes[0].get_title() == "label 7"
    grid = viz.image_grid(X, labels=np.arange(12), predictions=np.r_[np.arange(11), 0], ncols=5)
    shown = [ax for ax in grid.axes if ax.images]
    assert len(shown) == 12
    np.testing.assert_array_equal(shown[11].images[0].get_array(), X[11].reshape(8, 8))
    assert shown[11].get_title() == "11 → 0" and shown[11].title.get_color() == "#c0392b"


def test_weight_images_equal_the_reshaped_rows():
    W = np.random.default_rng(1).normal(size=(10, 784))
    fig = viz.weight_images(W, rows=[0, 9])
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["class 0", "class 9"]
    np.testing.assert_array_equal(panels[1].images[0].get_array(), W[9].reshape(28, 28))
    lo, hi = panels[0].images[0].get_clim()
    assert lo == -hi == -np.abs(W[[0, 9]]).max()
    # the chapter's W with the bias absorbed as a last column: the bias is dropped
    Wb = np.random.default_rng(2).normal(size=(3, 65))
    img = [ax for ax in viz.weight_images(tg.tensor(Wb), rows=[2], what="hidden unit").axes if ax.images][0]
    np.testing.assert_array_equal(img.images[0].get_array(), Wb[2, :64].reshape(8, 8))
    with pytest.raises(ValueError, match="out of range"):
        viz.weight_images(W, rows=[10])


def test_activation_derivatives_come_from_the_engine():
    x = np.linspace(-3, 3, 61)
    fig = viz.activation_functions(x=x)
    assert [ax.get_title() for ax in fig.axes] == ["heaviside", "sigmoid", "relu", "tanh"]
    s = 1 / (1 + np.exp(-x))
    expected = {"heaviside": np.zeros_like(x), "sigmoid": s * (1 - s), "relu": (x > 0).astype(float),
                "tanh": 1 - np.tanh(x) ** 2}
    for ax in fig.axes:
        f, df = ax.lines[0], ax.lines[1]
        np.testing.assert_allclose(df.get_ydata(), expected[ax.get_title()], atol=1e-12)
        np.testing.assert_array_equal(f.get_xdata(), x)
    with pytest.raises(ValueError, match="unknown activation 'sine'; valid names: 'sigmoid'"):
        viz.activation_functions(("sine",))  # the names are nn.ACTIVATIONS'
    with pytest.raises(ValueError, match="softmax is not elementwise"):
        viz.activation_functions(("softmax",))
    with pytest.raises(ValueError, match="log_softmax is not elementwise"):
        viz.activation_functions(("relu", "log_softmax"))
    fig = viz.activation_functions(("gelu", "hardtanh"), x=np.array([-1.5, 0.5, 1.0]))  # the course's others too
    np.testing.assert_array_equal(fig.axes[1].lines[1].get_ydata(), [0.0, 1.0, 0.0])  # hardtanh'(±1) = 0


def test_training_curves_from_lists_and_history():
    class History:
        loss = [1.0, 0.5, 0.25]
        val_loss = [1.1, 0.6, 0.4]
        acc = [0.5, 0.7, 0.9]

    fig = viz.training_curves(History())
    assert len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), [1.1, 0.6, 0.4])
    np.testing.assert_array_equal(fig.axes[1].lines[0].get_xdata(), [1, 2, 3])
    assert len(viz.training_curves(loss=[3, 2, 1]).axes) == 1
    with pytest.raises(ValueError, match="needs a loss"):
        viz.training_curves({"accuracy": [0.1]})


def test_confusion_matrix_cells_sum_to_the_samples():
    rng = np.random.default_rng(3)
    t, p = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    counts = nn.confusion_matrix(t, p)
    assert counts.sum() == 200 and counts[t[0], p[0]] >= 1
    fig = viz.confusion_matrix(t, p)
    shown = fig.axes[0].images[0].get_array()
    assert shown.sum() == 200
    np.testing.assert_array_equal(shown, counts)
    assert str(counts[4, 2]) == fig.axes[0].texts[4 * 10 + 2].get_text()
    with pytest.raises(ValueError, match="integer class labels"):
        viz.confusion_matrix([0.5], [1.0])


def test_misclassified():
    X = np.random.default_rng(4).random((6, 64))
    fig = viz.misclassified(X, [0, 1, 2, 3, 4, 5], [0, 1, 9, 3, 4, 8])
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["2 → 9", "5 → 8"]
    np.testing.assert_array_equal(panels[1].images[0].get_array(), X[5].reshape(8, 8))
    assert "no misclassified" in viz.misclassified(X, [1] * 6, [1] * 6).axes[0].texts[0].get_text()


def test_gradient_descent_path_start_and_minimum():
    lrs = (0.05, 0.2, 0.3)
    fig = viz.gradient_descent(w0=(-1.0, 2.0), learning_rates=lrs, steps=15)
    assert len(fig.axes) == 3
    for ax, lr in zip(fig.axes, lrs):
        lines = {line.get_gid(): line for line in ax.lines}
        path = viz.descend(elongated_bowl, (-1.0, 2.0), lr, 15)
        np.testing.assert_allclose(np.c_[lines["path"].get_xdata(), lines["path"].get_ydata()], path)
        assert (lines["start"].get_xdata()[0], lines["start"].get_ydata()[0]) == (-1.0, 2.0)
        assert lines["start"].get_color() == "red" and lines["start"].get_marker() == "o"
        assert (lines["minimum"].get_xdata()[0], lines["minimum"].get_ydata()[0]) == ELONGATED_BOWL_MINIMUM
        assert lines["minimum"].get_color() == "red" and lines["minimum"].get_marker() == "x"
    assert "diverges" in fig.axes[2].get_title()  # λ = 0.3 > 2/8


def test_descend_uses_autograd_gradients():
    path = viz.descend(lambda w: (w * w).sum(), (1.0, -2.0), 0.25, 3)  # w ← w − λ·2w = w/2
    np.testing.assert_allclose(path, [[1, -2], [0.5, -1], [0.25, -0.5], [0.125, -0.25]])


def test_gradient_descent_finds_the_minimum_of_another_cost():
    def cost(w):
        return (w[0] - 0.3) ** 2 + 2 * (w[1] + 0.2) ** 2

    fig = viz.gradient_descent(cost, w0=(1.0, 1.0), learning_rates=(0.1,), steps=5)
    m = {line.get_gid(): line for line in fig.axes[0].lines}["minimum"]
    np.testing.assert_allclose([m.get_xdata()[0], m.get_ydata()[0]], [0.3, -0.2], atol=1e-3)


# ---------------------------------------------------------------------------------------------------------------
# Display: a fresh Jupyter kernel shows the library's figures with no magic and no pyplot call; once
# ---------------------------------------------------------------------------------------------------------------


def bare_ipython(monkeypatch):
    """A stand-in for the running IPython: its real display formatters, as a fresh kernel has them."""
    IPython = pytest.importorskip("IPython")
    from IPython.core.formatters import DisplayFormatter

    shell = types.SimpleNamespace(display_formatter=DisplayFormatter())
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    return shell


def test_figures_show_as_png_in_ipython(monkeypatch):
    shell = bare_ipython(monkeypatch)
    fig = viz.activation_functions(("sigmoid",))
    assert "image/png" not in shell.display_formatter.format(fig)[0]  # what a fresh kernel did: the repr only
    plots._show_figures_in_ipython()  # what importing the module does inside IPython
    model = nn.MLP([1, 2, 1], output_activation="identity", generator=np.random.default_rng(0))
    history = tg.fit(model, (np.zeros((4, 1)), np.zeros((4, 1))), "mse", tg.optim.SGD(model.parameters(), lr=0.1),
                     epochs=2, progress=False)
    own = Figure(figsize=(4, 3))  # a notebook's own Figure, made without pyplot, shows too
    own.subplots().plot([0, 1])
    for figure in (fig, history.plot(), own):
        data, _ = shell.display_formatter.format(figure)
        png = base64.b64decode(data["image/png"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        size = np.array(struct.unpack(">II", png[16:24]))  # the IHDR chunk
        expected = figure.get_size_inches() * figure.dpi  # at its dpi, give or take the tight crop
        assert np.all(np.abs(size - expected) <= 0.2 * expected), (size, expected)


def test_a_printer_already_there_is_kept(monkeypatch):
    """`%matplotlib inline` registers its own PNG printer for Figures: it stays the only one (one image each)."""
    shell = bare_ipython(monkeypatch)
    png = shell.display_formatter.formatters["image/png"]

    def inline(fig):
        return b"inline's PNG"

    png.for_type(Figure, inline)
    plots._show_figures_in_ipython()
    assert png.lookup_by_type(Figure) is inline


def test_scripts_show_nothing():
    """Outside IPython the figures are only returned: pyplot (which opens windows) is never imported."""
    code = ("import sys, numpy as np, tinygrad_edu as tg\n"
            "figs = [tg.viz.activation_functions(), tg.viz.training_curves(loss=[1, 0.5]), tg.History().plot()]\n"
            "assert 'matplotlib.pyplot' not in sys.modules and 'IPython' not in sys.modules, sorted(sys.modules)\n"
            "figs[0].savefig(sys.argv[1])\n")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-c", code, f"{tmp}/a.png"], check=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert Path(tmp, "a.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_fresh_kernel_shows_each_figure_once(tmp_path):
    """In a real kernel: figures show with no magic and no pyplot call, and once each with `%matplotlib inline`."""
    require(have_jupyter(), "nbclient, nbformat and ipykernel are needed to run a kernel (pip install '.[test]')")
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cells = {
        "history": "import numpy as np\nimport tinygrad_edu as tg\n"
                   "model = tg.nn.MLP([1, 2, 1])\n"
                   "X = np.linspace(0, 1, 8)[:, None]\n"
                   "tg.fit(model, (X, X), 'mse', tg.optim.SGD(model.parameters(), lr=0.5), epochs=3, progress=False).plot()",
        "activations": "tg.viz.plots.activation_functions()",
        "magic": "%matplotlib inline",
        "inline": "tg.viz.plots.activation_functions()",
        "pyplot": "import matplotlib.pyplot as plt\ntg.viz.plots.training_curves(loss=[3, 2, 1])",
        "own": "from matplotlib.figure import Figure\nfig = Figure(figsize=(3, 2))\nfig.subplots().plot([0, 1])\nfig",
    }
    nb = new_notebook(cells=[new_code_cell(code, id=name) for name, code in cells.items()])
    executed = execute(nb, tmp_path)
    pngs = {c.id: count([c], "image/png") for c in executed.cells}
    assert pngs == {"history": 1, "activations": 1, "magic": 0, "inline": 1, "pyplot": 1, "own": 1}


def test_figures_fit_a_notebook_column():
    """At most 900 px wide at 100 dpi: wider, a notebook scales the whole figure down, its text with it."""
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 64)), rng.integers(0, 10, 40)
    figures = {
        "image_grid": viz.image_grid(X, y),
        "misclassified": viz.misclassified(X, y, (y + 1) % 10),
        "weight_images": viz.weight_images(rng.normal(size=(20, 64))),
        "activation_functions": viz.activation_functions(),
        "gradient_descent": viz.gradient_descent(steps=3),
        "confusion_matrix": viz.confusion_matrix(y, y, num_classes=10),
        "training_curves": viz.training_curves(loss=[2, 1], accuracy=[0.5, 0.7]),
    }
    wide = {name: fig.get_figwidth() for name, fig in figures.items() if fig.get_figwidth() * fig.dpi > 900}
    assert not wide


def test_optimizer_paths_and_their_comparison():
    paths = viz.optimizer_paths(viz.plots.elongated_bowl, (-1.2, 2.0), viz.default_optimizers(lr=0.2, momentum=0.3),
                                max_steps=100)
    steps = {name: len(p) - 1 for name, p in paths.items()}
    assert steps["Newton"] == 1  # a quadratic: one Newton step lands on the minimum
    assert max(steps["CG"], steps["L-BFGS"]) < min(steps["plain descent"], steps["momentum"]) < 100
    for p in paths.values():
        np.testing.assert_allclose(p[-1], ELONGATED_BOWL_MINIMUM, atol=1e-5)
        np.testing.assert_array_equal(p[0], [-1.2, 2.0])
    contours, costs = viz.optimizer_comparison(
        {"bowl": (viz.plots.elongated_bowl, (-1.2, 2.0), ELONGATED_BOWL_MINIMUM, (-2, 4), (-1.5, 2.5), paths)}, 100)
    labels = [t.get_text() for t in contours.axes[0].get_legend().get_texts()]
    assert labels == [f"{name}: {n} steps" for name, n in steps.items()]
    assert costs.axes[0].get_yscale() == "log"
    assert all(fig.get_figwidth() * fig.dpi <= 900 for fig in (contours, costs))
    assert len(viz.optimizer_paths(viz.rosenbrock, (-1.2, 1.0), {"d": lambda p: tg.optim.SGD(p, lr=1e-3)}, 20)["d"]) == 21
