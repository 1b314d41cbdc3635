"""Saving a model with its architecture in one `.npz` file, and loading it back without pickle.

    path = save(model, "mnist_mlp.npz")
    model = load("mnist_mlp.npz")          # an MLP with the same sizes, activations, dtype and weights

The archive holds plain arrays only, so `np.load(..., allow_pickle=False)` reads it and loading cannot run
code from the file:
    "__format__"   "tinygrad_edu.nn/1"
    "__class__"    the model's class name ("MLP", "Linear", "Sequential", "Perceptron", an activation)
    "__config__"   the constructor arguments as JSON (for MLP: sizes, activation, output_activation, dtype, init)
    "state/<name>" each entry of `model.state_dict()` ("state/layers.0.weight", ...)
The file is written atomically: to a temporary file in the same directory, then renamed over `path`.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_writer
from .layers import ACTIVATIONS, MLP, Linear
from .module import Module, Sequential, StateDictError
from .perceptron import Perceptron

__all__ = ["FORMAT", "ModelFileError", "load", "save"]

FORMAT = "tinygrad_edu.nn/1"
_STATE = "state/"


class ModelFileError(ValueError):
    """A file that `load` refuses: not an .npz archive, not written by `save`, or inconsistent."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load a model from '{path}': {reason}")


def _classes() -> dict[str, type[Module]]:
    classes: dict[str, type[Module]] = {"MLP": MLP, "Linear": Linear, "Sequential": Sequential, "Perceptron": Perceptron}
    classes.update({cls.__name__: cls for cls in ACTIVATIONS.values()})
    return classes


def _config(model: Module) -> dict[str, Any]:
    """The JSON-able description of `model`'s architecture (Sequential: its children's, recursively)."""
    name = type(model).__name__
    if _classes().get(name) is not type(model):
        known = ", ".join(sorted(_classes()))
        raise TypeError(
            f"save() stores the architecture with the weights and knows these classes: {known}; it cannot rebuild "
            f"a {name}. Save its weights with np.savez(path, **model.state_dict()) and restore them with "
            f"model.load_state_dict(dict(np.load(path)))."
        )
    if isinstance(model, Sequential):
        return {"modules": [{"name": n, "class": type(m).__name__, "config": _config(m)} for n, m in model.named_children()]}
    return model.get_config()  # type: ignore[attr-defined]


def _build(name: str, config: dict[str, Any]) -> Module:
    cls = _classes().get(name)
    if cls is None:
        raise ValueError(f"unknown model class {name!r}")
    if cls is Sequential:
        from collections import OrderedDict

        return Sequential(OrderedDict((m["name"], _build(m["class"], m["config"])) for m in config["modules"]))
    rng = np.random.default_rng(0)  # initial values are overwritten by the state: don't consume the global RNG
    if cls is MLP:
        return MLP(config["sizes"], config["activation"], config["output_activation"], dtype=config["dtype"],
                   init=config.get("init"), generator=rng)
    if cls is Linear:
        return Linear(config["in_features"], config["out_features"], bias=config["bias"], dtype=config["dtype"],
                      generator=rng)
    return cls(**config)


def save(model: Module, path: str | os.PathLike[str]) -> Path:
    """Write `model` (architecture + weights) to `path` (".npz" is appended if missing); returns the path."""
    if not isinstance(model, Module):
        raise TypeError(f"save() needs a Module, got {type(model).__name__}")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")  # as np.savez does
    arrays: dict[str, np.ndarray] = {
        "__format__": np.array(FORMAT),
        "__class__": np.array(type(model).__name__),
        "__config__": np.array(json.dumps(_config(model))),
    }
    arrays.update({_STATE + k: v for k, v in model.state_dict().items()})
    with atomic_writer(path) as f:  # readers see the old file or the complete new one, never half of it
        np.savez(f, **arrays)
    return path


def load(path: str | os.PathLike[str]) -> Module:
    """Rebuild the model saved by `save`; raises ModelFileError (naming the file) for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at '{path}'")
    if not zipfile.is_zipfile(path):  # np.load would call any other file "pickled data", which misleads
        with open(path, "rb") as f:
            head = f.read(8)
        if head.startswith(b"\x93NUMPY"):
            raise ModelFileError(path, "it holds a single .npy array, not a model archive written by save()")
        if head.startswith(b"PK"):
            raise ModelFileError(path, "it is not an .npz archive: it starts like a zip file but is truncated or damaged")
        raise ModelFileError(path, f"it is not an .npz archive (a zip file, which starts with b'PK'; this one "
                                   f"starts with {head!r})")
    try:
        archive = np.load(path, allow_pickle=False)  # a zip file: always an NpzFile
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelFileError(path, f"it is not an .npz archive ({type(e).__name__}: {e})") from None
    with archive:
        try:
            entries = {key: archive[key] for key in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # pickled objects, corrupt members
            raise ModelFileError(path, f"an entry cannot be read without pickle ({e})") from None
    missing = [k for k in ("__format__", "__class__", "__config__") if k not in entries]
    if missing:
        raise ModelFileError(
            path, f"it is an .npz archive but not a tinygrad_edu model file (missing {', '.join(missing)}); if it holds "
                  f"a state_dict, build the model and call model.load_state_dict(dict(np.load(path)))"
        )
    fmt = str(entries["__format__"])
    if fmt != FORMAT:
        raise ModelFileError(path, f"unsupported format {fmt!r} (this version reads {FORMAT!r})")
    name = str(entries["__class__"])
    try:
        config = json.loads(str(entries["__config__"]))
        model = _build(name, config)
    except (ValueError, KeyError, TypeError) as e:
        raise ModelFileError(path, f"its architecture ({name}) cannot be rebuilt: {e}") from None
    state = {k[len(_STATE):]: v for k, v in entries.items() if k.startswith(_STATE)}
    try:
        model.load_state_dict(state, strict=True)
    except StateDictError as e:
        raise ModelFileError(path, str(e)) from None
    return model
