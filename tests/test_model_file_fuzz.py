"""A fuzz of saved model files: every damaged, truncated or edited archive either loads to the model it
describes or raises ModelFileError; never another exception, never blamed on pickle when no member holds
Python objects, and never an allocation the file does not justify (traced with tracemalloc)."""

from __future__ import annotations

import io
import json
import math
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from model_files import config_of, npy, npy_header, rewrite, with_config

from tinygrad_edu import nn
from tinygrad_edu.nn.serialization import _config

# The files are 1-3 KiB: loading one takes well under 1 MiB, and load builds a model its arrays do not fill
# only up to 1 MiB of parameters (to name what is missing), about 3 MiB with the initial draws.
PEAK = 8 << 20


def _models():
    rng = np.random.default_rng(0)
    return {
        "mlp": nn.MLP([5, 4, 3], activation="relu", output_activation="identity", dtype=np.float32, generator=rng),
        "sequential": nn.Sequential(nn.Linear(3, 2, generator=rng), nn.Tanh(), nn.Linear(2, 2, bias=False, generator=rng),
                                    nn.Softmax(axis=1)),
        "perceptron": nn.Perceptron(4, 3),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> (path, model): each model saved by save(), and deflated as np.savez_compressed would."""
    folder = tmp_path_factory.mktemp("models")
    out = {}
    for name, model in _models().items():
        path = nn.save(model, folder / f"{name}.npz")
        out[name] = (path, model)
        out[f"{name}-deflated"] = (rewrite(path, folder / f"{name}-deflated.npz", compress_type=zipfile.ZIP_DEFLATED), model)
    return out


def _load(path: Path):
    """(the model or the ModelFileError) of load(path); fails on any other exception or a large allocation."""
    tracemalloc.start()
    try:
        try:
            result = nn.load(path)
        except nn.ModelFileError as error:
            result = error
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK, f"{peak / 2**20:.1f} MiB to load a {path.stat().st_size} byte file"
    event("refused" if isinstance(result, nn.ModelFileError) else "loaded")  # --hypothesis-show-statistics
    return result


def _assert_same(model, original):
    assert type(model) is type(original) and _config(model) == _config(original)
    state, expected = model.state_dict(), original.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        assert state[key].dtype == value.dtype
        np.testing.assert_array_equal(state[key], value)


def _no_pickle_blame(error):
    assert "pickle" not in str(error), error


names = st.sampled_from(["mlp", "sequential", "perceptron", "mlp-deflated", "sequential-deflated", "perceptron-deflated"])
fuzz = settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@fuzz
@given(name=names, flips=st.lists(st.tuples(st.integers(0, 2**16), st.integers(1, 255)), min_size=1, max_size=8))
def test_byte_flips(files, tmp_path, name, flips):
    path, original = files[name]
    data = bytearray(path.read_bytes())
    for at, xor in flips:
        data[at % len(data)] ^= xor
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    result = _load(tmp_path / "flipped.npz")
    if isinstance(result, nn.ModelFileError):
        _no_pickle_blame(result)
    else:  # a flip in bytes zipfile does not read (a timestamp, the local copy of a size)
        _assert_same(result, original)


@fuzz
@given(name=names, keep=st.floats(0, 1, exclude_max=True))
def test_truncations(files, tmp_path, name, keep):
    path, _ = files[name]
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: int(keep * len(data))])
    result = _load(tmp_path / "cut.npz")
    assert isinstance(result, nn.ModelFileError)
    _no_pickle_blame(result)


dimensions = st.one_of(st.integers(0, 6), st.integers(0, 2**62), st.just(-1))
dtypes = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "|b1", "<i8", "|u1", "<c16", "|O", "<U3", "|S4", "|V8", "<M8[s]"])


@fuzz
@given(name=names, data=st.data(), dtype=dtypes)
def test_edited_array_headers(files, tmp_path, name, data, dtype):
    path, original = files[name]
    with zipfile.ZipFile(path) as archive:
        member = data.draw(st.sampled_from(archive.namelist()))
    key = member[len("state/"):-len(".npy")] if member.startswith("state/") else None
    shape = data.draw(st.one_of(st.just(original.state_dict()[key].shape if key else ()),
                                st.lists(dimensions, max_size=3).map(tuple)))
    nbytes = np.dtype(dtype).itemsize * math.prod(shape) if all(n >= 0 for n in shape) else -1
    exact = st.binary(min_size=nbytes, max_size=nbytes) if 0 <= nbytes <= 512 else st.nothing()
    payload = data.draw(st.one_of(exact, st.binary(max_size=64)))  # what the header describes, or not
    if dtype == "|O":
        np.lib.format.write_array(buffer := io.BytesIO(), np.array([None] * 2, object), allow_pickle=True)
        content = buffer.getvalue()
    else:
        content = npy_header(shape, dtype, payload)
    result = _load(rewrite(path, tmp_path / "edited.npz", {member: content}))
    if isinstance(result, nn.ModelFileError):
        if dtype != "|O":
            _no_pickle_blame(result)
        return
    expected = original.state_dict()
    if key is not None:  # a header that describes its payload, of the shape and a dtype the model takes: it loads
        value = np.frombuffer(payload, np.dtype(dtype)).reshape(shape)
        assert value.dtype.newbyteorder("=") == expected[key].dtype  # only the byte order may differ: no cast
        expected[key] = value
    for k, value in result.state_dict().items():  # (a string member can only load holding what it held)
        np.testing.assert_array_equal(value, expected[k])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(value, prefix=()):
    """Every place in a JSON value: tuples of keys and indices."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


def _replaced(value, path, new):
    if not path:
        return new
    value = json.loads(json.dumps(value))
    inner = value
    for step in path[:-1]:
        inner = inner[step]
    inner[path[-1]] = new
    return value


sizes = st.one_of(st.integers(-2, 10), st.integers(10**5, 10**12), json_values)


@fuzz
@given(name=names, data=st.data(), new=st.one_of(json_values, sizes, st.sampled_from(
    ["sigmoid", "tanh", "identity", "Softmax", "float64", "int8", "xavier", 1, 2, 3, 4, 5, -1, True, [], {}])))
def test_edited_configs(files, tmp_path, name, data, new):
    path, _ = files[name]
    config = config_of(path)
    where = data.draw(st.sampled_from(sorted(_paths(config), key=repr)))
    edited = _replaced(config, where, new)
    result = _load(with_config(path, tmp_path / "edited.npz", edited))
    if isinstance(result, nn.ModelFileError):
        _no_pickle_blame(result)
        return
    assert _config(result) == json.loads(json.dumps(edited))  # the model the file describes, as it describes it
    if isinstance(result, nn.MLP):  # and it runs: nothing was left to fail on the first call
        assert result(np.zeros((2, result.sizes[0]))).shape == (2, result.sizes[-1])


@pytest.mark.slow
def test_every_single_byte_flip(files, tmp_path):
    """Each byte of a saved MLP inverted in turn: refused with a cause other than pickle, or the same model."""
    path, original = files["mlp"]
    data = path.read_bytes()
    refused = 0
    for at in range(len(data)):
        flipped = bytearray(data)
        flipped[at] ^= 0xFF
        (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
        try:
            model = nn.load(tmp_path / "flipped.npz")
        except nn.ModelFileError as error:
            _no_pickle_blame(error)
            refused += 1
        else:
            _assert_same(model, original)
    assert refused > len(data) // 2  # most bytes matter: the data, CRCs, sizes, names
