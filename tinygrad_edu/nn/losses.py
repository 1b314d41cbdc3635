"""Loss modules: thin wrappers around the losses of `tg.functional` (callable like any module, PyTorch's names and
arguments), and their registries by name.

Two registries: `LOSS_MODULES` holds every loss module (`nn.loss("huber", delta=0.5)` and `fit(loss="huber")`
build one by name); `LOSSES` holds those the training recipes, the command line and the δ-equation checker know
(the chapter's "mse" and "ce"), the ones with measured settings in experiment.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import functional as F
from ..engine.tensor import Tensor
from .layers import _canonical_name
from .module import Module

__all__ = [
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss", "LOSSES", "LOSS_MODULES", "MSELoss",
    "NLLLoss", "SmoothL1Loss", "loss", "loss_name",
]


class _Loss(Module):
    """A loss module: `reduction` and the settings listed in `settings` are kept and passed to `function`."""

    name = ""
    function: Callable[..., Tensor]  # the tg.functional loss, a staticmethod
    settings: tuple[str, ...] = ()
    reductions = F.losses.REDUCTIONS

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in self.reductions:
            raise ValueError(f"{type(self).__name__}: unknown reduction {reduction!r}; choose "
                             f"{', '.join(self.reductions[:-1])} or {self.reductions[-1]}")
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return type(self).function(input, target, reduction=self.reduction, **{k: getattr(self, k) for k in self.settings})

    def extra_repr(self) -> str:
        shown = {k: getattr(self, k) for k in self.settings if getattr(self, k) is not None}
        return ", ".join(f"{k}={v!r}" for k, v in {**shown, "reduction": self.reduction}.items())


class MSELoss(_Loss):
    """Squared error. reduction="chapter" (default): C = 1/N Σ_i ‖y_i − ŷ_i‖² (axis 0 = samples);
    "mean": PyTorch's mean over all elements; "sum"; "none": the per-sample C_i."""

    name, function = "mse", staticmethod(F.mse)
    reductions = ("chapter", "mean", "sum", "none")

    def __init__(self, reduction: str = "chapter") -> None:
        super().__init__(reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C) or (N, C, d1, ...): −1/N Σ_i log softmax(z_i)[y_i] for integer
    labels, or −1/N Σ_i Σ_c y_ic log softmax(z_i)_c for probability rows; class `weight`s, `ignore_index` and
    `label_smoothing` as in PyTorch (see tg.functional.cross_entropy)."""

    name, function = "ce", staticmethod(F.cross_entropy)
    settings = ("weight", "ignore_index", "label_smoothing")

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, int(ignore_index), float(label_smoothing)


class NLLLoss(_Loss):
    """−w_y log p[y] from log-probabilities (a LogSoftmax's output) and integer labels y."""

    name, function = "nll", staticmethod(F.nll_loss)
    settings = ("weight", "ignore_index")

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, int(ignore_index)


class L1Loss(_Loss):
    """|ŷ − y|, averaged over every element by default."""

    name, function = "l1", staticmethod(F.l1_loss)


class HuberLoss(_Loss):
    """d²/2 where |d| < delta, else delta·(|d| − delta/2), for d = ŷ − y."""

    name, function = "huber", staticmethod(F.huber_loss)
    settings = ("delta",)

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)


class SmoothL1Loss(_Loss):
    """d²/(2·beta) where |d| < beta, else |d| − beta/2, for d = ŷ − y (HuberLoss(delta=beta)/beta)."""

    name, function = "smooth_l1", staticmethod(F.smooth_l1_loss)
    settings = ("beta",)

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = float(beta)


class BCELoss(_Loss):
    """−(y log p + (1 − y) log(1 − p)) from probabilities p (a sigmoid's output), each log clamped at −100."""

    name, function = "bce", staticmethod(F.binary_cross_entropy)
    settings = ("weight",)

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight


class BCEWithLogitsLoss(_Loss):
    """BCELoss of σ(x) from the scores x, computed stably as (1 − y)·x + softplus(−x); `pos_weight` multiplies
    the positive term."""

    name, function = "bce_with_logits", staticmethod(F.binary_cross_entropy_with_logits)
    settings = ("weight", "pos_weight")

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight


#: Every loss module by name (see `loss`).
LOSS_MODULES: dict[str, type[_Loss]] = {cls.name: cls for cls in (
    MSELoss, CrossEntropyLoss, NLLLoss, L1Loss, HuberLoss, SmoothL1Loss, BCELoss, BCEWithLogitsLoss)}
#: The losses of the chapter's training, by name: "mse" is the chapter's cost, "ce" softmax cross-entropy on logits.
LOSSES: dict[str, type[_Loss]] = {name: LOSS_MODULES[name] for name in ("mse", "ce")}
_ALIASES = {"chapter": "mse", "cross_entropy": "ce", "crossentropy": "ce"}
_MODULE_ALIASES = {**_ALIASES, "mae": "l1", "l1_loss": "l1", "huber_loss": "huber", "smooth_l1_loss": "smooth_l1",
                   "nll_loss": "nll", "binary_cross_entropy": "bce",
                   "binary_cross_entropy_with_logits": "bce_with_logits"}


def loss_name(name: str) -> str:
    """The canonical name ("mse" or "ce") of `name` or an alias ("chapter", "cross_entropy"): a key of LOSSES."""
    return _canonical_name(name, LOSSES, _ALIASES, "loss")


def loss(name: str, **settings: Any) -> _Loss:
    """A new loss module by name (a key of LOSS_MODULES or an alias): loss("huber", delta=0.5) -> HuberLoss."""
    return LOSS_MODULES[_canonical_name(name, LOSS_MODULES, _MODULE_ALIASES, "loss")](**settings)
