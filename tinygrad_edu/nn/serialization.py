"""Saving a model with its architecture in one `.npz` file, and loading it back without pickle.

    path = save(model, "mnist_mlp.npz")
    model = load("mnist_mlp.npz")          # an MLP with the same sizes, activations, dtype and weights

The archive is a zip file of `.npy` members holding plain arrays only:
    "__format__"   "tinygrad_edu.nn/1"
    "__class__"    the model's class name ("MLP", "Linear", "Sequential", "Perceptron", an activation, a layer of
                   nn/convolutional.py or nn/regularization.py)
    "__config__"   the constructor arguments as JSON (for MLP: sizes, activation, output_activation, dtype, init)
    "state/<name>" each entry of `model.state_dict()` ("state/layers.0.weight", ...)
The file is written atomically: to a temporary file in the same directory, then renamed over `path`.

`load` treats the file as untrusted. It reads only the members above (any other is ignored unread), never
unpickles, and bounds what it allocates by what it has checked first:
  - each member's zip entry before opening it (encryption, a compression zipfile reads, sizes that fit in the
    file and that the compression can produce), and its `.npy` header (shape, dtype, size) before its data;
  - the config before building anything: every field's type and range, at most `MAX_CONFIG_CHARS` characters
    of JSON, `MAX_DEPTH` levels of nested Sequentials and `MAX_MODULES` modules;
  - the parameters: at most `max_bytes` (default `MAX_MODEL_BYTES`, 256 MiB), and the model is built only
    when the archive's arrays hold as many bytes as it needs (a small file cannot make it build a large model);
  - each array against the built model's (name, shape, dtype) before its data is read: save() writes each
    parameter in its own dtype, so another one is refused rather than cast.
Anything else raises `ModelFileError` naming the file, the member and the cause.
"""

from __future__ import annotations

import contextlib
import json
import lzma
import math
import os
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from .._atomic import atomic_writer
from .convolutional import AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool2d
from .layers import ACTIVATIONS, INITS, MLP, Linear
from .lenet import LeNet5, lenet5_parameters
from .regularization import BatchNorm1d, BatchNorm2d, Dropout
from .module import Module, Sequential, StateDictError
from .perceptron import Perceptron

__all__ = ["FORMAT", "MAX_CONFIG_CHARS", "MAX_DEPTH", "MAX_MODEL_BYTES", "MAX_MODULES", "ModelFileError", "load",
           "mlp_parameters", "save"]

FORMAT = "tinygrad_edu.nn/1"
_STATE = "state/"
_META = ("__format__", "__class__", "__config__")

#: What `load` accepts by default: the bytes of all parameters (the chapter's largest network, 784-800-10 in
#: float64, takes 5 MiB), the JSON of the config, Sequential nesting and the number of modules.
MAX_MODEL_BYTES = 256 * 2**20
MAX_CONFIG_CHARS = 2**20
MAX_DEPTH = 32
MAX_MODULES = 1024
_BYTES_LIMIT = "MAX_MODEL_BYTES; load(path, max_bytes=...) allows more"
_SLACK_BYTES = 2**20  # a model this small is built even when its arrays are missing, to name them precisely

_FLOAT_DTYPES = ("float16", "float32", "float64")
_PERCEPTRON_DTYPES = _FLOAT_DTYPES + ("int8", "int16", "int32", "int64")
_MAX_AXIS = 64  # numpy's limit on the number of dimensions
# Deflate turns one byte into at most 1032 (bzip2 and lzma can shrink long runs far more: only max_bytes
# bounds those), so a deflated member cannot honestly claim more.
_DEFLATE_RATIO = 1032
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)  # zipfile's


class ModelFileError(ValueError):
    """A file that `load` refuses: not an .npz archive, not written by `save`, damaged, or beyond the limits."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load a model from '{path}': {reason}")


def _classes() -> dict[str, type[Module]]:
    classes: dict[str, type[Module]] = {"MLP": MLP, "Linear": Linear, "Sequential": Sequential, "Perceptron": Perceptron}
    classes.update({cls.__name__: cls for cls in (Conv1d, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten,
                                                  Dropout, BatchNorm1d, BatchNorm2d, LeNet5)})
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


def _size(nbytes: int) -> str:
    """1536 -> "1.5 KiB"."""
    value, unit = float(nbytes), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if value < 1024 or unit == "EiB":
            break
        value /= 1024
    return f"{value:.1f}".rstrip("0").rstrip(".") + f" {unit}"


# ---------------------------------------------------------------------------------------------------------------
# The config, checked before anything is built
# ---------------------------------------------------------------------------------------------------------------


class _Refused(Exception):
    """A config that cannot be: the message says where and what is wrong."""


def _integer(minimum: int, maximum: int | None = None) -> Callable[[Any, str], int]:
    def check(value: Any, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise _Refused(f"{where} must be an integer {bounds}, got {value!r:.80}")
        return value
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _Refused(f"{where} must be one of {', '.join(map(repr, choices))}, got {value!r:.80}")
        return value
    return check


def _real(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
        raise _Refused(f"{where} must be a finite number, got {value!r:.80}")
    return float(value)


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Refused(f"{where} must be true or false, got {value!r:.80}")
    return value


def _sizes(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not 2 <= len(value) <= MAX_MODULES:
        raise _Refused(f"{where} must be a list of 2 to {MAX_MODULES} layer sizes, got {value!r:.80}")
    return [_integer(1)(n, f"{where}[{i}]") for i, n in enumerate(value)]


def _ints(low: int) -> Callable[[Any, str], list[int]]:
    """A list of 1 or 2 ints >= low (a kernel size, a stride: one per spatial axis)."""
    def check(value: Any, where: str) -> list[int]:
        if not isinstance(value, list) or not 1 <= len(value) <= 2:
            raise _Refused(f"{where} must be a list of 1 or 2 integers, got {value!r:.80}")
        return [_integer(low, 2**16)(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def _conv_padding(value: Any, where: str) -> Any:
    return value if value in ("same", "valid") else _ints(0)(value, where)


def _probability(value: Any, where: str) -> float:
    p = _real(value, where)
    if not 0 <= p <= 1:
        raise _Refused(f"{where} must be in [0, 1], got {p}")
    return p


def _momentum(value: Any, where: str) -> Any:
    return None if value is None else _probability(value, where)


_ACTIVATION_NAMES = tuple(ACTIVATIONS)
_CONV = {"in_channels": (_integer(1, 2**20), True), "out_channels": (_integer(1, 2**20), True),
         "kernel_size": (_ints(1), True), "stride": (_ints(1), True), "padding": (_conv_padding, True),
         "dilation": (_ints(1), True), "groups": (_integer(1, 2**20), True), "bias": (_boolean, True),
         "dtype": (_choice(_FLOAT_DTYPES), True)}
_POOL = {"kernel_size": (_ints(1), True), "stride": (_ints(1), True), "padding": (_ints(0), True),
         "ceil_mode": (_boolean, False)}
_BATCH_NORM = {"num_features": (_integer(1, 2**24), True), "eps": (_real, True), "momentum": (_momentum, True),
               "affine": (_boolean, True), "track_running_stats": (_boolean, True),
               "dtype": (_choice(_FLOAT_DTYPES), True)}
#: Each class's config: field -> (check, required). Activations not listed take no field.
_FIELDS: dict[str, dict[str, tuple[Callable[[Any, str], Any], bool]]] = {
    "MLP": {"sizes": (_sizes, True), "activation": (_choice(_ACTIVATION_NAMES), True),
            "output_activation": (_choice(_ACTIVATION_NAMES), True), "dtype": (_choice(_FLOAT_DTYPES), True),
            "init": (_choice(INITS), False), "dropout": (_probability, False), "input_dropout": (_probability, False)},
    "Linear": {"in_features": (_integer(1), True), "out_features": (_integer(1), True), "bias": (_boolean, True),
               "dtype": (_choice(_FLOAT_DTYPES), True)},
    "Perceptron": {"n_features": (_integer(1), True), "n_classes": (_integer(2), True),
                   "dtype": (_choice(_PERCEPTRON_DTYPES), True)},
    "Softmax": {"axis": (_integer(-_MAX_AXIS, _MAX_AXIS - 1), True)},
    "LogSoftmax": {"axis": (_integer(-_MAX_AXIS, _MAX_AXIS - 1), True)},
    "LeakyReLU": {"negative_slope": (_real, True)},
    "ELU": {"alpha": (_real, True)},
    "GELU": {"approximate": (_choice(("none", "tanh")), True)},
    "Softplus": {"beta": (_real, True), "threshold": (_real, True)},
    "Hardtanh": {"min_val": (_real, True), "max_val": (_real, True)},
    "Sequential": {"modules": (lambda value, where: value, True)},  # checked by _check_sequential
    "Conv1d": _CONV, "Conv2d": _CONV, "AvgPool2d": {**_POOL, "count_include_pad": (_boolean, False)},
    "MaxPool2d": {**_POOL, "dilation": (_ints(1), True), "return_indices": (_boolean, False)},
    "AdaptiveAvgPool2d": {"output_size": (_ints(1), True)},
    "Flatten": {"start_dim": (_integer(-_MAX_AXIS, _MAX_AXIS - 1), True),
                "end_dim": (_integer(-_MAX_AXIS, _MAX_AXIS - 1), True)},
    "Dropout": {"p": (_probability, True)},
    "BatchNorm1d": _BATCH_NORM, "BatchNorm2d": _BATCH_NORM,
    "LeNet5": {"image_size": (_integer(8, 2**12), True), "num_classes": (_integer(2, 2**16), True),
               "in_channels": (_integer(1, 2**10), True), "activation": (_choice(_ACTIVATION_NAMES), True),
               "dtype": (_choice(_FLOAT_DTYPES), True)},
}


def mlp_parameters(sizes: list[int]) -> int:
    """How many numbers the weights and biases of an MLP with these layer sizes hold."""
    return sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


@dataclass
class _Needs:
    """What a checked config asks for, known before anything is built."""

    numbers: int = 0
    nbytes: int = 0
    modules: int = 0


def _check_config(name: Any, config: Any, where: str, depth: int, needs: _Needs) -> None:
    """Check the config of class `name` field by field (a Sequential's modules too), adding what it needs."""
    classes = _classes()
    if not isinstance(name, str) or name not in classes:
        at = f"{where}.class: " if where else ""
        raise _Refused(f"{at}unknown model class {name!r:.80}; known: {', '.join(sorted(classes))}")
    inside = f"{where}.config" if where else "config"
    if not isinstance(config, dict):
        raise _Refused(f"{inside} must be a JSON object, got {type(config).__name__}")
    fields = _FIELDS.get(name, {})
    for key in config:
        if key not in fields:
            raise _Refused(f"{inside}: unexpected key {key!r:.80} ({name} takes: {', '.join(fields) or 'nothing'})")
    for key, (check, required) in fields.items():
        if key in config:
            check(config[key], f"{inside}.{key}" if where else key)
        elif required:
            raise _Refused(f"{inside}: missing key {key!r} ({name} takes: {', '.join(fields)})")
    count, modules, extra_bytes = 0, 1, 0
    if name == "Sequential":
        _check_sequential(config["modules"], f"{where}.config.modules" if where else "modules", depth, needs)
    elif name == "MLP":
        count, modules = mlp_parameters(config["sizes"]), 3 * len(config["sizes"])  # Linears, activations, dropouts
    elif name == "Linear":
        count = (config["in_features"] + config["bias"]) * config["out_features"]
    elif name == "Perceptron":
        count = (config["n_features"] + 1) * config["n_classes"]
    elif name in ("Conv1d", "Conv2d"):
        if config["in_channels"] % config["groups"] or config["out_channels"] % config["groups"]:
            raise _Refused(f"{inside}: groups {config['groups']} must divide in_channels and out_channels")
        count = config["out_channels"] * (config["in_channels"] // config["groups"] * math.prod(config["kernel_size"])
                                          + config["bias"])
    elif name == "LeNet5":
        count, modules = lenet5_parameters(config["image_size"], config["in_channels"], config["num_classes"]), 15
    elif name in ("BatchNorm1d", "BatchNorm2d"):
        count = config["num_features"] * (2 * config["affine"] + 2 * config["track_running_stats"])
        extra_bytes = 8 * config["track_running_stats"]  # num_batches_tracked, an int64
    needs.numbers += count
    needs.nbytes += count * np.dtype(config.get("dtype", "float64")).itemsize + extra_bytes
    needs.modules += modules
    if needs.modules > MAX_MODULES:
        raise _Refused(f"the architecture has more than {MAX_MODULES} modules (MAX_MODULES)")


def _check_sequential(modules: Any, where: str, depth: int, needs: _Needs) -> None:
    if depth >= MAX_DEPTH:
        raise _Refused(f"{where} is nested more than {MAX_DEPTH} levels deep (MAX_DEPTH)")
    if not isinstance(modules, list):
        raise _Refused(f"{where} must be a list of {{name, class, config}} objects, got {type(modules).__name__}")
    seen = set()
    for i, entry in enumerate(modules):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"name", "class", "config"}:
            raise _Refused(f"{at} must be an object with exactly the keys name, class and config")
        name = entry["name"]
        if not isinstance(name, str) or not name or "." in name:
            raise _Refused(f"{at}.name must be a non-empty string without '.', got {name!r:.80}")
        if name in seen:
            raise _Refused(f"{at}.name {name!r:.80} is used twice")
        seen.add(name)
        _check_config(entry["class"], entry["config"], at, depth + 1, needs)


def _build(name: str, config: dict[str, Any]) -> Module:
    """The module a checked config describes."""
    cls = _classes()[name]
    if cls is Sequential:
        return Sequential(OrderedDict((m["name"], _build(m["class"], m["config"])) for m in config["modules"]))
    rng = np.random.default_rng(0)  # initial values are overwritten by the state: don't consume the global RNG
    if cls is MLP:
        return MLP(config["sizes"], config["activation"], config["output_activation"], dtype=config["dtype"],
                   dropout=config.get("dropout", 0.0), input_dropout=config.get("input_dropout", 0.0),
                   init=config.get("init"), generator=rng)
    if cls is Linear:
        return Linear(config["in_features"], config["out_features"], bias=config["bias"], dtype=config["dtype"],
                      generator=rng)
    if cls in (Conv1d, Conv2d, LeNet5):
        return cls(**config, generator=rng)
    return cls(**config)


# ---------------------------------------------------------------------------------------------------------------
# The archive, member by member
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int

    def __str__(self) -> str:
        return f"an array of shape {self.shape} {self.dtype} ({_size(self.nbytes)})"


class _Archive:
    """The members of one model file; every read checks what it is about to allocate first."""

    def __init__(self, path: Path, archive: zipfile.ZipFile, max_bytes: int) -> None:
        self.path, self.zip, self.max_bytes = path, archive, max_bytes
        self.file_size = path.stat().st_size
        self.members = {info.filename: info for info in archive.infolist()}  # a repeated name: the last, as zipfile

    def refuse(self, member: str, cause: str) -> NoReturn:
        raise ModelFileError(self.path, f"member {member!r}: {cause}")

    @contextlib.contextmanager
    def _reading(self, member: str) -> Iterator[None]:
        """Turn what zipfile, its decompressors and numpy raise on damaged bytes into one ModelFileError."""
        info = self.members[member]
        try:
            yield
        except ModelFileError:
            raise
        except zipfile.BadZipFile as e:
            if "CRC-32" in str(e):
                self.refuse(member, "its CRC-32 checksum does not match its data: the file was changed or damaged "
                                    "after it was written")
            if "File name in directory" in str(e):  # its message quotes the whole local header
                self.refuse(member, "its local header names another member than the zip directory does: the archive "
                                    "is damaged")
            self.refuse(member, f"the archive is damaged here ({e!s:.200})")
        except zlib.error as e:
            self.refuse(member, f"its compressed data is damaged (zlib: {e})")
        except lzma.LZMAError as e:
            self.refuse(member, f"its compressed data is damaged (lzma: {e})")
        except EOFError as e:
            self.refuse(member, f"its compressed data ends early: the file is truncated or damaged ({e})")
        except OSError as e:
            if info.compress_type == zipfile.ZIP_BZIP2:  # bz2 reports a damaged stream as OSError
                self.refuse(member, f"its compressed data is damaged (bzip2: {e})")
            self.refuse(member, f"it cannot be read ({e})")
        except (NotImplementedError, RuntimeError) as e:  # compression zipfile lacks, encryption
            self.refuse(member, f"it cannot be read ({e})")
        except (ValueError, TypeError, SyntaxError, RecursionError, OverflowError) as e:  # numpy's .npy parser
            self.refuse(member, f"it is not a readable .npy array ({type(e).__name__}: {' '.join(str(e).split())})")

    def _check_entry(self, member: str) -> zipfile.ZipInfo:
        """The zip entry's own claims, before opening it."""
        info = self.members[member]
        if info.flag_bits & 0x1:
            self.refuse(member, "it is encrypted (model files are not)")
        if info.compress_type not in _COMPRESSIONS:
            self.refuse(member, f"it uses compression method {info.compress_type}, which Python's zipfile cannot read "
                                f"(model files are stored or deflated)")
        if not 0 <= info.header_offset < self.file_size:
            self.refuse(member, f"its local header is said to start at byte {info.header_offset}, outside the file "
                                f"({self.file_size} bytes): the zip directory is damaged")
        if info.header_offset + info.compress_size > self.file_size:
            self.refuse(member, f"its {info.compress_size} bytes from offset {info.header_offset} go past the end of "
                                f"the file ({self.file_size} bytes): the file is truncated")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            self.refuse(member, f"its sizes disagree: {info.file_size} bytes, stored in {info.compress_size}")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > _DEFLATE_RATIO * info.compress_size + 64:
            self.refuse(member, f"it claims {info.file_size} bytes deflated into {info.compress_size}, more than "
                                f"deflate can produce (at most {_DEFLATE_RATIO} bytes from one)")
        return info

    def header(self, member: str, limit: int | None = None, limit_name: str = _BYTES_LIMIT) -> _Header:
        """The .npy header of `member`, checked against `limit` bytes (default max_bytes) and the member's size."""
        limit = self.max_bytes if limit is None else limit
        info = self._check_entry(member)
        with self._reading(member), self.zip.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:  # 3.0 only adds utf-8 field names, which arrays of numbers never have
                self.refuse(member, f"it is a .npy file of version {version[0]}.{version[1]}; np.savez writes 1.0 "
                                    f"or 2.0 for arrays of numbers")
            header_length = f.tell()
        if any(n < 0 for n in shape):
            self.refuse(member, f"its .npy header claims the shape {shape}")
        header = _Header(tuple(shape), dtype, dtype.itemsize * math.prod(shape))
        if dtype.hasobject:
            self.refuse(member, f"it holds Python objects ({dtype}), which only pickle could read; model files hold "
                                f"numbers and strings, and pickle is refused")
        if header.nbytes > limit:
            self.refuse(member, f"its .npy header claims {header}, more than the limit of {_size(limit)} "
                                f"({limit_name})")
        if header_length + header.nbytes != info.file_size:
            self.refuse(member, f"it holds {info.file_size - header_length} bytes of data but its .npy header "
                                f"promises {header.nbytes} ({header}): the member is truncated or damaged")
        return header

    def array(self, member: str) -> np.ndarray:
        """The array in `member`, whose header was checked by `header`."""
        with self._reading(member), self.zip.open(self.members[member]) as f:
            array = np.lib.format.read_array(f, allow_pickle=False)
            f.read(1)  # the end of the member: zipfile compares the CRC-32 there
        return array

    def string(self, member: str, characters: int = 100) -> str:
        """The one string `member` holds (a 0-d unicode array of at most `characters`)."""
        header = self.header(member, 4 * characters, f"{characters} characters")  # numpy's U: 4 bytes a character
        if header.shape != () or header.dtype.kind != "U":
            self.refuse(member, f"it should hold one string, it holds {header}")
        return str(self.array(member))


def _refuse_non_zip(path: Path) -> None:
    """np.load would call any file that is not a zip "pickled data", which misleads: say what it is."""
    if zipfile.is_zipfile(path):
        return
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x93NUMPY"):
        raise ModelFileError(path, "it holds a single .npy array, not a model archive written by save()")
    if head.startswith(b"PK"):
        raise ModelFileError(path, "it is not an .npz archive: it starts like a zip file but is truncated or damaged")
    raise ModelFileError(path, f"it is not an .npz archive (a zip file, which starts with b'PK'; this one "
                               f"starts with {head!r})")


def load(path: str | os.PathLike[str], max_bytes: int = MAX_MODEL_BYTES) -> Module:
    """Rebuild the model saved by `save`; raises ModelFileError (naming the file) for anything else.

    `max_bytes` bounds the parameters' bytes (and each array's); see the module docstring for every check."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at '{path}'")
    if path.is_dir():
        inside = sorted(path.rglob("model.npz"))
        raise ModelFileError(path, "it is a folder, not a model file: give the model.npz a run wrote"
                             + (f", e.g. '{inside[0]}'" if inside else ""))
    _refuse_non_zip(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise ModelFileError(path, f"its zip directory cannot be read ({type(e).__name__}: {e})") from None
    with archive:
        return _load(_Archive(path, archive, max_bytes))


def _load(archive: _Archive) -> Module:
    path = archive.path
    missing = [k for k in _META if f"{k}.npy" not in archive.members]
    if missing:
        raise ModelFileError(
            path, f"it is an .npz archive but not a tinygrad_edu model file (missing {', '.join(missing)}); if it holds "
                  f"a state_dict, build the model and call model.load_state_dict(dict(np.load(path)))"
        )
    fmt = archive.string("__format__.npy")
    if fmt != FORMAT:
        raise ModelFileError(path, f"unsupported format {fmt!r} (this version reads {FORMAT!r})")
    name = archive.string("__class__.npy")
    text = archive.string("__config__.npy", MAX_CONFIG_CHARS)
    try:
        config = json.loads(text)
    except RecursionError:
        raise ModelFileError(path, f"its config ({name}) is nested too deeply to be read") from None
    except ValueError as e:
        raise ModelFileError(path, f"its config ({name}) is not JSON ({e})") from None
    needs = _Needs()
    try:
        _check_config(name, config, "", 0, needs)
    except _Refused as e:
        raise ModelFileError(path, f"its architecture ({name!r:.80}) cannot be rebuilt: {e}") from None
    if needs.nbytes > archive.max_bytes:
        raise ModelFileError(path, f"its architecture ({name}) has {needs.numbers} parameters "
                                   f"({_size(needs.nbytes)}), more than the limit of {_size(archive.max_bytes)} "
                                   f"({_BYTES_LIMIT})")

    members = [m for m in archive.members if m.startswith(_STATE) and m.endswith(".npy")]
    headers = {m: archive.header(m) for m in members}
    held = sum(h.nbytes for h in headers.values())
    if needs.nbytes > held + _SLACK_BYTES:  # build only what the file can fill
        numbers = sum(math.prod(h.shape) for h in headers.values())
        raise ModelFileError(path, f"its architecture ({name}) needs {needs.numbers} numbers "
                                   f"({_size(needs.nbytes)}) but the archive's {len(members)} state arrays hold "
                                   f"{numbers}")
    try:
        model = _build(name, config)
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(path, f"its architecture ({name}) cannot be rebuilt: {e}") from None

    own = model._state_tensors()  # the parameters themselves: state_dict() would copy them
    stored = {m[len(_STATE):-len(".npy")]: m for m in members}
    problems = []
    missing = [k for k in own if k not in stored]
    unexpected = [k for k in stored if k not in own]
    if missing:
        problems.append("missing key(s): " + ", ".join(map(repr, missing)))
    if unexpected:
        problems.append("unexpected key(s): " + ", ".join(map(repr, unexpected)))
    if problems:
        raise ModelFileError(path, f"its state does not fit the {name}: " + "; ".join(problems))
    for key, target in own.items():
        header = headers[stored[key]]
        if header.shape != target.shape:
            archive.refuse(stored[key], f"its .npy header claims {header}; this model's {key} has shape {target.shape}")
        if (header.dtype.kind, header.dtype.itemsize) != (target.dtype.kind, target.dtype.itemsize):  # any byte order
            archive.refuse(stored[key], f"it holds {header}; this model's {key} is {target.dtype} (save() writes "
                                        f"each parameter in its own dtype)")
    state = {key: archive.array(stored[key]) for key in own}
    try:
        model.load_state_dict(state, strict=True)
    except StateDictError as e:
        raise ModelFileError(path, str(e)) from None
    return model
