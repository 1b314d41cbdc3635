"""The `tinygrad-edu` command line (also `python -m tinygrad_edu`).

    tinygrad-edu train       train an MLP on MNIST or the embedded 8x8 digits; writes model, metrics, plots
    tinygrad-edu evaluate    accuracy and confusion matrix of a saved model
    tinygrad-edu check       the chapter's δ-equations against autograd, layer by layer
    tinygrad-edu demo        a short tour of the engine: an expression, its gradient, a tiny network learning XOR
    tinygrad-edu graph       draw the loss graph of an MLP on a batch of the 8x8 digits
    tinygrad-edu export      a saved model as an ONNX file (or, with PyTorch installed, a .pt file)

Bad input (an unknown option, a value out of range, missing or corrupt files, a model file that is not ours, an
--out that cannot be written) gives one line on stderr and exit code 2, never a traceback. Exit code 1: the
command ran but could not finish or did not succeed (graphviz's `dot` or memory missing, `check`'s equations
disagreeing, the demo's network not learning); 130: interrupted. The work itself lives in `experiment.py` (training),
`backprop_by_hand/` (check) and `viz/` (the graph's drawing); this file parses arguments and, for `graph`, builds the
network and records its loss.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn



class UsageError(Exception):
    """Bad input found after parsing (a value out of range, a file that is not what it should be): exit code 2."""


class CommandFailed(Exception):
    """The command could not finish for a reason other than its input (a program or package missing, not
    enough memory), or its result is not what it should be (the demo's network did not learn): one line on
    stderr, exit code 1."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line on stderr (what is wrong and where to read more), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _sizes(text: str) -> tuple[int, ...]:
    """--hidden 300 or --hidden 300,100."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 300 or 300,100, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be positive, got {text!r}")
    return sizes


def _sizes_or_none(text: str) -> tuple[int, ...]:
    """Like _sizes, and 'none' (or '') for no hidden layer."""
    return () if text.strip().lower() in ("", "none") else _sizes(text)


def _integer_at_least(minimum: int, what: str):
    """An argparse type: an integer >= minimum, or a one-line message saying what was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive = _integer_at_least(1, "a positive integer")
_non_negative = _integer_at_least(0, "an integer >= 0")


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------------------


def _add_data_arguments(parser: argparse.ArgumentParser, default_dataset: str | None, default_text: str = "") -> None:
    parser.add_argument("--dataset", choices=("mnist", "digits"), default=default_dataset,
                        help="mnist (the chapter's 28x28 digits, IDX files) or digits (scikit-learn's 8x8, embedded, "
                             "no files needed); default " + (default_text or str(default_dataset)))
    parser.add_argument("--data-dir", metavar="DIR",
                        help="the directory of the IDX files (only this one is searched); without --dataset, any "
                             "directory of files in MNIST's format (Fashion-MNIST, ...). Default search: "
                             "$TINYGRAD_EDU_DATA, ./data/mnist, the user cache")
    parser.add_argument("--download", action="store_true",
                        help="fetch missing MNIST files (two mirrors, checksums verified)")


def _by_recipe(field: str) -> str:
    """One field of the recommended settings for the help texts: "8 for sigmoid + mse; ...; 64 for ce"."""
    from .experiment import DIGITS_RECIPES, HIDDEN_ACTIVATIONS, RECIPES

    def listed(keys: list[tuple[str, str]]) -> str:
        losses = dict.fromkeys(loss for _, loss in keys)
        if all(sum(k[1] == loss for k in keys) == len(HIDDEN_ACTIVATIONS) for loss in losses):
            return " and ".join(losses)  # every activation with these losses: name the losses only
        return ", ".join(f"{activation} + {loss}" for activation, loss in keys)

    groups: dict[Any, list[tuple[str, str]]] = {}
    for key, recipe in RECIPES.items():
        groups.setdefault(getattr(recipe, field), []).append(key)
    text = "; ".join(f"{value} for {listed(keys)}" for value, keys in groups.items())
    digits = [f"{getattr(recipe, field)} for {listed([key])}" for key, recipe in DIGITS_RECIPES.items()
              if getattr(recipe, field) != getattr(RECIPES[key], field)]
    return text + (f" (digits: {'; '.join(digits)})" if digits else "")


def _add_train_command(commands: argparse._SubParsersAction) -> None:
    from .experiment import (DIGITS_EPOCHS, DTYPES, EPOCHS, HIDDEN_ACTIVATIONS, MOMENTUM, OPTIMIZERS,
                             default_output_activation)
    from .nn import ACTIVATIONS, LOSSES

    train = commands.add_parser(
        "train", help="train an MLP on MNIST or the embedded digits; write the model, metrics.json and plots",
        description="Train an MLP (the chapter's 784-300-10 sigmoid network with its MSE by default). Unset "
                    "optimizer, lr, batch size and epochs take the recommended values for the activation and "
                    "loss (see tinygrad_edu/experiment.py and the README).")
    _add_data_arguments(train, None, "mnist (with --data-dir alone: that folder, in MNIST's format)")
    train.add_argument("--model", choices=("mlp", "lenet"), default="mlp",
                       help="mlp: a fully connected network (--hidden); lenet: LeNet-5 (conv 5x5 x6, pool, conv 5x5 "
                            "x16, pool, 120, 84, outputs), relu and cross-entropy by default (default mlp)")
    train.add_argument("--hidden", type=_sizes, default=(300,), metavar="N[,N...]",
                       help="hidden layer sizes, e.g. 300 or 300,100 (default 300)")
    train.add_argument("--dropout", type=_probability, default=0.0, metavar="P",
                       help="MLP: drop each hidden unit with probability P in training (inverted dropout; default 0)")
    train.add_argument("--eager", action="store_true",
                       help="run every batch through the engine's graph instead of the step tinygrad_edu.compile "
                            "generates (the same numbers, more bookkeeping; the generated step is used only where "
                            "it is safe: SGD or Adam, no dropout or batch norm)")
    train.add_argument("--input-dropout", type=_probability, default=0.0, metavar="P",
                       help="MLP: drop each input pixel with probability P in training (default 0)")
    train.add_argument("--max-norm", type=_positive_float, metavar="C",
                       help="MLP: after every step, scale each hidden unit's incoming weights back to ||w||_2 <= C "
                            "(the max-norm constraint of dropout networks, C about 3-4; default: none)")
    train.add_argument("--activation", choices=HIDDEN_ACTIVATIONS,
                       help="hidden activation (default sigmoid; relu with --model lenet)")
    train.add_argument("--output-activation", choices=tuple(ACTIVATIONS),
                       help="default: " + ", ".join(f"{default_output_activation(loss)} with {loss}" for loss in LOSSES))
    train.add_argument("--loss", choices=tuple(LOSSES),
                       help="mse: the chapter's C = 1/B sum ||y - a||^2; ce: softmax cross-entropy (default mse; ce "
                            "with --model lenet)")
    train.add_argument("--optimizer", choices=OPTIMIZERS,
                       help=f"default: {_by_recipe('optimizer')} (momentum μ = {MOMENTUM:g}; momentum and adam "
                            f"with a cosine-decayed step)")
    train.add_argument("--lr", type=_positive_float, help=f"learning rate λ (default: {_by_recipe('lr')})")
    train.add_argument("--batch-size", type=_positive, help=f"minibatch size (default: {_by_recipe('batch_size')})")
    train.add_argument("--epochs", type=_positive,
                       help=f"passes over the training set (default {EPOCHS}; {DIGITS_EPOCHS} on digits)")
    train.add_argument("--seed", type=_non_negative, default=0,
                       help="seeds the weights and the minibatch order (default 0)")
    train.add_argument("--dtype", choices=DTYPES, default="float32",
                       help="floating-point type of the images and weights (default float32)")
    train.add_argument("--train-limit", type=_positive, metavar="N", help="train on the first N training images")
    train.add_argument("--test-limit", type=_positive, metavar="N", help="test on the first N test images")
    train.add_argument("--val-size", type=_non_negative, metavar="N",
                       help="validation images, the last N of the training file, used to choose the epoch "
                            "(default: a sixth, 10 000 for MNIST; 0: keep the last epoch)")
    train.add_argument("--out", metavar="DIR",
                       help="the folder for model.npz, metrics.json and the plots (default runs/DATASET-...-seedN); "
                            "if it already holds a run, that one is kept and this one goes to DIR-1, DIR-2, ...")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out instead (only a folder of a run's files)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_threads_argument(train)
    train.set_defaults(run=_train)


def _add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=_positive, metavar="N",
                        help="threads for numpy's matrix products (default: the BLAS library's choice, usually one "
                             "per core); 1 avoids a slowdown of up to 17x when other jobs keep the cores busy")


def _blas_threads(threads: int | None) -> Any:
    """A context limiting the BLAS thread pools to `threads` (threadpoolctl, installed with scikit-learn)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def result_lr(config: Any) -> str:
    """The learning rate a run used (the recommended one when --lr was not given)."""
    return f"{config.resolved().lr:g}"


def train_config(args: argparse.Namespace) -> Any:
    """The TrainConfig of `tinygrad-edu train`'s parsed arguments."""
    from .experiment import TrainConfig

    lenet = args.model == "lenet"
    return TrainConfig(
        dataset=args.dataset, data_dir=args.data_dir, download=args.download, hidden=args.hidden, model=args.model,
        activation=args.activation or ("relu" if lenet else "sigmoid"), output_activation=args.output_activation,
        loss=args.loss or ("ce" if lenet else "mse"), dropout=args.dropout, input_dropout=args.input_dropout,
        max_norm=args.max_norm, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
        seed=args.seed, dtype=args.dtype, train_limit=args.train_limit, test_limit=args.test_limit,
        val_size=args.val_size, compile=not args.eager,
    )


def _train(args: argparse.Namespace) -> int:
    from .experiment import check_out_dir, default_out_dir, run, write_outputs

    config = train_config(args)
    out = Path(args.out) if args.out else default_out_dir(config)
    check_out_dir(out, overwrite=args.overwrite)  # a bad --out fails now, not after training
    from .train import NonFiniteLossError

    with _blas_threads(args.threads):
        try:
            result = run(config, progress=not args.no_progress)
        except NonFiniteLossError as error:
            raise CommandFailed(
                f"the loss became {error.loss} at epoch {error.epoch}, batch {error.batch}: training stopped and "
                f"nothing was written; a smaller --lr (this run: {result_lr(config)}) usually keeps it finite") from None
    paths = write_outputs(result, out, overwrite=args.overwrite)
    folder = paths["model"].parent
    kept = f" ({out} already holds files: kept; --overwrite replaces a run)" if folder != out else ""
    print(f"wrote {', '.join(p.name for p in paths.values())} to {folder}/{kept}")
    return 0


# ---------------------------------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------------------------------


def _add_evaluate_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("evaluate", help="accuracy and confusion matrix of a saved model",
                                   description="Evaluate a model saved by `tinygrad-edu train` on a test set.")
    evaluate.add_argument("--model", required=True, metavar="PATH", help="a model.npz written by train")
    _add_data_arguments(evaluate, None, "the set the model was trained for (64 inputs: digits, else mnist)")
    evaluate.add_argument("--test-limit", type=_positive, metavar="N", help="the first N test images only")
    _add_threads_argument(evaluate)
    evaluate.set_defaults(run=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .experiment import TrainConfig, format_confusion, load_data
    from .nn import MLP, LeNet5, confusion_matrix
    from .nn.serialization import load

    model = load(args.model)
    if not isinstance(model, (MLP, LeNet5)):
        raise UsageError(f"{args.model} holds a {type(model).__name__}; evaluate reads the MLPs and LeNet5s written "
                         f"by train")
    n_inputs = model.sizes[0]
    dataset = args.dataset or (None if args.data_dir else ("digits" if n_inputs == 64 else "mnist"))
    config = TrainConfig(dataset=dataset, data_dir=args.data_dir, download=args.download, val_size=0,
                         test_limit=args.test_limit, dtype=model.dtype.name).resolved()
    ds, notes = load_data(config)
    for note in notes:
        print(f"note: {note}")
    if ds.n_features != n_inputs:
        raise UsageError(f"the model takes {n_inputs} inputs but {ds.name} images have {ds.n_features} pixels")
    if int(ds.y_test.max()) >= model.sizes[-1]:
        raise UsageError(f"{ds.name} has labels up to {int(ds.y_test.max())} but the model has {model.sizes[-1]} outputs")
    with _blas_threads(args.threads):
        pred = model.predict(ds.X_test)
    accuracy = float(np.mean(pred == ds.y_test))
    print(f"{args.model}: {'-'.join(map(str, model.sizes))} {model.activation} network on {len(ds.X_test)} "
          f"{ds.name} test images: accuracy {accuracy:.4f} (error {100 * (1 - accuracy):.2f} %)")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(format_confusion(confusion_matrix(ds.y_test, pred, num_classes=model.sizes[-1])))
    return 0


# ---------------------------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------------------------


def _add_check_command(commands: argparse._SubParsersAction) -> None:
    from .experiment import HIDDEN_ACTIVATIONS
    from .nn import LOSSES

    check = commands.add_parser(
        "check", help="the chapter's δ-equations against autograd, layer by layer (exit 1 if they disagree)",
        description="Compute ∂C/∂W^l with the chapter's δ-equations (plain numpy) and with autograd, in float64, "
                    "on one batch, and print the per-layer table. Default: the chapter's network (300 sigmoid "
                    "hidden units, sigmoid outputs, MSE) on a batch of the embedded 8x8 digits.")
    check.add_argument("--hidden", type=_sizes, default=(300,), metavar="N[,N...]", help="hidden sizes (default 300)")
    check.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                       help="hidden activation (default sigmoid)")
    check.add_argument("--loss", choices=tuple(LOSSES), default="mse",
                       help="mse: the chapter's C = 1/B sum ||y - a^L||^2, sigmoid outputs (default); "
                            "ce: softmax cross-entropy")
    check.add_argument("--batch-size", type=_positive, default=32, help="samples in the batch (default 32)")
    check.add_argument("--seed", type=_non_negative, default=0, help="seeds the weights and the batch (default 0)")
    _add_data_arguments(check, "digits")
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    import numpy as np

    from .backprop_by_hand import check
    from .experiment import TrainConfig, build_model, load_data

    config = TrainConfig(dataset=args.dataset, data_dir=args.data_dir, download=args.download, hidden=args.hidden,
                         activation=args.activation, loss=args.loss, seed=args.seed, dtype="float64",
                         val_size=0).resolved()
    ds, _ = load_data(config, progress=False)
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(len(ds.X_train), size=min(args.batch_size, len(ds.X_train)), replace=False)
    model = build_model(config, ds.n_features, ds.n_classes)
    report = check(model, ds.X_train[rows], ds.y_train[rows], loss=args.loss)
    print(f"{ds.name}, network {'-'.join(map(str, model.sizes))}, seed {args.seed}")
    print(report)
    return 0 if report.ok else 1


# ---------------------------------------------------------------------------------------------------------------
# demo and graph
# ---------------------------------------------------------------------------------------------------------------


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
    tg.manual_seed(args.seed)
    X = tg.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = tg.tensor([[0.0], [1.0], [1.0], [0.0]])
    W1 = tg.randn(2, args.hidden, requires_grad=True, name="W1")
    b1 = tg.zeros(args.hidden, requires_grad=True, name="b1")
    W2 = tg.randn(args.hidden, 1, requires_grad=True, name="W2")
    b2 = tg.zeros(1, requires_grad=True, name="b2")
    params = [W1, b1, W2, b2]
    every = max(1, args.steps // 5)
    for step in range(args.steps + 1):
        prediction = ((X @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
        loss = tg.mse(prediction, Y)  # C = 1/N sum_i ||y_i - a_i||^2
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p -= args.lr * p.grad
        if step % every == 0 or step == args.steps:
            print(f"   step {step:5d}  C = {loss.item():.5f}")
    outputs = np.round(prediction.numpy().ravel(), 3).tolist()
    print(f"   outputs for (0,0) (0,1) (1,0) (1,1): {outputs}  (targets 0 1 1 0)")
    if not loss.item() < 0.05:
        raise CommandFailed(f"the network did not learn XOR in {args.steps} steps (C = {loss.item():.4f}, not below "
                            f"0.05): try more --steps or another --lr")
    return 0


#: The cost as the chapter view's legend writes it, per loss.
LOSS_LABELS = {
    "mse": "C = 1/B Σ_{i} ‖y_{i} − a^{L}_{i}‖²",
    "ce": "C = −1/B Σ_{i} log softmax(z^{L}_{i})[y_{i}]",
}


def loss_graph(hidden: Sequence[int], activation: str, loss: str, batch: int, seed: int) -> tuple[Any, Any, Any]:
    """The loss of an MLP (built and seeded as `train` builds it, float64) on the first `batch` training images
    of the 8x8 digits, its forward pass recorded by viz.trace() and backward run: (C, model, trace)."""
    import numpy as np

    from . import functional as F
    from .creation import tensor
    from .data import load_digits
    from .experiment import TrainConfig, build_model, default_output_activation
    from .viz import trace

    try:
        ds = load_digits(dtype=np.float64)
    except ImportError as error:
        raise CommandFailed(str(error)) from None
    if batch > len(ds.X_train):
        raise UsageError(f"--batch must be between 1 and {len(ds.X_train)} (the digits' training images), got {batch}")
    config = TrainConfig(hidden=tuple(hidden), activation=activation, output_activation=default_output_activation(loss),
                         loss=loss, seed=seed, dtype="float64")
    model = build_model(config, ds.n_features, ds.n_classes)
    x, labels = tensor(ds.X_train[:batch], name="x"), ds.y_train[:batch]
    with trace() as recorded:
        out = model(x)
        if loss == "mse":
            y = F.one_hot(labels, ds.n_classes)
            y.name = "y (one-hot)"
            cost = F.mse(out, y)
        else:
            cost = F.cross_entropy(out, tensor(labels, name="y (labels)"))
    cost.name = "C"
    cost.backward()
    return cost, model, recorded


def _graph(args: argparse.Namespace) -> int:
    from .viz import DotNotFoundError, draw_graph
    from .viz.drawing import FORMATS

    out = Path(args.out)
    if out.suffix.lstrip(".").lower() not in FORMATS:
        raise UsageError(f"--out {args.out}: the file must end in one of {', '.join('.' + f for f in FORMATS)}")
    if not out.parent.exists():
        raise UsageError(f"--out {args.out}: the folder {out.parent} does not exist")
    cost, model, recorded = loss_graph(args.hidden_sizes, args.activation, args.loss, args.batch, args.seed)
    title = (f"{args.view} view: {'-'.join(map(str, model.sizes))} {args.activation} MLP, {args.loss} loss, one "
             f"batch of {args.batch} digits")
    drawing = draw_graph(cost, view=args.view, params=dict(model.named_parameters()), trace=recorded,
                         depth=args.depth, collapse=args.collapse, title=title, loss_label=LOSS_LABELS[args.loss])
    if args.text:
        print(drawing.text)
    try:
        drawing.write(out)
    except DotNotFoundError as error:  # a program missing, not bad input
        raise CommandFailed(str(error)) from None
    except OSError as error:  # like any --out that cannot be written (and the file there is left as it was)
        hint = _WHAT_TO_DO.get(error.errno or 0, "choose another --out")
        raise UsageError(f"cannot write {out}: {(error.strerror or str(error)).lower()}: {hint}") from None
    print(f"wrote {out} ({title})")
    return 0


def _add_graph_command(commands: argparse._SubParsersAction) -> None:
    from .experiment import HIDDEN_ACTIVATIONS
    from .nn import LOSSES

    graph = commands.add_parser(
        "graph", help="draw the loss graph of an MLP on a batch of the 8x8 digits",
        description="Record the loss of an MLP on a batch of the embedded 8x8 digits and draw its graph with "
                    "graphviz: the chapter's a^l, W^l, z^l, δ^l and C, every operation, or what backward() walks. "
                    "Without graphviz's dot program, --out FILE.dot still works.")
    graph.add_argument("--out", default="graph.svg", metavar="FILE",
                       help="the picture: .svg, .png, .pdf (need graphviz's dot) or .dot (default graph.svg)")
    graph.add_argument("--hidden", dest="hidden_sizes", type=_sizes_or_none, default=(16,), metavar="N[,N...]",
                       help="hidden layer sizes, e.g. 16 or 30,20 (default 16; 'none' for a 64-10 network)")
    graph.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid",
                       help="hidden activation (default sigmoid)")
    graph.add_argument("--loss", choices=tuple(LOSSES), default="mse",
                       help="mse: the chapter's C = 1/B sum ||y - a^L||^2 (sigmoid outputs); ce: softmax cross-entropy")
    graph.add_argument("--view", choices=("chapter", "forward", "backward"), default="chapter",
                       help="chapter: a^l, W^l, z^l, delta^l, C (default); forward: every operation; "
                            "backward: what backward() walks")
    graph.add_argument("--batch", type=_positive, default=8, help="samples in the batch (default 8)")
    graph.add_argument("--seed", type=_non_negative, default=0, help="random seed of the weights (default 0)")
    graph.add_argument("--depth", type=_positive, default=None, help="draw clusters for the first DEPTH scope levels only")
    graph.add_argument("--collapse", action="store_true", help="draw each layer as one box (forward/backward views)")
    graph.add_argument("--text", action="store_true", help="also print the graph as text, one line per operation")
    graph.set_defaults(run=_graph)


# ---------------------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------------------


def _add_export_command(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export", help="a saved model as an ONNX file (or a PyTorch .pt file)",
        description="Write a model saved by `tinygrad-edu train` (or nn.save) as an ONNX file (.onnx: onnx and "
                    "onnxruntime, pip install 'tinygrad-edu[export]'), batch size free, or as a whole torch.nn "
                    "module (.pt, needs PyTorch; read it with torch.load(path, weights_only=False)).")
    export.add_argument("model", metavar="MODEL.npz", help="a model.npz written by train or nn.save")
    export.add_argument("--to", required=True, metavar="FILE", help="the file to write: FILE.onnx or FILE.pt")
    export.set_defaults(run=_export)


def _input_size(model: Any) -> int | None:
    """The number of input features of `model`: an MLP's or a LeNet5's first size (a LeNet5 takes rows of
    pixels too), else its first Linear's; None when it has none, or a convolution comes first (an image's
    height and width are not in the file)."""
    from .nn import MLP, Conv1d, Conv2d, LeNet5, Linear

    if isinstance(model, (MLP, LeNet5)):
        return model.sizes[0]
    first = next((m for m in model.modules() if isinstance(m, (Linear, Conv1d, Conv2d))), None)
    return first.in_features if isinstance(first, Linear) else None


def _export(args: argparse.Namespace) -> int:
    import numpy as np

    from .nn.serialization import load

    out = Path(args.to)
    kind = out.suffix.lower()
    if kind not in (".onnx", ".pt"):
        raise UsageError(f"--to {args.to}: the file must end in .onnx or .pt")
    if not out.parent.exists():
        raise UsageError(f"--to {args.to}: the folder {out.parent} does not exist")
    model = load(args.model)
    try:
        from . import export
    except ImportError as error:  # pragma: no cover (the module itself needs only numpy)
        raise CommandFailed(str(error)) from None
    try:
        export.check(model)  # a class the export cannot carry is named before anything else
        if kind == ".pt":
            export.save_torch(model, out)
            print(f"wrote {out} ({export.describe(model)} as a torch.nn module; torch.load(path, weights_only=False))")
            return 0
        n_inputs = _input_size(model)
        if n_inputs is None:
            raise UsageError(f"{args.model} holds a {type(model).__name__} whose input shape the file does not say "
                             f"(no Linear layer, or a convolution first); use tinygrad_edu.export.to_onnx with an "
                             f"example input")
        dtype = next((p.dtype for p in model.parameters()), np.dtype("float64"))
        export.to_onnx(model, out, np.zeros((1, n_inputs), dtype=dtype))
    except ImportError as error:  # onnx or torch missing: the machine, not the input
        raise CommandFailed(str(error)) from None
    except export.ExportError as error:
        raise UsageError(str(error)) from None
    print(f"wrote {out} ({export.describe(model)}, ONNX opset {export.OPSET}; input 'input' of shape "
          f"(batch, {n_inputs}) {dtype}, output 'output')")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinygrad-edu", description="A teaching-grade autograd engine on numpy.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train_command(commands)
    _add_evaluate_command(commands)
    _add_check_command(commands)
    demo = commands.add_parser(
        "demo", help="a short tour of the engine (no data needed)",
        description="A short tour of the engine, with no data and no files: an expression and its gradient, a "
                    "second derivative, and a small sigmoid network learning XOR by gradient descent on the "
                    "chapter's MSE (exit 1 if it does not learn).")
    demo.add_argument("--hidden", type=_positive, default=4, help="hidden units of the XOR network (default 4)")
    demo.add_argument("--steps", type=_positive, default=3000, help="gradient-descent steps (default 3000)")
    demo.add_argument("--lr", type=_positive_float, default=2.0, help="learning rate λ (default 2.0)")
    demo.add_argument("--seed", type=_non_negative, default=0, help="random seed (default 0)")
    demo.set_defaults(run=_demo)
    _add_graph_command(commands)
    _add_export_command(commands)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, not a bug: reported in one line. Imported here, when a command failed."""
    from .data import DownloadError, IDXError, MNISTNotFoundError
    from .experiment import ConfigError
    from .nn.serialization import ModelFileError

    return (UsageError, CommandFailed, ConfigError, IDXError, MNISTNotFoundError, DownloadError, ModelFileError, OSError)


def _one_line(error: BaseException, args: argparse.Namespace) -> str:
    from .data import MNISTNotFoundError

    if isinstance(error, MNISTNotFoundError):  # its full message is a paragraph; the essentials fit a line
        from .data.mnist import search_dirs

        data_dir = getattr(args, "data_dir", None)
        where = ", ".join(str(d) for d, _ in search_dirs(data_dir))
        return (f"MNIST files not found (searched {where}): put the four IDX files there"
                + (", add --download" if not getattr(args, "download", False) else "")
                + ", or use --dataset digits (no files needed)")
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return _os_error_line(error)
    return " ".join(str(error).split()) or type(error).__name__


_WHAT_TO_DO = {  # errno → what a user can do about it
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "give a file, not a folder",
    errno.EACCES: "choose a place you may write to, or change its permissions",
    errno.EPERM: "choose a place you may write to, or change its permissions",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.ENOSPC: "the disk is full: free some space or choose another place",
    errno.EDQUOT: "the disk quota is exhausted: free some space or choose another place",
}


def _os_error_line(error: OSError) -> str:
    """`'PATH': what went wrong (strerror): what to do`, for an OSError raised by the system with its path."""
    hint = _WHAT_TO_DO.get(error.errno or 0)
    return f"'{error.filename}': {error.strerror.lower()}" + (f": {hint}" if hint else "")


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away (`tinygrad-edu ... | head`): stop quietly, as a killed-by-SIGPIPE program
    would (status 141), and keep Python from complaining while it flushes stdout on exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # what is still buffered, while a closed pipe can be noticed here
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help or a usage error: argparse's exit, after its text has left
        sys.stdout.flush()
        raise
    try:
        return args.run(args)
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError as error:  # the machine, not the input: numpy's message says how much was asked for
        print(f"{parser.prog} {args.command}: error: not enough memory ({error})", file=sys.stderr)
        return 1
    except Exception as error:
        if not isinstance(error, _user_errors()):
            raise  # a bug: the traceback is what a maintainer needs
        print(f"{parser.prog} {args.command}: error: {_one_line(error, args)}", file=sys.stderr)
        return 1 if isinstance(error, CommandFailed) else 2
