"""The two-layer linear network ŷ = W x + b (eq. 93), trained by gradient descent on the chapter's MSE cost.

With the MSE cost C = 1/N Σ‖y_i − ŷ_i‖² this network is ordinary least squares with one-hot targets, so
gradient descent must end where np.linalg.lstsq starts: this script trains the network on our engine (from
W = 0, b = 0, plain W ← W − λ ∂C/∂W), compares its weights with lstsq on the same design matrix [X, 1], and
puts its test error next to the published row "linear classifier (1-layer NN): 12.0 %" (LeCun et al. 1998,
the table of the MNIST page).

Pixels are standardized (each minus its training mean, divided by its training standard deviation): an affine
change of coordinates that leaves the model and the least-squares predictions unchanged but makes the cost
bowl far less elongated (05_gradient_descent.py): hundreds of steps bring the weights within 1e-3 of lstsq,
where on raw pixels it would take more than 10⁷ (computed from the singular values for 2 000 images).
λ = 1/L, L the largest curvature of C (from the largest singular value of [X, 1]).

    python examples/02_linear_network.py            # full: 60 000 × 784 pixels, 500 steps
    python examples/02_linear_network.py --quick    # CI: 5 000 images averaged to 14×14, weights within 1e-3

Measured on a shared 2-core machine. Full (60 000 × 784, 500 steps: 195 s of descent, 5 min in all, 1.7 GB):
C = 0.380636 against lstsq's 0.380019, largest weight difference 1.5e-2 (the flattest directions of the bowl
are still moving), test error 13.88 % by descent, 13.97 % by lstsq, published 12.0 %: least squares on
these pixels is about 2 points worse than the published linear classifier. Quick (5 000 × 196, 800 steps,
4 s): weights within 4.2e-4 of lstsq, test error 15.21 % for both. Without MNIST (8×8 digits): 6.11 %.
Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.viz import plots

PUBLISHED_TEST_ERROR = 12.0  # %, "linear classifier (1-layer NN)", LeCun et al. 1998 (MNIST page table)


def load(args):
    try:
        ds, note = tg.data.mnist_or_digits(args.data_dir, args.download, dtype=np.float64)
    except tg.data.MNISTNotFoundError as error:  # --data-dir names a folder without the files: as train, exit 2
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    if note:
        print(note)
    return ds


def standardize(X, reference):
    """(X − mean) / std with the training set's statistics; constant pixels stay 0."""
    std = reference.std(axis=0)
    return (X - reference.mean(axis=0)) / np.where(std > 0, std, 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 000 images averaged to 14×14 (CI)")
    parser.add_argument("--steps", type=int, help="gradient-descent steps (default 800 quick, 500 full)")
    parser.add_argument("--data-dir", help="directory holding the four MNIST files")
    parser.add_argument("--download", action="store_true", help="fetch the MNIST files if they are missing")
    parser.add_argument("--out", help="directory for the figures (default out/02_linear_network; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        return run(args, Path(args.out or (tmp if args.quick else "out/02_linear_network")))


def run(args, out: Path) -> int:
    ds = load(args)
    X, y, X_test, y_test = ds.X_train, ds.y_train, ds.X_test, ds.y_test
    if args.quick and ds.name == "MNIST":
        # 2×2 blocks averaged: 196 pixels; with 5 000 images the bowl is elongated by ~270 only
        X, y = X[:5000], y[:5000]
        X, X_test = (A.reshape(len(A), 14, 2, 14, 2).mean(axis=(2, 4)).reshape(len(A), -1) for A in (X, X_test))
    X, X_test = standardize(X, X), standardize(X_test, X)
    Y = tg.functional.one_hot(y, 10).numpy()
    N, p = X.shape
    steps = args.steps or (800 if args.quick else 500)

    # The least-squares solution: lstsq on the design matrix [X, 1]; its last row is the bias.
    design = np.hstack([X, np.ones((N, 1))])
    solution = np.linalg.lstsq(design, Y, rcond=None)[0]
    W_ls, b_ls = solution[:-1].T, solution[-1]
    C_ls = float(np.mean(np.sum((design @ solution - Y) ** 2, axis=1)))

    # The Hessian of C with respect to each row of [W | b] is 2 AᵀA / N: its largest eigenvalue L bounds λ (< 2/L).
    L = 2 * np.linalg.norm(design, 2) ** 2 / N
    model = tg.nn.Linear(p, 10, init="zeros")  # from 0, descent stays in the row space: lstsq's minimum-norm answer
    optimizer = tg.optim.SGD(model.parameters(), lr=1 / L)
    costs, start = [], time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        C = tg.mse(model(X), Y)  # the chapter's C = 1/N Σ ‖y_i − ŷ_i‖²
        C.backward()
        optimizer.step()
        costs.append(C.item())
    seconds = time.perf_counter() - start
    C_gd = tg.mse(model(X), Y).item()
    W, b = model.weight.numpy(), model.bias.numpy()
    gap = max(np.abs(W - W_ls).max(), np.abs(b - b_ls).max())

    def test_error(W, b):
        return 100 * np.mean(np.argmax(X_test @ W.T + b, axis=1) != y_test)

    err_gd, err_ls = test_error(W, b), test_error(W_ls, b_ls)
    print(f"{ds.name}: N = {N} training images of p = {p} pixels, {len(X_test)} test images")
    print(f"gradient descent, λ = 1/L = {1 / L:.4g}, {steps} steps in {seconds:.1f} s: C = {C_gd:.6f}")
    print(f"np.linalg.lstsq:                                  C = {C_ls:.6f}")
    print(f"largest |weight difference| (W and b): {gap:.2e}")
    print(f"test error: gradient descent {err_gd:.2f} %, lstsq {err_ls:.2f} %", end="")
    print(f"; published {PUBLISHED_TEST_ERROR:.1f} % (linear classifier, LeCun et al. 1998, all 60 000 × 784)"
          if ds.name == "MNIST" else "")

    assert np.all(np.diff(costs) <= 1e-12), "with λ < 2/L the cost never increases"
    assert C_gd - C_ls < 1e-3 and abs(err_gd - err_ls) < 0.5
    if args.quick:
        assert gap < 1e-3, f"weights {gap:.2e} away from lstsq"

    out.mkdir(parents=True, exist_ok=True)
    curve = plots.training_curves(loss=np.array(costs) - C_ls, log_loss=True)
    curve.axes[0].set(xlabel="step", ylabel="C − C(lstsq)", title="gradient descent reaches least squares")
    figures = {"convergence.png": curve,
               "weights.png": plots.weight_images(W, rows=range(10), ncols=5)}  # per standardized pixel
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
