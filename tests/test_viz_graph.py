"""Computation-graph drawings: DOT structure without `dot`, rendering with it, the missing-`dot` path, the CLI."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from conftest import require
from full_disk import run_with_file_size_limit

import tinygrad_edu as tg
from tinygrad_edu import viz
from tinygrad_edu.cli import loss_graph, main
from tinygrad_edu.viz.drawing import PNG_SCALE, DotNotFoundError


def node_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if re.match(r"\s*(v|op|b|acc|seed)\w* \[label=", line)]


def edge_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if "->" in line and "invis" not in line]


def small_graph(traced: bool = True):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    w = tg.tensor(0.5, requires_grad=True, name="w")
    if traced:
        with viz.trace() as tr:
            y = (w * x * x).sum()
        return x, w, y, tr
    return x, w, (w * x * x).sum(), None


def test_forward_structure_and_gradient_values():
    """The README's first graph shows every value and every gradient with no trace, as micrograd's draw_dot."""
    x, w, y, _ = small_graph(traced=False)
    before = viz.draw_graph(y).source
    assert before.count("not computed yet") == 5  # w, x and three intermediates
    y.backward()
    g = viz.draw_graph(y)
    src = g.source
    assert len(node_lines(src)) == 2 + 3 + 3  # two leaves, three ops, three op outputs
    assert len(edge_lines(src)) == 3 + 2 + 3  # inputs of Mul, Mul, Sum + op → value
    assert "data: [0.5, 1, 1.5]" in src and "data: [0.5, 2, 4.5]" in src and "data: 7" in src
    assert "grad: [1, 2, 3]" in src  # x.grad = 2 w x
    assert "grad: 14" in src  # w.grad = Σ x²
    assert "grad: [1, 1, 1]" in src and "grad: 1<" in src  # ∂y/∂(w x x), and ∂y/∂y
    assert "not computed" not in src and "not kept" not in src
    assert src.index("<B>w</B>") < src.index("<B>Mul</B>") < src.index("<B>Sum</B>")  # data-flow order
    assert "rankdir=TB" in src and "legend" not in src  # a handful of nodes: no legend unless asked
    assert "legend" in viz.draw_graph(y, legend=True).source
    assert "rankdir=LR" in viz.draw_graph(y, rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(y, rankdir="XY")


def test_constants_keep_their_names_values_and_scalars():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    c = tg.tensor([4.0, 5.0, 6.0], name="c")  # needs no gradient: no edge, but the node keeps it
    y = (x * c + np.array([1.0, 1.0, 1.0])) ** 2
    y.sum().backward()
    text = viz.graph_text(y)
    assert "input 'c' (3,) float64  data: [4, 5, 6]" in text
    assert "input 'constant' (3,) float64  data: [1, 1, 1]" in text
    assert re.search(r"= Pow\(%\d+, 2\)", text)  # the scalar exponent, without a trace
    assert "<B>Pow</B><BR/><FONT POINT-SIZE=\"9\" COLOR=\"#666666\">·, 2</FONT>" in viz.draw_graph(y).source


def test_large_intermediates_say_what_was_dropped_and_a_trace_keeps_them():
    from tinygrad_edu.engine.function import KEEP_ELEMENTS

    a = tg.tensor(np.arange(KEEP_ELEMENTS + 1.0), requires_grad=True, name="a")
    s = (a * 2).sum()
    s.backward()
    line = viz.graph_text(s).splitlines()[1]
    assert line.startswith("%1 = Mul(%0, 2)")
    assert line.count("not kept (4 097 > 4 096 elements): use viz.trace()") == 2  # data and grad
    with viz.trace() as tr:
        s = (a * 2).sum()
    s.backward()
    line = viz.graph_text(s, trace=tr).splitlines()[1]
    assert "not kept" not in line and "grad: norm" in line


def test_large_tensors_show_statistics():
    a = tg.tensor(np.arange(100.0), requires_grad=True, name="a")
    with viz.trace() as tr:
        s = (a * 2).sum()
    s.backward()
    text = viz.graph_text(s, trace=tr)
    assert "mean 49.5, std 28.9, min 0, max 99" in text
    assert "norm 20, mean 2, min 2, max 2" in text  # gradient 2 everywhere: ‖g‖ = 2·√100
    assert viz.summarize(np.array([1.0, np.nan, 3.0, 4.0, 5.0])).startswith("1 nan! ")


def test_text_listing_one_line_per_op():
    x, w, y, tr = small_graph()
    lines = viz.graph_text(y, trace=tr).splitlines()
    ops = [l for l in lines if re.match(r"%\d+ = [A-Z]\w*\(", l)]
    assert [l.split(" = ")[1].split("(")[0] for l in ops] == ["Mul", "Mul", "Sum"]
    assert lines[2].startswith("%2 = Mul(%0, %1)")


def test_params_names_scopes_depth_and_collapse():
    cost, model, tr = loss_graph([5, 4], "relu", "mse", batch=3, seed=0)
    params = dict(model.named_parameters())
    src = viz.draw_graph(cost, params=params, trace=tr).source
    for name in params:
        assert f"<B>{name}</B>" in src
    # a box for each Linear (MatMul + Add); none for the MLP, which only calls them, or a one-operation ReLU
    assert src.count("subgraph cluster_") == 3 and "MLP/layers.0" in src and "MLP/layers.1" not in src
    assert viz.draw_graph(cost, params=params, trace=tr, depth=0).source.count("subgraph cluster_") == 0
    assert viz.draw_graph(cost, params=params, trace=tr, depth=1).source.count("subgraph cluster_") == 1
    collapsed = viz.draw_graph(cost, params=params, trace=tr, collapse=True)
    assert len(collapsed.source) < len(src)
    assert "box3d" in collapsed.source and "ops: MatMul" not in src
    one = viz.draw_graph(cost, params=params, trace=tr, collapse=["layers.0"]).source
    assert one.count("box3d") == 1
    with pytest.raises(ValueError, match="no scope named"):
        viz.draw_graph(cost, trace=tr, collapse=["nope"])


def test_chapter_view_labels_and_delta():
    cost, model, tr = loss_graph([6], "sigmoid", "mse", batch=4, seed=1)
    g = viz.draw_graph(cost, view="chapter", params=dict(model.named_parameters()), trace=tr)
    src = g.source
    for label in ("a⁰ = x", "W¹", "z¹", "a¹", "W²", "z²", "δ² = ∂C/∂z²", "<B>C</B>", "z¹ = W¹ [a⁰; 1]"):
        assert label in src, label
    assert "<SUP>" not in src and "<SUB>" not in src  # misplaced by graphviz's SVG renderer
    assert "1/B" in src  # the legend says what δ includes
    assert "(6, 65)" in src  # W^1 = [weight | bias]
    # δ^L drawn equals the chapter's batch formula Δ^L = -(2/B)(Y - A^L) ⊙ σ'(Z^L)
    z2 = [t for t in tr.outputs.values() if t.shape == (4, 10) and t.grad_fn.name() == "AddBackward"][0]
    a = 1 / (1 + np.exp(-z2.data))
    y = tg.functional.one_hot(tg.data.load_digits().y_train[:4], 10).numpy()  # the batch's labels
    delta = -(2 / 4) * (y - a) * a * (1 - a)
    np.testing.assert_allclose(z2.grad.data, delta, rtol=1e-10)
    assert "norm " + viz.summarize(delta, kind="grad").split("norm ")[1].split(",")[0] in src
    text = g.text
    assert text.splitlines()[0].startswith("a⁰ = x") and "z²" in text


def test_chapter_view_refuses_a_non_mlp():
    x, w, y, tr = small_graph()
    with pytest.raises(ValueError, match="view='forward'"):
        viz.draw_graph(y, view="chapter", trace=tr)


def test_backward_view_and_create_graph():
    x, w, y, tr = small_graph()
    y.backward()
    src = viz.draw_graph(y, view="backward", trace=tr).source
    assert src.count("MulBackward") == 2 and src.count("SumBackward") == 1
    assert src.count("AccumulateGrad (") + src.count("AccumulateGrad scalar") == 2  # + one in the legend
    assert "∂C/∂C = 1" in src
    # a gradient built with create_graph=True has its own graph: d/dt t³ = 3t² = (t*t)*3 etc.
    t = tg.tensor(2.0, requires_grad=True, name="t")
    (d1,) = tg.grad(t**3, t, create_graph=True)
    assert d1.grad_fn is not None
    fwd = viz.draw_graph(d1, params={"t": t}).source
    assert "<B>t</B>" in fwd and "Backward" not in fwd
    back = viz.draw_graph(d1, view="backward").source
    assert "AccumulateGrad" in back and "Backward" in back


def test_escaping_of_names():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    weird = '<AddBackward> & "quotes" ]]'
    with viz.trace() as tr:
        y = (w * w).sum()
    src = viz.draw_graph(y, params={weird: w}, trace=tr).source
    assert "&lt;AddBackward&gt; &amp; &quot;quotes&quot; ]]" in src
    assert "<AddBackward>" not in src
    if shutil.which("dot"):
        viz.draw_graph(y, params={weird: w}, trace=tr).pipe(format="svg")  # dot accepts it


def test_bad_arguments():
    x, w, y, tr = small_graph()
    with pytest.raises(ValueError, match="unknown view"):
        viz.draw_graph(y, view="sideways")
    with pytest.raises(TypeError, match="Tensors"):
        viz.draw_graph(3.0)
    with pytest.raises(TypeError, match="named_parameters"):
        viz.draw_graph(y, params={"w": 3})
    with pytest.raises(ValueError, match="suffix|ending"):
        viz.draw_graph(y).write("graph.jpeg")


def test_trace_restores_the_engine():
    from tinygrad_edu.engine.function import Function

    before = Function.__dict__["apply"]
    with viz.trace() as outer:
        with viz.trace() as inner:
            a = tg.tensor([1.0], requires_grad=True) * 2
        b = a + 1
    assert Function.__dict__["apply"] is before
    assert len(inner) == 1 and len(outer) == 2
    c = b * 3  # not recorded any more
    assert c.grad_fn not in outer


def test_render_with_dot(tmp_path):
    require(shutil.which("dot") is not None, "graphviz's dot program (apt-get install graphviz)")
    x, w, y, tr = small_graph()
    y.backward()
    g = tg.draw(y, trace=tr)
    for suffix in ("svg", "png", "pdf", "dot"):
        path = g.write(tmp_path / f"g.{suffix}")
        assert path.stat().st_size > 100
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "g.pdf").read_bytes()[:4] == b"%PDF"
    bundle, metadata = g._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and bundle["text/plain"] == g.source
    png = bundle["image/png"]  # for untrusted notebooks and GitHub, which show no SVG
    assert png[:4] == b"\x89PNG"
    svg_width = float(re.search(r'<svg width="([\d.]+)pt"', bundle["image/svg+xml"]).group(1)) * 4 / 3  # CSS px
    png_width = int.from_bytes(png[16:20], "big")
    assert metadata["image/png"]["width"] == round(png_width / PNG_SCALE)  # drawn sharper, shown at the SVG's size
    assert abs(metadata["image/png"]["width"] - svg_width) <= 2


def test_without_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not viz.dot_available()
    x, w, y, tr = small_graph()
    g = tg.draw(y, trace=tr)
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "apt-get install graphviz" in bundle["text/plain"] and g.source in bundle["text/plain"]
    assert g._repr_svg_() is None
    with pytest.raises(DotNotFoundError, match="DOT source was written to .*g.dot"):
        g.write(tmp_path / "g.png")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert not (tmp_path / "g.png").exists()
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz"):
        g.pipe(format="svg")
    g.write(tmp_path / "h.dot")  # DOT never needs the program


WRITE_A_GRAPH = """
import sys
import numpy as np
import tinygrad_edu as tg
model = tg.nn.MLP([4, 8, 3], generator=np.random.default_rng(0))
with tg.viz.trace() as recorded:
    loss = tg.mse(model(np.ones((2, 4))), tg.tensor(np.zeros((2, 3))))
loss.backward()
tg.draw(loss, trace=recorded).write(sys.argv[1])
"""


@pytest.mark.parametrize("suffix", ["dot", "svg"])
def test_a_failed_write_leaves_the_old_file(tmp_path, suffix):
    if suffix == "svg":
        require(shutil.which("dot") is not None, "graphviz's dot program (apt-get install graphviz)")
    out = tmp_path / f"g.{suffix}"
    out.write_text("the previous drawing")
    result = run_with_file_size_limit(["-c", WRITE_A_GRAPH, str(out)], 2048, cwd=tmp_path)  # as on a full disk
    assert result.returncode != 0 and "File too large" in result.stderr
    assert out.read_text() == "the previous drawing"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary either


def test_cli_graph(tmp_path, capsys, monkeypatch):
    require(shutil.which("dot") is not None, "graphviz's dot program (apt-get install graphviz)")
    out = tmp_path / "loss.svg"
    assert main(["graph", "--out", str(out)]) == 0
    assert out.read_text().lstrip().startswith("<?xml") and "legend" in out.read_text()
    assert main(["graph", "--out", str(tmp_path / "f.dot"), "--view", "backward", "--hidden", "3", "--loss", "ce",
                 "--activation", "tanh", "--text"]) == 0
    assert "SoftmaxBackward" not in capsys.readouterr().out  # listing printed; ce is built from primitives
    assert main(["graph", "--out", str(tmp_path / "x.jpeg")]) == 2
    assert len([l for l in capsys.readouterr().err.splitlines() if l]) == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["graph", "--out", str(tmp_path / "c.dot"), "--hidden", "0"])
    assert exit_info.value.code == 2
    assert len([l for l in capsys.readouterr().err.splitlines() if l]) == 1
    assert main(["graph", "--out", str(tmp_path / "d.dot"), "--hidden", "none"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["graph", "--view", "sideways"])
    assert exit_info.value.code == 2
    assert len([l for l in capsys.readouterr().err.splitlines() if l]) == 1
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["graph", "--out", str(tmp_path / "nodot.png")]) == 1
    err = capsys.readouterr().err
    assert "nodot.dot" in err and len(err.strip().splitlines()) == 1


def test_chapter_view_of_an_mlp_given_as_params():
    model = tg.nn.MLP([4, 3, 2], "tanh", "sigmoid", generator=np.random.default_rng(0))
    x = tg.tensor(np.ones((5, 4)), name="x")
    with viz.trace() as tr:
        cost = tg.mse(model(x), tg.tensor(np.zeros((5, 2))))
    cost.backward()
    src = viz.draw_graph(cost, view="chapter", params=model, trace=tr).source
    assert "layers.2.weight + layers.2.bias" in src and "σ (tanh)" in src and "(3, 5)" in src


def rendered_width(drawing) -> float:
    """The drawing's width in CSS pixels, as a browser shows its SVG (graphviz writes points: 1 pt = 4/3 px)."""
    svg = drawing.pipe(format="svg", encoding="utf-8")
    return float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1)) * 4 / 3


def chapter_networks():
    """The issue's three drawings: the README's first graph, the 1-3-1 chapter view, a 784-300-10 forward."""
    x, w, y, _ = small_graph(traced=False)
    y.backward()
    yield "first", tg.draw(y)
    for sizes, view in (([1, 3, 1], "chapter"), ([784, 300, 10], "forward")):
        gen = np.random.default_rng(0)
        model = tg.nn.MLP(sizes, "sigmoid", "sigmoid", generator=gen)
        x = tg.tensor(gen.random((4, sizes[0])), name="x")
        loss = tg.mse(model(x), tg.tensor(np.eye(sizes[-1])[[0, 0, 0, 0]], name="y"))
        loss.backward()
        yield f"{'-'.join(map(str, sizes))} {view}", tg.draw(loss, view=view, params=model)


def test_the_chapters_drawings_fit_a_notebook_column_with_all_their_numbers():
    require(shutil.which("dot") is not None, "graphviz's dot program (apt-get install graphviz)")
    for what, drawing in chapter_networks():
        width = rendered_width(drawing)
        assert 100 < width <= viz.graph.MAX_WIDTH_PX, (what, width)
        assert "not kept" not in drawing.source and "not computed" not in drawing.source, what
        if what.endswith("forward"):  # shown at its natural size, not shrunk to fit: the text stays legible
            drawing.graph_attr.pop("size")
            assert rendered_width(drawing) <= viz.graph.MAX_WIDTH_PX


def test_direction_is_chosen_by_the_shape_of_the_graph():
    chain = tg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(20):
        chain = chain.tanh()
    assert viz.graph.choose_rankdir(viz.build_model(chain)) == "TB"  # a chain runs down the page
    many = [tg.tensor([float(i)], requires_grad=True, name=f"input {i}") for i in range(30)]
    fan_in = tg.stack(many).sum()  # thirty inputs side by side would be ~3 000 px across
    assert viz.graph.choose_rankdir(viz.build_model(fan_in)) == "LR"
    assert "rankdir=LR" in tg.draw(fan_in).source


def test_a_linear_layers_transposed_weight_is_an_arrow_not_two_nodes():
    model = tg.nn.Linear(3, 2)
    out = model(tg.tensor(np.ones((1, 3)), name="x")).sum()
    src = tg.draw(out, params=model).source
    assert "ᵀ (Transpose)" in src and "<B>Transpose</B>" not in src
    assert "MatMul(%1, %0ᵀ)" in viz.graph_text(out, params=model)
    assert "TransposeBackward" in tg.draw(out, view="backward").source  # the backward view shows what runs
