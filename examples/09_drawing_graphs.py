"""Drawing computation graphs: what the engine records while it computes, and what backward() walks.

The chapter derives backpropagation by hand (eqs. 104–120); the engine gets the same numbers by recording
every operation into a graph and walking it backwards. This script draws five graphs, each as .svg (with
graphviz's `dot`) and .dot, and checks the numbers written on them:

1. a scalar expression d = a·b + a²: the forward graph with values and gradients, and the backward graph,
   where the two paths from a add up (∂d/∂a = b + 2a);
2. one neuron a = σ(wᵀx + b) with the cost C = (y − a)² of eq. (99): the gradient drawn on w is
   −2 (y − a) σ'(z) x;
3. an MLP's loss on a batch of 8×8 digits: the forward graph (in full, and one box per module), the backward
   graph, and the chapter's view aˡ⁻¹ → zˡ → aˡ → C with δˡ = ∂C/∂zˡ; on a batch of 512 its activations are
   too large for the graph to keep, and `viz.trace()` keeps them;
4. a second derivative: σ''(x) by differentiating σ'(x), itself computed with create_graph=True, against
   the closed form σ(1 − σ)(1 − 2σ);
5. the network diagram of the chapter's figures, neurons and links, for 784-30-10 with biases.

    python examples/09_drawing_graphs.py           # full (figures in out/09_drawing_graphs)
    python examples/09_drawing_graphs.py --quick   # what CI runs: the same graphs, a temporary directory

Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import viz


def save(drawing, out: Path, name: str) -> list[Path]:
    """Write `name`.dot always and `name`.svg when graphviz's `dot` program is installed."""
    paths = [drawing.write(out / f"{name}.dot")]
    if viz.dot_available():
        paths.append(drawing.write(out / f"{name}.svg"))
    for path in paths:
        assert path.stat().st_size > 0, path
    print(f"   wrote {', '.join(str(p) for p in paths)}")
    return paths


def operations(listing: str) -> list[str]:
    """The operation names of a forward listing, in the order they ran ("%3 = Mul(%1, %2) -> ..." gives Mul)."""
    return re.findall(r"^%\d+ = ([A-Z]\w*)\(", listing, flags=re.MULTILINE)


def scalar_expression(out: Path) -> None:
    print("1. d = a·b + a² at a = 2, b = −3")
    a = tg.tensor(2.0, requires_grad=True, name="a")
    b = tg.tensor(-3.0, requires_grad=True, name="b")
    d = a * b + a**2
    d.name = "d"
    d.backward()
    print(viz.graph_text(d))  # every value and gradient: a small graph keeps them
    assert operations(viz.graph_text(d)) == ["Mul", "Pow", "Add"]
    assert a.grad.item() == -3.0 + 2 * 2.0 and b.grad.item() == 2.0  # ∂d/∂a = b + 2a, ∂d/∂b = a
    backward = viz.graph_text(d, view="backward")
    print(backward)
    # a feeds two operations, so two gradients arrive at AccumulateGrad(a) and are added
    assert backward.count("AccumulateGrad(a)") == 2 and backward.count("AccumulateGrad(b)") == 1
    save(tg.draw(d, title="d = a·b + a²"), out, "1_expression_forward")
    save(tg.draw(d, view="backward", title="what d.backward() walks"), out, "1_expression_backward")


def neuron(out: Path) -> None:
    print("\n2. One neuron a = σ(wᵀx + b) and the cost C = (y − a)² (eq. 99)")
    x = tg.tensor([1.0, -2.0, 0.5], name="x")
    w = tg.tensor([0.3, 0.1, -0.4], requires_grad=True, name="w")
    b = tg.tensor(0.2, requires_grad=True, name="b")
    y = 1.0
    z = w @ x + b
    a = z.sigmoid()
    C = (y - a) ** 2
    C.name = "C"
    C.backward()
    print(viz.graph_text(C))
    s = 1 / (1 + np.exp(-(w.numpy() @ x.numpy() + b.item())))
    by_hand = -2 * (y - s) * s * (1 - s) * x.numpy()
    assert np.allclose(w.grad.numpy(), by_hand, rtol=1e-12, atol=0)
    print(f"   ∂C/∂w drawn on w: {np.round(w.grad.numpy(), 4)}; by hand −2(y − a)σ'(z)x: {np.round(by_hand, 4)}")
    save(tg.draw(C, title="one neuron and its cost"), out, "2_neuron")


def mlp_loss(out: Path, batch: int) -> None:
    print(f"\n3. The chapter's MLP 64-16-10 (sigmoid, MSE) on {batch} digits")
    digits = tg.data.load_digits(dtype=np.float64)  # embedded in scikit-learn: no files, no network
    X, labels = digits.X_train[:batch], digits.y_train[:batch]
    tg.manual_seed(0)
    model = tg.nn.MLP([64, 16, 10], activation="sigmoid")
    params = dict(model.named_parameters())  # the names the drawings use: layers.0.weight, ...
    Y = tg.functional.one_hot(labels, 10)
    Y.name = "y"
    C = tg.mse(model(tg.tensor(X, name="x")), Y)
    C.name = "C"
    C.backward()

    forward = viz.graph_text(C, params=params)
    ops = operations(forward)
    print(f"   forward: {len(ops)} operations: {', '.join(ops)}")
    assert ops.count("MatMul") == 2 and ops.count("Sigmoid") == 2  # one per layer: z^l, then a^l = σ(z^l)
    backward = viz.graph_text(C, view="backward", params=params)
    assert sorted(re.findall(r"AccumulateGrad\(([\w.]+)\)", backward)) == sorted(params)  # every parameter
    chapter = viz.graph_text(C, view="chapter", params=params)
    print(chapter)
    assert "δ¹ = ∂C/∂z¹" in chapter and "δ² = ∂C/∂z²" in chapter and "W¹       (16, 65)" in chapter
    assert f"value: {C.item():.4g}" in chapter  # the numbers drawn are the engine's

    label = "C = 1/B Σ_i ‖y_i − a^{2}_i‖²"
    save(tg.draw(C, params=params, title="forward"), out, "3_mlp_forward")
    save(tg.draw(C, params=params, collapse=True, title="one box per module"), out, "3_mlp_modules")
    save(tg.draw(C, view="backward", params=params), out, "3_mlp_backward")
    save(tg.draw(C, view="chapter", params=params, loss_label=label), out, "3_mlp_chapter")

    # 512 digits: z¹ has 512 × 16 elements, more than a graph keeps (KEEP_ELEMENTS); a trace keeps everything
    X, labels = digits.X_train[:512], digits.y_train[:512]
    C = tg.mse(model(tg.tensor(X, name="x")), tg.functional.one_hot(labels, 10))
    C.backward()
    assert "δ¹ = ∂C/∂z¹: not kept" in viz.graph_text(C, view="chapter", params=params)
    with viz.trace() as tr:
        C = tg.mse(model(tg.tensor(X, name="x")), tg.functional.one_hot(labels, 10))
    C.backward()
    chapter = viz.graph_text(C, view="chapter", params=params, trace=tr)
    assert "not kept" not in chapter and "δ¹ = ∂C/∂z¹: norm" in chapter
    print(f"   a batch of 512: z¹ is {len(X)} × 16; inside viz.trace() the drawing keeps its δ¹ too")
    save(tg.draw(C, view="chapter", params=params, trace=tr, loss_label=label), out, "3_mlp_chapter_512")


def second_derivative(out: Path) -> None:
    print("\n4. A second derivative: σ''(x) at x = 0.7")
    x = tg.tensor(0.7, requires_grad=True, name="x")
    s = x.sigmoid()
    (ds,) = tg.grad(s, [x], create_graph=True)  # σ'(x) as a tensor with its own graph
    (dds,) = tg.grad(ds, [x], create_graph=True)  # so it can be differentiated again
    dds.name = "σ''(x)"
    v = 1 / (1 + np.exp(-0.7))
    print(f"   σ'(x) = {ds.item():.10f} (closed form σ(1 − σ) = {v * (1 - v):.10f})")
    print(f"   σ''(x) = {dds.item():.10f} (closed form σ(1 − σ)(1 − 2σ) = {v * (1 - v) * (1 - 2 * v):.10f})")
    assert abs(ds.item() - v * (1 - v)) < 1e-15 and abs(dds.item() - v * (1 - v) * (1 - 2 * v)) < 1e-15
    listing = viz.graph_text(dds)
    print(listing)
    # the graph of σ'' is made of σ's own backward, g·σ(1 − σ): the derivative of a derivative is another graph
    assert "Sigmoid(%0)" in listing and "Sub(1, %1)" in listing
    save(tg.draw(dds, title="σ''(x): the graph of a gradient"), out, "4_second_derivative")


def network(out: Path) -> None:
    print("\n5. The chapter's network diagram, 784-30-10 with biases")
    d = viz.network_diagram([784, 30, 10], bias=True)
    print(d.text)
    assert f"{784 * 30 + 30 * 10} links" in d.text and f"{785 * 30 + 31 * 10} parameters" in d.text
    save(d, out, "5_network")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="write into a temporary directory (CI)")
    parser.add_argument("--batch", type=int, default=4, help="digits in the MLP's batch (default 4)")
    parser.add_argument("--out", help="directory for the drawings (default out/09_drawing_graphs; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or (tmp if args.quick else "out/09_drawing_graphs"))
        out.mkdir(parents=True, exist_ok=True)
        if not viz.dot_available():
            print("graphviz's `dot` program is not installed: writing the .dot sources only "
                  "(apt install graphviz, or brew install graphviz, then run again for the .svg files)")
        scalar_expression(out)
        neuron(out)
        mlp_loss(out, args.batch)
        second_derivative(out)
        network(out)
        if args.quick and not args.out:
            print("(quick mode: a temporary directory, removed on exit; pass --out DIR to keep the drawings)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
