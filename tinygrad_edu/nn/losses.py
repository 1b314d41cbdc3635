"""Loss modules: thin wrappers around `tg.functional.mse` and `cross_entropy` (callable like any module), and
their registry by name, which the training loop, `experiment.py` and the command line read."""

from __future__ import annotations

from typing import Any

from ..functional import cross_entropy, mse
from ..engine.tensor import Tensor
from .layers import _canonical_name
from .module import Module

__all__ = ["LOSSES", "CrossEntropyLoss", "MSELoss", "loss_name"]


class MSELoss(Module):
    """Squared error. reduction="chapter" (default): C = 1/N Σ_i ‖y_i − ŷ_i‖² (axis 0 = samples);
    "mean": PyTorch's mean over all elements; "sum"; "none": the per-sample C_i."""

    name = "mse"

    def __init__(self, reduction: str = "chapter") -> None:
        super().__init__()
        if reduction not in ("chapter", "mean", "sum", "none"):
            raise ValueError(f"MSELoss: unknown reduction {reduction!r}; choose chapter, mean, sum or none")
        self.reduction = reduction

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return mse(prediction, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Softmax cross-entropy from logits: −1/N Σ_i log softmax(z_i)[y_i]; targets are integer labels (N,)
    or probability rows (N, K). reduction: "mean" (default), "sum" or "none"."""

    name = "ce"

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CrossEntropyLoss: unknown reduction {reduction!r}; choose mean, sum or none")
        self.reduction = reduction

    def forward(self, logits: Any, target: Any) -> Tensor:
        return cross_entropy(logits, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


#: The losses by name: "mse" is the chapter's cost, "ce" softmax cross-entropy on logits.
LOSSES: dict[str, type[Module]] = {cls.name: cls for cls in (MSELoss, CrossEntropyLoss)}
_ALIASES = {"chapter": "mse", "cross_entropy": "ce", "crossentropy": "ce"}


def loss_name(name: str) -> str:
    """The canonical name ("mse" or "ce") of `name` or an alias ("chapter", "cross_entropy")."""
    return _canonical_name(name, LOSSES, _ALIASES, "loss")
