"""The same workloads in eager PyTorch, for comparison when torch is importable (it is never required).

Written like engine_workloads.py: plain leaf tensors, autograd, in-place SGD under `torch.no_grad()`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from numpy_floor import CHAIN_ADD, CHAIN_MUL, chain_input, tiny_data


def leaves(arrays: Sequence[np.ndarray]) -> list[torch.Tensor]:
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _sgd(params: Sequence[torch.Tensor], lr: float) -> None:
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def mnist_sigmoid_epoch(
    X: torch.Tensor, Y: torch.Tensor, params: list[torch.Tensor], batch: int = 128, lr: float = 0.1
) -> float:
    W1, b1, W2, b2 = params
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], Y[i : i + batch]
        a1 = torch.sigmoid(x @ W1 + b1)
        a2 = torch.sigmoid(a1 @ W2 + b2)
        ((y - a2) ** 2).sum(dim=1).mean().backward()
        _sgd(params, lr)
    return time.perf_counter() - start


def mnist_relu_ce_epoch(
    X: torch.Tensor, labels: torch.Tensor, params: list[torch.Tensor], batch: int = 32, lr: float = 0.05
) -> float:
    W1, b1, W2, b2 = params
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], labels[i : i + batch]
        logits = torch.relu(x @ W1 + b1) @ W2 + b2
        torch.nn.functional.cross_entropy(logits, y).backward()
        _sgd(params, lr)
    return time.perf_counter() - start


def tiny_mlp_steps(params: list[torch.Tensor], steps: int = 2000, lr: float = 0.01) -> float:
    X, y = (torch.tensor(a) for a in tiny_data())
    W, b = params[0::2], params[1::2]
    start = time.perf_counter()
    for _ in range(steps):
        a = X
        for layer in range(3):
            z = a @ W[layer] + b[layer]
            a = torch.relu(z) if layer < 2 else z
        ((a - y) ** 2).mean().backward()
        _sgd(params, lr)
    return (time.perf_counter() - start) / steps


def elementwise_chain(n: int) -> float:
    x = torch.tensor(chain_input(), requires_grad=True)
    start = time.perf_counter()
    y = x
    for i in range(n):
        kind = i % 3
        y = y * CHAIN_MUL if kind == 0 else y + CHAIN_ADD if kind == 1 else torch.tanh(y)
    y.sum().backward()
    return time.perf_counter() - start


def lenet_epoch(X: torch.Tensor, labels: torch.Tensor, params: list[torch.Tensor], batch: int = 64,
                lr: float = 0.05) -> float:
    F = torch.nn.functional
    K1, c1, K2, c2, W3, b3, W4, b4, W5, b5 = params
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i:i + batch], labels[i:i + batch]
        a = F.max_pool2d(torch.relu(F.conv2d(x, K1, c1, padding=2)), 2)
        a = F.max_pool2d(torch.relu(F.conv2d(a, K2, c2)), 2).reshape(len(x), -1)
        logits = torch.relu(torch.relu(a @ W3 + b3) @ W4 + b4) @ W5 + b5
        F.cross_entropy(logits, y).backward()
        _sgd(params, lr)
    return time.perf_counter() - start
