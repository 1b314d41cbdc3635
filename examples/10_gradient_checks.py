"""Checking the gradients of an operation you wrote yourself, with property-based tests.

The chapter derives ∂C/∂W by hand; a hand-written derivative is wrong until checked. A gradient check
compares backward with finite differences (f(x + ε) − f(x − ε)) / 2ε; a property-based test (hypothesis)
runs that check on many drawn inputs and, when one fails, shrinks it to a minimal failing input. Two
operations written with tinygrad_edu.Function, each with a planted bug that a check at a few hand-picked
inputs misses:

1. softplus(x) = log(1 + eˣ), the smooth cousin of the chapter's ReLU, whose derivative is σ(x). Written
   stably by sign, its backward has a slip in the x < 0 branch: a check at x = 0.5, 1, 2 passes; the
   property test finds a negative input; the fixed version passes, second derivatives included;
2. adding a bias b to every row of a batch z (the "+ b" of eq. 93), whose backward forgets that the copies
   of b made by broadcasting must add their gradients: a check with z and b of the same shape passes; the
   property test finds shapes that broadcast; the fix is sum_to.

    python examples/10_gradient_checks.py           # full: 200 drawn inputs per property
    python examples/10_gradient_checks.py --quick   # what CI runs: 40 drawn inputs per property

Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import re

import numpy as np
from hypothesis import settings

import tinygrad_edu as tg
from tinygrad_edu.testing import assert_gradients_match, broadcastable_tensors, tensors


class BuggySoftplus(tg.Function):
    """softplus(x) = max(x, 0) + log(1 + e^{−|x|}): never overflows. Its derivative σ(x), by sign of x, is
    1 / (1 + e^{−|x|}) for x ≥ 0 and e^{−|x|} / (1 + e^{−|x|}) for x < 0 (again no overflow)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = np.exp(-np.abs(x))  # numpy functions: backward gets arrays, or Tensors under create_graph
        return grad * np.where(x >= 0, 1 / (1 + e), 1 / (1 + e))  # the bug: the x < 0 branch is e / (1 + e)


class Softplus(BuggySoftplus):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = np.exp(-np.abs(x))
        return grad * np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class BuggyAddBias(tg.Function):
    """z + b, b broadcast over z (numpy's rules): b of shape (K,) is added to every row of z (B, K)."""

    @staticmethod
    def forward(ctx, z, b):
        ctx.shapes = (z.shape, b.shape)  # what backward needs to undo the broadcast
        return z + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad  # the bug: b was copied to every row, so its gradient is the sum over the copies


class AddBias(BuggyAddBias):
    @staticmethod
    def backward(ctx, grad):
        z_shape, b_shape = ctx.shapes
        return tg.sum_to(grad, z_shape), tg.sum_to(grad, b_shape)  # sum over the axes broadcasting added


def caught(check) -> str:
    """Run a check that should fail; return what it reported (hypothesis adds the shrunk input as a note)."""
    try:
        check()
    except (AssertionError, RuntimeError) as error:
        return "\n".join([str(error), *getattr(error, "__notes__", [])])
    raise AssertionError("the planted bug was not caught")


# How hypothesis introduces the shrunk input it reports ("Failing test case" since hypothesis 6.16x)
SHRUNK_INPUT = re.compile(r"Falsifying example|Failing test case")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer drawn inputs per property (CI)")
    args = parser.parse_args(argv)
    # derandomized: the same inputs on every run, so a red run is reproducible; no deadline (a gradient
    # check makes two forward passes per input element, and the machine may be busy)
    drawn = settings(max_examples=40 if args.quick else 200, derandomize=True, deadline=None)

    print("1. softplus with a slip in backward's x < 0 branch")
    x = tg.tensor([0.5, 1.0, 2.0], requires_grad=True, name="x")
    assert tg.gradcheck(BuggySoftplus.apply, [x])
    print("   gradcheck at x = 0.5, 1, 2 (hand-picked, all positive): passed")
    report = caught(lambda: assert_gradients_match(BuggySoftplus.apply, tensors(), settings=drawn))
    print("   the property test over drawn tensors:\n" + "\n".join("   | " + line for line in report.splitlines()))
    assert SHRUNK_INPUT.search(report), "hypothesis reports the shrunk input"
    analytical, numerical = map(float, re.search(r"analytical (\S+), numerical (\S+),", report).groups())
    # the bug's signature: for x < 0 backward gave 1 / (1 + e^{x}) = σ(−x) = 1 − σ(x) instead of σ(x)
    assert abs(analytical + numerical - 1) < 1e-6
    print(f"   at the shrunk input backward gave {analytical:.4f} = 1 − σ(x) instead of σ(x) = {numerical:.4f}")

    assert_gradients_match(Softplus.apply, tensors(), settings=drawn)
    print(f"   fixed: passed on {drawn.max_examples} drawn tensors")
    # second derivatives: backward is written with Tensor operations, so it can be differentiated too; away
    # from 0, where its |x| has a kink that the function itself does not have
    assert tg.gradgradcheck(Softplus.apply, [tg.tensor([-2.5, -0.5, 0.3, 1.7], requires_grad=True)])
    big = tg.randn(200, 50, requires_grad=True)  # 10 000 elements: checked along random directions
    big_report = tg.check_gradients(Softplus.apply, [big])
    assert big_report and big_report.mode == "fast"
    print("   fixed: second derivatives pass, and a 200×50 input passes in fast mode (random projections)")

    print("\n2. z + b with b broadcast over z: backward forgets to add up b's copies")
    z = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="z")
    b_same = tg.tensor(np.ones((2, 3)), requires_grad=True, name="b")
    assert tg.gradcheck(BuggyAddBias.apply, [z, b_same])
    print("   gradcheck with z and b both of shape (2, 3): passed")
    report = caught(lambda: assert_gradients_match(BuggyAddBias.apply, broadcastable_tensors(2), settings=drawn))
    print("   the property test over shapes that broadcast:\n" + "\n".join("   | " + l for l in report.splitlines()))
    assert "sum_to" in report and SHRUNK_INPUT.search(report)  # the engine names the fix

    assert_gradients_match(AddBias.apply, broadcastable_tensors(2), settings=drawn)
    b = tg.tensor([0.1, -0.2, 0.3], requires_grad=True, name="b")
    assert tg.gradcheck(AddBias.apply, [z, b]) and tg.gradgradcheck(AddBias.apply, [z, b])
    print(f"   fixed: passed on {drawn.max_examples} drawn pairs of shapes, and for a batch z (2, 3) with b (3,)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
