"""Workloads 1 and 3 with the whole training step under `jax.jit`, for comparison when jax is importable (it is
never installed by the project: `pip install "jax[cpu]"` to see these rows).

The step is a pure function (params, x, y) -> new params, as JAX writes it: `jax.grad` of the same loss, the same
SGD update, float64 enabled for workload 3 as the others run it. Each timed call first compiles and runs the step
once (not timed), then times the steps; `block_until_ready` makes each result count.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jax

jax.config.update("jax_enable_x64", True)  # workload 3 is float64 on every side

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from numpy_floor import tiny_data  # noqa: E402


def _tiny_loss(params: Sequence[jnp.ndarray], X: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    a = X
    for layer in range(3):
        z = a @ params[2 * layer] + params[2 * layer + 1]
        a = jnp.maximum(z, 0) if layer < 2 else z
    return jnp.mean((a - y) ** 2)


def _sgd_step(loss, lr: float):
    @jax.jit
    def step(params, x, y):
        grads = jax.grad(loss)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads)]
    return step


def tiny_mlp_steps(params: list[np.ndarray], steps: int = 2000, lr: float = 0.01) -> float:
    X, y = (jnp.asarray(a) for a in tiny_data())
    ps = [jnp.asarray(p) for p in params]
    step = _sgd_step(_tiny_loss, lr)
    jax.block_until_ready(step(ps, X, y))  # compiled before the clock starts
    start = time.perf_counter()
    for _ in range(steps):
        ps = step(ps, X, y)
    jax.block_until_ready(ps)
    return (time.perf_counter() - start) / steps


def _mnist_loss(params: Sequence[jnp.ndarray], x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    W1, b1, W2, b2 = params
    a1 = jax.nn.sigmoid(x @ W1 + b1)
    a2 = jax.nn.sigmoid(a1 @ W2 + b2)
    return jnp.sum((a2 - y) ** 2) / x.shape[0]  # the chapter's C = 1/N Σ ‖y - ŷ‖²


def mnist_sigmoid_epoch(X: np.ndarray, Y: np.ndarray, params: list[np.ndarray], batch: int = 128,
                        lr: float = 0.1) -> float:
    ps = [jnp.asarray(p) for p in params]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    step = _sgd_step(_mnist_loss, lr)
    last = (len(X) - 1) // batch * batch
    for i in (0, last):  # both batch shapes compiled before the clock starts
        jax.block_until_ready(step(ps, Xj[i:i + batch], Yj[i:i + batch]))
    batches = [(Xj[i:i + batch], Yj[i:i + batch]) for i in range(0, len(X), batch)]
    start = time.perf_counter()
    for x, y in batches:
        ps = step(ps, x, y)
    jax.block_until_ready(ps)
    return time.perf_counter() - start
