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
from tinygrad_edu.viz.drawing import DotNotFoundError


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
    x, w, y, tr = small_graph()
    before = viz.draw_graph(y, trace=tr).source
    assert before.count("not computed yet") == 5  # w, x and three intermediates
    y.backward()
    g = viz.draw_graph(y, trace=tr)
    src = g.source
    assert len(node_lines(src)) == 2 + 3 + 3  # two leaves, three ops, three op outputs
    assert len(edge_lines(src)) == 3 + 2 + 3  # inputs of Mul, Mul, Sum + op → value
    assert "grad: [1, 2, 3]" in src  # x.grad = 2 w x
    assert "grad: 14" in src  # w.grad = Σ x²
    assert "grad: [1, 1, 1]" in src  # ∂y/∂(w x x) is kept by the trace
    assert "not computed" not in src and "not retained" not in src
    assert src.index("<B>w</B>") < src.index("<B>Mul</B>") < src.index("<B>Sum</B>")  # data-flow order
    assert "rankdir=LR" in src and "legend" in src


def test_not_retained_without_trace_and_rankdir():
    x, w, y, _ = small_graph(traced=False)
    y.backward()
    src = viz.draw_graph(y, rankdir="TB", trace=viz.Trace()).source
    assert "rankdir=TB" in src
    assert "not retained" in src or "not kept" in src
    assert "grad: 14" in src
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(y, rankdir="XY")


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
    assert src.count("subgraph cluster_") >= 4  # MLP and its layers
    assert "MLP" in src and "layers.0" in src
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
    for label in ("a<SUP>0</SUP> = x", "W<SUP>1</SUP>", "z<SUP>1</SUP>", "a<SUP>1</SUP>", "W<SUP>2</SUP>",
                  "z<SUP>2</SUP>", "δ<SUP>2</SUP> = ∂C/∂z<SUP>2</SUP>", "<B>C</B>"):
        assert label in src, label
    assert "1/B" in src  # the legend says what δ includes
    assert "(6, 65)" in src  # W^1 = [weight | bias]
    # δ^L drawn equals the chapter's batch formula Δ^L = -(2/B)(Y - A^L) ⊙ σ'(Z^L)
    z2 = [r.output for r in tr.records.values() if r.output.shape == (4, 10) and r.output.grad_fn.name() == "AddBackward"][0]
    a = 1 / (1 + np.exp(-z2.data))
    y = tg.functional.one_hot(tg.data.load_digits().y_train[:4], 10).numpy()  # the batch's labels
    delta = -(2 / 4) * (y - a) * a * (1 - a)
    np.testing.assert_allclose(z2.grad.data, delta, rtol=1e-10)
    assert "norm " + viz.summarize(delta, kind="grad").split("norm ")[1].split(",")[0] in src
    text = g.text
    assert text.splitlines()[0].startswith("a^0 = x") and "z^2" in text


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
    bundle = g._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "<svg" in bundle["image/svg+xml"]


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
