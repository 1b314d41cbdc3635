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


# ---------------------------------------------------------------------------------------------------------------
# Workload 7: LeNet-5 by hand (im2col with sliding_window_view, one product per layer)
# ---------------------------------------------------------------------------------------------------------------

LENET_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (400, 120), (120,), (120, 84), (84,), (84, 10), (10,)]


def init_lenet_params(dtype: type = np.float32, seed: int = 0) -> list[np.ndarray]:
    """LeNet-5's parameters (conv weights (O, C, 5, 5); linear weights (in, out), x @ W): uniform in ±1/√fan_in,
    biases 0."""
    rng = np.random.default_rng(seed)
    params = []
    for shape in LENET_SHAPES:
        if len(shape) == 1:
            params.append(np.zeros(shape, dtype))
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
            params.append(rng.uniform(-1, 1, shape).astype(dtype) / np.float32(np.sqrt(fan_in)))
    return params


def _im2col(x: np.ndarray, pad: int) -> tuple[np.ndarray, int, int]:
    """x (N, C, H, W) → (N·OH·OW, C·25), the 5×5 windows as rows."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(2, 3))
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * 25), oh, ow


def _col2im(cols: np.ndarray, shape: tuple[int, ...], pad: int) -> np.ndarray:
    n, c, h, w = shape
    oh, ow = h + 2 * pad - 4, w + 2 * pad - 4
    cols = cols.reshape(n, oh, ow, c, 5, 5).transpose(0, 3, 1, 2, 4, 5)
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), cols.dtype)
    for i in range(5):
        for j in range(5):
            out[:, :, i:i + oh, j:j + ow] += cols[..., i, j]
    return out[:, :, pad:pad + h, pad:pad + w]


def _pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2×2 max pooling: the maxima and the index (0-3) of each window's first maximum."""
    n, c, h, w = x.shape
    v = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    idx = v.argmax(axis=-1)
    return np.take_along_axis(v, idx[..., None], axis=-1)[..., 0], idx


def _unpool(g: np.ndarray, idx: np.ndarray) -> np.ndarray:
    n, c, h2, w2 = g.shape
    out = np.zeros((n, c, h2, w2, 4), g.dtype)
    np.put_along_axis(out, idx[..., None], g[..., None], axis=-1)
    return out.reshape(n, c, h2, w2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, 2 * h2, 2 * w2)


def lenet_epoch(X: np.ndarray, labels: np.ndarray, params: list[np.ndarray], batch: int = 64,
                lr: float = 0.05) -> float:
    """Workload 7: one epoch of LeNet-5 (conv 5×5 ×6 pad 2 → relu → pool → conv 5×5 ×16 → relu → pool → 120 →
    84 → 10), softmax cross-entropy, plain SGD. X (n, 1, 28, 28)."""
    K1, c1, K2, c2, W3, b3, W4, b4, W5, b5 = params
    start = time.perf_counter()
    for i in range(0, len(X), batch):
        x, y = X[i:i + batch], labels[i:i + batch]
        n = len(x)
        cols1, oh, ow = _im2col(x, 2)
        z1 = (cols1 @ K1.reshape(6, -1).T + c1).reshape(n, oh, ow, 6).transpose(0, 3, 1, 2)
        p1, i1 = _pool(np.maximum(z1, 0))
        cols2, oh2, ow2 = _im2col(p1, 0)
        z2 = (cols2 @ K2.reshape(16, -1).T + c2).reshape(n, oh2, ow2, 16).transpose(0, 3, 1, 2)
        p2, i2 = _pool(np.maximum(z2, 0))
        f = p2.reshape(n, -1)
        z3 = f @ W3 + b3
        a3 = np.maximum(z3, 0)
        z4 = a3 @ W4 + b4
        a4 = np.maximum(z4, 0)
        z5 = a4 @ W5 + b5
        e = np.exp(z5 - z5.max(axis=1, keepdims=True))
        d5 = e / e.sum(axis=1, keepdims=True)
        d5[np.arange(n), y] -= 1
        d5 /= n
        d4 = (d5 @ W5.T) * (z4 > 0)
        d3 = (d4 @ W4.T) * (z3 > 0)
        dz2 = _unpool((d3 @ W3.T).reshape(p2.shape), i2) * (z2 > 0)
        g2 = dz2.transpose(0, 2, 3, 1).reshape(-1, 16)
        dz1 = _unpool(_col2im(g2 @ K2.reshape(16, -1), p1.shape, 0), i1) * (z1 > 0)
        g1 = dz1.transpose(0, 2, 3, 1).reshape(-1, 6)
        grads = [(g1.T @ cols1).reshape(K1.shape), g1.sum(0), (g2.T @ cols2).reshape(K2.shape), g2.sum(0),
                 f.T @ d3, d3.sum(0), a3.T @ d4, d4.sum(0), a4.T @ d5, d5.sum(0)]
        for p, g in zip(params, grads):
            p -= lr * g
    return time.perf_counter() - start
