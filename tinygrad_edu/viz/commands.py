"""`tinygrad-edu graph`: draw the loss graph of an MLP on one batch of scikit-learn's 8×8 digits.

    tinygrad-edu graph --out loss.svg                       # the chapter view of a 64-16-10 sigmoid MLP
    tinygrad-edu graph --out loss.png --view forward --hidden 32 16 --activation relu --loss ce
    tinygrad-edu graph --out loss.dot --text                # DOT needs no graphviz; --text prints the listing

The digits ship inside scikit-learn (`load_digits`), so no network is needed. Until `tinygrad_edu.nn` has an
`MLP(sizes, activation=, output_activation=)`, the network is built from plain tensors inside
`name_scope("MLP")` / `name_scope("layers.l")`, named like the module's parameters ("layers.0.weight").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ACTIVATIONS = ("sigmoid", "relu", "tanh")
LOSSES = ("mse", "ce")
LOSS_LABELS = {
    "mse": "C = 1/B Σ_{i} ‖y_{i} − a^{L}_{i}‖²",
    "ce": "C = −1/B Σ_{i} log softmax(z^{L}_{i})[y_{i}]",
}


class _PlainMLP:
    """z^l = a^{l-1} W^lᵀ + b^l (PyTorch's Linear layout), a^l = σ(z^l), in the scopes an nn.MLP would open."""

    def __init__(self, sizes: list[int], activation: str, output_activation: str, seed: int) -> None:
        import tinygrad_edu as tg

        rng = tg.manual_seed(seed)
        self.activation, self.output_activation = activation, output_activation
        self.params: dict[str, Any] = {}
        self.layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            bound = 1.0 / np.sqrt(n_in)
            w = tg.tensor(rng.uniform(-bound, bound, (n_out, n_in)), requires_grad=True, name=f"layers.{i}.weight")
            b = tg.tensor(rng.uniform(-bound, bound, n_out), requires_grad=True, name=f"layers.{i}.bias")
            self.params[w.name], self.params[b.name] = w, b
            self.layers.append((w, b))

    def named_parameters(self) -> Any:
        return iter(self.params.items())

    def __call__(self, x: Any) -> Any:
        import tinygrad_edu as tg
        from tinygrad_edu import functional as F

        with tg.name_scope("MLP"):
            a = x
            for i, (w, b) in enumerate(self.layers):
                with tg.name_scope(f"layers.{i}"):
                    z = a @ w.T + b
                name = self.output_activation if i == len(self.layers) - 1 else self.activation
                a = getattr(F, name)(z)
            return a


def build_mlp(sizes: list[int], activation: str, output_activation: str, seed: int) -> Any:
    """tinygrad_edu.nn.MLP when it exists, else the plain-tensor stand-in above."""
    try:
        from tinygrad_edu.nn import MLP  # type: ignore[attr-defined]

        import tinygrad_edu as tg

        tg.manual_seed(seed)
        return MLP(sizes, activation=activation, output_activation=output_activation)
    except (ImportError, AttributeError, TypeError):
        return _PlainMLP(sizes, activation, output_activation, seed)


def digits_batch(batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `batch` images of scikit-learn's digits, pixels scaled to [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data[:batch] / 16.0, data.target[:batch].astype(np.int64)


def loss_graph(hidden: list[int], activation: str, loss: str, batch: int, seed: int) -> tuple[Any, Any, Any]:
    """Run one traced forward and backward pass; return (loss tensor, model, trace)."""
    import tinygrad_edu as tg

    from .trace import trace

    X, labels = digits_batch(batch)
    sizes = [X.shape[1], *hidden, 10]
    model = build_mlp(sizes, activation, "sigmoid" if loss == "mse" else "identity", seed)
    x = tg.tensor(X, name="x")
    with trace() as tr:
        out = model(x)
        if loss == "mse":
            y = tg.tensor(np.eye(10)[labels], name="y (one-hot)")
            cost = tg.mse(out, y)
        else:
            y = tg.tensor(labels, name="y (labels)")
            cost = tg.cross_entropy(out, y)
    cost.name = "C"
    cost.backward()
    return cost, model, tr


def _fail(message: str, code: int = 2) -> int:
    print(f"tinygrad-edu graph: error: {message}", file=sys.stderr)
    return code


def run_graph(args: argparse.Namespace) -> int:
    """The `graph` subcommand (arguments registered in tinygrad_edu/cli.py)."""
    from .drawing import FORMATS, DotNotFoundError
    from .graph import draw_graph

    out = Path(args.out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        return _fail(f"--out {args.out}: the file must end in one of {', '.join('.' + f for f in FORMATS)}")
    if not out.parent.exists():
        return _fail(f"--out {args.out}: the folder {out.parent} does not exist")
    hidden = args.hidden_sizes
    if any(h <= 0 for h in hidden):
        return _fail(f"--hidden sizes must be positive integers, got {' '.join(map(str, hidden))}")
    if not 1 <= args.batch <= 1797:
        return _fail(f"--batch must be between 1 and 1797 (the digits), got {args.batch}")
    if args.depth is not None and args.depth < 0:
        return _fail(f"--depth must be ≥ 0, got {args.depth}")
    try:
        cost, model, tr = loss_graph(hidden, args.activation, args.loss, args.batch, args.seed)
    except ImportError as e:
        return _fail(f"{e.name or e} is needed for the digits (pip install scikit-learn)", 1)
    sizes = "-".join(map(str, [64, *hidden, 10]))
    title = f"{args.view} view: {sizes} {args.activation} MLP, {args.loss} loss, one batch of {args.batch} digits"
    drawing = draw_graph(
        cost, view=args.view, params=dict(model.named_parameters()), trace=tr, depth=args.depth,
        collapse=args.collapse, title=title, loss_label=LOSS_LABELS[args.loss],
    )
    if args.text:
        print(drawing.text)
    try:
        drawing.write(out)
    except DotNotFoundError as e:
        return _fail(str(e), 1)
    except OSError as e:
        return _fail(f"cannot write {out}: {e.strerror or e}", 1)
    print(f"wrote {out} ({title})")
    return 0
