"""Making tensors: from data, filled with constants, random, ranges, and the seeding that makes runs repeatable.

Defaults follow numpy (float64), not PyTorch (float32): a student comparing with numpy sees the same numbers.
Random tensors draw from one module-level numpy Generator, reset by `manual_seed(seed)`; pass
`generator=np.random.default_rng(...)` to use your own instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .engine.tensor import Tensor

Generator = np.random.Generator

_default_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseed the generator that rand/randn and layer initialisations use (`default_generator()` returns it).

    Returns nothing, so a notebook cell that ends with it shows nothing (PyTorch's returns its Generator).
    """
    global _default_generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed takes an integer seed, got {seed!r}")
    if seed < 0:
        raise ValueError(f"manual_seed takes a non-negative seed, got {seed}")
    _default_generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator used when no `generator=` is passed."""
    return _default_generator


def _shape(shape: tuple) -> tuple[int, ...]:
    """Accept both zeros(2, 3) and zeros((2, 3))."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"a shape is a sequence of non-negative integers, got {shape}")
    return tuple(int(n) for n in shape)


def _make(array: np.ndarray, requires_grad: bool, name: str | None) -> Tensor:
    t = Tensor._wrap(array)
    t.name = name
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """A tensor holding a copy of `data` (a number, nested lists, an array or a Tensor)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, name: str | None = None) -> Tensor:
    return _make(np.zeros(_shape(shape), dtype), requires_grad, name)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, name: str | None = None) -> Tensor:
    return _make(np.ones(_shape(shape), dtype), requires_grad, name)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _make(np.full(_shape(shape), fill_value, dtype), requires_grad, name)


def rand(
    *shape: Any, dtype: Any = np.float64, generator: np.random.Generator | None = None,
    requires_grad: bool = False, name: str | None = None,
) -> Tensor:
    """Uniform samples in [0, 1)."""
    rng = generator or _default_generator
    return _make(rng.random(_shape(shape)).astype(dtype, copy=False), requires_grad, name)


def randn(
    *shape: Any, dtype: Any = np.float64, generator: np.random.Generator | None = None,
    requires_grad: bool = False, name: str | None = None,
) -> Tensor:
    """Standard normal samples."""
    rng = generator or _default_generator
    return _make(rng.standard_normal(_shape(shape)).astype(dtype, copy=False), requires_grad, name)


def arange(
    start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """Evenly spaced values in [start, stop) (numpy.arange)."""
    array = np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype)
    return _make(array, requires_grad, name)


def linspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, requires_grad: bool = False,
    name: str | None = None,
) -> Tensor:
    """`num` evenly spaced values from start to stop, stop included unless endpoint=False (numpy.linspace; PyTorch's
    `steps` is `num`, and there is no default of 50 there)."""
    return _make(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype), requires_grad, name)


def logspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10.0, dtype: Any = None,
    requires_grad: bool = False, name: str | None = None,
) -> Tensor:
    """base ** linspace(start, stop, num): values evenly spaced on a log scale (numpy.logspace)."""
    return _make(np.logspace(start, stop, num, endpoint=endpoint, base=base, dtype=dtype), requires_grad, name)


def eye(n: int, m: int | None = None, dtype: Any = np.float64, requires_grad: bool = False, name: str | None = None) -> Tensor:
    """The identity matrix (n × m)."""
    return _make(np.eye(n, m, dtype=dtype), requires_grad, name)


def _like(t: Any, dtype: Any) -> tuple[tuple[int, ...], Any]:
    values = t.data if isinstance(t, Tensor) else np.asarray(t)
    return values.shape, dtype if dtype is not None else values.dtype


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(t, dtype)
    return zeros(shape, dtype=dtype, requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(t, dtype)
    return ones(shape, dtype=dtype, requires_grad=requires_grad)


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(t, dtype)
    return full(shape, fill_value, dtype=dtype, requires_grad=requires_grad)


def rand_like(t: Any, dtype: Any = None, generator: np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(t, dtype)
    return rand(shape, dtype=dtype, generator=generator, requires_grad=requires_grad)


def randn_like(t: Any, dtype: Any = None, generator: np.random.Generator | None = None, requires_grad: bool = False) -> Tensor:
    shape, dtype = _like(t, dtype)
    return randn(shape, dtype=dtype, generator=generator, requires_grad=requires_grad)
