"""The benchmark workloads written with the engine, the way a student writes them before there is an nn module:
parameters are leaf tensors with requires_grad, the forward pass is Tensor arithmetic, `loss.backward()`
computes every gradient, and the engine's optimizer (`tg.optim.SGD`) updates the parameters in place.
`sgd_by_hand` is the update a student writes before meeting the optimizer (`p -= lr * p.grad` under
`no_grad()`); workload 3 times it as a second series.

Each function computes exactly what its twin in numpy_floor.py computes (same shapes, dtypes, initial values,
loss and update) and returns the seconds spent training, setup excluded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

import tinygrad_edu as tg
from numpy_floor import CHAIN_ADD, CHAIN_MUL, chain_input, tiny_data


def leaves(arrays: Sequence[np.ndarray]) -> list[tg.Tensor]:
    """The parameters as leaf tensors that require grad (copies of numpy_floor.init_params' arrays)."""
    return [tg.tensor(a, requires_grad=True) for a in arrays]


def sgd_by_hand(params: Sequence[tg.Tensor], lr: float) -> None:
    """p ← p − lr ∂C/∂p in place, then clear the gradient (PyTorch's zero_grad(set_to_none=True))."""
    with tg.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def optimizer_step(params: Sequence[tg.Tensor], lr: float) -> Callable[[], None]:
    """The engine's optimizer as one call per step: `opt.step()` then `opt.zero_grad()`."""
    opt = tg.optim.SGD(params, lr=lr)

    def step() -> None:
        opt.step()
        opt.zero_grad()

    return step


def mnist_sigmoid_epoch(
    X: tg.Tensor, Y: tg.Tensor, params: list[tg.Tensor], batch: int = 128, lr: float = 0.1, compiled: bool = False
) -> float:
    """Workload 1 (see numpy_floor.mnist_sigmoid_epoch). X and Y are tensors: each batch is a view of them.
    `compiled`: the step under tg.compile, traced before the clock starts (on the first and the last batch)."""
    W1, b1, W2, b2 = params
    update = optimizer_step(params, lr)

    def step(x: tg.Tensor, y: tg.Tensor) -> None:
        a1 = (x @ W1 + b1).sigmoid()
        a2 = (a1 @ W2 + b2).sigmoid()
        tg.mse(a2, y, reduction="chapter").backward()
        update()

    if compiled:
        step = _traced(step, [(X[:batch], Y[:batch]), (X[(len(X) - 1) // batch * batch:], Y[(len(Y) - 1) // batch * batch:])])
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        step(X[i : i + batch], Y[i : i + batch])
    return time.perf_counter() - start


def _traced(step: Callable[..., None], examples: list[tuple]) -> Callable[..., None]:
    """tg.compile(step), called twice on each example (the two traces), so that what is timed is the code."""
    compiled = tg.compile(step)
    for args in examples:
        for _ in range(2):
            compiled(*args)
    return compiled


def mnist_relu_ce_epoch(
    X: tg.Tensor, labels: tg.Tensor, params: list[tg.Tensor], batch: int = 32, lr: float = 0.05
) -> float:
    """Workload 2 (see numpy_floor.mnist_relu_ce_epoch); `labels` are the integer classes."""
    W1, b1, W2, b2 = params
    step = optimizer_step(params, lr)
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], labels[i : i + batch]
        logits = (x @ W1 + b1).relu() @ W2 + b2
        tg.cross_entropy(logits, y).backward()
        step()
    return time.perf_counter() - start


def tiny_mlp_steps(
    params: list[tg.Tensor], steps: int = 2000, lr: float = 0.01, by_hand: bool = False, compiled: bool = False
) -> float:
    """Workload 3 (see numpy_floor.tiny_mlp_steps): seconds per step. `by_hand`: sgd_by_hand instead of the
    optimizer; `compiled`: the step under tg.compile (traced before the clock starts)."""
    X, y = (tg.tensor(a) for a in tiny_data())
    W, b = params[0::2], params[1::2]
    update = (lambda: sgd_by_hand(params, lr)) if by_hand else optimizer_step(params, lr)

    def step(X: tg.Tensor, y: tg.Tensor) -> None:
        a = X
        for layer in range(3):
            z = a @ W[layer] + b[layer]
            a = z.relu() if layer < 2 else z
        tg.mse(a, y, reduction="mean").backward()
        update()

    if compiled:
        step = _traced(step, [(X, y)])
    start = time.perf_counter()
    for _ in range(steps):
        step(X, y)
    return (time.perf_counter() - start) / steps


def elementwise_chain(n: int) -> float:
    """Workload 4 (see numpy_floor.elementwise_chain): forward and backward through n operations."""
    x = tg.tensor(chain_input(), requires_grad=True)
    start = time.perf_counter()
    y = x
    for i in range(n):
        kind = i % 3
        y = y * CHAIN_MUL if kind == 0 else y + CHAIN_ADD if kind == 1 else y.tanh()
    y.sum().backward()
    return time.perf_counter() - start


def lenet_epoch(X: tg.Tensor, labels: tg.Tensor, params: list[tg.Tensor], batch: int = 64, lr: float = 0.05) -> float:
    """Workload 7 (see numpy_floor.lenet_epoch): one LeNet-5 epoch written with tg.conv2d and tg.max_pool2d."""
    K1, c1, K2, c2, W3, b3, W4, b4, W5, b5 = params
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i:i + batch], labels[i:i + batch]
        a = tg.max_pool2d(tg.conv2d(x, K1, c1, padding=2).relu(), 2)
        a = tg.max_pool2d(tg.conv2d(a, K2, c2).relu(), 2).reshape(len(x), -1)
        logits = ((a @ W3 + b3).relu() @ W4 + b4).relu() @ W5 + b5
        tg.cross_entropy(logits, y).backward()
        sgd_by_hand(params, lr)
    return time.perf_counter() - start
