"""Backpropagation, the chapter's section "Training a neural network: backpropagation", made runnable.

1. eq. (99): C = (y − σ(wᵀx))², whose derivative dC/dw = −2 (y − σ(wᵀx)) σ'(wᵀx) xᵀ we compare with autograd;
2. the δ-equations (eqs. 111, 113, 117) against autograd for a small network, with the shapes table that
   answers the chapter's dimension questions;
3. a student's δ-function with a classic mistake (Σ' forgotten in the recursion), caught and named.

    python examples/06_backpropagation.py           # full
    python examples/06_backpropagation.py --quick   # what CI runs
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.backprop_by_hand import check, check_student
from tinygrad_edu.backprop_by_hand import equations as eq


def closed_form_eq99(seed: int) -> float:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=5), 1.0
    w = tg.tensor(rng.normal(size=5), requires_grad=True)
    C = (y - (w @ x).sigmoid()) ** 2
    C.backward()
    s = 1 / (1 + np.exp(-(w.numpy() @ x)))
    by_hand = -2 * (y - s) * s * (1 - s) * x  # dC/dw, a row vector (numerator layout)
    error = float(np.max(np.abs(by_hand - w.grad.numpy())))
    print(f"1. eq. (99): dC/dw by hand vs autograd, max difference {error:.1e}")
    return error


def student_forgets_sigma_prime(Ws, X, Y):
    """A student's backprop for sigmoid layers with one mistake: σ'(z^l) left out of the recursion."""
    A = [X]
    for W in Ws:
        A.append(1 / (1 + np.exp(-(np.hstack([A[-1], np.ones((len(X), 1))]) @ W.T))))
    delta = -2 / len(X) * (Y - A[-1]) * A[-1] * (1 - A[-1])
    grads = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        grads[l] = np.hstack([A[l], np.ones((len(X), 1))]).T @ delta
        delta = delta @ Ws[l][:, :-1]  # mistake: should be multiplied by σ'(z^l) = a(1 − a)
    return grads


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller network (CI)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = [64, 16, 10] if args.quick else [784, 300, 10]

    assert closed_form_eq99(args.seed) < 1e-12

    tg.manual_seed(args.seed)
    model = tg.nn.MLP(sizes, activation="sigmoid")  # the chapter's network: sigmoid everywhere, MSE
    rng = np.random.default_rng(args.seed)
    X = rng.random((16, sizes[0]))
    Y = tg.functional.one_hot(rng.integers(0, sizes[-1], 16), sizes[-1]).numpy()
    print("\n2. The δ-equations against autograd")
    print(eq.format_shapes_table(eq.shapes_table(sizes)))
    report = check(model, X, Y)
    print(report)
    assert report.ok and report.max_error <= 1e-10

    print("\n3. A student's backprop with Σ' forgotten")
    student = check_student(student_forgets_sigma_prime, model, X, Y)
    print(student)
    assert not student.ok and student.first_wrong_layer == len(sizes) - 2 and "no_sigma_prime" in str(student)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
