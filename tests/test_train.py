"""train: fit learns (XOR, scikit-learn digits), is reproducible, stops cleanly on Ctrl-C, History.plot."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from tinygrad_edu import nn, optim
from tinygrad_edu.functional import one_hot
from tinygrad_edu.train import BestModel, Callback, History, MaxNorm, StopTraining, evaluate, fit

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


def _digits():
    from tinygrad_edu.data import load_digits

    ds = load_digits()
    return ds.X_train, ds.y_train, ds.X_test, ds.y_test


def test_xor_is_learned_with_the_chapters_mse():
    model = nn.MLP([2, 4, 1], activation="tanh", output_activation="sigmoid", generator=np.random.default_rng(1))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    history = fit(model, (XOR_X, XOR_Y[:, None].astype(float)), "mse", opt, epochs=300, batch_size=4, progress=False)
    assert history.classification and history.train_loss[-1] < 0.01 < history.train_loss[0]
    assert history.train_accuracy[-1] == 1.0
    np.testing.assert_array_equal((model(XOR_X).data[:, 0] > 0.5).astype(int), XOR_Y)


def test_digits_mse_with_labels_and_validation():
    X, y, Xt, yt = _digits()
    model = nn.MLP([64, 32, 10], generator=np.random.default_rng(0))  # sigmoid everywhere, MSE: the chapter
    history = fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=6, val=(Xt, yt),
                  batch_size=32, seed=0, progress=False)
    assert len(history) == 6 and history.epoch == [1, 2, 3, 4, 5, 6]
    assert history.train_loss[-1] < history.train_loss[0] / 2
    assert history.val_accuracy[-1] > 0.85 and not history.interrupted
    result = evaluate(model, Xt, yt)  # same numbers as the last validation
    assert result["accuracy"] == pytest.approx(history.val_accuracy[-1])
    assert result["loss"] == pytest.approx(history.val_loss[-1])
    assert model.training  # fit leaves the model in training mode; evaluate restores it


def test_digits_cross_entropy_adam_with_schedule_and_reproducible():
    X, y, Xt, yt = _digits()

    def run():
        model = nn.MLP([64, 32, 10], activation="relu", output_activation="identity",
                       generator=np.random.default_rng(0))
        opt = optim.Adam(model.parameters(), lr=1e-2)
        sched = optim.StepLR(opt, step_size=2, gamma=0.5)
        h = fit(model, (X, y), "ce", opt, epochs=3, val=(Xt, yt), batch_size=64, seed=3, progress=False,
                scheduler=sched)
        return model, h, opt

    m1, h1, opt = run()
    m2, h2, _ = run()
    assert h1.val_accuracy[-1] > 0.9 and opt.lr == pytest.approx(5e-3)
    assert h1.train_loss == h2.train_loss
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_callable_loss_and_one_hot_targets():
    X, y, _, _ = _digits()
    onehot = one_hot(y, 10).numpy()
    model = nn.MLP([64, 16, 10], generator=np.random.default_rng(0))
    seen = []
    h = fit(model, (X[:256], onehot[:256]), nn.MSELoss("mean"), optim.SGD(model.parameters(), lr=2.0), epochs=2,
            progress=False, callbacks=[lambda epoch, history: seen.append((epoch, len(history)))])
    assert h.classification and seen == [(1, 1), (2, 2)]
    regression = fit(nn.Linear(1, 1), (np.ones((8, 1)), np.full((8, 1), 0.3)), "mse",
                     optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1), epochs=1, progress=False)
    assert not regression.classification and np.isnan(regression.train_accuracy[0])


class _InterruptAt(Callback):
    def __init__(self, batch: int, real_signal: bool = False) -> None:
        self.batch, self.real_signal, self.calls = batch, real_signal, 0

    def on_batch_end(self, batch: int, loss: float) -> None:
        self.calls += 1
        if self.calls == self.batch:
            if self.real_signal:
                os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends
            else:
                raise KeyboardInterrupt


def test_keyboard_interrupt_keeps_model_and_history():
    X, y, _, _ = _digits()
    model = nn.MLP([64, 16, 10], generator=np.random.default_rng(0))
    before = model.state_dict()
    cb = _InterruptAt(batch=50)  # 45 batches per epoch of 1437 / 32: interrupted in epoch 2
    h = fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=5, callbacks=[cb], progress=False)
    assert h.interrupted and len(h) == 1 and cb.calls == 50
    assert not np.array_equal(model.state_dict()["layers.0.weight"], before["layers.0.weight"])
    assert "interrupted" in repr(h)


def test_ctrl_c_finishes_the_current_batch_then_stops():
    X, y, _, _ = _digits()
    model = nn.MLP([64, 16, 10], generator=np.random.default_rng(0))
    cb = _InterruptAt(batch=3, real_signal=True)
    previous = signal.getsignal(signal.SIGINT)
    h = fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=2, callbacks=[cb], progress=False)
    assert h.interrupted and len(h) == 0 and cb.calls == 3  # stopped right after the batch that saw Ctrl-C
    assert signal.getsignal(signal.SIGINT) is previous  # the handler is restored


def test_stop_training_from_a_callback():
    X, y, _, _ = _digits()
    model = nn.MLP([64, 8, 10], generator=np.random.default_rng(0))

    def stop_after_two(epoch, history):
        if epoch == 2:
            raise StopTraining

    h = fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=10, callbacks=[stop_after_two],
            progress=False)
    assert h.stopped_early and not h.interrupted and len(h) == 2


def test_progress_bar_and_plot():
    pytest.importorskip("tqdm")
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    model = nn.MLP([2, 3, 2], output_activation="identity", generator=np.random.default_rng(0))
    h = fit(model, (XOR_X, XOR_Y), "ce", optim.SGD(model.parameters(), lr=0.1), epochs=2, val=(XOR_X, XOR_Y),
            batch_size=2, progress=True)
    fig = h.plot(title="xor")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert isinstance(History().plot(), Figure)


def test_fit_errors_are_explained():
    model = nn.MLP([2, 2])
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        fit(model, (XOR_X, XOR_Y), "l2", opt, epochs=1, progress=False)
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        fit(model, (XOR_X, XOR_Y[:3]), "mse", opt, epochs=1, progress=False)
    with pytest.raises(TypeError, match="optim Optimizer"):
        fit(model, (XOR_X, XOR_Y), "mse", "sgd", epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        fit(model, (XOR_X, XOR_Y + 1), "mse", opt, epochs=1, progress=False)


def _relu_net_after_one_epoch(max_norm):
    """A 64-32-32-10 relu network after one epoch of digits with a large step, and its hidden weights."""
    X, y, _, _ = _digits()
    model = nn.MLP([64, 32, 32, 10], activation="relu", output_activation="identity", dropout=0.5,
                   generator=np.random.default_rng(0))
    hidden = [l.weight for l in model.linears[:-1]]
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    norms_after_each_step = []

    class Watch(Callback):  # runs after MaxNorm, before the next batch
        def on_batch_end(self, batch, loss):
            norms_after_each_step.append(max(np.linalg.norm(w.data, axis=1).max() for w in hidden))

    callbacks = ([] if max_norm is None else [MaxNorm(hidden, max_norm)]) + [Watch()]
    fit(model, (X, y), "ce", opt, epochs=1, batch_size=32, progress=False, callbacks=callbacks)
    return model, np.array(norms_after_each_step)


def test_max_norm_holds_after_every_step_and_does_nothing_when_large():
    free, free_norms = _relu_net_after_one_epoch(None)
    assert free_norms.max() > 2.0  # without the constraint some unit's incoming weights grow beyond 2
    _, bounded = _relu_net_after_one_epoch(2.0)
    assert np.all(bounded <= 2.0) and bounded.max() > 1.99  # it bites, and holds after each of the 38 steps
    loose, loose_norms = _relu_net_after_one_epoch(1e6)  # never reached: the very same training as without
    np.testing.assert_array_equal(loose_norms, free_norms)
    for a, b in zip(loose.parameters(), free.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_max_norm_errors_are_explained():
    w = nn.Linear(3, 2).weight
    for bad in (0, -1.0, float("nan"), float("inf"), True, "3"):
        with pytest.raises(ValueError, match="max_norm must be a positive finite number"):
            MaxNorm([w], bad)
    with pytest.raises(ValueError, match=r"rows of weight matrices; got \(2,\)"):
        MaxNorm([nn.Linear(3, 2).bias], 3.0)


def test_train_then_save_and_load(tmp_path):
    X, y, Xt, _ = _digits()
    model = nn.MLP([64, 16, 10], generator=np.random.default_rng(0))
    fit(model, (X, y), "mse", optim.SGD(model.parameters(), lr=1.0), epochs=1, progress=False)
    back = nn.load(nn.save(model, tmp_path / "digits.npz"))
    np.testing.assert_array_equal(back.predict(Xt), model.predict(Xt))


def test_best_model_keeps_the_weights_of_the_best_validation_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.MLP([3, 4, 2], activation="tanh", output_activation="identity", generator=rng)
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, history):
            snapshots.append(model.state_dict())

    best = BestModel(model)
    # a step far too large: validation accuracy goes up and down, so the best epoch is rarely the last
    h = fit(model, (X, y), "ce", optim.SGD(model.parameters(), lr=5.0), epochs=8, val=(X[:32], y[:32]),
            batch_size=8, progress=False, callbacks=[Snapshot(), best])
    # the best accuracy; among equal accuracies the lowest validation loss
    expected = 1 + max(range(len(h)), key=lambda i: (h.val_accuracy[i], -h.val_loss[i], -i))
    assert best.restore() == expected and best.value == max(h.val_accuracy)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshots[expected - 1][name])
    assert len(h.train_seconds) == 8 and all(0 < t <= s for t, s in zip(h.train_seconds, h.seconds))
    with pytest.raises(ValueError, match="validation data"):
        fit(model, (X, y), "ce", optim.SGD(model.parameters(), lr=0.1), epochs=1, progress=False,
            callbacks=[BestModel(model)])


def history_of(n: int, loss: np.ndarray) -> History:
    """A History of n epochs with this training loss, validation a little above it."""
    epochs = list(range(1, n + 1))
    acc = list(1 - loss / loss.max() / 2)
    return History(epoch=epochs, train_loss=list(loss), val_loss=list(loss * 1.1), train_accuracy=acc,
                   val_accuracy=acc, seconds=[0.0] * n, train_seconds=[0.0] * n)


def whole_epochs_only(ax) -> bool:
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    return len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)


def test_plot_of_a_few_epochs_marks_each_one():
    fig = history_of(5, np.array([0.2, 0.08, 0.03, 0.012, 0.008])).plot()
    loss, accuracy = fig.axes
    for ax in (loss, accuracy):
        assert [line.get_marker() for line in ax.lines] == ["o", "o"]
        assert whole_epochs_only(ax)  # 1, 2, 3, 4, 5: no epoch 2.5
    assert loss.get_yscale() == "linear"  # 25× from first to last: a linear axis shows it
    np.testing.assert_array_equal(loss.lines[0].get_xdata(), [1, 2, 3, 4, 5])


def test_plot_of_thousands_of_epochs_draws_lines_on_a_log_scale():
    n = 5000
    fig = history_of(n, 0.5 * np.exp(-np.arange(n) / 1000) + 1e-3).plot()
    loss, accuracy = fig.axes
    assert all(line.get_marker() in (None, "None", "") for ax in fig.axes for line in ax.lines)
    assert loss.get_yscale() == "log" and accuracy.get_yscale() == "linear"  # the loss falls ~200×
    assert whole_epochs_only(loss) and all(t % 500 == 0 for t in loss.get_xticks())
    assert history_of(n, 0.5 * np.exp(-np.arange(n) / 1000) + 1e-3).plot(log_loss=False).axes[0].get_yscale() == "linear"
