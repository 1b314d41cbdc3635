"""LeNet5: its layers and sizes, flat or image inputs, save/load; `train --model lenet` and `evaluate` on the
embedded digits; the pictures (filters, feature maps) and the graph, where a convolution is one node."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.experiment import LENET_RECIPES, ConfigError, TrainConfig, run
from tinygrad_edu.nn.lenet import lenet5_parameters

rng = np.random.default_rng(0)


def test_lenet5_on_mnist_has_the_papers_sizes():
    model = nn.LeNet5(generator=np.random.default_rng(0))
    assert model.sizes == [784, 6, 16, 120, 84, 10]
    assert model.num_parameters() == lenet5_parameters(28) == 61706
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes["features.0.weight"] == (6, 1, 5, 5) and shapes["features.3.weight"] == (16, 6, 5, 5)
    assert shapes["classifier.1.weight"] == (120, 400)  # 16 channels of 5 × 5 after the second pool
    x = rng.random((3, 784))
    np.testing.assert_array_equal(model(x).data, model(x.reshape(3, 1, 28, 28)).data)  # rows or images
    assert model.predict(x).shape == (3,)


def test_lenet5_fits_the_small_digits_and_refuses_other_shapes():
    model = nn.LeNet5(8)
    assert model.num_parameters() == lenet5_parameters(8) and model(rng.random((2, 64))).shape == (2, 10)
    with pytest.raises(ValueError, match=r"LeNet5 expects images of shape \(N, 1, 8, 8\) or rows \(N, 64\), got "
                                         r"\(2, 63\)"):
        model(rng.random((2, 63)))
    with pytest.raises(ValueError, match=r"image_size must be an integer >= 8"):
        nn.LeNet5(4)


def test_lenet5_save_and_load(tmp_path):
    model = nn.LeNet5(8, num_classes=3, activation="tanh", dtype=np.float32)
    back = tg.load(tg.save(model, tmp_path / "lenet.npz"))
    assert isinstance(back, nn.LeNet5) and back.get_config() == model.get_config()
    x = rng.random((2, 64)).astype(np.float32)
    np.testing.assert_array_equal(back(x).data, model(x).data)


def test_the_lenet_recipe_and_its_refusals():
    config = TrainConfig(dataset="digits", model="lenet", activation="relu", loss="ce").resolved()
    assert (config.optimizer, config.lr, config.batch_size) == (LENET_RECIPES["relu"].optimizer,
                                                                 LENET_RECIPES["relu"].lr,
                                                                 LENET_RECIPES["relu"].batch_size)
    with pytest.raises(ConfigError, match="--model lenet outputs logits and trains with cross-entropy"):
        TrainConfig(dataset="digits", model="lenet", activation="relu", loss="mse").resolved()
    with pytest.raises(ConfigError, match="--model lenet takes --activation relu or tanh"):
        TrainConfig(dataset="digits", model="lenet", activation="sigmoid", loss="ce").resolved()
    with pytest.raises(ConfigError, match="unknown model 'resnet'"):
        TrainConfig(dataset="digits", model="resnet").resolved()


@pytest.mark.slow
def test_train_model_lenet_then_evaluate(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "--model", "lenet", "--dataset", "digits", "--epochs", "10",
                                 "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert "LeNet-5 network 64-6-16-120-84-10, relu hidden" in stdout and "loss ce" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "lenet" and metrics["architecture"] == [64, 6, 16, 120, 84, 10]
    assert metrics["test_accuracy"] > 0.5  # 10 epochs of 1 197 digits (190 steps; 0.82 measured): above chance
    assert (out / "weights.png").stat().st_size > 0  # the first layer's filters
    code, stdout, err = run_cli(["evaluate", "--model", str(out / "model.npz"), "--dataset", "digits"], capsys)
    assert code == 0, err
    assert f"accuracy {metrics['test_accuracy']:.4f}" in stdout


def test_filters_and_feature_maps_pictures():
    from tinygrad_edu.viz import plots

    model = nn.LeNet5(8, generator=np.random.default_rng(0))
    fig = plots.filters(model.convs[0].weight)
    assert len([ax for ax in fig.axes if ax.get_title().startswith("filter")]) == 6
    fig = plots.filters(model.convs[1].weight, channel=2)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["filter 0, in 2", "filter 1, in 2"]
    x = rng.random((1, 64))
    maps = model.features[:2](x.reshape(1, 1, 8, 8))
    fig = plots.feature_maps(maps, image=x[0], title="one digit")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["input"] + [f"channel {c}" for c in range(6)]
    relu_maps = maps.numpy()[0]
    ranges = [ax.get_xlabel() for ax in fig.axes[1:7]]  # each map's own scale, written beneath it
    assert ranges == [f"{m.min():.2g} to {m.max():.2g}" if m.max() > m.min() else f"all {m.min():.2g}"
                      for m in relu_maps]
    dead = plots.feature_maps(np.stack([np.zeros((4, 4)), np.full((4, 4), -0.5), np.eye(4)]))
    assert [ax.get_xlabel() for ax in dead.axes[:3]] == ["all 0", "all -0.5", "0 to 1"]
    with pytest.raises(ValueError, match=r"weight must be \(out_channels, in_channels, kh, kw\)"):
        plots.filters(np.ones((6, 25)))
    with pytest.raises(ValueError, match=r"maps must be one image's channels"):
        plots.feature_maps(np.ones((2, 6, 4, 4)))


def test_the_graph_shows_a_convolution_as_one_node_with_its_shapes():
    model = nn.LeNet5(8, generator=np.random.default_rng(0))
    loss = tg.cross_entropy(model(rng.random((4, 64))), np.array([0, 1, 2, 3]))
    loss.backward()
    text = tg.viz.graph_text(loss)
    convs = [line for line in text.splitlines() if "= Conv2d(" in line]
    assert len(convs) == 2  # weight, bias and the product in one node
    assert "-> (4, 6, 8, 8)" in convs[0] and "-> (4, 16, 4, 4)" in convs[1]
    collapsed = tg.draw(loss, view="forward", collapse=True).source
    assert "1 op: Conv2d" in collapsed and "out: (4, 6, 8, 8)" in collapsed


def test_the_benchmarks_lenet_epochs_compute_the_same_steps():
    """benchmarks/run.py's workload 7: the engine's LeNet epoch and the hand-written numpy one (im2col, col2im,
    pooling by hand) take the same SGD steps from the same parameters."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import engine_workloads as eng
    import numpy_floor as npf

    images, classes = rng.random((96, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 96)
    by_hand, engine = npf.init_lenet_params(), eng.leaves(npf.init_lenet_params())
    npf.lenet_epoch(images, classes, by_hand, batch=32)
    eng.lenet_epoch(tg.tensor(images), tg.tensor(classes), engine, batch=32)
    start = npf.init_lenet_params()
    for a, b, s in zip(by_hand, engine, start):
        assert np.abs(a - s).max() > 0  # every parameter moved
        np.testing.assert_allclose(b.data, a, rtol=1e-4, atol=1e-6)


def test_the_mlps_dropout_masks_come_from_its_generator_so_a_run_repeats_with_its_seed():
    def train_mode_output(seed_of_the_default_generator):
        tg.manual_seed(seed_of_the_default_generator)  # the masks must not depend on it
        model = nn.MLP([8, 16, 3], activation="relu", output_activation="identity", dropout=0.5, input_dropout=0.2,
                       generator=np.random.default_rng(0))
        return model(np.ones((4, 8))).data

    np.testing.assert_array_equal(train_mode_output(1), train_mode_output(2))
    config = TrainConfig(dataset="digits", hidden=(16,), activation="relu", loss="ce", dropout=0.5, epochs=1,
                         train_limit=200, seed=3)
    runs = []
    for other in (1, 2):
        tg.manual_seed(other)
        runs.append(run(config, progress=False, log=None).metrics)
    assert runs[0]["history"][0]["train_loss"] == runs[1]["history"][0]["train_loss"]
    assert runs[0]["test_accuracy"] == runs[1]["test_accuracy"]


def test_train_max_norm_reaches_the_run_and_its_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "--dataset", "digits", "--hidden", "32,32", "--activation", "relu",
                                 "--loss", "ce", "--dropout", "0.5", "--lr", "0.5", "--max-norm", "1.5",
                                 "--epochs", "2", "--out", str(out), "--no-progress"], capsys)
    assert code == 0, err
    assert "dropout 0.5 (inputs 0); max-norm 1.5" in stdout
    assert json.loads((out / "metrics.json").read_text())["max_norm"] == 1.5
    model = tg.load(out / "model.npz")
    for layer in model.linears[:-1]:  # the hidden units' incoming weights; not the output layer's
        assert 1.49 < np.linalg.norm(layer.weight.data, axis=1).max() <= 1.5  # it bit, and held
    code, _, err = run_cli(["train", "--dataset", "digits", "--max-norm", "-3"], capsys)
    assert code == 2 and "--max-norm: expected a positive number, got '-3'" in err
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="max-norm must be a positive number"):
            TrainConfig(dataset="digits", max_norm=bad).resolved()
    with pytest.raises(ConfigError, match="--max-norm applies to --model mlp only"):
        TrainConfig(dataset="digits", model="lenet", activation="relu", loss="ce", max_norm=3.0).resolved()


def test_an_mlp_with_dropout_trains_saves_and_evaluates_deterministically(tmp_path):
    model = nn.MLP([64, 32, 32, 10], activation="relu", output_activation="identity", dropout=0.5,
                   input_dropout=0.2)
    assert [type(m).__name__ for m in model.layers] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                                        "Dropout", "Linear"]
    assert [m.p for m in model.layers if isinstance(m, nn.Dropout)] == [0.2, 0.5, 0.5]
    back = tg.load(tg.save(model, tmp_path / "mlp.npz"))
    assert back.get_config() == model.get_config() and back.get_config()["dropout"] == 0.5
    x = rng.random((5, 64))
    model.train()
    first = model.predict(x)
    assert model.training  # predict runs in eval mode and restores the mode it found
    np.testing.assert_array_equal(model.predict(x), first)  # without dropout: the same classes every time
    model.eval()
    np.testing.assert_array_equal(model(x).data, model(x).data)  # no dropout in evaluation
    assert nn.MLP([4, 3, 2]).get_config().get("dropout") is None  # the chapter's files stay as they were
    with pytest.raises(ConfigError, match="dropout must be a probability in"):
        TrainConfig(dataset="digits", dropout=1.0).resolved()
    with pytest.raises(ConfigError, match="--dropout applies to --model mlp only"):
        TrainConfig(dataset="digits", model="lenet", activation="relu", loss="ce", dropout=0.5).resolved()
