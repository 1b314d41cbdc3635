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
    ELU,
    GELU,
    INITS,
    MLP,
    SELU,
    Hardsigmoid,
    Hardtanh,
    Heaviside,
    Identity,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Softsign,
    Tanh,
    activation,
    activation_name,
    init_weight,
)
from .convolutional import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool2d
from .regularization import BatchNorm1d, BatchNorm2d, Dropout
from .lenet import LeNet5
from .losses import (
    LOSS_MODULES,
    LOSSES,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    loss,
    loss_name,
)
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
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "Dropout", "Flatten",
    "MaxPool2d", "LeNet5",
    "ACTIVATIONS",
    "ELU",
    "GELU",
    "INITS",
    "LOSSES",
    "LOSS_MODULES",
    "MLP",
    "SELU",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Hardsigmoid",
    "Hardtanh",
    "Heaviside",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "Mish",
    "NLLLoss",
    "ReLU6",
    "SiLU",
    "SmoothL1Loss",
    "Softplus",
    "Softsign",
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
    "loss",
    "loss_name",
    "save",
    "to_labels",
]
