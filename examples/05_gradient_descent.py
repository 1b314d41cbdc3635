"""Gradient descent (the chapter's eqs. 100–103 and its 2-D illustration), made runnable.

1. the 2-D picture: descent on an elongated bowl for a small, a good and a too large learning rate λ;
2. the chapter's question on eqs. (102)–(103): with δw = −λ [dC/dw]ᵀ the first-order change is
   ΔC ≈ (dC/dw) δw = −λ ‖dC/dw‖² < 0; the actual ΔC, measured on eq. (99)'s cost, approaches it
   as λ → 0;
3. a cost with two minima: where descent ends depends on the starting point and on λ;
4. momentum and Adam beside plain descent, the same number of steps on the same bowl;
5. the chapter's "other methods": plain descent, momentum, conjugate gradient, L-BFGS and Newton-Raphson on
   the bowl and on Rosenbrock's valley, on one contour plot each, with the steps each needed to reach
   ‖∇C‖ < 1e-6, and their costs against the step (log scale).

    python examples/05_gradient_descent.py            # full: 300 optimizer steps (part 5: at most 3000)
    python examples/05_gradient_descent.py --quick    # what CI runs: 100 steps (part 5: at most 300)

Measured on a shared 2-core machine, before part 5 (which adds a few seconds): full 3.2 s, quick 2.5 s.
Actual/predicted ΔC: 0.93 at λ = 1, 1.0002 at λ = 0.001. After 300 steps with λ = 0.02: plain descent
C = 3.6e-6, momentum 3.1e-13 (Adam, λ = 0.1: 5.8e-13). Part 5, steps to ‖∇C‖ < 1e-6 on the bowl and on
Rosenbrock: descent 63 and > 3000, momentum 30 and > 3000, CG 8 and 33, L-BFGS 6 and 36, Newton 1 and 29.
Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import tinygrad_edu as tg
from tinygrad_edu.viz import plots

bowl = plots.elongated_bowl  # C(w) = ½(u² + 8v²) in rotated coordinates: curvatures 1 and 8, minimum (1, 0.5)


def eq99_cost(w):
    """The chapter's single-sample cost (eq. 99), C = (y − σ(wᵀx))², for one fixed x and y."""
    x, y = np.array([1.5, -2.0]), 1.0
    return (y - (w @ x).sigmoid()) ** 2


def two_wells(w):
    """A tilted double well along w₁: a deep minimum near (−1.04, 0) and a shallower one near (0.96, 0)."""
    return (w[0] * w[0] - 1) ** 2 + 0.3 * w[0] + 0.5 * w[1] * w[1]


def cost_at(cost, w):
    return cost(tg.tensor(np.asarray(w, dtype=float))).item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 optimizer steps instead of 300 (CI)")
    parser.add_argument("--out", help="directory for the figures (default out/05_gradient_descent; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, Path(args.out or (tmp if args.quick else "out/05_gradient_descent")))


def run(args, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    start = (-1.2, 2.0)

    print("1. The elongated bowl (curvatures 1 and 8: descent diverges for λ > 2/8), 30 steps from (-1.2, 2):")
    rates = {"too small": 0.02, "good": 0.2, "too large": 0.26}
    final = {what: cost_at(bowl, plots.descend(bowl, start, lr, 30)[-1]) for what, lr in rates.items()}
    for what, lr in rates.items():
        print(f"   λ = {lr:<5} ({what:>9}): C from {cost_at(bowl, start):.3f} to {final[what]:.3g}")
    assert final["good"] < 1e-4 < final["too small"] < cost_at(bowl, start) < final["too large"]
    figures["bowl.png"] = plots.gradient_descent(learning_rates=tuple(rates.values()), steps=30)

    print("\n2. One step δw = −λ (dC/dw)ᵀ on eq. (99)'s cost: predicted ΔC = −λ‖dC/dw‖², actual ΔC")
    w0 = tg.tensor([0.3, 0.8], requires_grad=True)
    (g,) = tg.grad(eq99_cost(w0), w0)
    ratios = []
    for lr in (1.0, 0.3, 0.1, 0.03, 0.01, 0.001):
        predicted = -lr * float(g @ g)
        actual = cost_at(eq99_cost, w0.numpy() - lr * g.numpy()) - cost_at(eq99_cost, w0.numpy())
        ratios.append(actual / predicted)
        print(f"   λ = {lr:<6} predicted {predicted:+.3e}   actual {actual:+.3e}   ratio {ratios[-1]:.4f}")
    errors = np.abs(np.array(ratios) - 1)
    assert np.all(np.diff(errors) < 0) and errors[-1] < 1e-2  # first order is exact as λ → 0

    print("\n3. Two minima: where does descent end?")
    ends = {(w, lr): plots.descend(two_wells, w, lr, 200)[-1] for w, lr in
            [((0.3, 1.5), 0.1), ((-0.3, 1.5), 0.1), ((1.6, 1.0), 0.1), ((1.6, 1.0), 0.2)]}
    for (w, lr), end in ends.items():
        print(f"   from {w}, λ = {lr}: ends at ({end[0]:+.3f}, {end[1]:+.3f}), C = {cost_at(two_wells, end):+.3f}")
    assert ends[((0.3, 1.5), 0.1)][0] > 0 > ends[((-0.3, 1.5), 0.1)][0]  # the start picks the well
    assert ends[((1.6, 1.0), 0.1)][0] > 0 > ends[((1.6, 1.0), 0.2)][0]  # so does λ: a big step jumps over
    figures["two_minima.png"] = plots.gradient_descent(two_wells, w0=(1.6, 1.0), learning_rates=(0.1, 0.2),
                                                       steps=30, xlim=(-2, 2), ylim=(-1.5, 1.5))

    steps = 100 if args.quick else 300
    print(f"\n4. {steps} steps on the bowl from (-1.2, 2), each optimizer with its own λ:")
    optimizers = {"plain descent, λ = 0.02": lambda p: tg.optim.SGD(p, lr=0.02),
                  "momentum 0.9, λ = 0.02": lambda p: tg.optim.SGD(p, lr=0.02, momentum=0.9),
                  "Adam, λ = 0.1": lambda p: tg.optim.Adam(p, lr=0.1)}
    curves = {}
    for name, make in optimizers.items():
        w = tg.tensor(start, requires_grad=True)
        optimizer, costs = make([w]), []
        for _ in range(steps):
            optimizer.zero_grad()
            C = bowl(w)
            C.backward()
            optimizer.step()
            costs.append(C.item())
        curves[name] = costs + [cost_at(bowl, w.numpy())]
        print(f"   {name:<25} C = {curves[name][-1]:.3e}")
    plain, momentum, _ = (c[-1] for c in curves.values())
    assert momentum < plain, "with the same λ, momentum gets further along the flat direction"
    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.subplots()
    for name, costs in curves.items():
        ax.semilogy(costs, label=name)
    ax.set(xlabel="step", ylabel="C", title="the same bowl, three optimizers")
    ax.legend(fontsize=8)
    figures["optimizers.png"] = fig

    limit = 300 if args.quick else 3000
    print(f"\n5. Beyond gradient descent: steps to reach ‖∇C‖ < 1e-6 (at most {limit}):")
    problems = {
        "elongated bowl": (bowl, start, plots.ELONGATED_BOWL_MINIMUM, (-2.2, 4.2), (-1.5, 2.5),
                           plots.default_optimizers(lr=0.2, momentum=0.3)),
        "Rosenbrock": (plots.rosenbrock, (-1.2, 1.0), plots.ROSENBROCK_MINIMUM, (-2.0, 2.0), (-1.0, 3.0),
                       plots.default_optimizers(lr=1e-3, momentum=0.9)),
    }
    drawn = {}
    for title, (cost, w0, minimum, xlim, ylim, methods) in problems.items():
        paths = plots.optimizer_paths(cost, w0, methods, max_steps=limit)
        drawn[title] = (cost, w0, minimum, xlim, ylim, paths)
        steps = {name: len(path) - 1 for name, path in paths.items()}
        print(f"   {title:<15}" + ", ".join(f"{name} {'> ' if n >= limit else ''}{n}" for name, n in steps.items()))
        assert max(steps["CG"], steps["L-BFGS"], steps["Newton"]) < min(steps["plain descent"], steps["momentum"])
        assert all(np.abs(paths[name][-1] - minimum).max() < 1e-5 for name in ("CG", "L-BFGS", "Newton"))
    assert len(drawn["elongated bowl"][-1]["Newton"]) == 2, "on a quadratic, one Newton step is exact"
    figures["beyond_descent.png"], figures["beyond_descent_costs.png"] = plots.optimizer_comparison(drawn, limit)

    print()
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
