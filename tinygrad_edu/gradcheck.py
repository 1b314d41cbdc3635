"""Check analytical gradients (backward) against numerical ones (central finite differences).

For a function f of some tensors, the analytical Jacobian row for output element k is what backward
computes with the gradient e_k (one-hot) sent in; the numerical Jacobian column for input element j is
(f(x + ε e_j) - f(x - ε e_j)) / 2ε. In float64 the central difference is accurate to about
ε² |f'''| + 1e-16 |f| / ε, roughly 1e-10 for ε = 1e-6 and well-scaled values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import grad as autograd_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree (the message says where and by how much)."""


@dataclass
class Mismatch:
    """The worst disagreement found for one input."""

    input_index: int
    name: str | None
    index: tuple[int, ...]
    output_index: tuple[int, ...]
    analytical: float
    numerical: float
    error: float
    tolerance: float
    kink: bool


def _as_inputs(inputs: Any) -> list[Tensor]:
    if isinstance(inputs, Tensor):
        return [inputs]
    return list(inputs)


def _evaluate(fn: Callable, inputs: Sequence[Tensor]) -> np.ndarray:
    out = fn(*inputs)  # with grad enabled: fn may itself call grad() (checks of second derivatives)
    return np.array(out.data if isinstance(out, Tensor) else out, dtype=np.float64)


def numerical_jacobian(
    fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Central-difference Jacobians d out / d input_i, shape (out.size, input_i.size), one per input that
    requires grad, plus the largest disagreement between the two one-sided differences per element (a
    large value there means the function has a kink at that point)."""
    jacobians, kinks = [], []
    center = _evaluate(fn, inputs).reshape(-1)
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if not (x.data.flags.c_contiguous and x.data.flags.writeable):
            x.data = x.data.copy()  # so that reshape(-1) below is a view we can perturb
        flat = x.data.reshape(-1)  # a view: we perturb the tensor's own data, then restore it
        jac = np.zeros((center.size, flat.size))
        kink = np.zeros(flat.size)
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = _evaluate(fn, inputs).reshape(-1)
            flat[j] = original - eps
            minus = _evaluate(fn, inputs).reshape(-1)
            flat[j] = original
            jac[:, j] = (plus - minus) / (2 * eps)
            right, left = (plus - center) / eps, (center - minus) / eps
            kink[j] = np.max(np.abs(right - left), initial=0.0)
        jacobians.append(jac)
        kinks.append(kink)
    return jacobians, kinks


def analytical_jacobian(fn: Callable, inputs: Sequence[Tensor]) -> list[np.ndarray]:
    """Jacobians from backward: one backward pass per output element with a one-hot output gradient."""
    wrt = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    out = fn(*inputs)
    jacobians = [np.zeros((out.size, x.size)) for x in wrt]
    for k in range(out.size):
        seed = np.zeros(out.shape, out.dtype)
        seed.reshape(-1)[k] = 1
        grads = autograd_grad(out, wrt, grad_outputs=seed, retain_graph=True, allow_unused=True)
        for jac, g in zip(jacobians, grads):
            if g is not None:
                jac[k] = g.data.reshape(-1)
    return jacobians


def gradcheck(
    fn: Callable,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare backward with central differences for every element of the Jacobian.

    Passes when |analytical - numerical| <= atol + rtol |numerical| everywhere. Returns True, or raises a
    GradcheckError naming the input, the worst element, both values, the error and the tolerance (or
    returns False with raise_exception=False). Inputs should be float64: in float32 the finite differences
    themselves are too inaccurate to judge a gradient.
    """
    inputs = _as_inputs(inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "This check will likely fail if all the inputs are not of double precision floating point. ",
                stacklevel=2,
            )
    analytical = analytical_jacobian(fn, inputs)
    numerical, kinks = numerical_jacobian(fn, inputs, eps)
    out_shape = _evaluate(fn, inputs).shape
    wrt = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for (i, x), a, n, kink in zip(wrt, analytical, numerical, kinks):
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        if excess.size and excess.max() > 0:
            k, j = np.unravel_index(np.argmax(excess), excess.shape)
            m = Mismatch(
                input_index=i, name=x.name,
                index=tuple(int(v) for v in np.unravel_index(j, x.shape)),
                output_index=tuple(int(v) for v in np.unravel_index(k, out_shape)),
                analytical=float(a[k, j]), numerical=float(n[k, j]), error=float(abs(a[k, j] - n[k, j])),
                tolerance=float(atol + rtol * abs(n[k, j])), kink=bool(kink[j] > 10 * (atol + rtol * abs(n[k, j]))),
            )
            if raise_exception:
                raise GradcheckError(_describe(m))
            return False
    return True


def _describe(m: Mismatch) -> str:
    name = f" ({m.name!r})" if m.name else ""
    text = (
        f"gradient mismatch for input {m.input_index}{name} at element {m.index} (output element "
        f"{m.output_index}): analytical {m.analytical:.10g}, numerical {m.numerical:.10g}, "
        f"error {m.error:.3g} > tolerance {m.tolerance:.3g}"
    )
    if m.kink:
        text += (
            "; the left and right finite differences disagree there, so the function has a kink at this point "
            "(relu at 0, a max with ties, |x| at 0): move the input away from it"
        )
    return text
