"""nn's convolutional and regularization layers: PyTorch's parameter names and shapes, the same numbers as
PyTorch from the same state_dict (where torch is installed), Dropout (inverted, seeded, off in eval), BatchNorm's
running statistics and momentum, train()/eval() through fit and evaluate, save/load, and the messages."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim

rng = np.random.default_rng(0)


def small_cnn(dropout=0.0):
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, 2, stride=2), nn.Flatten(),
                         nn.Dropout(dropout), nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))


def test_parameter_names_and_shapes_are_pytorchs():
    model = small_cnn()
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes == {"0.weight": (3, 1, 3, 3), "0.bias": (3,), "1.weight": (3,), "1.bias": (3,),
                      "1.running_mean": (3,), "1.running_var": (3,), "1.num_batches_tracked": (),
                      "4.weight": (4, 3, 2, 2), "4.bias": (4,), "7.weight": (5, 4), "7.bias": (5,), "8.weight": (5,),
                      "8.bias": (5,), "8.running_mean": (5,), "8.running_var": (5,), "8.num_batches_tracked": (),
                      "10.weight": (3, 5), "10.bias": (3,)}
    assert nn.Conv1d(4, 6, 3, groups=2).weight.shape == (6, 2, 3)
    assert nn.Conv2d(2, 4, (3, 1), bias=False).bias is None
    # the buffers are saved but not trained
    assert {k for k, _ in model.named_parameters()} == {k for k in shapes if "running" not in k and "num_b" not in k}


def test_conv_init_is_uniform_within_one_over_root_fan_in():
    tg.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, groups=2)
    bound = 1 / np.sqrt(2 * 9)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound  # the whole interval is used
    tg.manual_seed(0)
    np.testing.assert_array_equal(nn.Conv2d(4, 8, 3, groups=2).weight.data, conv.weight.data)  # seeded


def test_layers_compute_their_functions():
    x = rng.standard_normal((2, 3, 6, 6))
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1)
    np.testing.assert_allclose(conv(x).data, tg.conv2d(x, conv.weight, conv.bias, 2, 1).data)
    assert nn.Conv2d(3, 4, 3, padding="same")(x).shape == (2, 4, 6, 6)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, tg.max_pool2d(x, 2).data)
    np.testing.assert_allclose(nn.AvgPool2d(3, 1, 1)(x).data, tg.avg_pool2d(x, 3, 1, 1).data)
    np.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(x).data, x.mean(axis=(2, 3), keepdims=True))
    assert nn.Flatten()(x).shape == (2, 108) and nn.Flatten(0, 1)(x).shape == (6, 6, 6)
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x).data,
                                  tg.max_pool2d(x, 3, 2, 1, ceil_mode=True).data)
    y, index = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(index.data, tg.max_pool2d(x, 2, return_indices=True)[1].data)
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)(x).data,
                               tg.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False).data)
    assert nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False).extra_repr() == (
        "kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), ceil_mode=True, count_include_pad=False")
    c1 = nn.Conv1d(3, 2, 3, padding=1)
    np.testing.assert_allclose(c1(x[:, :, 0]).data, tg.conv1d(x[:, :, 0], c1.weight, c1.bias, padding=1).data)


def test_dropout_is_inverted_seeded_and_off_in_eval():
    drop = nn.Dropout(0.25)
    x = tg.ones(400, 50)
    tg.manual_seed(1)
    a = drop(x).data
    tg.manual_seed(1)
    b = drop(x).data
    np.testing.assert_array_equal(a, b)  # tg.manual_seed makes the masks repeatable
    assert set(np.unique(a)) == {0.0, 1 / 0.75}  # kept elements are scaled by 1/(1 - p)
    assert abs((a == 0).mean() - 0.25) < 0.01  # 20 000 draws: 5 standard deviations is 0.015
    assert abs(a.mean() - 1) < 0.02  # the expected value is unchanged
    drop.eval()
    assert drop(x) is x
    xg = tg.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    drop.train()
    y = drop(xg)
    y.sum().backward()
    np.testing.assert_array_equal(xg.grad.data, (y.data != 0) / 0.75)  # the gradient through the same mask
    assert (nn.Dropout(1.0)(x).data == 0).all() and nn.Dropout(0.0)(x) is x
    own = nn.Dropout(0.5, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(own(x).data, nn.Dropout(0.5, generator=np.random.default_rng(3))(x).data)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_normalizes_and_tracks_running_statistics(momentum):
    bn = nn.BatchNorm2d(3, momentum=momentum)
    batches = [rng.standard_normal((4, 3, 2, 5)) * 2 + 1 for _ in range(3)]
    mean, var = np.zeros(3), np.ones(3)
    for i, x in enumerate(batches):
        y = bn(x).data
        np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
        np.testing.assert_allclose(y.var(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)) / (x.var(axis=(0, 2, 3)) + 1e-5))
        factor = 1 / (i + 1) if momentum is None else momentum
        mean = (1 - factor) * mean + factor * x.mean(axis=(0, 2, 3))
        var = (1 - factor) * var + factor * x.var(axis=(0, 2, 3), ddof=1)  # the unbiased variance, as PyTorch
    np.testing.assert_allclose(bn.running_mean.data, mean)
    np.testing.assert_allclose(bn.running_var.data, var)
    assert int(bn.num_batches_tracked.data) == 3
    bn.eval()
    x = batches[0]
    expected = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(bn(x).data, expected)
    bn(x)
    assert int(bn.num_batches_tracked.data) == 3  # evaluation changes nothing


def test_batch_norm_gradients_by_finite_differences():
    bn = nn.BatchNorm1d(3)
    with tg.no_grad():
        bn.weight.data[...] = [0.5, 2.0, -1.0]
        bn.bias.data[...] = [0.1, 0.0, 0.3]
    x = tg.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True)
    assert tg.gradcheck(lambda x, w, b: bn(x) * tg.tensor(np.arange(30.0).reshape(5, 3, 2)), [x, bn.weight, bn.bias],
                        rtol=1e-6, atol=1e-8)
    bn.eval()
    assert tg.gradcheck(lambda x: bn(x), [x], rtol=1e-6, atol=1e-8)


def test_batch_norm_without_tracking_or_affine():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == []
    x = rng.standard_normal((6, 2))
    bn.eval()  # without running statistics, evaluation uses the batch's
    np.testing.assert_allclose(bn(x).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))


def test_fit_trains_in_train_mode_and_evaluate_runs_in_eval_mode():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(self.training)
            return x

    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 3), Spy())
    X, y = rng.standard_normal((12, 1, 4, 4)), rng.integers(0, 3, 12)
    tg.fit(model, (X, y), "ce", optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=6, progress=False,
           val=(X[:4], y[:4]))
    assert True in seen and False in seen  # training batches, then the validation pass
    seen.clear()
    model.train()
    tg.evaluate(model, X, y, loss="ce")
    assert seen and not any(seen) and model.training  # eval for the evaluation, the mode restored after
    model.eval()
    first = tg.evaluate(model, X, y, loss="ce")
    assert tg.evaluate(model, X, y, loss="ce") == first  # dropout off: evaluation is deterministic


def test_save_and_load_keep_every_new_layer(tmp_path):
    model = small_cnn(dropout=0.2)
    model(rng.standard_normal((4, 1, 4, 4)))  # moves the running statistics away from their start
    model.eval()
    back = tg.load(tg.save(model, tmp_path / "cnn.npz"))
    back.eval()
    assert repr(back) == repr(model)
    for (k, a), (j, b) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k == j and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    x = rng.standard_normal((3, 1, 4, 4))
    np.testing.assert_array_equal(back(x).data, model(x).data)
    for layer in (nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, bias=False, dtype=np.float32),
                  nn.AvgPool2d(3, 1, 1), nn.AdaptiveAvgPool2d(1), nn.MaxPool2d(3, 2, 1, 2),
                  nn.BatchNorm1d(4, momentum=None, affine=False), nn.Conv2d(2, 2, 3, padding="same"),
                  nn.MaxPool2d(3, 2, 1, return_indices=True, ceil_mode=True),
                  nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)):
        again = tg.load(tg.save(layer, tmp_path / "layer.npz"))
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"groups=2 must divide in_channels=3"),
    (lambda: nn.Conv2d(3, 4, 0), r"kernel_size must be an int >= 1"),
    (lambda: nn.Conv2d(3, 4, 3, stride=2, padding="same"), r"padding='same' needs stride 1"),
    (lambda: nn.Dropout(1.5), r"p must be a probability in \[0, 1\]"),
    (lambda: nn.BatchNorm2d(0), r"num_features must be a positive integer"),
    (lambda: nn.BatchNorm2d(3, momentum=2), r"momentum must be in \[0, 1\] or None"),
])
def test_bad_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: nn.MaxPool2d(2, ceil_mode=1), r"MaxPool2d: ceil_mode must be True or False, got 1"),
    (lambda: nn.MaxPool2d(2, return_indices="no"), r"MaxPool2d: return_indices must be True or False"),
    (lambda: nn.AvgPool2d(2, count_include_pad=0), r"AvgPool2d: count_include_pad must be True or False"),
])
def test_bad_pooling_flags_are_named(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4, kernel_size=\(3, 3\)\) expects inputs of shape "
                                         r"\(N, C, H, W\) or, unbatched, \(C, H, W\) with C = 3, got \(2, 1, 5, 5\)"):
        nn.Conv2d(3, 4, 3)(np.ones((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"with C = 3, got \(2, 5, 5\)"):  # unbatched, with 2 channels
        nn.Conv2d(3, 4, 3)(np.ones((2, 5, 5)))
    with pytest.raises(ValueError, match=r"Conv1d\(3, 2, kernel_size=\(3,\)\) expects inputs of shape \(N, C, L\) "
                                         r"or, unbatched, \(C, L\) with C = 3, got \(1, 3, 4, 4\)"):
        nn.Conv1d(3, 2, 3)(np.ones((1, 3, 4, 4)))
    for pool in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1)):
        for shape in ((4, 4), (1, 1, 1, 4, 4)):
            with pytest.raises(ValueError, match=rf"{type(pool).__name__}\(.*\) expects inputs of shape \(N, C, H, W\) "
                                                 rf"or, unbatched, \(C, H, W\), got {re.escape(str(shape))}"):
                pool(np.ones(shape))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects inputs of shape \(N, C, H, W\)"):
        nn.BatchNorm2d(3)(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"more than 1 value per channel in training"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))


UNBATCHED = {  # layer, one sample's shape
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1, stride=(1, 2)), (2, 5, 6)),
    "Conv2d groups": (lambda: nn.Conv2d(4, 2, 2, groups=2, dilation=2), (4, 5, 5)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding="same"), (2, 7)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2, 1, 1), (3, 5, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, 2, 1), (3, 6, 5)),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(1), (3, 4, 4)),
}


@pytest.mark.parametrize("name", UNBATCHED)
def test_an_unbatched_sample_goes_through_as_a_batch_of_one(name):
    """(C, H, W) in, (C_out, OH, OW) out: the numbers and the input's gradient of the batch of one, without its
    batch axis (PyTorch's layers take unbatched inputs too)."""
    make, shape = UNBATCHED[name]
    layer = make()
    sample = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    batch = tg.tensor(sample.numpy()[None], requires_grad=True)
    out, expected = layer(sample), layer(batch)
    assert out.shape == expected.shape[1:]
    np.testing.assert_array_equal(out.numpy(), expected.numpy()[0])
    weights = rng.standard_normal(out.shape)
    (out * weights).sum().backward()
    (expected * weights[None]).sum().backward()
    np.testing.assert_array_equal(sample.grad.numpy(), batch.grad.numpy()[0])
    np.testing.assert_array_equal(layer(sample.numpy()).numpy(), out.numpy())  # arrays too


@pytest.mark.parametrize("name", UNBATCHED)
def test_unbatched_inputs_give_pytorchs_numbers(name):
    torch = pytest.importorskip("torch")
    make, shape = UNBATCHED[name]
    ours = make()
    kind = type(ours).__name__
    settings = {"Conv2d": lambda m: dict(in_channels=m.in_channels, out_channels=m.out_channels,
                                         kernel_size=m.kernel_size, stride=m.stride, padding=m.padding,
                                         dilation=m.dilation, groups=m.groups),
                "MaxPool2d": lambda m: dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding),
                "AvgPool2d": lambda m: dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding),
                "AdaptiveAvgPool2d": lambda m: dict(output_size=m.output_size)}
    settings["Conv1d"] = lambda m: dict(settings["Conv2d"](m), kernel_size=m.kernel_size[0], stride=m.stride[0],
                                        dilation=m.dilation[0])
    theirs = getattr(torch.nn, kind)(**settings[kind](ours)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal(shape)
    mine, t = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = ours(mine), theirs(t)
    assert a.shape == tuple(b.shape)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(a.shape)
    (a * g).sum().backward()
    (b * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_the_same_numbers_as_pytorch_from_the_same_state_dict():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.BatchNorm2d(4, momentum=0.3), nn.ReLU(),
                         nn.MaxPool2d(2, ceil_mode=True), nn.AvgPool2d(2, 1, 1, ceil_mode=True, count_include_pad=False),
                         nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(16, 3), nn.BatchNorm1d(3, momentum=None))
    theirs = tnn.Sequential(tnn.Conv2d(2, 4, 3, padding=1, groups=2), tnn.BatchNorm2d(4, momentum=0.3), tnn.ReLU(),
                            tnn.MaxPool2d(2, ceil_mode=True), tnn.AvgPool2d(2, 1, 1, ceil_mode=True,
                                                                             count_include_pad=False),
                            tnn.AvgPool2d(2, 2), tnn.Flatten(), tnn.Linear(16, 3),
                            tnn.BatchNorm1d(3, momentum=None)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((5, 2, 7, 7))  # odd: ceil_mode keeps a last, cut window
    for _ in range(2):  # training: the batch statistics, and the running ones updated as PyTorch's
        a, b = ours(x), theirs(torch.tensor(x))
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    a.sum().backward()
    b.sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-12, err_msg=k)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    # and back: PyTorch's state_dict loads into ours
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
