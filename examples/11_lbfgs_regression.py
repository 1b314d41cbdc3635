"""The tutorial's question: why does scikit-learn's MLPRegressor(solver="lbfgs") fit sin(x) so much better than Adam?

The tutorial sheet fits a 1-D regression, y = sin(2x) (and the harder sin(10x)) on [−1, 1], with a 1-H-1
network of tanh or sigmoid units, using scikit-learn. This script trains the same networks on our engine
with SGD (momentum 0.9), Adam and L-BFGS, the same number of full-batch iterations each, through `tg.fit`
(L-BFGS takes a closure; fit passes one), and prints each final cost, C = 1/N Σ (y_i − ŷ_i)², beside
scikit-learn's MLPRegressor with solver="lbfgs" and solver="adam" on the same data, sizes and iterations
(alpha=0: both sides minimise the same cost, without scikit-learn's default L2 term).

The answer: a first-order method takes steps of a fixed scale, λ, along a gradient that is tiny along the
flat directions of C (a network's cost is a long, curved valley); L-BFGS estimates the curvature from how
the gradient changes and steps to the valley floor's minimum, and its line search chooses the step's length.

    python examples/11_lbfgs_regression.py            # full: 3 seeds, tanh and sigmoid, 2 000 iterations
    python examples/11_lbfgs_regression.py --quick    # what CI runs: 3 seeds, tanh, 300 iterations

Results, the median over the seeds, are printed; the script checks that our L-BFGS ends within 2× of
scikit-learn's lbfgs (or lower) in every row. Measured (full run; SGD, Adam, L-BFGS, then scikit-learn's
adam and lbfgs): sin(2x) tanh 5.8e-4, 1.1e-3, 3.4e-7 | 9.1e-4, 7.9e-6; sin(2x) sigmoid 9.6e-4, 1.4e-3, 1.3e-6 |
1.6e-3, 1.7e-6; sin(10x) tanh 0.22, 4.6e-4, 2.3e-6 | 4.4e-3, 3.8e-5; sin(10x) sigmoid 0.46, 0.27, 6.9e-5 |
0.46, 0.46 (0.46 is the cost of the best straight line: there SGD and scikit-learn's lbfgs fit no better).
Each network's cost has several minima, so single runs vary by orders of magnitude: hence 3 seeds and medians.
Credit: the chapter "Neural Networks" and its tutorial (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import tinygrad_edu as tg


def network(hidden: int, activation: str, seed: int) -> tg.nn.Module:
    tg.manual_seed(seed)
    unit = {"tanh": tg.nn.Tanh, "sigmoid": tg.nn.Sigmoid}[activation]
    return tg.nn.Sequential(tg.nn.Linear(1, hidden), unit(), tg.nn.Linear(hidden, 1))


def cost(predict, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.ravel(predict(X)) - y.ravel()) ** 2))


def ours(method: str, X: np.ndarray, y: np.ndarray, hidden: int, activation: str, iterations: int, seed: int) -> float:
    model = network(hidden, activation, seed)
    if method == "L-BFGS":  # 20 iterations per call of step (PyTorch's default max_iter), so iterations/20 epochs
        opt, epochs = tg.optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe"), iterations // 20
    elif method == "Adam":
        opt, epochs = tg.optim.Adam(model.parameters(), lr=0.01), iterations
    else:
        opt, epochs = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), iterations
    tg.fit(model, (X, y), "mse", opt, epochs=epochs, batch_size=len(X), progress=False, shuffle=False)
    with tg.no_grad():
        return cost(lambda a: model(tg.tensor(a)).numpy(), X, y)


def sklearn(solver: str, X: np.ndarray, y: np.ndarray, hidden: int, activation: str, iterations: int,
            seed: int) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    kw = {"learning_rate_init": 0.01, "batch_size": len(X), "n_iter_no_change": iterations} if solver == "adam" else {}
    model = MLPRegressor(hidden_layer_sizes=(hidden,), activation={"sigmoid": "logistic"}.get(activation, activation),
                         solver=solver, alpha=0.0, max_iter=iterations, tol=0.0, random_state=seed, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # it stops at max_iter, as asked
        model.fit(X, y.ravel())
    return cost(model.predict, X, y)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tanh only, 300 iterations (CI)")
    args = parser.parse_args(argv)
    seeds = [0, 1, 2]  # a network's cost has several minima: where each run ends depends on its start
    activations = ["tanh"] if args.quick else ["tanh", "sigmoid"]
    iterations = 300 if args.quick else 2000
    X = np.linspace(-1, 1, 100)[:, None]
    targets = {"sin(2x)": (np.sin(2 * X), 3), "sin(10x)": (np.sin(10 * X), 10)}  # (y, hidden units H)
    columns = ["SGD", "Adam", "L-BFGS", "sklearn adam", "sklearn lbfgs"]
    print(f"Final training cost C = mean (y - ŷ)², {len(X)} points on [-1, 1], {iterations} full-batch iterations, "
          f"median over {len(seeds)} seed(s)\n")
    print(f"{'target':<10}{'network':<16}" + "".join(f"{c:>15}" for c in columns))
    for name, (y, hidden) in targets.items():
        for activation in activations:
            results = {c: [] for c in columns}
            for seed in seeds:
                for method in ("SGD", "Adam", "L-BFGS"):
                    results[method].append(ours(method, X, y, hidden, activation, iterations, seed))
                for solver in ("adam", "lbfgs"):
                    results[f"sklearn {solver}"].append(sklearn(solver, X, y, hidden, activation, iterations, seed))
            median = {c: float(np.median(v)) for c, v in results.items()}
            print(f"{name:<10}{f'1-{hidden}-1 {activation}':<16}" + "".join(f"{median[c]:>15.3g}" for c in columns))
            assert median["L-BFGS"] <= 2 * median["sklearn lbfgs"], f"{name}, {activation}: L-BFGS behind scikit-learn's"
            assert median["L-BFGS"] < min(median["SGD"], median["Adam"]), "L-BFGS beats the first-order methods"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
