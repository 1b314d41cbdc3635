"""Elementwise math beyond the chapter: trigonometric and hyperbolic functions, logarithms and exponentials of
other bases, and the rounding family. Each is a `Unary` of ops.py: a numpy function and one derivative formula,
written with operations (`Cos.apply(x)`), so it runs on arrays and on Tensors alike (create_graph works).

Conventions (PyTorch's):
- asin and acos have an infinite derivative at ±1 and NaN outside [-1, 1]; log2, log10 and log1p are -inf at
  0 (at -1 for log1p) with an infinite derivative there; rsqrt(0) = inf;
- sign, floor, ceil, round and trunc are piecewise constant: their gradient is 0 everywhere, the jumps
  included (where no derivative exists). round rounds halves to even, as numpy and PyTorch do.
- square(x) is x * x: a composite, no primitive of its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .ops import Mul, Sqrt, Unary, operand
from .tensor import Tensor, values

LN2, LN10 = math.log(2.0), math.log(10.0)


class Sin(Unary):
    """y = sin x"""
    f = np.sin
    keeps_inputs = True
    dx = lambda g, x: g * Cos.apply(x)  # dy/dx = cos x


class Cos(Unary):
    """y = cos x"""
    f = np.cos
    keeps_inputs = True
    dx = lambda g, x: -g * Sin.apply(x)  # dy/dx = -sin x


class Tan(Unary):
    """y = tan x (its own primitive: sin/cos would cost three operations and lose digits near the poles)"""
    f = np.tan
    keeps_output = True
    dx = lambda g, y: g * (1 + y * y)  # dy/dx = 1/cos² x = 1 + tan² x


class Sinh(Unary):
    """y = sinh x"""
    f = np.sinh
    keeps_inputs = True
    dx = lambda g, x: g * Cosh.apply(x)  # dy/dx = cosh x


class Cosh(Unary):
    """y = cosh x"""
    f = np.cosh
    keeps_inputs = True
    dx = lambda g, x: g * Sinh.apply(x)  # dy/dx = sinh x


class Asin(Unary):
    """y = arcsin x, for -1 <= x <= 1"""
    f = np.arcsin
    keeps_inputs = True
    dx = lambda g, x: g / Sqrt.apply(1 - x * x)  # dy/dx = 1/√(1 - x²)


class Acos(Unary):
    """y = arccos x, for -1 <= x <= 1"""
    f = np.arccos
    keeps_inputs = True
    dx = lambda g, x: -g / Sqrt.apply(1 - x * x)  # dy/dx = -1/√(1 - x²)


class Atan(Unary):
    """y = arctan x"""
    f = np.arctan
    keeps_inputs = True
    dx = lambda g, x: g / (1 + x * x)  # dy/dx = 1/(1 + x²)


class Log2(Unary):
    """y = log₂ x"""
    f = np.log2
    keeps_inputs = True
    dx = lambda g, x: g / (x * LN2)  # dy/dx = 1/(x ln 2)


class Log10(Unary):
    """y = log₁₀ x"""
    f = np.log10
    keeps_inputs = True
    dx = lambda g, x: g / (x * LN10)  # dy/dx = 1/(x ln 10)


class Log1p(Unary):
    """y = log(1 + x), exact for tiny x where 1 + x would round to 1"""
    f = np.log1p
    keeps_inputs = True
    dx = lambda g, x: g / (1 + x)  # dy/dx = 1/(1 + x)


class Exp2(Unary):
    """y = 2^x"""
    f = np.exp2
    keeps_output = True
    dx = lambda g, y: g * (y * LN2)  # dy/dx = 2^x ln 2


class Expm1(Unary):
    """y = e^x - 1, exact for tiny x"""
    f = np.expm1
    keeps_output = True
    dx = lambda g, y: g * (y + 1)  # dy/dx = e^x = y + 1


def _rsqrt(x: np.ndarray) -> np.ndarray:
    return np.reciprocal(np.sqrt(x))


class Rsqrt(Unary):
    """y = 1/√x"""
    f = _rsqrt
    keeps_output = True
    dx = lambda g, y: g * (-0.5 * y * y * y)  # dy/dx = -x^(-3/2)/2 = -y³/2


def _no_gradient(g: Any) -> np.ndarray:
    return np.zeros_like(values(g))  # a constant, whichever kind g is (as Heaviside's)


class Sign(Unary):
    """y = -1, 0 or 1 by the sign of x (NaN stays NaN, as numpy); no gradient"""
    f = np.sign
    dx = _no_gradient


class Floor(Unary):
    """y = ⌊x⌋; no gradient"""
    f = np.floor
    dx = _no_gradient


class Ceil(Unary):
    """y = ⌈x⌉; no gradient"""
    f = np.ceil
    dx = _no_gradient


class Round(Unary):
    """y = x rounded to the nearest integer, halves to even; no gradient"""
    f = np.round
    dx = _no_gradient


class Trunc(Unary):
    """y = x rounded towards 0; no gradient"""
    f = np.trunc
    dx = _no_gradient


#: name -> operation: the Tensor methods (t.sin()) and numpy's ufuncs (interop.py) are made from it
UNARY = {"sin": Sin, "cos": Cos, "tan": Tan, "sinh": Sinh, "cosh": Cosh, "asin": Asin, "acos": Acos, "atan": Atan,
         "log2": Log2, "log10": Log10, "log1p": Log1p, "exp2": Exp2, "expm1": Expm1, "rsqrt": Rsqrt, "sign": Sign,
         "floor": Floor, "ceil": Ceil, "round": Round, "trunc": Trunc}


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(operand(x))


# The functions, tg.sin(x) ...: one call of the operation each (x may be a number, a list or an array).
def sin(x: Any) -> Tensor:
    return Sin.apply(_as_tensor(x))


def cos(x: Any) -> Tensor:
    return Cos.apply(_as_tensor(x))


def tan(x: Any) -> Tensor:
    return Tan.apply(_as_tensor(x))


def sinh(x: Any) -> Tensor:
    return Sinh.apply(_as_tensor(x))


def cosh(x: Any) -> Tensor:
    return Cosh.apply(_as_tensor(x))


def asin(x: Any) -> Tensor:
    return Asin.apply(_as_tensor(x))


def acos(x: Any) -> Tensor:
    return Acos.apply(_as_tensor(x))


def atan(x: Any) -> Tensor:
    return Atan.apply(_as_tensor(x))


def log2(x: Any) -> Tensor:
    return Log2.apply(_as_tensor(x))


def log10(x: Any) -> Tensor:
    return Log10.apply(_as_tensor(x))


def log1p(x: Any) -> Tensor:
    return Log1p.apply(_as_tensor(x))


def exp2(x: Any) -> Tensor:
    return Exp2.apply(_as_tensor(x))


def expm1(x: Any) -> Tensor:
    return Expm1.apply(_as_tensor(x))


def rsqrt(x: Any) -> Tensor:
    return Rsqrt.apply(_as_tensor(x))


def sign(x: Any) -> Tensor:
    return Sign.apply(_as_tensor(x))


def floor(x: Any) -> Tensor:
    return Floor.apply(_as_tensor(x))


def ceil(x: Any) -> Tensor:
    return Ceil.apply(_as_tensor(x))


def round(x: Any) -> Tensor:
    return Round.apply(_as_tensor(x))


def trunc(x: Any) -> Tensor:
    return Trunc.apply(_as_tensor(x))


def square(x: Any) -> Tensor:
    """x² as x * x (a composite: Mul's backward gives 2x·g)."""
    x = _as_tensor(x)
    return Mul.apply(x, x)


arcsin, arccos, arctan, fix = asin, acos, atan, trunc  # numpy's names beside PyTorch's


def _method(op: type[Unary]) -> Any:
    def method(self: Tensor) -> Tensor:
        return op.apply(self)
    method.__name__ = method.__qualname__ = op.__name__.lower()
    method.__doc__ = op.__doc__
    return method


for _name, _op in UNARY.items():
    setattr(Tensor, _name, _method(_op))
for _alias, _name in {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "fix": "trunc"}.items():
    setattr(Tensor, _alias, getattr(Tensor, _name))
Tensor.square = square  # type: ignore[attr-defined]
for _name, _op in UNARY.items():
    globals()[_name].__doc__ = _op.__doc__  # help(tg.sin) says what the operation is
