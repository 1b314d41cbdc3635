"""Backpropagation by hand: the chapter's δ-equations in plain numpy, checked against the autograd engine.

    equations.py   the chapter's equations only (forward, Δ^L, the δ recursion, ∂C/∂W^l, the cost, shapes);
                   it imports nothing but numpy and the standard library: an independent witness
    mistakes.py    the usual mistakes of a hand-written backpropagation, each one step of it written wrong
    checker.py     check (the equations against autograd, layer by layer) and check_student (your own
                   function against autograd, its mistakes named)

The engine's own backward pass is elsewhere: tinygrad_edu/engine/autograd.py.
"""

from .checker import *  # noqa: F403
from .equations import *  # noqa: F403
from .mistakes import *  # noqa: F403
from . import checker, equations, mistakes

__all__ = [*equations.__all__, *mistakes.__all__, *checker.__all__]
