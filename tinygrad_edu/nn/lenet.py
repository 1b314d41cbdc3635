"""A LeNet-5-style network (LeCun et al. 1998) with today's choices: ReLU and max pooling.

    conv 5×5, 6 channels, padding 2 → act → max pool 2 → conv 5×5, 16 channels → act → max pool 2
    → flatten → Linear 120 → act → Linear 84 → act → Linear n_classes (logits, for cross-entropy)

On 28 × 28 MNIST the padding of 2 gives the 32 × 32 input of the original and 16 · 5 · 5 = 400 features before the
linear layers. On images smaller than 20 pixels (the 8 × 8 digits) the second convolution pads by 2 as well, so
that it still fits. The original's subsampling layers had trainable coefficients and its outputs were RBF units;
those are left out, as in most reimplementations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from .convolutional import Conv2d, Flatten, MaxPool2d
from .layers import ACTIVATIONS, Linear, _as_input, _generator, activation_name, predict_classes
from .module import Module, Sequential

__all__ = ["LeNet5", "lenet5_parameters"]


def _second_padding(image_size: int) -> int:
    return 0 if image_size >= 20 else 2


def _features(image_size: int) -> int:
    """16 · side², the side after conv (padding 2) → pool → conv → pool."""
    side = image_size // 2
    side = (side + 2 * _second_padding(image_size) - 4) // 2
    return 16 * side * side


def lenet5_parameters(image_size: int, in_channels: int = 1, num_classes: int = 10) -> int:
    """How many numbers LeNet5's weights and biases hold (61 706 on MNIST)."""
    return ((in_channels * 25 + 1) * 6 + (6 * 25 + 1) * 16 + (_features(image_size) + 1) * 120 + 121 * 84
            + 85 * num_classes)


class LeNet5(Module):
    """The network of the module docstring. Inputs (N, in_channels, image_size, image_size), or flat rows
    (N, in_channels · image_size²) as the datasets give them (reshaped here). `sizes` lists the widths: the input's
    pixels, the two convolutions' channels, the three linear layers' outputs (784-6-16-120-84-10 on MNIST)."""

    def __init__(self, image_size: int = 28, num_classes: int = 10, in_channels: int = 1, activation: str = "relu",
                 dtype: Any = np.float64, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        for what, n, low in (("image_size", image_size, 8), ("num_classes", num_classes, 2),
                             ("in_channels", in_channels, 1)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < low:
                raise ValueError(f"LeNet5: {what} must be an integer >= {low}, got {n!r}")
        self.image_size, self.num_classes, self.in_channels = int(image_size), int(num_classes), int(in_channels)
        self.activation, self.dtype = activation_name(activation), np.dtype(dtype)
        rng = _generator(generator)
        act = ACTIVATIONS[self.activation]
        self.features = Sequential(
            Conv2d(in_channels, 6, 5, padding=2, dtype=dtype, generator=rng), act(), MaxPool2d(2),
            Conv2d(6, 16, 5, padding=_second_padding(image_size), dtype=dtype, generator=rng), act(), MaxPool2d(2))
        self.classifier = Sequential(
            Flatten(), Linear(_features(image_size), 120, dtype=dtype, generator=rng), act(),
            Linear(120, 84, dtype=dtype, generator=rng), act(), Linear(84, num_classes, dtype=dtype, generator=rng))
        self.sizes = [in_channels * image_size ** 2, 6, 16, 120, 84, self.num_classes]

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.dtype)
        s, c = self.image_size, self.in_channels
        if x.ndim == 2 and x.shape[1] == c * s * s:
            x = x.reshape(x.shape[0], c, s, s)
        if x.shape[1:] != (c, s, s):
            raise ValueError(f"LeNet5 expects images of shape (N, {c}, {s}, {s}) or rows (N, {c * s * s}), "
                             f"got {x.shape}")
        return self.classifier(self.features(x))

    def predict(self, x: Any) -> np.ndarray:
        """Class indices (argmax of the logits), in eval mode and without a graph (the mode restored after)."""
        return predict_classes(self, x)

    @property
    def linears(self) -> list[Linear]:
        return [m for m in self.classifier if isinstance(m, Linear)]

    @property
    def convs(self) -> list[Conv2d]:
        return [m for m in self.features if isinstance(m, Conv2d)]

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, num_classes={self.num_classes}, activation={self.activation!r}"

    def get_config(self) -> dict[str, Any]:
        return {"image_size": self.image_size, "num_classes": self.num_classes, "in_channels": self.in_channels,
                "activation": self.activation, "dtype": self.dtype.name}
