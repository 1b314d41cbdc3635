"""tg.compile: the generated code computes what the eager engine computes, bit for bit (float64 and float32).

- every operation of the engine (the list of test_one_backward, generated from the modules): forward and
  backward compiled against eager, on new values at each call;
- training loops of nn models with SGD (plain, momentum, nesterov, weight decay), with and without zero_grad;
- the cache: two traces, then the generated code; a new shape, dtype, requires_grad, grad mode or learning
  rate traces again;
- refusals, each with its reason: values read as Python numbers, hooks, dropout in training,
  LBFGS, create_graph, a constant that changes between calls;
- the source of the chapter's 784-300-10 network, against a golden file read by a human.
"""

from __future__ import annotations

import contextlib
import operator
import io
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_one_backward import EXAMPLES, NO_GRADIENT, OPERATIONS

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.testing import broadcastable_tensors
from tinygrad_edu.train import fit
from tinygrad_edu.engine import reductions

HERE = pathlib.Path(__file__).parent
rng = np.random.default_rng(0)

# Backward formulas that decide in Python from the values (a product with zeros takes another formula):
# compile refuses them, saying so.
DATA_DEPENDENT = {reductions.Prod, reductions.Cumprod}


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True), np.max(np.abs(a - b))


def _values_like(inputs):
    """New inputs of the same shapes and signs (positive stays positive: logs and square roots)."""
    out = []
    for x in inputs:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            out.append(x)
            continue
        noise = rng.uniform(0.9, 1.1, x.shape).astype(x.dtype)
        out.append(x * noise)
    return out


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.__name__)
def test_every_operation_compiles_to_the_eager_numbers(op):
    for inputs, settings in EXAMPLES[op]:
        weights = {}

        def step(*xs):
            out = op.apply(*xs, **settings)
            if "w" not in weights:
                weights["w"] = rng.standard_normal(out.shape).astype(out.dtype)
            (out * weights["w"]).sum().backward()
            return out

        compiled = tg.compile(step)
        for call in range(4):
            values = _values_like(inputs)
            eager_leaves = [tg.tensor(v, requires_grad=True) for v in values]
            leaves = [tg.tensor(v, requires_grad=True) for v in values]
            expected = step(*eager_leaves)
            try:
                got = compiled(*leaves)
            except tg.TraceError as e:
                assert op in DATA_DEPENDENT and "truth value" in str(e), e
                return
            same(got.data, expected.data)
            for a, b in zip(leaves, eager_leaves):
                assert (a.grad is None) == (b.grad is None)
                if a.grad is not None:
                    same(a.grad.data, b.grad.data)
        assert compiled.traces == 2, "two traces, then the generated code"
        if op not in NO_GRADIENT:
            assert "backward" in compiled.source


def _mlp_pair(sizes, activation, dtype, seed=0):
    a = nn.MLP(sizes, activation=activation, dtype=dtype, generator=np.random.default_rng(seed))
    b = nn.MLP(sizes, activation=activation, dtype=dtype, generator=np.random.default_rng(seed))
    return a, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss, activation, settings", [
    ("mse", "sigmoid", dict(lr=0.5)),
    ("ce", "relu", dict(lr=0.1, momentum=0.9)),
    ("ce", "tanh", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("mse", "relu", dict(lr=0.05, momentum=0.5, dampening=0.1)),
    ("ce", "relu", dict(optimizer="Adam", lr=0.01, weight_decay=1e-3)),
    ("mse", "tanh", dict(optimizer="AdamW", lr=0.01, betas=(0.8, 0.99))),
])
def test_training_loops_compile_to_the_eager_numbers(dtype, loss, activation, settings):
    models = _mlp_pair([6, 8, 5, 3], activation, dtype)
    settings = dict(settings)
    kind = getattr(tg.optim, settings.pop("optimizer", "SGD"))
    opts = [kind(m.parameters(), **settings) for m in models]
    X = rng.standard_normal((40, 6)).astype(dtype)
    labels = rng.integers(0, 3, 40)
    Y = np.eye(3, dtype=dtype)[labels]

    def make_step(model, opt):
        def step(x, y):
            opt.zero_grad()
            out = model(x)
            cost = tg.mse(out, y) if loss == "mse" else tg.cross_entropy(out, y)
            cost.backward()
            opt.step()
            return cost
        return step

    eager, compiled = make_step(models[0], opts[0]), tg.compile(make_step(models[1], opts[1]))
    for epoch in range(3):
        for i in range(0, 40, 8):
            target = Y[i:i + 8] if loss == "mse" else labels[i:i + 8]
            same(compiled(tg.tensor(X[i:i + 8]), tg.tensor(target)).data,
                 eager(tg.tensor(X[i:i + 8]), tg.tensor(target)).data)
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        same(p.data, q.data)
        same(p.grad.data, q.grad.data)
    assert compiled.traces <= 4  # (momentum: the first step makes the buffers, a path of its own)


def test_gradients_accumulate_without_zero_grad_as_eagerly():
    models = _mlp_pair([3, 4, 2], "tanh", np.float64)
    X = rng.standard_normal((5, 3))

    def make(model):
        def step(x):
            model(x).sum().backward()
            return None
        return step

    eager, compiled = make(models[0]), tg.compile(make(models[1]))
    for _ in range(5):
        eager(tg.tensor(X))
        compiled(tg.tensor(X))
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        same(p.grad.data, q.grad.data)  # five gradients summed, in the same order


def test_parameters_are_updated_in_place_and_versions_bumped():
    model = nn.Linear(3, 2, generator=np.random.default_rng(1))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    weight = model.weight.data

    @tg.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    x = tg.tensor(rng.standard_normal((4, 3)))
    for _ in range(4):
        before, version = weight.copy(), model.weight._version
        step(x)
        assert model.weight.data is weight and not np.array_equal(weight, before)
        assert model.weight._version == version + 1
    assert step.traces == 2


def test_a_new_shape_dtype_requires_grad_grad_mode_or_learning_rate_traces_again():
    w = tg.tensor(rng.standard_normal(3), requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)

    @tg.compile
    def step(x):
        opt.zero_grad()
        (x * w).sum().backward()
        opt.step()

    for _ in range(3):
        step(tg.tensor(np.ones(3)))
    assert step.traces == 2
    step(tg.tensor(np.ones((2, 3))))
    step(tg.tensor(np.ones(3, np.float32)))
    assert step.traces == 4
    opt.lr = 0.05
    before = w.data.copy()
    step(tg.tensor(np.ones(3)))
    assert step.traces == 5
    same(w.data, before - 0.05 * np.ones(3))


def test_returned_tensors_have_no_graph_and_a_python_number_is_refused():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    compiled = tg.compile(lambda x: (x * w).sum())
    for _ in range(3):
        out = compiled(tg.tensor([3.0, 4.0]))
    assert out.item() == 11.0 and out.grad_fn is None
    with pytest.raises(tg.TraceError, match="returned a float"):
        tg.compile(lambda x: ((x * w).sum(), 1.5))(tg.tensor([3.0, 4.0]))
    with pytest.raises(tg.TraceError, match=r"read with \.item\(\)"):
        tg.compile(lambda x: (x * w).sum().item())(tg.tensor([3.0, 4.0]))


def _refusal(fn, *args, match):
    with pytest.raises(tg.TraceError, match=match):
        compiled = tg.compile(fn)
        for _ in range(3):
            compiled(*args)


def test_what_cannot_be_replayed_is_refused_with_the_reason():
    w = tg.tensor(rng.standard_normal(3), requires_grad=True)
    x = tg.tensor(rng.standard_normal(3))

    def branches(x):
        y = (x * w).sum()
        return y * 2 if y > 0 else y

    _refusal(branches, x, match="truth value")
    _refusal(lambda x: tg.tensor((x * w).numpy()), x, match="numpy")

    def hooked(x):
        y = x * w
        y.register_hook(lambda g: g * 2)
        y.sum().backward()

    _refusal(hooked, x, match="hook")
    drop = nn.Dropout(0.5)
    _refusal(lambda x: drop(x * w).sum(), x, match="Dropout")
    lbfgs = tg.optim.LBFGS([w])
    _refusal(lambda x: lbfgs.step(lambda: (x * w * w).sum()), x, match="LBFGS")
    _refusal(lambda x: (x * w).sum().backward(create_graph=True), x, match="create_graph")
    noise = np.random.default_rng(3)
    _refusal(lambda x: (x * w * noise.random(3)).sum(), x, match="different in two calls")


def test_a_compiled_step_reads_like_the_chapter():
    """The 784-300-10 sigmoid network with the chapter's MSE, as generated: compared with a golden file that a
    human has read (tests/golden/compile_784_300_10.py). If the code generator changes on purpose, read the new
    source and update the file."""
    model = nn.MLP([784, 300, 10], activation="sigmoid", generator=np.random.default_rng(0))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)

    def train_step(x, y):
        opt.zero_grad()
        loss = tg.mse(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step = tg.compile(train_step)
    X = rng.random((4, 784))
    Y = np.eye(10)[rng.integers(0, 10, 4)]
    for _ in range(3):
        step(tg.tensor(X), tg.tensor(Y))
    golden = (HERE / "golden" / "compile_784_300_10.py").read_text()
    assert step.source == golden, step.source


@pytest.mark.parametrize("activation, loss, optimizer", [
    ("sigmoid", "mse", dict(lr=0.5)), ("relu", "ce", dict(lr=0.1, momentum=0.9))])
def test_fit_compiled_gives_the_eager_training_exactly(activation, loss, optimizer):
    X = rng.standard_normal((70, 5))
    y = rng.integers(0, 3, 70)
    runs = []
    for mode in (False, True):
        model = nn.MLP([5, 7, 3], activation=activation, generator=np.random.default_rng(4))
        opt = tg.optim.SGD(model.parameters(), **optimizer)
        history = fit(model, (X, y), loss, opt, epochs=3, batch_size=16, val=(X[:20], y[:20]),
                               progress=False, compile=mode)
        runs.append((model, history))
    (eager, h1), (compiled, h2) = runs
    for p, q in zip(eager.parameters(), compiled.parameters()):
        same(p.data, q.data)
    assert h1.train_loss == h2.train_loss and h1.val_accuracy == h2.val_accuracy


def test_fit_compiles_only_where_it_is_safe():
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 2, 20)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 2))
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    fit(model, (X, y), "ce", opt, epochs=1, progress=False)  # "auto": eager, as dropout needs
    with pytest.raises(tg.TraceError, match="Dropout"):
        fit(model, (X, y), "ce", opt, epochs=1, progress=False, compile=True)
    lbfgs = tg.optim.LBFGS(nn.Linear(4, 2).parameters())
    with pytest.raises(tg.TraceError, match="LBFGS"):
        fit(nn.Linear(4, 2), (X, y), "ce", lbfgs, epochs=1, progress=False, compile=True)


def test_the_readme_shows_the_code_compile_writes():
    """README "What autograd computes": its printed code is the generated source, comments aside."""
    readme = (HERE.parent / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## What autograd computes"):]
    program, printed = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:2]
    shown = "\n".join(re.sub(r"(\S)\s+# .*$", r"\1", line) for line in printed.splitlines()) + "\n"
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(program, "README.md", "exec"), namespace)
    assert out.getvalue() == shown


def test_fit_auto_trains_on_eagerly_when_the_step_cannot_be_replayed():
    X, y = rng.standard_normal((48, 3)), rng.integers(0, 2, 48)
    noise = np.random.default_rng(5)

    def reads_the_loss(out, target):  # a Python branch on a value: refused while tracing
        loss = tg.cross_entropy(out, target)
        return loss * 2 if loss.item() > 10 else loss

    def random_scale(out, target):  # a different constant at every call: the two traces disagree
        return tg.cross_entropy(out, target) * float(1 + noise.random())

    for loss in (reads_the_loss, random_scale):
        model = nn.MLP([3, 4, 2], activation="tanh", generator=np.random.default_rng(0))
        history = fit(model, (X, y), loss, tg.optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=8,
                      progress=False)
        assert not history.compiled and len(history) == 3 and np.isfinite(history.train_loss).all()
        with pytest.raises(tg.TraceError):
            fit(model, (X, y), loss, tg.optim.SGD(model.parameters(), lr=0.1), epochs=1, batch_size=8,
                progress=False, compile=True)


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_every_activation_compiles_to_the_eager_numbers(name):
    X = rng.standard_normal((12, 3)) * 3
    Y = rng.standard_normal((12, 2))
    models = [nn.MLP([3, 5, 2], activation=name, generator=np.random.default_rng(2)) for _ in range(2)]
    steps = []
    for model in models:
        opt = tg.optim.SGD(model.parameters(), lr=0.01)

        def step(x, y, model=model, opt=opt):
            opt.zero_grad()
            loss = tg.mse(model(x), y)
            loss.backward()
            opt.step()
            return loss
        steps.append(step)
    compiled = tg.compile(steps[1])
    for i in range(4):
        x, y = tg.tensor(X[3 * i:3 * i + 3]), tg.tensor(Y[3 * i:3 * i + 3])
        same(compiled(x, y).data, steps[0](x, y).data)
    for p, q in zip(*(m.parameters() for m in models)):
        same(p.data, q.data)
    assert compiled.traces == 2


@pytest.mark.parametrize("name", sorted(nn.LOSS_MODULES))
def test_fit_with_every_loss_compiles_to_the_eager_numbers(name):
    X = rng.random((40, 4))
    y = (X.sum(axis=1) > 2).astype(int)
    binary = name in ("bce", "bce_with_logits")
    runs = []
    for mode in (False, True):
        body = nn.MLP([4, 6, 1 if binary else 2], activation="tanh", generator=np.random.default_rng(3),
                      output_activation="sigmoid" if name in ("bce", "mse") else "identity")
        model = nn.Sequential(body, nn.LogSoftmax()) if name == "nll" else body
        history = fit(model, (X, y), loss=name, optimizer=tg.optim.SGD(model.parameters(), lr=0.2), epochs=3,
                      batch_size=8, progress=False, compile=mode)
        runs.append((model, history))
    assert runs[1][1].compiled, name
    for p, q in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        same(p.data, q.data)


@given(pair=broadcastable_tensors(2, dtype=st.sampled_from([np.float64, np.float32]), low=0.5, high=2.0),
       op=st.sampled_from(["add", "sub", "mul", "truediv", "pow", "maximum"]), reuse=st.booleans())
@settings(deadline=None, max_examples=30)
def test_random_broadcasting_graphs_compile_to_the_eager_numbers(pair, op, reuse):
    """Random shapes that broadcast, float64 and float32, with a re-used node (y·y) or not."""
    a, b = pair
    f = tg.maximum if op == "maximum" else getattr(operator, op)

    def step(a, b):
        y = f(a, b)
        (y * y if reuse else y.exp()).sum().backward()
        return y

    compiled = tg.compile(step)
    for scale in (1.0, 1.1, 0.9, 1.05):
        inputs = [tg.tensor(t.data * np.asarray(scale, t.dtype), requires_grad=True) for t in (a, b)]
        eager = [tg.tensor(t.data, requires_grad=True) for t in inputs]
        same(compiled(*inputs).data, step(*eager).data)
        for p, q in zip(inputs, eager):
            same(p.grad.data, q.grad.data)


def test_two_backward_calls_in_one_step_accumulate_as_eagerly():
    w = [tg.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(2)]

    def step(x, w):
        w.grad = None
        (x * w).sum().backward()
        (x * w * w).sum().backward()  # adds to the first
        return None

    compiled = tg.compile(step)
    for _ in range(4):
        x = tg.tensor(rng.standard_normal(3))
        w[1].data[...] = w[0].data
        compiled(x, w[0])
        step(x, w[1])
        same(w[0].grad.data, w[1].grad.data)
    assert compiled.traces == 2


def test_parameters_passed_as_arguments_are_replayed_not_traced_again():
    layer = nn.Linear(3, 2, generator=np.random.default_rng(0))
    compiled = tg.compile(lambda x, w: (x @ w.mT).sum().backward())
    for _ in range(5):
        layer.weight.grad = None
        compiled(tg.tensor(np.ones((4, 3))), layer.weight)
    assert compiled.traces == 2
    same(layer.weight.grad.data, np.full((2, 3), 4.0))


def test_inference_compiles_with_and_without_grad_mode():
    model = nn.MLP([4, 6, 3], activation="relu", generator=np.random.default_rng(0))
    predict = tg.compile(lambda x: model(x).softmax(axis=1))
    X = rng.standard_normal((5, 4))
    for mode in (tg.no_grad, tg.enable_grad):
        with mode():
            for _ in range(3):
                got = predict(tg.tensor(X))
                with tg.no_grad():
                    same(got.data, model(tg.tensor(X)).softmax(axis=1).data)
    assert predict.traces == 4 and got.grad_fn is None
    assert "backward" not in predict.source


def test_a_lenet_trains_compiled_to_the_eager_numbers():
    X = rng.random((24, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 24)
    runs = []
    for mode in (False, True):
        tg.manual_seed(7)
        model = nn.LeNet5()
        opt = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        history = fit(model, (X, y), "ce", opt, epochs=2, batch_size=8, progress=False, compile=mode)
        runs.append((model, history))
    assert runs[1][1].compiled and runs[0][1].train_loss == runs[1][1].train_loss
    for p, q in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        same(p.data, q.data)
