"""Optimizers: first-order ones and learning-rate schedules (first_order.py: SGD, Adam, AdamW, the
`Optimizer` base class), and those that use curvature (second_order.py: Newton, NewtonCG, CG, LBFGS, which
take a closure). `from tinygrad_edu.optim import X` works for every one of them."""

from .first_order import (
    SGD, Adam, AdamW, CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler, MultiStepLR, Optimizer, StepLR,
)
from .second_order import CG, LBFGS, Newton, NewtonCG, strong_wolfe

__all__ = [
    "CG", "LBFGS", "SGD", "Adam", "AdamW", "CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR",
    "MultiStepLR", "Newton", "NewtonCG", "Optimizer", "StepLR", "strong_wolfe",
]
