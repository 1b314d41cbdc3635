"""A training loop: `fit(model, (X, y), loss, optimizer, epochs)` -> `History`, and `evaluate`.

Each epoch visits the training set once in seeded, shuffled minibatches; for each batch:
    optimizer.zero_grad();  C = loss(model(X_b), Y_b);  C.backward();  optimizer.step()
then the validation set, if given, is evaluated without recording a graph.

Targets: `y` may be integer labels (N,), one-hot rows (N, K), or any array of the output's shape. With the
mean-squared-error loss ("mse", the chapter's C = 1/N Σ‖y − ŷ‖²) integer labels become one-hot rows of the
output's width; with cross-entropy ("ce") they are used as they are (the model outputs logits).
Classification (accuracies are reported) is detected from integer labels or one-hot rows; pass
`classification=` to override.

Ctrl-C stops training cleanly: the current batch finishes (its update is applied), and `fit` returns the
History so far with `interrupted=True`; the model keeps its trained weights. A KeyboardInterrupt raised by
a callback or by the model is handled the same way (that batch is then abandoned).
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import compiler
from .nn.losses import LOSS_MODULES, loss as loss_by_name
from .nn.metrics import to_labels
from .nn.module import Module
from .optim import Optimizer
from .engine.tensor import Tensor, bump_version, no_grad
from .functional import one_hot

__all__ = ["BestModel", "Callback", "History", "MaxNorm", "NonFiniteLossError", "StopTraining", "evaluate", "fit"]

LossLike = str | Callable[[Tensor, Tensor], Tensor]


class NonFiniteLossError(FloatingPointError):
    """fit stopped because a batch's loss was NaN or infinite; the model keeps the weights of the last finite
    step, and `history` holds the epochs completed before."""

    def __init__(self, message: str, history: History, epoch: int, batch: int, loss: float) -> None:
        super().__init__(message)
        self.history, self.epoch, self.batch, self.loss = history, epoch, batch, loss


class StopTraining(Exception):
    """Raise from a callback to end training after the current epoch or batch (e.g. early stopping)."""


class Callback:
    """Override what you need. `fit` calls `on_batch_end(batch_index, loss_value)` after each optimizer step
    and `on_epoch_end(epoch, history)` after each epoch (history already holds that epoch). A plain
    function given as a callback is called as `fn(epoch, history)` at the end of each epoch."""

    def on_batch_end(self, batch: int, loss: float) -> None:
        pass

    def on_epoch_end(self, epoch: int, history: History) -> None:
        pass


class BestModel(Callback):
    """Model selection on the validation set: remembers the weights of the epoch with the best
    `monitor` ("val_accuracy", higher is better, or "val_loss", lower is better); `restore()` puts them
    back into the model. The test set is then evaluated once, on the selected model. Between epochs with
    the same validation accuracy (frequent on a small validation set) the lower validation loss wins.

        best = BestModel(model)
        fit(model, train, "ce", opt, epochs=20, val=val, callbacks=[best])
        best.restore()          # best.epoch, best.value say which epoch was chosen
    """

    def __init__(self, model: Module, monitor: str = "val_accuracy") -> None:
        if monitor not in ("val_accuracy", "val_loss"):
            raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {monitor!r}")
        self.model, self.monitor = model, monitor
        self.epoch: int | None = None
        self.value = float("nan")
        self._key: tuple[float, float] = (-math.inf, -math.inf)
        self.state: dict[str, np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, history: History) -> None:
        value = getattr(history, self.monitor)[-1]
        if math.isnan(value):
            raise ValueError(f"BestModel monitors {self.monitor}, which needs validation data: pass val= to fit")
        loss = history.val_loss[-1]
        key = (value, -loss) if self.monitor == "val_accuracy" else (-value, -value)  # larger is better
        if key > self._key:  # complete ties keep the earlier epoch
            self.epoch, self.value, self._key = epoch, value, key
            self.state = self.model.state_dict()  # a snapshot (copies)

    def restore(self) -> int | None:
        """Load the best epoch's weights into the model; returns that epoch (None if no epoch was seen)."""
        if self.state is not None:
            self.model.load_state_dict(self.state)
        return self.epoch


class MaxNorm(Callback):
    """The max-norm constraint (Srivastava et al. 2014, §5.1; Keras's MaxNorm): after every optimizer step, each
    row of each weight, in a Linear weight (out_features, in_features) one unit's incoming weights, is scaled back
    to ‖w‖₂ = max_norm if it has grown beyond: w ← renorm(w, 2, 0, max_norm), in place. Bounding the weights
    keeps a large step from blowing them up, which dropout networks need to learn fast.

        fit(model, train, "ce", opt, epochs, callbacks=[MaxNorm([l.weight for l in model.linears[:-1]], 3.5)])
    """

    def __init__(self, weights: Iterable[Tensor], max_norm: float) -> None:
        if (isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.integer, np.floating))
                or not (math.isfinite(max_norm) and max_norm > 0)):
            raise ValueError(f"MaxNorm: max_norm must be a positive finite number (Srivastava et al.: 3 to 4), "
                             f"got {max_norm!r}")
        self.weights, self.max_norm = list(weights), float(max_norm)
        for w in self.weights:
            if not isinstance(w, Tensor) or w.ndim < 2:
                raise ValueError(f"MaxNorm constrains the rows of weight matrices; got "
                                 f"{getattr(w, 'shape', type(w).__name__)}")

    def on_batch_end(self, batch: int, loss: float) -> None:
        self.apply()

    def apply(self) -> None:
        with no_grad():
            for w in self.weights:
                w.data[...] = w.renorm(2, 0, self.max_norm).data
                bump_version(w.data)  # an in-place change, as an optimizer step


@dataclass
class History:
    """Per-epoch records of `fit`. train_loss / train_accuracy are means over the epoch's batches, measured
    as they were trained; val_* are measured after the epoch (NaN without validation data)."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # the whole epoch, validation included
    train_seconds: list[float] = field(default_factory=list)  # the updates only (forward, backward, step)
    interrupted: bool = False
    stopped_early: bool = False
    classification: bool = True
    compiled: bool = False  # the batches ran as code generated by tinygrad_edu.compile

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict[str, list[float]]:
        return {k: list(getattr(self, k)) for k in ("epoch", "train_loss", "train_accuracy", "val_loss",
                                                     "val_accuracy", "seconds", "train_seconds")}

    def __repr__(self) -> str:
        if not self.epoch:
            return f"History(no epochs{', interrupted' if self.interrupted else ''})"
        last = len(self.epoch) - 1
        parts = [f"{len(self)} epoch{'s' if len(self) != 1 else ''}", f"train_loss {self.train_loss[0]:.4g} -> {self.train_loss[last]:.4g}"]
        if self.classification:
            parts.append(f"train_accuracy {self.train_accuracy[last]:.4f}")
        if not math.isnan(self.val_loss[last]):
            parts.append(f"val_loss {self.val_loss[last]:.4g}")
            if self.classification:
                parts.append(f"val_accuracy {self.val_accuracy[last]:.4f}")
        parts.append(f"{sum(self.seconds):.1f} s")
        if self.interrupted:
            parts.append("interrupted")
        return "History(" + ", ".join(parts) + ")"

    def plot(self, title: str | None = None, log_loss: bool | None = None) -> Any:
        """A matplotlib Figure: loss per epoch (and accuracy for classification), training and validation;
        the same picture as `tinygrad_edu.viz.plots.training_curves(history)`: markers while there are few
        epochs, a log scale for a loss that falls by more than 100× unless `log_loss` says otherwise."""
        from .viz.plots import training_curves

        return training_curves(self, title=title, log_loss=log_loss)


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def _model_dtype(model: Module) -> np.dtype:
    for p in model.parameters():
        return p.dtype
    return np.dtype(np.float64)


def _split(data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{what} must be a pair (X, y) of arrays, got {type(data).__name__}")
    X, y = (np.asarray(a.data if isinstance(a, Tensor) else a) for a in data)
    if len(X) != len(y):
        raise ValueError(f"{what}: X has {len(X)} samples but y has {len(y)}")
    if len(X) == 0:
        raise ValueError(f"{what} is empty")
    return X, y


def _is_classification(y: np.ndarray) -> bool:
    if y.ndim == 1:
        return y.dtype.kind in "iub"
    if y.ndim == 2:
        if y.shape[1] == 1:
            return bool(np.isin(y, (0, 1)).all())
        return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())
    return False


def _resolve_loss(loss: LossLike) -> tuple[Callable[[Tensor, Tensor], Tensor], str | None]:
    if isinstance(loss, str):  # any loss module by name: "mse", "ce", "huber", "bce_with_logits", ...
        try:
            module = loss_by_name(loss)
        except ValueError as error:
            raise ValueError(f"{error}, or pass a function (output, target) -> scalar Tensor") from None
        return module, module.name
    if isinstance(loss, tuple(LOSS_MODULES.values())):
        return loss, loss.name
    if callable(loss):
        return loss, None
    raise TypeError(f"loss must be a name ({', '.join(map(repr, LOSS_MODULES))}) or a function (output, target) -> scalar "
                    f"Tensor, got {loss!r}")


LABEL_LOSSES = ("ce", "nll")  # the losses that take class labels themselves (the others get one-hot rows)


def _target(y: np.ndarray, out: Tensor, kind: str | None) -> Tensor:
    """The target tensor for a batch: labels become one-hot rows for MSE (and for unknown losses when the
    output has one column per class)."""
    if y.ndim == 1 and y.dtype.kind in "iu" and kind not in LABEL_LOSSES and out.ndim == 2 and out.shape[1] > 1:
        if y.size and (y.min() < 0 or y.max() >= out.shape[1]):
            raise ValueError(f"labels must lie in 0..{out.shape[1] - 1} for a model with {out.shape[1]} outputs, "
                             f"found {y.min()}..{y.max()}")
        return one_hot(y, out.shape[1], dtype=out.dtype)
    if kind in LABEL_LOSSES and y.dtype.kind in "iu":
        return Tensor._wrap(y)
    if y.dtype.kind == "f" and y.dtype != out.dtype:
        y = y.astype(out.dtype)
    elif y.dtype.kind in "iub":
        y = y.astype(out.dtype)
        if y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1:
            y = y[:, None]
    return Tensor._wrap(y)


def _batch_cost(model: Module, fn: Callable[[Tensor, Tensor], Tensor], xb: np.ndarray, yb: np.ndarray,
                kind: str | None, dtype: np.dtype) -> Tensor:
    """The loss on one batch, for an optimizer's closure (which takes the gradient itself)."""
    out = model(Tensor._wrap(np.asarray(xb, dtype=dtype)))
    return fn(out, _target(yb, out, kind))


class _CompiledSteps:
    """fit's batch as two compiled functions: zero_grad, forward and backward (returning the cost and the
    outputs), then the update, so that a non-finite cost is still caught before the update."""

    def __init__(self, model: Module, fn: Callable, optimizer: Optimizer, output: Tensor, fallback: bool) -> None:
        def forward_backward(x: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
            optimizer.zero_grad()
            out = model(x)
            cost = fn(out, target)
            cost.backward()
            return cost, out

        def update() -> None:
            optimizer.step()

        self.forward_backward = compiler.compile(forward_backward, fallback=fallback)
        self.update = compiler.compile(update, fallback=fallback)
        self.output = output  # an empty output of the model's shape and dtype: what _target needs to know


def _compiled_steps(model: Module, fn: Callable, optimizer: Optimizer, mode: bool | str, kind: str | None,
                    X: np.ndarray, dtype: np.dtype) -> _CompiledSteps | None:
    """The compiled batch for fit (see its `compile`), or None to train eagerly."""
    from .optim import SGD, Adam

    if mode not in (True, False, "auto"):
        raise ValueError(f"compile must be True, False or 'auto', got {mode!r}")
    if mode is False or not len(X):
        return None
    # Decided here for the optimizer only: another one's step could change a parameter before refusing to be
    # traced. What the model's forward refuses (dropout, batch norm in training) the first batch finds out: it
    # is run again eagerly, as forward and backward change nothing that zero_grad does not reset.
    if not isinstance(optimizer, (SGD, Adam)):
        if mode is True:
            raise compiler.TraceError(f"fit(compile=True) cannot compile this training: {type(optimizer).__name__} "
                                      f"(SGD, Adam and AdamW updates are compiled)")
        return None
    with no_grad():
        was = model.training
        model.eval()
        try:
            sample = model(Tensor._wrap(np.asarray(X[:1], dtype=dtype)))
        finally:
            model.train(was)
    return _CompiledSteps(model, fn, optimizer, Tensor._wrap(np.empty((0,) + sample.shape[1:], sample.dtype)),
                          fallback=mode == "auto")


def _correct(out: np.ndarray, y: np.ndarray) -> int:
    return int(np.sum(to_labels(out, "outputs") == to_labels(y, "labels")))


def _batches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    from .data.batches import iterate_minibatches

    return iterate_minibatches(X, y, batch_size, shuffle=rng is not None, seed=rng)


class _SigintGuard:
    """While active, the first Ctrl-C only sets a flag (checked after each batch); a second one interrupts
    at once. Only in the main thread (signal handlers can be installed nowhere else)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None
        self._active = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> _SigintGuard:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
                self._active = True
            except (ValueError, OSError):  # e.g. an embedded interpreter without signals
                self._active = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self._active:
            signal.signal(signal.SIGINT, self._previous)


# ---------------------------------------------------------------------------------------------------------------
# evaluate and fit
# ---------------------------------------------------------------------------------------------------------------


def evaluate(
    model: Module, X: Any, y: Any, loss: LossLike | None = "mse", batch_size: int = 1024,
    classification: bool | None = None,
) -> dict[str, float]:
    """{"loss": mean loss per sample, "accuracy": fraction correct} of `model` on (X, y), without a graph.

    The model is put in eval mode for the duration and restored after. loss=None skips the loss; accuracy
    is NaN when the targets are not classes. The loss is averaged per sample over batches, which equals the
    full-set loss for the "chapter"/"mean" reductions.
    """
    X, y = _split((X, y), "evaluate data")
    fn, kind = _resolve_loss(loss) if loss is not None else (None, None)
    is_cls = _is_classification(y) if classification is None else classification
    dtype = _model_dtype(model)
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    try:
        with no_grad():
            for start in range(0, len(X), batch_size):
                xb, yb = X[start:start + batch_size], y[start:start + batch_size]
                out = model(Tensor._wrap(np.asarray(xb, dtype=dtype)))
                if fn is not None:
                    total_loss += float(fn(out, _target(yb, out, kind)).item()) * len(xb)
                if is_cls:
                    correct += _correct(out.data, yb)
    finally:
        model.train(was_training)
    return {"loss": total_loss / len(X) if fn is not None else float("nan"),
            "accuracy": correct / len(X) if is_cls else float("nan")}


def fit(
    model: Module,
    train: tuple[Any, Any],
    loss: LossLike,
    optimizer: Optimizer,
    epochs: int,
    val: tuple[Any, Any] | None = None,
    batch_size: int = 32,
    seed: int | np.random.Generator | None = 0,
    shuffle: bool = True,
    progress: bool = True,
    callbacks: Sequence[Callback | Callable[[int, History], Any]] = (),
    classification: bool | None = None,
    scheduler: Any = None,
    nonfinite: str = "raise",
    compile: bool | str = "auto",
) -> History:
    """Train `model` on `train` = (X, y) for `epochs` epochs of minibatch gradient descent; returns a History.

    loss: "mse" (the chapter's cost), "ce" (cross-entropy on logits) or a function (output, target) -> scalar.
    seed: the minibatch order (one generator for the whole run: each epoch has a new permutation).
    scheduler: an optional learning-rate schedule, stepped after each epoch.
    progress: a tqdm progress bar (tqdm.auto: a widget in notebooks).
    nonfinite: "raise" (default): a NaN or infinite loss stops training before that batch's update, with a
               NonFiniteLossError naming the epoch and batch; "continue": train on regardless.
    compile: "auto" (default): each batch's forward and backward, and the update, run as code generated by
             tinygrad_edu.compile (the same numbers, less bookkeeping) where that is safe: SGD or Adam(W), and
             no dropout or batch normalization in training; True: compile, or raise the reason it cannot;
             False: eager.
    """
    if nonfinite not in ("raise", "continue"):
        raise ValueError(f"nonfinite must be 'raise' or 'continue', got {nonfinite!r}")
    X, y = _split(train, "train")
    val_data = _split(val, "val") if val is not None else None
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a tinygrad_edu.optim Optimizer, got {type(optimizer).__name__}")
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    fn, kind = _resolve_loss(loss)
    is_cls = _is_classification(y) if classification is None else bool(classification)
    dtype = _model_dtype(model)
    rng = np.random.default_rng(seed) if shuffle else None
    n_batches = math.ceil(len(X) / batch_size)
    history = History(classification=is_cls)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(epochs) * n_batches, unit="batch", leave=True)

    steps = _compiled_steps(model, fn, optimizer, compile, kind, X, dtype)
    history.compiled = steps is not None
    guard = _SigintGuard()
    try:
        with guard:
            for epoch in range(1, int(epochs) + 1):
                model.train()
                start = time.perf_counter()
                total_loss, correct, seen = 0.0, 0, 0
                if bar is not None:
                    bar.set_description(f"epoch {epoch}/{epochs}")
                for b, (xb, yb) in enumerate(_batches(X, y, batch_size, rng)):
                    x = Tensor._wrap(np.asarray(xb, dtype=dtype))
                    if steps is not None:  # compiled: zero_grad, forward, backward; the update after the check
                        try:
                            cost, out = steps.forward_backward(x, _target(yb, steps.output, kind))
                        except compiler.TraceError:
                            if compile is True:
                                raise
                            steps = None  # "auto": what the step does cannot be compiled; this batch again, eagerly
                            history.compiled = False
                    if steps is None:
                        optimizer.zero_grad()
                        out = model(x)
                        cost = fn(out, _target(yb, out, kind))
                    if cost.size != 1:
                        raise ValueError(f"the loss must be a scalar, got shape {cost.shape}")
                    value = float(cost.item())
                    if not math.isfinite(value) and nonfinite == "raise":
                        raise NonFiniteLossError(
                            f"the loss is {value} at epoch {epoch}, batch {b + 1} of {n_batches}: training stopped "
                            f"before that update, and the model keeps the weights of the step before. A loss that "
                            f"blows up usually means a learning rate too large for this network: try a smaller one "
                            f"(now {getattr(optimizer, 'lr', '?')}), or pass nonfinite='continue' to train on",
                            history, epoch, b + 1, value)
                    if steps is not None:
                        steps.update()
                    elif getattr(optimizer, "takes_closure", False):  # LBFGS, CG, Newton: re-evaluate this batch
                        cost.backward()
                        optimizer.step(lambda xb=xb, yb=yb: _batch_cost(model, fn, xb, yb, kind, dtype))
                    else:
                        cost.backward()
                        optimizer.step()
                    total_loss += value * len(xb)
                    seen += len(xb)
                    if is_cls:
                        correct += _correct(out.data, yb)
                    if bar is not None:
                        bar.update(1)
                        if b % 10 == 0:
                            bar.set_postfix(loss=f"{total_loss / seen:.4g}", refresh=False)
                    for cb in callbacks:
                        if hasattr(cb, "on_batch_end"):
                            cb.on_batch_end(b, value)
                    if guard.requested:
                        raise KeyboardInterrupt
                updates_done = time.perf_counter()
                if scheduler is not None:
                    scheduler.step()
                if val_data is not None:
                    v = evaluate(model, *val_data, loss=fn, classification=is_cls, batch_size=max(batch_size, 1024))
                else:
                    v = {"loss": float("nan"), "accuracy": float("nan")}
                history.epoch.append(epoch)
                history.train_loss.append(total_loss / seen)
                history.train_accuracy.append(correct / seen if is_cls else float("nan"))
                history.val_loss.append(v["loss"])
                history.val_accuracy.append(v["accuracy"])
                history.seconds.append(time.perf_counter() - start)
                history.train_seconds.append(updates_done - start)
                if bar is not None:
                    post = {"loss": f"{history.train_loss[-1]:.4g}"}
                    if is_cls:
                        post["acc"] = f"{history.train_accuracy[-1]:.3f}"
                    if val_data is not None and is_cls:
                        post["val_acc"] = f"{v['accuracy']:.3f}"
                    bar.set_postfix(post)
                for cb in callbacks:
                    if hasattr(cb, "on_epoch_end"):
                        cb.on_epoch_end(epoch, history)
                    elif callable(cb):
                        cb(epoch, history)
    except KeyboardInterrupt:
        history.interrupted = True
    except StopTraining:
        history.stopped_early = True
    finally:
        if bar is not None:
            bar.close()
        model.train()
        if steps is not None and (steps.forward_backward.eager_reason or steps.update.eager_reason):
            history.compiled = False  # "auto" found a step it could not replay and trained on eagerly
    return history
