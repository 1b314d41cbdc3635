"""The largest difference between tinygrad_edu, onnxruntime and PyTorch, per network and dtype: EXPORT_AGREEMENT.md.

For each activation (defaults, and the settings tests/test_export.py uses) and dtype: NETWORKS random networks
Linear-act-Linear-act-Linear-act of sizes 8-16-16-4 on 256 inputs drawn with σ = 4; for each convolutional
network of CONV_NETWORKS (in eval mode, batch norm's running statistics drawn away from their start) NETWORKS
random draws of its weights on CONV_BATCH inputs drawn with σ = 2. The difference is
max |a - b| / max(1, max |a|) over a network's outputs (as tests/test_export.py measures it; element by element,
max |a - b| / max(1, |a|), is printed after a slash where it is larger: cancellation in log_softmax). Each backend that imports here writes its outputs to DIR/<backend>.npz;
every pair of backends whose files are in DIR is compared. One Python rarely has both onnxruntime and PyTorch,
so run it once in each; every run writes the table of what DIR holds to benchmarks/EXPORT_AGREEMENT.md:

    .venv/bin/python benchmarks/export_agreement.py --dir /tmp/agreement                  # tinygrad_edu, onnxruntime
    PYTHONPATH=. /path/to/torch/python benchmarks/export_agreement.py --dir /tmp/agreement  # PyTorch, the whole table
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import itertools
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinygrad_edu import nn
from tinygrad_edu.engine.tensor import no_grad

SETTINGS = {
    "leaky_relu": dict(negative_slope=0.2), "elu": dict(alpha=0.5), "gelu": dict(approximate="tanh"),
    "softplus": dict(beta=2.0, threshold=3.0), "hardtanh": dict(min_val=-2.0, max_val=0.5),
}
ACTIVATION_CASES = [(name, {}) for name in nn.ACTIVATIONS] + list(SETTINGS.items())
NETWORKS, SIZES, BATCH = 20, (8, 16, 16, 4), 256
ROOT = Path(__file__).resolve().parent.parent


def label(name: str, setting: dict) -> str:
    return name + "".join(f" {k}={v}" for k, v in setting.items())


def mlps(name: str, setting: dict):
    def make(dtype: str, rng: np.random.Generator):
        layers = []
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
            layers += [nn.Linear(n_in, n_out, dtype=dtype, generator=rng), nn.activation(name, **setting)]
        return nn.Sequential(*layers), (rng.standard_normal((BATCH, SIZES[0])) * 4).astype(dtype)
    return make


def _norm(layer: nn.Module, rng: np.random.Generator) -> nn.Module:
    """A batch norm whose running statistics and affine parameters are not their start (ones and zeros)."""
    c = layer.num_features
    layer.load_state_dict({**layer.state_dict(), "running_mean": rng.normal(0, 0.5, c),
                           "running_var": rng.uniform(0.5, 2, c), "weight": rng.uniform(0.5, 2, c),
                           "bias": rng.normal(0, 1, c)})
    return layer


def convs(layers, shape):
    """A network built by layers(dtype, rng), on CONV_BATCH inputs of `shape` (without the batch axis)."""
    def make(dtype: str, rng: np.random.Generator):
        model = nn.Sequential(*layers(dtype, rng)) if callable(layers) else layers
        return model.eval(), (rng.standard_normal((CONV_BATCH, *shape)) * 2).astype(dtype)
    return make


def lenet(image_size: int):
    def make(dtype: str, rng: np.random.Generator):
        model = nn.LeNet5(image_size, dtype=dtype, generator=rng).eval()
        return model, rng.random((CONV_BATCH, 1, image_size, image_size)).astype(dtype)
    return make


CONV_BATCH = 64
CONV_NETWORKS = {
    "conv2d stride 2, dilation 2, groups 2 + relu + max pool": convs(lambda d, r: [
        nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2, dtype=d, generator=r), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten()], (2, 12, 12)),
    "conv2d same + batch norm 2d + tanh + avg pool + global avg pool": convs(lambda d, r: [
        nn.Conv2d(3, 4, 4, padding="same", dtype=d, generator=r), _norm(nn.BatchNorm2d(4, dtype=d), r), nn.Tanh(),
        nn.AvgPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()], (3, 10, 10)),
    "max pool ceil_mode, dilation + avg pool ceil_mode, count_include_pad=False": convs(lambda d, r: [
        nn.Conv2d(1, 3, 3, dtype=d, generator=r), nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
        nn.AvgPool2d(2, 2, 1, ceil_mode=True, count_include_pad=False), nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(27, 3, dtype=d, generator=r), _norm(nn.BatchNorm1d(3, dtype=d), r)], (1, 11, 11)),
    "conv1d + batch norm 1d + gelu": convs(lambda d, r: [
        nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, dtype=d, generator=r), _norm(nn.BatchNorm1d(6, dtype=d), r),
        nn.GELU(), nn.Conv1d(6, 2, 2, dtype=d, generator=r), nn.Flatten()], (4, 16)),
    "LeNet5 8x8 (the embedded digits)": lenet(8),
    "LeNet5 28x28 (MNIST)": lenet(28),
}
CASES = {label(name, setting): mlps(name, setting) for name, setting in ACTIVATION_CASES} | CONV_NETWORKS


def networks(case: str, dtype: str):
    for seed in range(NETWORKS):
        model, x = CASES[case](dtype, np.random.default_rng(seed))
        yield seed, model, x


def outputs(backend: str) -> dict[str, np.ndarray]:
    found = {}
    folder = Path(tempfile.mkdtemp())
    for case, dtype in itertools.product(CASES, ("float32", "float64")):
        for seed, model, x in networks(case, dtype):
            key = f"{case}|{dtype}|{seed}"
            if backend == "tinygrad_edu":
                with no_grad():
                    found[key] = model(x).data
            elif backend == "onnxruntime":
                import onnxruntime

                from tinygrad_edu.export import to_onnx

                path = to_onnx(model, folder / "m.onnx", x)
                session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                found[key] = session.run(None, {"input": x})[0]
            else:
                if case == "heaviside":
                    continue  # torch.nn has none
                import torch

                from tinygrad_edu.export import to_torch

                with torch.no_grad():
                    found[key] = to_torch(model)(torch.from_numpy(x)).numpy()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    backends = ["tinygrad_edu"] + [b for b, module in (("onnxruntime", "onnxruntime"), ("pytorch", "torch"))
                                   if importlib.util.find_spec(module) is not None]
    for backend in backends:
        package = {"tinygrad_edu": "numpy", "pytorch": "torch"}.get(backend, backend)
        version = f"{package} {importlib.metadata.version(package)}"
        np.savez(args.dir / f"{backend}.npz", __version__=np.array(version), **outputs(backend))
    have = {p.stem: dict(np.load(p)) for p in sorted(args.dir.glob("*.npz"))}
    versions = ", ".join(str(h.pop("__version__")) for h in have.values())
    pairs = [(a, b) for a, b in (("tinygrad_edu", "onnxruntime"), ("tinygrad_edu", "pytorch"),
                                 ("pytorch", "onnxruntime")) if a in have and b in have]
    commit = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    lines = [
        "# Agreement of the exported models", "",
        f"Written by `benchmarks/export_agreement.py` (its docstring says what is measured). "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d} · commit {commit} · {platform.processor() or platform.machine()}"
        f" · Python {platform.python_version()} · {versions}.", "",
        f"Each cell: the largest of max |a - b| / max(1, max |a|) over {NETWORKS} networks {'-'.join(map(str, SIZES))} "
        f"on {BATCH} inputs, or {NETWORKS} draws of a convolutional network's weights on {CONV_BATCH} inputs (after "
        "a slash, element by element, max |a - b| / max(1, |a|), where larger). n/a: torch.nn has no Heaviside.", "",
        "| network | dtype | " + " | ".join(f"{a} vs {b}" for a, b in pairs) + " |",
        "|---|---|" + "---|" * len(pairs),
    ]
    for case, dtype in itertools.product(CASES, ("float32", "float64")):
        cells = []
        for a, b in pairs:
            diffs = []
            for seed in range(NETWORKS):
                key = f"{case}|{dtype}|{seed}"
                if key in have[a] and key in have[b]:
                    x, y = have[a][key], have[b][key]
                    error = np.abs(x.astype(np.float64) - y)
                    diffs.append((float(np.max(error) / max(1.0, np.max(np.abs(x)))),
                                  float(np.max(error / np.maximum(1, np.abs(x))))))
            if not diffs:
                cells.append("n/a")
                continue
            scaled, elementwise = max(d[0] for d in diffs), max(d[1] for d in diffs)
            cells.append(f"{scaled:.1e}" + (f" / {elementwise:.1e}" if f"{elementwise:.1e}" != f"{scaled:.1e}" else ""))
        lines.append(f"| {case} | {dtype} | " + " | ".join(cells) + " |")
    (ROOT / "benchmarks" / "EXPORT_AGREEMENT.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
