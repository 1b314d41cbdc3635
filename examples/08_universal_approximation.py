"""The universal approximation theorem (the chapter's "Hidden layers" section and the tutorial it points to), tried.

The theorem says one hidden layer is enough to approximate a continuous function as closely as we like, given
enough hidden units; it does not say how to find the weights, and a small training error is not the goal
(the chapter's caveats). This script fits 1-D functions on [−1, 1] with networks x → h tanh units → ŷ,
trained by gradient descent (Adam, full batch) on the chapter's cost C = 1/N Σ (y_i − ŷ_i)², on our engine:

1. sin(2πx), |x| and a step, with h = 1, 3, 10, 50 hidden units: the fits, and the training error against h
   (it falls with h for the two continuous functions; the step, which is not continuous, stays the hardest);
2. overfitting: 12 noisy samples of sin(πx) and 50 units: the training error keeps falling while the error
   on held-out points, after a minimum, rises, and ends above what the true function itself scores there.

Each hidden unit tanh(w x + b) is a smoothed step located at x = −b/w (tanh(z) = 2σ(2z) − 1 is the chapter's
sigmoid stretched to (−1, 1), which trains faster here). The default initialisation puts every
bias at 0, so every step starts at x = 0; here the steps start at random places in [−1, 1] with random
steepness (the picture behind the theorem: a sum of steps), which makes the fits far more reliable.

    python examples/08_universal_approximation.py           # full: 3 seeds, 1 500 steps (figures in out/)
    python examples/08_universal_approximation.py --quick   # what CI runs: 1 seed, 600 steps

Measured on a shared 2-core machine: quick 12–18 s, full 70 s. Full, median training C over 3 seeds for
h = 1, 3, 10, 50: sin(2πx) 0.36, 0.11, 4.5e-4, 9.6e-5; |x| 0.060, 7.9e-4, 8.9e-5, 4.4e-5; step 0.25, 0.011,
5.4e-3, 4.1e-3. Overfitting (50 units, seed 0): training C 0.0038, held-out C from 0.052 (step 50) up to 0.38,
while sin(πx) itself scores 0.039 there.

Credit: the chapter "Neural Networks" and its tutorial (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygrad_edu as tg

TARGETS = {
    "sin(2πx)": lambda x: np.sin(2 * np.pi * x),
    "|x|": np.abs,
    "step": lambda x: (x > 0).astype(np.float64),
}
CONTINUOUS = ("sin(2πx)", "|x|")
WIDTHS = (1, 3, 10, 50)


def make_model(width: int, seed: int) -> tg.nn.MLP:
    """x → `width` tanh units → a linear output, its hidden steps spread over [−1, 1] (see the docstring)."""
    tg.manual_seed(seed)
    model = tg.nn.MLP([1, width, 1], activation="tanh", output_activation="identity")
    rng = np.random.default_rng(seed)
    steepness = rng.choice([-1.0, 1.0], size=width) * rng.uniform(2.0, 10.0, size=width)
    location = rng.uniform(-1.0, 1.0, size=width)
    hidden = model.linears[0]
    with tg.no_grad():  # a change of starting point, not a step of training: keep it out of the graph
        hidden.weight.data[:, 0] = steepness
        hidden.bias.data[:] = -steepness * location
    return model


def train(model, x, y, steps: int, lr: float, held_out=None, every: int = 10):
    """Full-batch gradient descent with Adam on C = 1/N Σ (y − ŷ)²; returns (steps, training C, held-out C)
    recorded every `every` steps (held-out C is empty without held-out data). The learning rate decays to 0
    along a cosine: large steps early to move the units, small ones late to settle (a constant rate of 0.05
    sometimes throws a 50-unit fit out of its minimum late in training; and Adam moves every
    parameter by about lr per step, so a wide layer moves its output more: hence the modest 0.02)."""
    optimizer = tg.optim.Adam(model.parameters(), lr=lr)
    schedule = tg.optim.CosineAnnealingLR(optimizer, T_max=steps)
    X, Y = tg.tensor(x), tg.tensor(y)
    record, train_curve, held_curve = [], [], []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            with tg.no_grad():
                record.append(step)
                train_curve.append(tg.mse(model(X), Y).item())
                if held_out is not None:
                    held_curve.append(tg.mse(model(tg.tensor(held_out[0])), tg.tensor(held_out[1])).item())
        if step == steps:
            break
        optimizer.zero_grad()
        tg.mse(model(X), Y).backward()
        optimizer.step()
        schedule.step()
    return np.array(record), np.array(train_curve), np.array(held_curve)


def predict(model, x):
    with tg.no_grad():
        return model(tg.tensor(x)).numpy()


def width_experiment(seeds, steps: int, lr: float):
    """Training error [target][width] -> one value per seed, and the seed-0 fits for the figure."""
    x = np.linspace(-1, 1, 64)[:, None]
    errors = {name: {h: [] for h in WIDTHS} for name in TARGETS}
    fits = {name: {} for name in TARGETS}
    for name, f in TARGETS.items():
        for h in WIDTHS:
            for seed in seeds:
                model = make_model(h, seed)
                _, curve, _ = train(model, x, f(x), steps, lr, every=steps)
                errors[name][h].append(curve[-1])
                if seed == seeds[0]:
                    fits[name][h] = model
        row = "  ".join(f"h={h}: {np.median(errors[name][h]):.2e}" for h in WIDTHS)
        print(f"   {name:9s} {row}")
    return errors, fits


def width_figures(errors, fits):
    grid = np.linspace(-1, 1, 400)[:, None]
    fig_fits = Figure(figsize=(13, 3.6), layout="constrained")
    for ax, (name, f) in zip(fig_fits.subplots(1, len(TARGETS)), TARGETS.items()):
        ax.plot(grid, f(grid), "k", lw=3, alpha=0.3, label="target")
        for h, model in fits[name].items():
            ax.plot(grid, predict(model, grid), lw=1.3, label=f"h = {h}")
        ax.set_title(name)
        ax.set_xlabel("x")
    ax.legend(fontsize=8)
    fig_fits.suptitle("one hidden layer of h tanh units, fitted by gradient descent")

    fig_err = Figure(figsize=(5, 3.8), layout="constrained")
    ax = fig_err.subplots()
    for name in TARGETS:
        med = [np.median(errors[name][h]) for h in WIDTHS]
        ax.plot(WIDTHS, med, "o-", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(WIDTHS, [str(h) for h in WIDTHS])
    ax.set_xlabel("hidden units h")
    ax.set_ylabel("training error C (median over seeds)")
    ax.legend()
    return {"fits.png": fig_fits, "error_vs_width.png": fig_err}


def truth(x):
    """The function behind the noisy samples of part 2."""
    return np.sin(np.pi * x)


def overfitting_experiment(seed: int, steps: int, lr: float, noise: float = 0.2):
    """12 noisy samples of sin(πx); 3 and 50 hidden units; errors on 201 held-out noisy samples over training."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, 12))[:, None]
    y = truth(x) + noise * rng.normal(size=x.shape)
    x_held = np.linspace(-1, 1, 201)[:, None]
    y_held = truth(x_held) + noise * rng.normal(size=x_held.shape)
    # the error the true function itself makes on the held-out samples: the noise, which no fit can predict
    floor = float(np.mean((y_held - truth(x_held)) ** 2))
    runs = {}
    for h in (3, 50):
        model = make_model(h, seed)
        runs[h] = (model, *train(model, x, y, steps, lr, held_out=(x_held, y_held)))
    return (x, y, x_held, y_held, floor), runs


def overfitting_figure(data, runs):
    x, y, x_held, y_held, floor = data
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    for h, (model, step, train_c, held_c) in runs.items():
        line, = left.plot(step, train_c, label=f"h = {h}, training")
        left.plot(step, held_c, "--", color=line.get_color(), label=f"h = {h}, held-out")
        right.plot(x_held, predict(model, x_held), color=line.get_color(), label=f"h = {h}")
    left.axhline(floor, color="k", lw=0.8, ls=":", label="true function, held-out")
    left.set_yscale("log")
    left.set_xlabel("gradient-descent step")
    left.set_ylabel("C")
    left.legend(fontsize=8)
    right.plot(x_held, truth(x_held), "k", lw=3, alpha=0.3, label="sin(πx)")
    right.plot(x, y, "ko", label="12 training points")
    right.plot(x_held, y_held, ".", color="0.6", ms=3, label="held-out points")
    right.legend(fontsize=8)
    right.set_xlabel("x")
    return {"overfitting.png": fig}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer steps (CI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, help="seeds per fit (default 1 quick, 3 full)")
    parser.add_argument("--steps", type=int, help="gradient-descent steps per fit (default 600 quick, 1 500 full)")
    parser.add_argument("--out", help="directory for the figures (default out/08_universal_approximation; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, Path(args.out or (tmp if args.quick else "out/08_universal_approximation")))


def run(args, out: Path) -> int:
    seeds = [args.seed + i for i in range(args.seeds or (1 if args.quick else 3))]
    steps = args.steps or (600 if args.quick else 1500)
    start = time.perf_counter()

    print(f"1. Training error C after {steps} steps against the number of hidden units h "
          f"(median over {len(seeds)} seed{'s' * (len(seeds) > 1)}):")
    errors, fits = width_experiment(seeds, steps, lr=0.02)
    for name in CONTINUOUS:  # the theorem's promise, seed by seed: more units, smaller error
        for i, seed in enumerate(seeds):
            by_width = [errors[name][h][i] for h in WIDTHS]
            assert all(a > b for a, b in pairwise(by_width)), (name, seed, by_width)
    widest = WIDTHS[-1]
    step_err = np.median(errors["step"][widest])
    smooth_err = max(np.median(errors[name][widest]) for name in CONTINUOUS)
    print(f"   with h = {widest}: the step's error is {step_err / smooth_err:.0f}× the worse continuous target's: "
          "a discontinuity needs infinitely steep units, which gradient descent only approaches")
    assert step_err > 5 * smooth_err

    print(f"\n2. Overfitting: 12 noisy samples (σ = 0.2) of sin(πx), {3 * steps} steps")
    data, runs = overfitting_experiment(args.seed, 3 * steps, lr=0.02)
    floor = data[-1]
    for h, (_, step, train_c, held_c) in runs.items():
        best = int(np.argmin(held_c))
        print(f"   h = {h:2d}: training C {train_c[0]:.3f} → {train_c[-1]:.5f}; held-out C lowest {held_c[best]:.4f} "
              f"at step {step[best]}, final {held_c[-1]:.4f}")
    print(f"   the true function scores {floor:.4f} on the held-out points (the noise variance)")
    _, step, train_c, held_c = runs[50]
    best = int(np.argmin(held_c))
    assert train_c[-1] < 0.25 * 0.2**2  # 50 units memorised the training points, noise included
    assert held_c[-1] > floor  # and predict new points worse than the truth does
    assert held_c[-1] > 1.05 * held_c[best] and train_c[-1] < train_c[best]  # held-out rose while training fell

    out.mkdir(parents=True, exist_ok=True)
    figures = {**width_figures(errors, fits), **overfitting_figure(data, runs)}
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        print(f"wrote {out / name}")
    if args.quick and not args.out:
        print("(quick mode: a temporary directory, removed on exit; pass --out DIR to keep the figures)")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
