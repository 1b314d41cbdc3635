"""One training run of a classifier (an MLP, or LeNet-5 with `model="lenet"`), end to end: what
`tinygrad-edu train` does.

    config = TrainConfig(dataset="digits", hidden=(30,))       # unset fields take the recommended values
    result = run(config)            # load data, train (model selection on validation), test once
    result.metrics["test_error"]
    write_outputs(result, "runs/digits")   # model.npz, metrics.json and the plots, in one complete folder

Data: the validation set is the last `val_size` images of the training set (default: a sixth, i.e. MNIST's
last 10 000), used only to choose the epoch whose weights are kept; the test set is evaluated once, at the
end, on that model. `train_limit` then keeps the first N remaining training images, `test_limit` the first N
test images.

Recommended settings (`RECIPES`, and `DIGITS_RECIPES` where the small digits set differs), used for
`optimizer`, `lr`, `batch_size` when they are not given. The chapter's sigmoid + MSE network learns with plain
gradient descent, but the cost has a plateau: every output near 0.1, 90 % error, small gradients (σ' ≤ 1/4 at
both layers). How long a run sits there is counted in steps, so it depends on the step and on the number of
batches per epoch: on MNIST λ = 0.5 leaves it within the first epoch, on the 1 197 digits (75 batches of 16)
the same λ stays on it for 10 epochs, and λ ≥ 1 saturates the sigmoids for good. Cross-entropy has no such
plateau and is trained with momentum and a cosine-decayed step.

Each recipe's `why` says what was measured to choose it, in one of three runs:
(a) validation accuracy after 3 epochs on 10 000 MNIST images, 784-300-10, seed 0;
(b) 20 epochs of the chapter's network on MNIST (validation = the last 10 000 training images), seed 0, test
    error and validation accuracy after the first epoch;
(c) 30 epochs on digits, seeds 0-2: the first epoch above 50 % validation accuracy.

Another optimizer than the recommended one, without `lr`: Adam takes `ADAM_LR`; momentum and plain SGD take
the same effective step λ / (1 − μ), μ = `MOMENTUM`. Adam and momentum are cosine-decayed over the run, plain
SGD (the chapter's rule) is not. Epochs: `EPOCHS`, or `DIGITS_EPOCHS` on the small digits set.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import nn, optim
from ._atomic import AtomicDirectory, atomic_writer
from .data import Dataset, load_digits, load_mnist
from .data.dataset import VAL_FRACTION
from .nn.serialization import MAX_MODEL_BYTES, mlp_parameters, save
from .train import BestModel, Callback, History, MaxNorm, evaluate, fit

__all__ = ["DIGITS_RECIPES", "OUTPUT_FILES", "RECIPES", "ConfigError", "Recipe", "RunResult", "TrainConfig", "check_out_dir",
           "load_data", "recommended", "run", "train_and_test", "write_outputs"]

DATASETS = ("mnist", "digits")
MODELS = ("mlp", "lenet")
DTYPES = ("float32", "float64")
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9
ADAM_LR = 1e-3
EPOCHS, DIGITS_EPOCHS = 10, 30  # the small digits set needs more passes to leave the plateau


class ConfigError(ValueError):
    """A setting that cannot work (a bad size, a loss that does not fit the output, ...): the message says why."""


@dataclass(frozen=True)
class Recipe:
    optimizer: str
    lr: float
    batch_size: int
    why: str = ""  # what was measured to choose it (the runs (a), (b), (c) of the module docstring)


#: (hidden activation, loss) -> the recommended optimizer, step and batch size.
RECIPES: dict[tuple[str, str], Recipe] = {
    ("sigmoid", "mse"): Recipe("sgd", 0.5, 8, why=(
        "(b): test error 1.89 %, 94 % validation accuracy after the first epoch; λ 0.5 batch 16 gave 2.02 %, "
        "λ 0.25 batch 16 2.39 %, λ 0.5 cosine-decayed 2.32 %, λ 0.8 batch 16 1.86 % but 63 % after the first "
        "epoch (half of it on the plateau)")),
    ("tanh", "mse"): Recipe("sgd", 0.5, 16, why="(a): λ 0.5 above 0.1"),
    ("relu", "mse"): Recipe("sgd", 0.25, 16, why="(a): λ 0.5 above 0.1; 0.25 keeps a margin (relu is unbounded)"),
    ("sigmoid", "ce"): Recipe("momentum", 0.3, 64, why="(a): λ 0.3 above 0.1"),
    ("tanh", "ce"): Recipe("momentum", 0.05, 64, why="(a): λ 0.05 above 0.02"),
    ("relu", "ce"): Recipe("momentum", 0.1, 64, why="(a): λ 0.1 above 0.05 above 0.02; Adam (0.001) below 0.05"),
}
#: LeNet-5 (nn.LeNet5): hidden activation -> its recommended settings (cross-entropy only).
LENET_RECIPES: dict[str, Recipe] = {
    "relu": Recipe("momentum", 0.05, 64, why=(
        "validation accuracy after 2 epochs on MNIST (the last 10 000 training images), seed 0, batch 64: "
        "λ 0.05 0.9831, 0.03 0.9819, 0.01 0.9745, 0.1 0.9630, 0.2 0.1917 (diverged); LENET_CHOICE in "
        "benchmarks/mnist_results.py")),
    "tanh": Recipe("momentum", 0.05, 64, why="relu's settings, not measured separately"),
}
LENET_EPOCHS = 15

#: Where the small digits set (75 batches of 16 per epoch) needs other settings than MNIST.
DIGITS_RECIPES: dict[tuple[str, str], Recipe] = {
    ("sigmoid", "mse"): Recipe("sgd", 0.25, 8, why=(
        "(c): the first epoch above 50 % is 3 with λ 0.25 batch 8, 8-11 with λ 0.5 batch 8, 10-13 with λ 0.5 "
        "batch 16")),
}
#: The hidden activations `train` offers: those with recommended settings (the losses are all of nn.LOSSES).
HIDDEN_ACTIVATIONS = tuple(dict.fromkeys(activation for activation, _ in RECIPES))


def default_output_activation(loss: str) -> str:
    """The chapter's sigmoid outputs with its MSE; logits ("identity") with cross-entropy, whose softmax is
    part of the loss."""
    return "identity" if loss == "ce" else "sigmoid"


def recommended(activation: str, loss: str, optimizer: str | None = None, dataset: str = "mnist") -> Recipe:
    """The recommended settings for this activation, loss and dataset, for `optimizer` if one is imposed."""
    if (activation, loss) not in RECIPES:
        raise ConfigError(f"no recommended settings for activation {activation!r} with loss {loss!r}")
    recipe = RECIPES[activation, loss]
    if dataset == "digits":
        recipe = DIGITS_RECIPES.get((activation, loss), recipe)
    return _other_optimizer(recipe, optimizer)


def _other_optimizer(recipe: Recipe, optimizer: str | None) -> Recipe:
    """`recipe`, or its settings carried over to another optimizer (see the module docstring)."""
    if optimizer is None or optimizer == recipe.optimizer:
        return recipe
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if optimizer == "adam":
        lr = ADAM_LR
    elif optimizer == "momentum":  # same effective step lr / (1 - μ) as plain SGD with recipe.lr
        lr = recipe.lr * (1 - MOMENTUM) if recipe.optimizer == "sgd" else recipe.lr
    else:
        lr = recipe.lr / (1 - MOMENTUM) if recipe.optimizer == "momentum" else recipe.lr
    why = "Adam's usual step" if optimizer == "adam" else f"the {recipe.optimizer} recipe's effective step λ / (1 − μ)"
    return Recipe(optimizer, round(lr, 6), recipe.batch_size, why)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; None means "the recommended value" (see `resolved`)."""

    dataset: str | None = None  # "mnist", "digits"; None: "mnist", or IDX files in data_dir when it is given
    model: str = "mlp"  # "mlp" (hidden, activation, output_activation apply) or "lenet" (nn.LeNet5, loss ce)
    data_dir: str | None = None
    download: bool = False
    hidden: tuple[int, ...] = (300,)
    activation: str = "sigmoid"
    output_activation: str | None = None  # None: default_output_activation(loss)
    loss: str = "mse"
    optimizer: str | None = None
    lr: float | None = None
    batch_size: int | None = None
    epochs: int | None = None
    seed: int = 0
    dtype: str = "float32"
    train_limit: int | None = None
    test_limit: int | None = None
    val_size: int | None = None  # None: a sixth of the training set (MNIST: the last 10 000)
    dropout: float = 0.0  # the MLP's: after each hidden activation (nn.Dropout), and on its inputs
    input_dropout: float = 0.0
    max_norm: float | None = None  # the MLP's: each hidden unit's incoming weights kept at ‖w‖₂ ≤ it (MaxNorm)
    compile: bool = True  # fit's compile="auto" (the generated step where it is safe); False: eager

    def resolved(self) -> TrainConfig:
        """A copy with every None filled in, after checking that the settings fit together."""
        c = self
        dataset = c.dataset or ("idx" if c.data_dir is not None else "mnist")
        if dataset not in DATASETS + ("idx",):
            raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        if dataset == "digits" and (c.data_dir is not None or c.download):
            raise ConfigError("the digits dataset is embedded (scikit-learn): --data-dir and --download do not apply")
        for name, choices in (("activation", HIDDEN_ACTIVATIONS), ("loss", tuple(nn.LOSSES)), ("dtype", DTYPES)):
            if getattr(c, name) not in choices:
                raise ConfigError(f"unknown {name} {getattr(c, name)!r}; choose one of {', '.join(choices)}")
        if not c.hidden or any(int(n) < 1 for n in c.hidden):
            raise ConfigError(f"hidden layer sizes must be positive integers, got {list(c.hidden)}")
        output = c.output_activation or default_output_activation(c.loss)
        if output not in nn.ACTIVATIONS:
            raise ConfigError(f"unknown output activation {output!r}; choose one of {', '.join(nn.ACTIVATIONS)}")
        if c.loss == "ce" and output != "identity":
            raise ConfigError(f"with --loss ce the network outputs logits (the softmax is part of the loss): "
                              f"the output activation must be identity, not {output}")
        if c.model not in MODELS:
            raise ConfigError(f"unknown model {c.model!r}; choose one of {', '.join(MODELS)}")
        for name in ("dropout", "input_dropout"):
            p = getattr(c, name)
            if not 0 <= p < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be a probability in [0, 1), got {p}")
            if p and c.model != "mlp":
                raise ConfigError(f"--{name.replace('_', '-')} applies to --model mlp only")
        if c.max_norm is not None:
            if (isinstance(c.max_norm, bool) or not isinstance(c.max_norm, (int, float, np.integer, np.floating))
                    or not (math.isfinite(c.max_norm) and c.max_norm > 0)):
                raise ConfigError(f"max-norm must be a positive number (Srivastava et al. 2014: 3 to 4), got "
                                  f"{c.max_norm!r}")
            if c.model != "mlp":
                raise ConfigError("--max-norm applies to --model mlp only")
        if c.model == "lenet":
            if c.loss != "ce" or output != "identity":
                raise ConfigError("--model lenet outputs logits and trains with cross-entropy: --loss ce")
            if c.activation not in LENET_RECIPES:
                raise ConfigError(f"--model lenet takes --activation {' or '.join(LENET_RECIPES)}, not {c.activation}")
            recipe = _other_optimizer(LENET_RECIPES[c.activation], c.optimizer)
        else:
            recipe = recommended(c.activation, c.loss, c.optimizer, dataset)
        for name in ("batch_size", "epochs", "train_limit", "test_limit"):
            value = getattr(c, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name.replace('_', '-')} must be a positive integer, got {value}")
        if c.val_size is not None and c.val_size < 0:
            raise ConfigError(f"val-size must be >= 0, got {c.val_size}")
        if not isinstance(c.seed, (int, np.integer)) or c.seed < 0:  # numpy's generators take no negative seed
            raise ConfigError(f"seed must be an integer >= 0, got {c.seed!r}")
        lr = recipe.lr if c.lr is None else c.lr
        if not (math.isfinite(lr) and lr > 0):
            raise ConfigError(f"lr must be a positive number, got {lr}")
        return replace(
            c, dataset=dataset, hidden=tuple(int(n) for n in c.hidden), output_activation=output,
            optimizer=recipe.optimizer, lr=lr, batch_size=c.batch_size or recipe.batch_size,
            epochs=c.epochs or (DIGITS_EPOCHS if dataset == "digits" else LENET_EPOCHS if c.model == "lenet" else EPOCHS),
        )

    @property
    def schedule(self) -> str:
        """"cosine" for momentum and Adam, "constant" for plain SGD (the chapter's λ)."""
        return "constant" if self.optimizer == "sgd" else "cosine"


# ---------------------------------------------------------------------------------------------------------------
# data, model, optimizer
# ---------------------------------------------------------------------------------------------------------------


def load_data(config: TrainConfig, progress: bool = True) -> tuple[Dataset, list[str]]:
    """The dataset of a resolved config, split and limited; with notes on what was adjusted."""
    dtype = np.dtype(config.dtype)
    notes: list[str] = []
    if config.dataset == "digits":
        ds = load_digits(dtype=dtype)
    else:
        ds = load_mnist(config.data_dir, download=config.download, dtype=dtype, progress=progress)
        if config.dataset == "idx":
            ds = replace(ds, name=Path(ds.source).name or "idx")
    # valid IDX sets the commands cannot use; refused before any training or writing
    shape = "×".join(map(str, ds.image_shape or (ds.n_features,)))
    if not (len(ds.X_train) and len(ds.X_test) and ds.n_features):
        raise ConfigError(f"{ds.source}: the set holds {len(ds.X_train)} training and {len(ds.X_test)} test images "
                          f"of {shape} pixels; train, check and evaluate need at least one image in each, of one "
                          "pixel or more")
    if ds.image_shape is None or ds.image_shape[0] != ds.image_shape[1]:
        raise ConfigError(f"{ds.source}: its images are {shape} pixels; the command line takes square images only "
                          "(train draws them)")
    val_size = round(len(ds.X_train) * VAL_FRACTION) if config.val_size is None else config.val_size
    if val_size >= len(ds.X_train):
        raise ConfigError(f"val-size {val_size} leaves no training images ({ds.name} has {len(ds.X_train)})")
    if val_size:
        ds = ds.split_validation(val_size)
    for part, limit in (("train", config.train_limit), ("test", config.test_limit)):
        X, y = getattr(ds, f"X_{part}"), getattr(ds, f"y_{part}")
        if limit is not None and limit > len(X):
            notes.append(f"{part}-limit {limit} is more than the {len(X)} {part} images: using all")
        elif limit is not None:
            ds = replace(ds, **{f"X_{part}": X[:limit], f"y_{part}": y[:limit]})
    return ds, notes


def build_model(config: TrainConfig, n_inputs: int, n_classes: int) -> nn.MLP | nn.LeNet5:
    """The config's MLP (or LeNet5), refused (ConfigError) when tg.save and tg.load would refuse its size."""
    if config.model == "lenet":
        side = math.isqrt(n_inputs)
        if side * side != n_inputs or side < 8:
            raise ConfigError(f"--model lenet needs square images of at least 8 × 8 pixels, got {n_inputs} pixels")
        return nn.LeNet5(side, n_classes, activation=config.activation, dtype=config.dtype,
                         generator=np.random.default_rng(config.seed))
    sizes = [n_inputs, *config.hidden, n_classes]
    count = mlp_parameters(sizes)
    nbytes = count * np.dtype(config.dtype).itemsize
    if nbytes > MAX_MODEL_BYTES:
        raise ConfigError(f"a {'-'.join(map(str, sizes))} network has {count} parameters ({nbytes / 2**20:.0f} MiB "
                          f"in {config.dtype}), more than model files hold ({MAX_MODEL_BYTES // 2**20} MiB, "
                          f"MAX_MODEL_BYTES in tinygrad_edu/nn/serialization.py): choose smaller hidden sizes")
    return nn.MLP(sizes, activation=config.activation,
                  output_activation=config.output_activation, dtype=config.dtype, dropout=config.dropout,
                  input_dropout=config.input_dropout,
                  generator=np.random.default_rng(config.seed))


def build_optimizer(config: TrainConfig, model: nn.Module) -> tuple[optim.Optimizer, Any]:
    """The optimizer and its learning-rate schedule (None for plain SGD)."""
    params = model.parameters()
    assert config.lr is not None and config.epochs is not None
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr), None
    opt = (optim.SGD(params, lr=config.lr, momentum=MOMENTUM) if config.optimizer == "momentum"
           else optim.Adam(params, lr=config.lr))
    return opt, optim.CosineAnnealingLR(opt, T_max=config.epochs)


# ---------------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------------


class _EpochLog(Callback):
    """Prints one line per epoch (through tqdm, so the progress bar stays intact) and records the step used."""

    def __init__(self, optimizer: optim.Optimizer, epochs: int, log: Callable[[str], None] | None) -> None:
        self.optimizer, self.epochs, self.log = optimizer, epochs, log
        self.lrs: list[float] = []

    def on_batch_end(self, batch: int, loss: float) -> None:
        if batch == 0:
            self.lrs.append(float(self.optimizer.lr))

    def on_epoch_end(self, epoch: int, history: History) -> None:
        if self.log is None:
            return
        line = (f"epoch {epoch:>3}/{self.epochs}  train loss {history.train_loss[-1]:.4f}  "
                f"train acc {history.train_accuracy[-1]:.4f}")
        if not math.isnan(history.val_accuracy[-1]):
            line += f"  val acc {history.val_accuracy[-1]:.4f}"
        self.log(line + f"  ({history.train_seconds[-1]:.1f} s)")


@dataclass
class RunResult:
    config: TrainConfig
    model: nn.MLP | nn.LeNet5
    history: History
    dataset: Dataset
    test_predictions: np.ndarray
    metrics: dict[str, Any] = field(default_factory=dict)


def _json_number(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def run(config: TrainConfig, progress: bool = True, log: Callable[[str], None] | None = print) -> RunResult:
    """Load the data, train and test as described in the module docstring; `log` receives the lines a
    person reads."""
    config = config.resolved()
    ds, notes = load_data(config, progress=progress)
    for note in notes:
        if log is not None:
            log(f"note: {note}")
    return train_and_test(config, ds, progress, log)


def train_and_test(config: TrainConfig, ds: Dataset, progress: bool = True,
                   log: Callable[[str], None] | None = print, callbacks: Sequence[Callback] = ()) -> RunResult:
    """`run` on a dataset already loaded and split. `callbacks` go to `fit` after the model selection's
    (raise StopTraining there to stop early)."""
    config = config.resolved()
    say = log or (lambda line: None)
    n_classes = max(int(ds.y_train.max()) + 1, len(ds.class_names))
    model = build_model(config, ds.n_features, n_classes)
    opt, scheduler = build_optimizer(config, model)
    has_val = ds.X_val is not None
    say(f"{ds.name}: {len(ds.X_train)} training, {len(ds.X_val) if has_val else 0} validation, "
        f"{len(ds.X_test)} test images of {ds.n_features} pixels")
    say(f"{'LeNet-5 ' if config.model == 'lenet' else ''}network {'-'.join(map(str, model.sizes))}, {config.activation} hidden, {config.output_activation} "
        f"output, loss {config.loss}; {config.optimizer} lr {config.lr:g} ({config.schedule}), batch "
        f"{config.batch_size}, {config.epochs} epoch{'s' if config.epochs != 1 else ''}, seed {config.seed}, {config.dtype}"
        + (f"; dropout {config.dropout:g} (inputs {config.input_dropout:g})" if config.dropout or config.input_dropout else "")
        + (f"; max-norm {config.max_norm:g}" if config.max_norm else ""))

    best = BestModel(model) if has_val else None
    # after every step, before the next batch; the output layer's weights are not a hidden unit's (Srivastava)
    max_norm = MaxNorm([l.weight for l in model.linears[:-1]], config.max_norm) if config.max_norm else None
    epoch_log = _EpochLog(opt, config.epochs, _tqdm_write if (log is print and progress) else log)
    history = fit(model, (ds.X_train, ds.y_train), config.loss, opt, config.epochs,
                  val=(ds.X_val, ds.y_val) if has_val else None, batch_size=config.batch_size, seed=config.seed,
                  progress=progress, callbacks=[c for c in (max_norm, epoch_log, best, *callbacks) if c is not None],
                  scheduler=scheduler, compile="auto" if config.compile else False)
    if history.interrupted:
        say(f"interrupted by Ctrl-C after {len(history)} epoch{'s' if len(history) != 1 else ''}: testing the model as it is")
    best_epoch = best.restore() if best is not None else (len(history) or None)

    train_eval = evaluate(model, ds.X_train, ds.y_train, loss=config.loss)
    val_accuracy = best.value if best is not None and best.epoch is not None else None  # measured by fit
    test_pred = model.predict(ds.X_test)  # the test set, once, on the selected model
    test_accuracy = float(np.mean(test_pred == ds.y_test))
    confusion = nn.confusion_matrix(ds.y_test, test_pred, num_classes=n_classes)

    epochs_log = [
        {"epoch": e, "lr": lr, "train_loss": tl, "train_accuracy": ta, "val_loss": _json_number(vl),
         "val_accuracy": _json_number(va), "train_seconds": ts, "seconds": s}
        for e, lr, tl, ta, vl, va, ts, s in zip(history.epoch, epoch_log.lrs, history.train_loss,
                                                history.train_accuracy, history.val_loss, history.val_accuracy,
                                                history.train_seconds, history.seconds)
    ]
    metrics: dict[str, Any] = {
        "dataset": ds.name if config.dataset == "idx" else config.dataset,
        "data_source": ds.source,
        "n_train": len(ds.X_train), "n_val": len(ds.X_val) if has_val else 0, "n_test": len(ds.X_test),
        "model": config.model, "architecture": list(model.sizes),
        "dropout": config.dropout, "input_dropout": config.input_dropout, "max_norm": config.max_norm,
        "activation": config.activation, "output_activation": config.output_activation, "loss": config.loss,
        "optimizer": config.optimizer, "momentum": MOMENTUM if config.optimizer == "momentum" else None,
        "lr": config.lr, "schedule": config.schedule, "batch_size": config.batch_size, "epochs": config.epochs,
        "epochs_trained": len(history), "selected_epoch": best_epoch,
        "seed": config.seed, "dtype": config.dtype,
        "train_accuracy": train_eval["accuracy"],
        "val_accuracy": val_accuracy,
        "test_accuracy": test_accuracy, "test_error": 1.0 - test_accuracy,
        "train_loss": train_eval["loss"],
        "train_seconds": float(sum(history.train_seconds)),
        "interrupted": history.interrupted, "compiled": history.compiled,
        "history": epochs_log,
        "confusion_matrix": confusion.tolist(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    say(f"selected epoch {best_epoch}"
        + (f" (best validation accuracy {val_accuracy:.4f})" if val_accuracy is not None else ""))
    say(f"train accuracy {train_eval['accuracy']:.4f}; test accuracy {test_accuracy:.4f} "
        f"(error {100 * (1 - test_accuracy):.2f} %); {metrics['train_seconds']:.1f} s of training")
    say("confusion matrix (rows: true class, columns: predicted):\n" + format_confusion(confusion))
    return RunResult(config, model, history, ds, test_pred, metrics)


def _tqdm_write(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line, file=sys.stdout)


def format_confusion(confusion: np.ndarray) -> str:
    """The confusion matrix as text, rows true classes and columns predictions, with each row's recall."""
    k = confusion.shape[0]
    width = max(4, len(str(confusion.max())) + 1)
    lines = ["true\\pred" + "".join(f"{j:>{width}}" for j in range(k)) + "   recall"]
    for i in range(k):
        total = confusion[i].sum()
        recall = f"{confusion[i, i] / total:8.3f}" if total else "       -"
        lines.append(f"{i:>9}" + "".join(f"{c:>{width}}" for c in confusion[i]) + recall)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------------------------


#: What `write_outputs` writes into a run folder.
OUTPUT_FILES = ("model.npz", "metrics.json", "curves.png", "weights.png", "misclassified.png", "confusion_matrix.png")


def default_out_dir(config: TrainConfig) -> Path:
    c = config.resolved()
    shape = "lenet" if c.model == "lenet" else "-".join(map(str, c.hidden))
    if c.dropout or c.input_dropout:
        shape += f"-dropout{c.input_dropout:g}-{c.dropout:g}"
    if c.max_norm:
        shape += f"-maxnorm{c.max_norm:g}"
    return Path("runs") / f"{c.dataset}-{shape}-{c.activation}-{c.loss}-seed{c.seed}"


def _finite(data: Any) -> Any:
    """`data` with every NaN and infinity replaced by None (JSON has no such numbers), numpy scalars as Python's."""
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    if isinstance(data, np.generic):
        data = data.item()
    if isinstance(data, float) and not math.isfinite(data):
        return None
    return data


def write_json(path: Path, data: Any) -> None:
    """Strict JSON (null for non-finite numbers), written atomically."""
    with atomic_writer(path) as f:
        f.write((json.dumps(_finite(data), indent=2, allow_nan=False) + "\n").encode())


def _save_figure(fig: Any, path: Path) -> None:
    with atomic_writer(path) as f:
        fig.savefig(f, format=path.suffix[1:], dpi=110)


def _run_folder(out_dir: str | Path, overwrite: bool) -> AtomicDirectory:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if overwrite and out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in OUTPUT_FILES)
        if others:
            raise ConfigError(f"--out {out} holds files that are not a run's ({', '.join(others[:3])}"
                              f"{', ...' if len(others) > 3 else ''}): --overwrite replaces only a run folder")
    try:
        return AtomicDirectory(out, overwrite=overwrite)
    except OSError as error:
        above = next((p for p in out.parents if p.exists()), out.parent)
        if not above.is_dir():
            raise ConfigError(f"--out {out}: {above} is a file, not a folder") from None
        raise ConfigError(f"--out {out}: cannot write in {out.parent} ({error.strerror or error}): choose a folder "
                          f"you can write to") from None


def check_out_dir(out_dir: str | Path, overwrite: bool = False) -> None:
    """Raise ConfigError now if `write_outputs(..., out_dir, overwrite)` could not write there (a file in the
    way, a folder that cannot be written, a folder of other files to overwrite): before training, not after."""
    _run_folder(out_dir, overwrite).discard()


def write_outputs(result: RunResult, out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
    """model.npz, metrics.json, and the plots: curves.png, weights.png (first layer), misclassified.png,
    confusion_matrix.png. Returns {what: path}.

    They are written into a temporary folder next to `out_dir`, renamed to `out_dir` once all are written: an
    error or Ctrl-C leaves no folder. If `out_dir` already holds files, it is kept and the run goes to
    `out_dir-1` (then -2, ...), or, with `overwrite`, replaces it (only if it holds nothing but a run's files).
    """
    from .viz import plots

    ds, model = result.dataset, result.model
    figures = {
        "curves": lambda: plots.training_curves(result.history, title=f"{ds.name}, {'-'.join(map(str, model.sizes))}"),
        "weights": (lambda: plots.filters(model.convs[0].weight.data)) if isinstance(model, nn.LeNet5) else
                   (lambda: plots.weight_images(model.linears[0].weight.data, rows=range(min(20, model.sizes[1])),
                                                what="hidden unit")),
        "misclassified": lambda: plots.misclassified(ds.X_test, ds.y_test, result.test_predictions),
        "confusion_matrix": lambda: plots.confusion_matrix(ds.y_test, result.test_predictions,
                                                           num_classes=model.sizes[-1]),
    }
    with _run_folder(out_dir, overwrite) as folder:
        names = {"model": save(result.model, folder.tmp / "model.npz").name, "metrics": "metrics.json"}
        write_json(folder.tmp / names["metrics"], result.metrics)
        for name, make in figures.items():
            names[name] = f"{name}.png"
            _save_figure(make(), folder.tmp / names[name])
    assert folder.path is not None
    return {what: folder.path / name for what, name in names.items()}
