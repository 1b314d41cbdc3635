"""The `tinygrad-edu` command line.

    tinygrad-edu demo        a short tour of the engine: an expression, its gradient, a tiny network learning XOR
    tinygrad-edu graph       draw the loss graph of an MLP on a batch of the 8x8 digits (tinygrad_edu/viz)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    import tinygrad_edu as tg

    print("1. An expression and its gradient")
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True, name="x")
    y = (x * x).sum()
    y.backward()
    print(f"   y = sum(x * x) = {y.item():g};  dy/dx = 2x = {x.grad.tolist()}")

    print("2. Gradients of gradients (create_graph=True)")
    t = tg.tensor(2.0, requires_grad=True)
    (d1,) = tg.grad(t**3, t, create_graph=True)
    (d2,) = tg.grad(d1, t)
    print(f"   d/dt t^3 at 2 = {d1.item():g} (3t^2);  d2/dt2 = {d2.item():g} (6t)")

    print(f"3. A 2-{args.hidden}-1 sigmoid network learning XOR with the chapter's MSE and gradient descent")
    rng = tg.manual_seed(args.seed)
    X = tg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = tg.tensor([[0.0], [1.0], [1.0], [0.0]])
    W1 = tg.randn(2, args.hidden, generator=rng, requires_grad=True, name="W1")
    b1 = tg.zeros(args.hidden, requires_grad=True, name="b1")
    W2 = tg.randn(args.hidden, 1, generator=rng, requires_grad=True, name="W2")
    b2 = tg.zeros(1, requires_grad=True, name="b2")
    params = [W1, b1, W2, b2]
    for step in range(args.steps + 1):
        prediction = ((X @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
        loss = tg.mse(prediction, Y)  # C = 1/N sum_i ||y_i - a_i||^2
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p -= args.lr * p.grad
        if step % (args.steps // 5) == 0:
            print(f"   step {step:5d}  C = {loss.item():.5f}")
    outputs = np.round(prediction.numpy().ravel(), 3).tolist()
    print(f"   outputs for (0,0) (0,1) (1,0) (1,1): {outputs}  (targets 0 1 1 0)")
    return 0 if loss.item() < 0.05 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinygrad-edu", description="A teaching-grade autograd engine on numpy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="a short tour of the engine (no data needed)")
    demo.add_argument("--hidden", type=int, default=4, help="hidden units of the XOR network (default 4)")
    demo.add_argument("--steps", type=int, default=3000, help="gradient-descent steps (default 3000)")
    demo.add_argument("--lr", type=float, default=2.0, help="learning rate λ (default 2.0)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(run=_demo)
    _add_graph_command(commands)
    return parser


def _graph(args: argparse.Namespace) -> int:
    from .viz.commands import run_graph  # the code lives in the viz package

    return run_graph(args)


def _add_graph_command(commands: argparse._SubParsersAction) -> None:
    graph = commands.add_parser("graph", help="draw the loss graph of an MLP on a batch of the 8x8 digits")
    graph.add_argument("--out", default="graph.svg", metavar="FILE",
                       help="the picture: .svg, .png, .pdf (need graphviz's dot) or .dot (default graph.svg)")
    graph.add_argument("--hidden", dest="hidden_sizes", type=int, nargs="*", default=[16], metavar="N",
                       help="hidden layer sizes (default 16; give none for a 64-10 network)")
    graph.add_argument("--activation", choices=("sigmoid", "relu", "tanh"), default="sigmoid",
                       help="hidden activation (default sigmoid)")
    graph.add_argument("--loss", choices=("mse", "ce"), default="mse",
                       help="mse: the chapter's C = 1/B sum ||y - a^L||^2 (sigmoid outputs); ce: softmax cross-entropy")
    graph.add_argument("--view", choices=("chapter", "forward", "backward"), default="chapter",
                       help="chapter: a^l, W^l, z^l, delta^l, C (default); forward: every operation; "
                            "backward: what backward() walks")
    graph.add_argument("--batch", type=int, default=8, help="samples in the batch (default 8)")
    graph.add_argument("--seed", type=int, default=0, help="random seed of the weights (default 0)")
    graph.add_argument("--depth", type=int, default=None, help="draw clusters for the first DEPTH scope levels only")
    graph.add_argument("--collapse", action="store_true", help="draw each layer as one box (forward/backward views)")
    graph.add_argument("--text", action="store_true", help="also print the graph as text, one line per operation")

    def one_line_error(message: str) -> None:  # bad arguments: one line on stderr, exit 2
        print(f"tinygrad-edu graph: error: {message}", file=sys.stderr)
        sys.exit(2)

    graph.error = one_line_error  # type: ignore[method-assign]
    graph.set_defaults(run=_graph)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("hidden", "steps"):
        if getattr(args, name, 1) <= 0:
            print(f"tinygrad-edu: error: --{name} must be a positive integer", file=sys.stderr)
            return 2
    return args.run(args)
