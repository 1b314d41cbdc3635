"""Neural-network building blocks on the engine: modules, layers, losses, metrics, the perceptron, save/load.

    >>> import numpy as np
    >>> from tinygrad_edu import nn
    >>> model = nn.MLP([784, 30, 10], generator=np.random.default_rng(0))   # sigmoid everywhere (the chapter)
    >>> [name for name, _ in model.named_parameters()]
    ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']
    >>> model.num_parameters()
    23860
"""

from .layers import (
    ACTIVATIONS,
    INITS,
    MLP,
    Heaviside,
    Identity,
    Linear,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    activation,
    activation_name,
    init_weight,
)
from .losses import LOSSES, CrossEntropyLoss, MSELoss, loss_name
from .metrics import accuracy, confusion_matrix, to_labels
from .module import (
    IncompatibleKeys,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    StateDictError,
)
from .perceptron import Perceptron
from .serialization import ModelFileError, load, save

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "LOSSES",
    "MLP",
    "CrossEntropyLoss",
    "Heaviside",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "MSELoss",
    "ModelFileError",
    "Module",
    "ModuleList",
    "Parameter",
    "Perceptron",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "accuracy",
    "activation",
    "activation_name",
    "confusion_matrix",
    "init_weight",
    "load",
    "loss_name",
    "save",
    "to_labels",
]
