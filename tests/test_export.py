"""tinygrad_edu.export: the same outputs in tinygrad_edu, onnxruntime (on the exported file) and PyTorch, for
MLPs of every activation and for random convolutional networks (conv, pooling with its options, batch norm,
dropout) and LeNet5, in eval mode (and, to PyTorch, in train mode too).

onnx and onnxruntime are installed by scripts/setup.sh (CI fails without them); PyTorch is not: its tests skip
without it. Agreement: max |ours - theirs| <= tol * max(1, max |ours|) over an output (the error relative to the
output's scale, as BLAS libraries sum in different orders), tol 1e-6 in float32 and 1e-12 in float64.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from conftest import require, run_cli
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygrad_edu import nn
from tinygrad_edu.cli import main
from tinygrad_edu.engine.tensor import no_grad
from tinygrad_edu.export import CONVERTERS, OPSET, ExportError, to_onnx

ROOT = Path(__file__).resolve().parent.parent
HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
HAS_TORCH = importlib.util.find_spec("torch") is not None
TOL = {"float32": 1e-6, "float64": 1e-12}
DTYPES = tuple(TOL)

# each activation with settings that are not its defaults (the defaults are in ACTIVATIONS' classes)
WITH_SETTINGS = {
    "leaky_relu": dict(negative_slope=0.2), "elu": dict(alpha=0.5), "gelu": dict(approximate="tanh"),
    "softplus": dict(beta=2.0, threshold=3.0), "hardtanh": dict(min_val=-2.0, max_val=0.5), "softmax": dict(axis=0),
    "log_softmax": dict(axis=0),
}
CASES = [(name, {}) for name in nn.ACTIVATIONS] + list(WITH_SETTINGS.items())
CASE_IDS = [name + ("" if not s else "-" + "-".join(f"{k}={v}" for k, v in s.items())) for name, s in CASES]


def needs_onnx() -> None:
    require(HAS_ONNX, "onnx and onnxruntime (pip install '.[export]'; scripts/setup.sh installs them)")


def needs_torch() -> None:
    if not HAS_TORCH:
        pytest.skip("PyTorch is not installed (CI does not install it)")


def network(name: str, setting: dict, sizes: list[int], dtype: str, seed: int) -> nn.Sequential:
    """Linear, activation, Linear, activation, ...: every layer followed by the activation."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out, dtype=dtype, generator=rng), nn.activation(name, **setting)]
    return nn.Sequential(*layers)


def inputs(n: int, width: int, dtype: str, seed: int) -> np.ndarray:
    """Spread wide (σ = 4) so the kinks, the saturations and softplus' threshold are all crossed."""
    return (np.random.default_rng(seed + 1).standard_normal((n, width)) * 4).astype(dtype)


def ours(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with no_grad():
        return model(x).data


def onnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(1, max |a|): absolute for outputs up to 1, relative to the largest beyond."""
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    return float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0) / max(1.0, np.max(np.abs(a), initial=0.0)))


# --------------------------------------------------------------------------------------------------------------
# onnxruntime on the exported file
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "setting"), CASES, ids=CASE_IDS)
@settings(max_examples=4)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4), batch=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_onnxruntime_agrees_for_every_activation(name, setting, dtype, sizes, batch, seed, tmp_path_factory):
    needs_onnx()
    model = network(name, setting, sizes, dtype, seed)
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    to_onnx(model, path, inputs(1, sizes[0], dtype, seed))  # exported with batch 1, run with another
    x = inputs(batch, sizes[0], dtype, seed)
    assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_erf_in_the_exact_gelu_everywhere(dtype, tmp_path):
    """float32: ONNX's Erf; float64: the series export._erf writes (onnxruntime has no float64 Erf kernel),
    checked on a fine grid through its clip at ±6 and far beyond, against scipy's erf in tinygrad_edu's GELU."""
    needs_onnx()
    x = np.linspace(-40, 40, 80_001, dtype=dtype)[None, :]
    path = to_onnx(nn.GELU(), tmp_path / "gelu.onnx", x)
    assert difference(ours(nn.GELU(), x), onnx_outputs(path, x)) <= TOL[dtype] / 10


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_an_mlp_exports_with_its_names_opset_and_a_free_batch_size(activation, tmp_path):
    needs_onnx()
    import onnx

    model = nn.MLP([4, 5, 3], activation, "identity", dtype="float32", generator=np.random.default_rng(0))
    path = to_onnx(model, tmp_path / "mlp.onnx", np.zeros((2, 4), np.float32))
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    assert sorted(i.name for i in proto.graph.initializer if not i.name.startswith("const_")) == sorted(model.state_dict())
    for value in (*proto.graph.input, *proto.graph.output):
        first = value.type.tensor_type.shape.dim[0]
        assert first.dim_param == "batch" and not first.HasField("dim_value")
    for batch in (1, 7, 64):
        x = inputs(batch, 4, "float32", batch)
        assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL["float32"]


def test_inputs_of_more_axes_keep_them(tmp_path):
    """Linear works on (..., in_features): the exported file keeps the middle axes."""
    needs_onnx()
    model = network("tanh", {}, [3, 4], "float64", 1)
    path = to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 5, 3)))
    x = inputs(6, 15, "float64", 2).reshape(6, 5, 3)
    assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL["float64"]


def test_a_linear_without_bias_and_a_bare_activation(tmp_path):
    needs_onnx()
    linear = nn.Linear(3, 2, bias=False, dtype="float32", generator=np.random.default_rng(3))
    x = inputs(4, 3, "float32", 0)
    assert difference(ours(linear, x), onnx_outputs(to_onnx(linear, tmp_path / "l.onnx", x), x)) <= 1e-6
    act = nn.Softplus(beta=0.5)  # no parameters: the example input's dtype is the model's
    assert difference(ours(act, x), onnx_outputs(to_onnx(act, tmp_path / "a.onnx", x), x)) <= 1e-6


def test_every_class_of_nn_is_exported_or_refused_by_name():
    classes = [getattr(nn, n) for n in nn.__all__ if isinstance(getattr(nn, n), type)]
    layers = [c for c in classes if issubclass(c, nn.Module) and c not in nn.LOSS_MODULES.values()]
    from tinygrad_edu.export import REFUSED

    containers = {nn.Module, nn.Sequential, nn.MLP, nn.ModuleList, nn.LeNet5}
    assert set(layers) - containers <= set(CONVERTERS) | set(REFUSED), set(layers) - containers - set(CONVERTERS)
    assert set(nn.ACTIVATIONS.values()) <= set(CONVERTERS)


class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


@pytest.mark.parametrize(("model", "message"), [
    (nn.Sequential(nn.Linear(2, 2), Doubler()), r"cannot export Doubler \(at '1'\): the export knows .*Linear"),
    (nn.Perceptron(2, 3), "cannot export Perceptron: it outputs the one-hot of an argmax"),
    (nn.Sequential(OrderedDict(body=nn.Sequential(nn.Tanh(), nn.ModuleList([nn.ReLU()])))),
     r"cannot export ModuleList \(at 'body.1'\)"),
    (nn.Sequential(nn.Linear(2, 2), nn.MSELoss()), r"cannot export MSELoss \(at '1'\)"),
    (nn.Linear(2, 2, dtype="float16"), "cannot export a float16 model: the export writes float32 and float64"),
    (nn.Sequential(nn.Linear(2, 2, dtype="float32"), nn.Linear(2, 2)), "mix dtypes: float32, float64"),
])
def test_what_cannot_be_exported_is_named(model, message, tmp_path):
    needs_onnx()
    with pytest.raises(ExportError, match=message):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 2)))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("example", "message"), [
    (np.zeros(3), r"batch axis first, shape \(N, ...\); got shape \(3,\)"),
    (np.zeros((1, 4)), r"cannot run on example_input of shape \(1, 4\): Linear\(3, 2\) expects inputs of shape"),
])
def test_an_example_input_that_does_not_fit_is_refused(example, message, tmp_path):
    needs_onnx()
    with pytest.raises(ExportError, match=message):
        to_onnx(nn.Linear(3, 2), tmp_path / "m.onnx", example)


def test_the_file_is_written_atomically(tmp_path, monkeypatch):
    """A failing write leaves the old file as it was, and no temporary."""
    needs_onnx()
    import onnx

    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def fail(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(onnx.ModelProto, "SerializeToString", fail)
    with pytest.raises(OSError, match="No space"):
        to_onnx(nn.Linear(3, 2), path, np.zeros((1, 3)))
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_importing_tinygrad_edu_does_not_import_the_export():
    code = "import sys, tinygrad_edu, tinygrad_edu.nn; print('tinygrad_edu.export' in sys.modules, 'onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert out.split() == ["False", "False"]


# --------------------------------------------------------------------------------------------------------------
# a model trained by `tinygrad-edu train`, exported by `tinygrad-edu export`
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    argv = ["train", "--dataset", "digits", "--hidden", "16", "--epochs", "3", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    return out


def test_a_trained_model_predicts_the_same_test_accuracy_in_onnxruntime(trained, tmp_path, capsys):
    needs_onnx()
    import json

    from tinygrad_edu.data import load_digits

    code, out, err = run_cli(["export", str(trained / "model.npz"), "--to", str(tmp_path / "digits.onnx")], capsys)
    assert code == 0 and err == "", err
    assert "64-16-10 sigmoid MLP, ONNX opset 17; input 'input' of shape (batch, 64) float32" in out
    model = nn.load(trained / "model.npz")
    ds = load_digits(dtype=np.float32)
    theirs = onnx_outputs(tmp_path / "digits.onnx", ds.X_test)
    assert difference(ours(model, ds.X_test), theirs) <= TOL["float32"]
    accuracy = float(np.mean(np.argmax(theirs, axis=1) == ds.y_test))
    assert accuracy == json.loads((trained / "metrics.json").read_text())["test_accuracy"]


@pytest.mark.parametrize(("argv", "message", "status"), [
    (["export", "{model}", "--to", "{tmp}/m.txt"], r"--to .*m.txt: the file must end in .onnx or .pt", 2),
    (["export", "{model}", "--to", "{tmp}/nowhere/m.onnx"], r"the folder .*nowhere does not exist", 2),
    (["export", "{tmp}/missing.npz", "--to", "{tmp}/m.onnx"], r"no model file at '.*missing.npz'", 2),
    (["export", "{perceptron}", "--to", "{tmp}/m.onnx"], r"cannot export Perceptron: it outputs the one-hot", 2),
    (["export", "{model}"], r"the following arguments are required: --to", 2),
])
def test_bad_input_is_one_line(argv, message, status, trained, tmp_path, capsys):
    needs_onnx()
    perceptron = nn.save(nn.Perceptron(4, 3), tmp_path / "p.npz")
    argv = [a.format(model=trained / "model.npz", tmp=tmp_path, perceptron=perceptron) for a in argv]
    code, out, err = run_cli(argv, capsys)
    assert code == status and len(err.strip().splitlines()) == 1, err
    assert err.startswith("tinygrad-edu") and re.search(message, err), err


def test_pt_without_torch_says_what_is_missing(trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if it were not installed
    code, _, err = run_cli(["export", str(trained / "model.npz"), "--to", str(tmp_path / "m.pt")], capsys)
    assert (code, err.strip()) == (1, "tinygrad-edu export: error: this needs PyTorch: install it "
                                      "(https://pytorch.org, e.g. pip install torch)")
    assert not (tmp_path / "m.pt").exists()


# --------------------------------------------------------------------------------------------------------------
# PyTorch (where installed)
# --------------------------------------------------------------------------------------------------------------


def torch_outputs(module, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "setting"), [c for c in CASES if c[0] != "heaviside"],
                         ids=[i for i, c in zip(CASE_IDS, CASES) if c[0] != "heaviside"])
@settings(max_examples=4)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4), batch=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_pytorch_agrees_for_every_activation(name, setting, dtype, sizes, batch, seed):
    needs_torch()
    from tinygrad_edu.export import from_torch, to_torch

    model = network(name, setting, sizes, dtype, seed)
    x = inputs(batch, sizes[0], dtype, seed)
    theirs = to_torch(model)
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL[dtype]
    back = from_torch(theirs)
    assert type(back) is nn.Sequential and repr(back) == repr(model)
    assert np.array_equal(ours(back, x), ours(model, x))


def test_state_dicts_cross_both_ways_with_the_same_keys():
    needs_torch()
    import torch

    from tinygrad_edu.export import from_torch, state_dict_from_torch, state_dict_to_torch, to_torch

    model = nn.MLP([5, 4, 3], "relu", "identity", dtype="float64", generator=np.random.default_rng(0))
    theirs = to_torch(model)
    assert list(theirs.state_dict()) == list(model.state_dict()) == ["layers.0.weight", "layers.0.bias",
                                                                     "layers.2.weight", "layers.2.bias"]
    assert theirs.layers[0].weight.dtype == torch.float64 and theirs.layers[0].weight.shape == (4, 5)
    with torch.no_grad():  # trained on in PyTorch: the new weights come back
        for p in theirs.parameters():
            p.mul_(-2)
    model.load_state_dict(state_dict_from_torch(theirs.state_dict()))
    for key, value in theirs.state_dict().items():
        assert np.array_equal(model.state_dict()[key], value.numpy())
    theirs.load_state_dict(state_dict_to_torch(nn.MLP([5, 4, 3], "relu", "identity").state_dict()))
    back = from_torch(theirs)
    assert type(back) is nn.MLP and (back.sizes, back.activation, back.output_activation) == ([5, 4, 3], "relu",
                                                                                            "identity")
    assert all(np.array_equal(v, theirs.state_dict()[k].numpy()) for k, v in back.state_dict().items())


def test_from_torch_takes_a_pytorch_sequential_and_names_what_it_cannot():
    needs_torch()
    import torch

    from tinygrad_edu.export import from_torch

    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(4, 2),
                                 torch.nn.Softplus(beta=2.0, threshold=5.0))
    model = from_torch(theirs)
    assert type(model) is nn.Sequential and list(model.state_dict()) == list(theirs.state_dict())
    assert (model[1].approximate, model[3].beta, model[3].threshold) == ("tanh", 2.0, 5.0)
    x = inputs(5, 3, "float32", 0)
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL["float32"]
    with pytest.raises(ExportError, match=r"torch's Conv3d \(at '1'\) to tinygrad_edu: from_torch knows"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Conv3d(1, 1, 1)))
    with pytest.raises(ExportError, match="Softmax without dim"):
        from_torch(torch.nn.Sequential(torch.nn.Softmax()))


def test_to_torch_names_what_pytorch_has_not():
    needs_torch()
    from tinygrad_edu.export import to_torch

    with pytest.raises(ExportError, match=r"Heaviside \(at 'layers.1'\) to PyTorch: torch.nn has no step module"):
        to_torch(nn.MLP([2, 2, 1], "heaviside"))
    with pytest.raises(ExportError, match="cannot export Perceptron"):
        to_torch(nn.Perceptron(2, 2))


def test_the_pt_file_loads_in_pytorch_and_gives_the_same_outputs(trained, tmp_path, capsys):
    needs_torch()
    import torch

    code, out, err = run_cli(["export", str(trained / "model.npz"), "--to", str(tmp_path / "m.pt")], capsys)
    assert code == 0, err
    theirs = torch.load(tmp_path / "m.pt", weights_only=False)
    model = nn.load(trained / "model.npz")
    x = inputs(8, 64, "float32", 0)
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL["float32"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_pytorch_and_onnxruntime_agree(dtype, tmp_path):
    """All three together: only where one Python has both (not this project's CI)."""
    needs_torch()
    needs_onnx()
    from tinygrad_edu.export import to_torch

    for name, setting in CASES:
        if name == "heaviside":  # torch.nn has none
            continue
        model = network(name, setting, [4, 5, 3], dtype, 0)
        x = inputs(6, 4, dtype, 0)
        path = to_onnx(model, tmp_path / f"{name}.onnx", x)
        assert difference(torch_outputs(to_torch(model), x), onnx_outputs(path, x)) <= 2 * TOL[dtype], name


def test_the_readme_continues_a_trained_network_in_pytorch(trained):
    """README's "Moving on to PyTorch" block, run on a trained model: one epoch lowers the training cost."""
    needs_torch()
    import torch

    (block,) = re.findall(r"```py\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    model_file = "runs/digits-300-sigmoid-mse-seed0/model.npz"
    assert model_file in block
    namespace: dict = {}
    exec(compile(block.replace(model_file, str(trained / "model.npz")), "README.md", "exec"), namespace)
    X, Y, net = namespace["X"], namespace["Y"], namespace["net"]
    before = nn.load(trained / "model.npz")
    cost = lambda out: float(((out - Y.numpy()) ** 2).sum(1).mean())  # noqa: E731
    with torch.no_grad():
        assert cost(net(X).numpy()) < cost(ours(before, X.numpy()))


@pytest.mark.parametrize(("sizes", "activation", "output"), [
    ([3, 4, 2], "identity", "identity"), ([3, 2], "sigmoid", None), ([3, 4, 4, 2], "tanh", "softmax"),
    ([3, 5, 2], "gelu", "log_softmax"),
])
def test_every_mlp_comes_back_from_pytorch_as_an_mlp(sizes, activation, output):
    needs_torch()
    from tinygrad_edu.export import from_torch, to_torch

    model = nn.MLP(sizes, activation, output, generator=np.random.default_rng(1))
    back = from_torch(to_torch(model))
    assert type(back) is nn.MLP and back.get_config() | {"init": None} == model.get_config() | {"init": None}
    x = inputs(4, sizes[0], "float64", 0)
    assert np.array_equal(ours(back, x), ours(model, x))


def shared_layers(dtype: str = "float64") -> nn.Sequential:
    """One Linear used twice (its weights shared), as a re-used node of the graph."""
    square = nn.Linear(3, 3, dtype=dtype, generator=np.random.default_rng(5))
    return nn.Sequential(square, nn.Tanh(), square, nn.Softsign(), nn.Linear(3, 2, dtype=dtype))


def test_a_layer_used_twice_is_written_once(tmp_path):
    needs_onnx()
    import onnx

    model = shared_layers()
    path = to_onnx(model, tmp_path / "shared.onnx", np.zeros((1, 3)))
    names = [i.name for i in onnx.load(path).graph.initializer if not i.name.startswith("const_")]
    assert names == list(model.state_dict()) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    x = inputs(5, 3, "float64", 0)
    assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL["float64"]


def test_a_layer_used_twice_stays_shared_in_pytorch_and_back():
    needs_torch()
    import torch

    from tinygrad_edu.export import from_torch, to_torch

    model = shared_layers()
    theirs = to_torch(model)
    assert theirs[0] is theirs[2]
    x = inputs(5, 3, "float64", 0)
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL["float64"]
    with torch.no_grad():
        theirs[0].weight.add_(1.0)  # one change, seen at both places
    back = from_torch(theirs)
    assert back[0] is back[2] and list(back.state_dict()) == list(model.state_dict())
    assert difference(torch_outputs(theirs, x), ours(back, x)) <= TOL["float64"]


def test_a_model_without_parameters_takes_the_example_inputs_dtype(tmp_path):
    needs_onnx()
    with pytest.raises(ExportError, match="no parameters and the example input is not floating-point"):
        to_onnx(nn.Tanh(), tmp_path / "m.onnx", np.zeros((1, 3), dtype=np.int64))
    x = inputs(2, 3, "float64", 0)
    assert difference(ours(nn.Tanh(), x), onnx_outputs(to_onnx(nn.Tanh(), tmp_path / "m.onnx", x), x)) <= TOL["float64"]


def test_pt_of_a_heaviside_network_is_refused_in_one_line(tmp_path, capsys):
    needs_torch()
    path = nn.save(nn.MLP([4, 3, 2], "heaviside"), tmp_path / "step.npz")
    code, _, err = run_cli(["export", str(path), "--to", str(tmp_path / "m.pt")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Heaviside (at 'layers.1') to PyTorch" in err, err
    assert not (tmp_path / "m.pt").exists()


# --------------------------------------------------------------------------------------------------------------
# convolutional networks: Conv1d/2d, pooling, Flatten, Dropout, BatchNorm, LeNet5
# --------------------------------------------------------------------------------------------------------------


@st.composite
def conv_net(draw, dtype):
    """A random small convolutional network and an input: conv (any stride, padding incl. 'same', dilation,
    groups, bias), batch norm (running statistics drawn away from their start, or none tracked), an activation,
    max or average pooling (ceil_mode, count_include_pad), then global pooling or Flatten, dropout, Linear and
    BatchNorm1d. Returns (model in eval mode, example, input); the batch size of the input differs from the
    example's."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16), label="seed"))
    groups = draw(st.integers(1, 2), label="groups")
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k, stride, dilation = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    padding = "same" if stride == 1 and draw(st.booleans(), label="same") else draw(st.integers(0, 2))
    side = draw(st.integers(dilation * (k - 1) + 3, dilation * (k - 1) + 7), label="side")
    layers = [nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups, draw(st.booleans(), label="bias"),
                        dtype=dtype, generator=rng)]
    if draw(st.booleans(), label="batch norm"):
        track = draw(st.booleans(), label="running statistics")
        norm = nn.BatchNorm2d(c_out, affine=draw(st.booleans(), label="affine"), track_running_stats=track, dtype=dtype)
        if track:
            norm.load_state_dict({**norm.state_dict(), "running_mean": rng.normal(0, 0.5, c_out),
                                  "running_var": rng.uniform(0.5, 2, c_out)})
        if norm.affine:
            norm.load_state_dict({**norm.state_dict(), "weight": rng.uniform(0.5, 2, c_out), "bias": rng.normal(0, 1, c_out)})
        layers.append(norm)
    layers.append(nn.activation(draw(st.sampled_from(["relu", "tanh", "gelu", "leaky_relu"]), label="activation")))
    pk = draw(st.integers(1, 3), label="pool kernel")
    pool = dict(kernel_size=pk, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, pk // 2)),
                ceil_mode=draw(st.booleans(), label="ceil_mode"))
    if draw(st.booleans(), label="max"):
        layers.append(nn.MaxPool2d(**pool, dilation=draw(st.integers(1, 2), label="pool dilation")))
    else:
        layers.append(nn.AvgPool2d(**pool, count_include_pad=draw(st.booleans(), label="count_include_pad")))
    if draw(st.booleans(), label="global"):
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    else:
        layers.append(nn.Flatten())
    model = nn.Sequential(*layers)
    example = (rng.standard_normal((1, c_in, side, side)) * 2).astype(dtype)
    try:
        with no_grad():
            width = model.eval()(example).shape[1]
    except ValueError:  # the pooling does not fit what the convolution left (a window of padding only, ...)
        assume(False)
    model = nn.Sequential(*layers, nn.Dropout(0.5), nn.Linear(width, 3, dtype=dtype, generator=rng),
                          nn.BatchNorm1d(3, dtype=dtype)).eval()
    with no_grad():
        assume(np.isfinite(model(example).data).all())  # a max-pooling window of padding only is -inf
    batch = draw(st.integers(2, 5), label="batch")
    return model, example, (rng.standard_normal((batch, c_in, side, side)) * 2).astype(dtype)


def tolerance(model: nn.Module, x: np.ndarray, dtype: str) -> float:
    """TOL, times the condition of each batch norm without running statistics in float32: its batch mean and
    variance, summed by another library in another order, are off by rounding of the inputs' size, which the
    normalization divides by √(var + eps): max |x| / √(var + eps) over its channels (at least 4; up to 1.1e-06
    measured against onnxruntime on 150 random networks with well-spread inputs, median 1.5e-07)."""
    tol = TOL[dtype]
    if dtype == "float32":
        value = x
        for layer in model:
            if type(layer) is nn.BatchNorm2d and not layer.track_running_stats:
                a = np.asarray(value, np.float64)
                spread = np.sqrt(a.var(axis=(0, 2, 3)) + layer.eps)
                tol *= max(4.0, float(np.max(np.abs(a).max(axis=(0, 2, 3)) / spread)))
            value = ours(layer, value)
    return tol


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_onnxruntime_agrees_on_random_convolutional_networks(dtype, data, tmp_path_factory):
    needs_onnx()
    import onnx

    model, example, x = data.draw(conv_net(dtype))
    path = to_onnx(model, tmp_path_factory.mktemp("onnx") / "cnn.onnx", example)
    assert difference(ours(model, x), onnx_outputs(path, x)) <= tolerance(model, x, dtype)
    graph = onnx.load(path).graph
    used = {name for node in graph.node for name in node.input}
    assert [i.name for i in graph.initializer if i.name not in used] == []  # nothing written for nothing


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_and_flatten_of_middle_axes_agree(dtype, tmp_path):
    needs_onnx()
    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Conv1d(4, 6, 3, stride=2, padding=1, dilation=2, groups=2, dtype=dtype, generator=rng),
                          nn.BatchNorm1d(6, dtype=dtype), nn.Tanh(), nn.Conv1d(6, 2, 2, padding="same", dtype=dtype,
                                                                              generator=rng), nn.Flatten(1, 2)).eval()
    x = rng.standard_normal((3, 4, 11)).astype(dtype)
    path = to_onnx(model, tmp_path / "c1.onnx", x[:1])
    assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_float64_fallbacks_are_used_where_onnxruntime_has_no_kernel(dtype, tmp_path):
    """onnxruntime 1.32 has no float64 Conv, AveragePool, GlobalAveragePool, and BatchNormalization takes epsilon
    in float32: in float64 those are basic operations."""
    needs_onnx()
    import onnx

    model = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=dtype), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.BatchNorm1d(2, dtype=dtype))
    path = to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 1, 6, 6), dtype))
    kinds = {node.op_type for node in onnx.load(path).graph.node}
    native = {"Conv", "AveragePool", "GlobalAveragePool"}
    assert native <= kinds if dtype == "float32" else not native & kinds
    assert "Flatten" in kinds and ("BatchNormalization" in kinds) == (dtype == "float32")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [True, False], ids=["rows", "images"])
def test_lenet5_exports_whole_from_rows_or_images(dtype, rows, tmp_path):
    needs_onnx()
    import onnx

    model = nn.LeNet5(8, num_classes=4, in_channels=2, dtype=dtype, generator=np.random.default_rng(1)).eval()
    x = np.random.default_rng(2).random((6, 2, 8, 8)).astype(dtype)
    x = x.reshape(6, -1) if rows else x
    path = to_onnx(model, tmp_path / "lenet.onnx", x[:1])
    assert difference(ours(model, x), onnx_outputs(path, x)) <= TOL[dtype]
    names = [i.name for i in onnx.load(path).graph.initializer if i.name in model.state_dict()]
    assert sorted(names) == sorted(model.state_dict())


def test_to_onnx_runs_in_eval_mode_and_leaves_the_model_as_it_was(tmp_path):
    """The file computes eval mode; the running statistics are not moved by the example, each mode restored."""
    needs_onnx()
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 2))
    model[1].eval()  # a mode of its own, kept
    before = {k: v.copy() for k, v in model.state_dict().items()}
    x = np.random.default_rng(0).standard_normal((4, 1, 4, 4))
    path = to_onnx(model, tmp_path / "m.onnx", x)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert difference(ours(model.eval(), x), onnx_outputs(path, x)) <= TOL["float64"]


@pytest.mark.parametrize(("model", "message"), [
    (nn.Sequential(nn.Conv2d(1, 1, 1), nn.MaxPool2d(2, return_indices=True)),
     r"cannot export MaxPool2d \(at '1'\): return_indices=True makes it return \(output, indices\)"),
    (nn.Sequential(nn.Conv2d(1, 1, 1), nn.Flatten(0, -1)),
     r"cannot export Flatten \(at '1'\) with start_dim=0 to ONNX: it merges the batch axis"),
])
def test_what_of_the_convolutional_layers_cannot_go_is_named(model, message, tmp_path):
    needs_onnx()
    with pytest.raises(ExportError, match=message):
        to_onnx(model, tmp_path / "m.onnx", np.zeros((1, 1, 4, 4)))
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_trained_lenet_predicts_the_same_in_onnxruntime(tmp_path, capsys):
    """`tinygrad-edu train --model lenet` on the embedded digits, `tinygrad-edu export`: the same logits and the
    same test accuracy in onnxruntime."""
    needs_onnx()
    import json

    from tinygrad_edu.data import load_digits

    out = tmp_path / "run"
    code, _, err = run_cli(["train", "--model", "lenet", "--dataset", "digits", "--epochs", "3", "--no-progress",
                            "--out", str(out)], capsys)
    assert code == 0, err
    code, stdout, err = run_cli(["export", str(out / "model.npz"), "--to", str(tmp_path / "lenet.onnx")], capsys)
    assert code == 0 and err == "", err
    assert "64-6-16-120-84-10 relu LeNet-5, ONNX opset 17; input 'input' of shape (batch, 64) float32" in stdout
    model = nn.load(out / "model.npz")
    ds = load_digits(dtype=np.float32)
    theirs = onnx_outputs(tmp_path / "lenet.onnx", ds.X_test)
    assert difference(ours(model.eval(), ds.X_test), theirs) <= TOL["float32"]
    predictions = np.argmax(theirs, axis=1)
    assert np.array_equal(predictions, model.predict(ds.X_test))
    assert float(np.mean(predictions == ds.y_test)) == json.loads((out / "metrics.json").read_text())["test_accuracy"]


# PyTorch


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_pytorch_agrees_on_random_convolutional_networks_both_ways(dtype, data):
    needs_torch()
    from tinygrad_edu.export import from_torch, to_torch

    model, _, x = data.draw(conv_net(dtype))
    theirs = to_torch(model)
    assert not theirs.training and not any(m.training for m in theirs.modules())
    assert list(theirs.state_dict()) == list(model.state_dict())
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= tolerance(model, x, dtype)
    back = from_torch(theirs)
    assert type(back) is nn.Sequential and repr(back) == repr(model) and not back.training
    assert np.array_equal(ours(back, x), ours(model, x))


def test_batch_norm_in_training_mode_agrees_with_pytorch_and_moves_the_same_statistics():
    """Modes carry over: a network in train mode is one in PyTorch, whose batch statistics and running updates are
    the same (Dropout left out: its masks are each library's own draws)."""
    needs_torch()
    import torch

    from tinygrad_edu.export import to_torch

    rng = np.random.default_rng(3)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, generator=rng), nn.BatchNorm2d(3, momentum=None), nn.ReLU(),
                          nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(27, 4, generator=rng),
                          nn.BatchNorm1d(4, momentum=0.3))
    theirs = to_torch(model)
    assert theirs.training and theirs[1].training
    x = rng.standard_normal((8, 2, 5, 5))
    for _ in range(2):
        a, b = model(x).data, theirs(torch.from_numpy(x)).detach().numpy()
        assert difference(a, b) <= TOL["float64"]
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[key], value.numpy(), rtol=1e-12, err_msg=key)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lenet5_goes_to_pytorch_and_comes_back_a_lenet5(dtype):
    needs_torch()
    import torch

    from tinygrad_edu.export import from_torch, to_torch

    model = nn.LeNet5(28, dtype=dtype, generator=np.random.default_rng(0))
    theirs = to_torch(model)
    assert list(theirs._modules) == ["features", "classifier"]
    assert list(theirs.state_dict()) == list(model.state_dict())
    assert theirs.features[0].weight.shape == (6, 1, 5, 5) and theirs.classifier[1].weight.shape == (120, 400)
    x = np.random.default_rng(1).random((3, 1, 28, 28)).astype(dtype)
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL[dtype]
    with torch.no_grad():
        theirs.features[0].weight.mul_(-1)  # trained on in PyTorch: the new weights come back
    back = from_torch(theirs)
    assert type(back) is nn.LeNet5 and back.get_config() == model.get_config()
    assert difference(ours(back, x), torch_outputs(theirs, x)) <= TOL[dtype]
    small = from_torch(to_torch(nn.LeNet5(8, num_classes=3, in_channels=2, activation="tanh")))
    assert small.get_config() == nn.LeNet5(8, num_classes=3, in_channels=2, activation="tanh").get_config()


def test_pytorch_settings_that_tinygrad_edu_has_not_are_named():
    needs_torch()
    import torch

    from tinygrad_edu.export import from_torch

    with pytest.raises(ExportError, match=r"Conv2d with padding_mode='reflect': tinygrad_edu pads with zeros only"):
        from_torch(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")))
    with pytest.raises(ExportError, match=r"AvgPool2d with divisor_override"):
        from_torch(torch.nn.AvgPool2d(2, divisor_override=3))
    with pytest.raises(ExportError, match=r"torch.s AdaptiveAvgPool2d: AdaptiveAvgPool2d: output_size must be an int"):
        from_torch(torch.nn.AdaptiveAvgPool2d((None, 2)))


def test_a_trained_lenets_pt_file_predicts_the_same(tmp_path, capsys):
    needs_torch()
    import torch

    model = nn.LeNet5(8, generator=np.random.default_rng(0))
    path = nn.save(model, tmp_path / "lenet.npz")
    code, out, err = run_cli(["export", str(path), "--to", str(tmp_path / "lenet.pt")], capsys)
    assert code == 0, err
    theirs = torch.load(tmp_path / "lenet.pt", weights_only=False)
    x = np.random.default_rng(1).random((5, 1, 8, 8))
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL["float64"]


def test_an_mlp_with_dropout_exports_and_comes_back_an_mlp(tmp_path):
    """MLP(dropout=..., input_dropout=...): the identity in the ONNX file (eval mode), torch.nn.Dropout in
    PyTorch in the same places and modes, an MLP with the same dropouts again from PyTorch."""
    needs_onnx()
    model = nn.MLP([6, 5, 4, 3], "relu", "identity", dropout=0.3, input_dropout=0.2, dtype="float32",
                   generator=np.random.default_rng(0))
    x = inputs(7, 6, "float32", 0)
    path = to_onnx(model, tmp_path / "dropout.onnx", x[:1])
    assert model.training  # to_onnx ran it in eval mode and restored the mode
    assert difference(ours(model.eval(), x), onnx_outputs(path, x)) <= TOL["float32"]
    if not HAS_TORCH:
        return
    from tinygrad_edu.export import from_torch, to_torch

    theirs = to_torch(model)
    assert [type(m).__name__ for m in theirs.layers][:3] == ["Dropout", "Linear", "ReLU"] and not theirs.training
    assert difference(ours(model, x), torch_outputs(theirs, x)) <= TOL["float32"]
    back = from_torch(theirs.train())
    assert type(back) is nn.MLP and (back.dropout, back.input_dropout) == (0.3, 0.2) and back.training
    assert back.get_config() | {"init": None} == model.get_config() | {"init": None}


def test_export_of_a_saved_convolutional_sequential_asks_for_an_example_input(tmp_path, capsys):
    """The file holds no image size: the command says so in one line (to_onnx takes an example input)."""
    needs_onnx()
    path = nn.save(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), tmp_path / "cnn.npz")
    code, _, err = run_cli(["export", str(path), "--to", str(tmp_path / "cnn.onnx")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "whose input shape the file does not say (no Linear layer, or a convolution first)" in err
    assert not (tmp_path / "cnn.onnx").exists()
