"""The floor: each benchmark workload written by hand in plain numpy (no graph, no engine).

These are the chapter's equations with samples as rows and the bias as a separate vector:

    z^l = a^{l-1} W^l + b^l,   a^l = σ(z^l)                        (forward, a batch of B rows)
    δ^L = ∂C/∂z^L,             δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ σ'(z^l)   (backward)
    ∂C/∂W^l = a^{l-1}ᵀ δ^l,    ∂C/∂b^l = Σ_rows δ^l                 (the gradients SGD subtracts)

Every training function takes its parameters from `init_params` (so the engine side starts from the very
same numbers; they are updated in place) and returns the seconds spent training, setup excluded. The engine's versions in
engine_workloads.py compute exactly the same thing.
"""

from __future__ import annotations

import time

import numpy as np

# Layer sizes of the workloads.
MNIST_SIGMOID = (784, 300, 10)  # workload 1
MNIST_RELU = (784, 800, 10)  # workload 2
TINY = (2, 16, 16, 1)  # workload 3


def mnist_shaped_data(n: int = 60000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 data with MNIST's shapes: X (n, 784) in [0, 1), Y (n, 10) one-hot.
    The timing of these workloads does not depend on the values."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    return X, Y


def init_params(sizes: tuple[int, ...], dtype: type = np.float32, seed: int = 0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...]: W^l ~ N(0, 1/fan_in) (fan_in rows, fan_out columns), b^l = 0."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype))
        params.append(np.zeros(fan_out, dtype))
    return params


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def mnist_sigmoid_epoch(
    X: np.ndarray, Y: np.ndarray, params: list[np.ndarray], batch: int = 128, lr: float = 0.1
) -> float:
    """Workload 1: one epoch of 784-300-10, sigmoid hidden and output layers, C = 1/B Σ_i ‖y_i − a_i‖², SGD.

    δ² = ∂C/∂z² = −2/B (y − a²) ⊙ a²(1 − a²),   δ¹ = (δ² W²ᵀ) ⊙ a¹(1 − a¹)   (σ' = σ(1 − σ))."""
    W1, b1, W2, b2 = params  # init_params(MNIST_SIGMOID, np.float32)
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], Y[i : i + batch]
        a1 = _sigmoid(x @ W1 + b1)
        a2 = _sigmoid(a1 @ W2 + b2)
        d2 = (-2 / len(x)) * (y - a2) * a2 * (1 - a2)
        d1 = (d2 @ W2.T) * a1 * (1 - a1)
        W2 -= lr * (a1.T @ d2)
        b2 -= lr * d2.sum(axis=0)
        W1 -= lr * (x.T @ d1)
        b1 -= lr * d1.sum(axis=0)
    return time.perf_counter() - start


def mnist_relu_ce_epoch(
    X: np.ndarray, Y: np.ndarray, params: list[np.ndarray], batch: int = 32, lr: float = 0.05
) -> float:
    """Workload 2: one epoch of 784-800-10, relu hidden layer, softmax cross-entropy on the logits z², SGD.

    C = −1/B Σ_i log softmax(z²_i)[label_i], so δ² = (softmax(z²) − Y)/B and δ¹ = (δ² W²ᵀ) ⊙ [z¹ > 0]."""
    W1, b1, W2, b2 = params  # init_params(MNIST_RELU, np.float32)
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i : i + batch], Y[i : i + batch]
        z1 = x @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        e = np.exp(z2 - z2.max(axis=1, keepdims=True))  # shifted: cannot overflow
        d2 = (e / e.sum(axis=1, keepdims=True) - y) / len(x)
        d1 = (d2 @ W2.T) * (z1 > 0)
        W2 -= lr * (a1.T @ d2)
        b2 -= lr * d2.sum(axis=0)
        W1 -= lr * (x.T @ d1)
        b1 -= lr * d1.sum(axis=0)
    return time.perf_counter() - start


def tiny_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Workload 3's batch: 4 samples of 2 features, 1 target each (float64)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 2)), rng.standard_normal((4, 1))


def tiny_mlp_steps(params: list[np.ndarray], steps: int = 2000, lr: float = 0.01) -> float:
    """Workload 3: seconds per step of a 2-16-16-1 relu MLP (linear output) on a batch of 4, float64,
    C = mean of (a³ − y)² over the 4 outputs, SGD. Per-operation overhead is everything here."""
    X, y = tiny_data()
    W, b = params[0::2], params[1::2]  # init_params(TINY, np.float64)
    start = time.perf_counter()
    for _ in range(steps):
        a = [X]
        for layer in range(3):
            z = a[-1] @ W[layer] + b[layer]
            a.append(np.maximum(z, 0) if layer < 2 else z)
        d = 2 * (a[-1] - y) / y.size
        for layer in (2, 1, 0):
            gW, gb = a[layer].T @ d, d.sum(axis=0)
            if layer:
                d = (d @ W[layer].T) * (a[layer] > 0)
            W[layer] -= lr * gW
            b[layer] -= lr * gb
    return (time.perf_counter() - start) / steps


CHAIN_MUL, CHAIN_ADD = 0.999, 0.001  # the chain cycles y·c, y + c, tanh(y): bounded, never overflows


def chain_input() -> np.ndarray:
    return np.linspace(-1.0, 1.0, 16)


def elementwise_chain(n: int) -> float:
    """Workload 4: forward and backward through n elementwise operations on a 16-vector, C = Σ y.
    Backward walks the chain in reverse: (y·c)' = c, (y + c)' = 1, tanh' = 1 − tanh²."""
    x = chain_input()
    start = time.perf_counter()
    y, outputs = x, []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            y = y * CHAIN_MUL
        elif kind == 1:
            y = y + CHAIN_ADD
        else:
            y = np.tanh(y)
            outputs.append(y)
    g = np.ones_like(y)
    for i in reversed(range(n)):
        kind = i % 3
        if kind == 0:
            g = g * CHAIN_MUL
        elif kind == 2:
            t = outputs.pop()
            g = g * (1 - t * t)
    return time.perf_counter() - start
