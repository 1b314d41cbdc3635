#!/usr/bin/env python3
"""Speed benchmarks: the engine against the hand-written numpy floor (and eager PyTorch when importable).

    python benchmarks/run.py                 # every workload at full size (a few minutes)
    python benchmarks/run.py --quick         # small sizes, for CI (seconds)
    python benchmarks/run.py --only 1,3 --repeats 9
    python benchmarks/run.py --out /tmp/b    # where results.json and RESULTS.md go (default: benchmarks/)
    python benchmarks/run.py --baseline ../old-checkout   # also time another checkout's engine, side by side

Workloads (the same computation on every side: shapes, dtype, initial values, loss, update):
  1  one epoch of MNIST-shaped data, 784-300-10 sigmoid, the chapter's MSE, SGD, batch 128, float32
  2  the same with batch 32 and 784-800-10 relu + softmax cross-entropy
  3  one step of a tiny 2-16-16-1 relu MLP, batch 4, float64, MSE (mean): per-operation overhead
  4  forward + backward through chains of 10 000 and 100 000 elementwise operations (growth should be linear)
  5  training seconds to 98 % validation accuracy on real MNIST with `tinygrad-edu train`'s settings, next to
     scikit-learn's MLPClassifier((100,)) for 20 epochs (time_to_accuracy.py; skipped without the MNIST files)
  6  extra memory of one epoch of workload 1, each side in its own subprocess, the dataset excluded
  7  one LeNet-5 epoch (conv 5×5 ×6 pad 2, pool, conv 5×5 ×16, pool, 120-84-10, relu, cross-entropy, SGD,
     batch 64, float32) of MNIST-shaped images: tg.conv2d/tg.max_pool2d against a hand-written numpy im2col LeNet

Timings on a shared machine drift by tens of percent between runs, so every side of a workload runs in this
one process, interleaved (the order rotates every round) and repeated; the medians and their ratios are
what to read. When ../shared/bench/numpy_baselines.py exists (the course's reference baselines) it is
timed too, as a second numpy side. Nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]  # this checkout's engine, and the workload modules next to this file

import numpy as np  # noqa: E402

import engine_workloads as eng  # noqa: E402
import numpy_floor as npf  # noqa: E402
import tinygrad_edu as tg  # noqa: E402

DEFAULT_REFERENCE = ROOT.parent / "shared" / "bench" / "numpy_baselines.py"
MARK_BEGIN = "<!-- benchmarks/run.py: generated results begin -->"
MARK_END = "<!-- benchmarks/run.py: generated results end -->"


@dataclass
class Sizes:
    samples: int  # MNIST-shaped samples for workloads 1, 2 and 6
    tiny_steps: int  # steps per timed call of workload 3
    chains: tuple[int, int]  # lengths of workload 4's two chains
    images: int = 60000  # 28 × 28 images of workload 7


FULL = Sizes(samples=60000, tiny_steps=400, chains=(10_000, 100_000), images=60000)
QUICK = Sizes(samples=2048, tiny_steps=200, chains=(2_000, 20_000), images=512)


@dataclass
class Workload:
    """Series of timings taken interleaved, and the ratios of their medians worth reporting."""

    id: int
    title: str
    unit: str  # what one timing is: "s/epoch", "s/step", "s", "bytes"
    series: dict[str, Callable[[], float]] = field(default_factory=dict)
    ratios: list[tuple[str, str]] = field(default_factory=list)  # (numerator, denominator) series names
    targets: list[tuple[str, str, float]] = field(default_factory=list)  # (numerator, denominator, maximum ratio)
    note: str = ""
    # Short workloads run more, shorter rounds: on a shared machine the load changes from second to second, and
    # sides timed a fraction of a second apart see the same load (workload 3: 5 × 5 rounds of 400 steps).
    rounds_factor: int = 1


# ---------------------------------------------------------------------------------------------------------------
# Workloads 1-4: timed in this process
# ---------------------------------------------------------------------------------------------------------------


def load_reference(path: Path | None) -> ModuleType | None:
    """The course's reference baselines, imported by path (optional)."""
    if path is None or not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("numpy_baselines_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASELINE = "tinygrad_edu_baseline"


def load_baseline(root: Path) -> ModuleType:
    """engine_workloads.py bound to the engine of another checkout (root/tinygrad_edu), in this process beside
    this checkout's: how a change to the engine is measured against the code before it, round by round.

    That package is imported as `tinygrad_edu` with this one's modules set aside; its modules are then renamed
    tinygrad_edu_baseline(.x), so that the imports it runs at call time keep finding its own, and this one's
    are put back."""
    def ours(name: str) -> bool:
        return name in ("tinygrad_edu", "engine_workloads") or name.startswith("tinygrad_edu.")

    kept = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
    sys.path.insert(0, str(root.resolve()))
    try:
        engine = importlib.import_module("tinygrad_edu")
        if Path(engine.__file__).parent != (root / "tinygrad_edu").resolve():
            raise SystemExit(f"--baseline {root}: no tinygrad_edu package there")
        engine.optim  # noqa: B018  (the lazy modules the workloads use, loaded now)
        workloads = importlib.import_module("engine_workloads")
    finally:
        theirs = {name: sys.modules.pop(name) for name in list(sys.modules) if ours(name)}
        sys.path.remove(str(root.resolve()))
        sys.modules.update(kept)
    for name, module in theirs.items():
        new = BASELINE + name[len("tinygrad_edu"):] if name != "engine_workloads" else "engine_workloads_baseline"
        module.__spec__.name = new
        module.__package__ = new if hasattr(module, "__path__") else new.rpartition(".")[0]
        sys.modules[new] = module
    return workloads


def load_torch(enabled: bool) -> tuple[ModuleType, ModuleType] | None:
    if not enabled:
        return None
    try:
        import torch  # noqa: F401

        import torch_workloads
    except ImportError:
        return None
    return torch, torch_workloads


def load_jax(enabled: bool) -> ModuleType | None:
    """benchmarks/jax_workloads.py if jax is importable (never installed by the project), else None."""
    if not enabled:
        return None
    try:
        import jax_workloads
    except ImportError:
        return None
    return jax_workloads


def build_workloads(
    only: set[int], sizes: Sizes, reference: ModuleType | None, torch_mods: tuple | None,
    baseline: ModuleType | None = None, jax_mod: ModuleType | None = None,
) -> list[Workload]:
    workloads: list[Workload] = []
    X, Y = npf.mnist_shaped_data(sizes.samples) if only & {1, 2} else (None, None)
    if X is not None:
        Xt, Yt = tg.tensor(X), tg.tensor(Y)
        labels = Y.argmax(axis=1)
        labels_t = tg.tensor(labels)
        if torch_mods:
            torch, _ = torch_mods
            Xtt, Ytt, labels_tt = torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(labels)

    def params(sizes_: tuple[int, ...], dtype: Any) -> list[np.ndarray]:
        return npf.init_params(sizes_, dtype)

    if 1 in only:
        w = Workload(1, "MNIST-shaped epoch, 784-300-10 sigmoid, chapter MSE, SGD, batch 128, float32", "s/epoch")
        # (Each lambda binds its layer sizes as a default argument: a closure would see later rebindings.)
        sz = npf.MNIST_SIGMOID
        w.series["engine"] = lambda sz=sz: eng.mnist_sigmoid_epoch(Xt, Yt, eng.leaves(params(sz, np.float32)))
        w.series["engine, compiled"] = lambda sz=sz: eng.mnist_sigmoid_epoch(
            Xt, Yt, eng.leaves(params(sz, np.float32)), compiled=True)
        if baseline is not None:
            Xb, Yb = baseline.tg.tensor(X), baseline.tg.tensor(Y)
            w.series["baseline"] = lambda sz=sz: baseline.mnist_sigmoid_epoch(
                Xb, Yb, baseline.leaves(params(sz, np.float32)))
        w.series["numpy"] = lambda sz=sz: npf.mnist_sigmoid_epoch(X, Y, params(sz, np.float32))
        if reference is not None:
            w.series["reference"] = lambda: reference.mnist_epoch(X, Y)
        if torch_mods:
            tw = torch_mods[1]
            w.series["torch"] = lambda sz=sz: tw.mnist_sigmoid_epoch(Xtt, Ytt, tw.leaves(params(sz, np.float32)))
        if jax_mod is not None:
            w.series["jax.jit"] = lambda sz=sz: jax_mod.mnist_sigmoid_epoch(X, Y, params(sz, np.float32))
        w.ratios = [("engine", "numpy"), ("engine, compiled", "numpy"), ("jax.jit", "numpy"), ("engine", "baseline"), ("baseline", "numpy"),
                    ("engine", "reference"), ("reference", "numpy"), ("torch", "numpy")]
        w.targets = [("engine", "numpy", 1.10), ("engine, compiled", "numpy", 1.02)]
        workloads.append(w)

    if 2 in only:
        w = Workload(2, "MNIST-shaped epoch, 784-800-10 relu, softmax cross-entropy, SGD, batch 32, float32",
                     "s/epoch")
        sz = npf.MNIST_RELU
        w.series["engine"] = lambda sz=sz: eng.mnist_relu_ce_epoch(Xt, labels_t, eng.leaves(params(sz, np.float32)))
        w.series["numpy"] = lambda sz=sz: npf.mnist_relu_ce_epoch(X, Y, params(sz, np.float32))
        if torch_mods:
            tw = torch_mods[1]
            w.series["torch"] = lambda sz=sz: tw.mnist_relu_ce_epoch(
                Xtt, labels_tt, tw.leaves(params(sz, np.float32)))
        w.ratios = [("engine", "numpy"), ("torch", "numpy")]
        workloads.append(w)

    if 3 in only:
        w = Workload(3, "tiny MLP step, 2-16-16-1 relu, batch 4, MSE (mean), SGD, float64", "s/step")
        steps = sizes.tiny_steps
        w.series["engine"] = lambda: eng.tiny_mlp_steps(eng.leaves(params(npf.TINY, np.float64)), steps)
        w.series["engine, SGD by hand"] = lambda: eng.tiny_mlp_steps(
            eng.leaves(params(npf.TINY, np.float64)), steps, by_hand=True)
        w.series["engine, compiled"] = lambda: eng.tiny_mlp_steps(
            eng.leaves(params(npf.TINY, np.float64)), steps, compiled=True)
        if baseline is not None:
            w.series["baseline"] = lambda: baseline.tiny_mlp_steps(baseline.leaves(params(npf.TINY, np.float64)), steps)
        w.series["numpy"] = lambda: npf.tiny_mlp_steps(params(npf.TINY, np.float64), steps)
        if reference is not None:
            w.series["reference"] = lambda: reference.tiny_mlp_steps(steps)
        if torch_mods:
            tw = torch_mods[1]
            w.series["torch"] = lambda: tw.tiny_mlp_steps(tw.leaves(params(npf.TINY, np.float64)), steps)
        if jax_mod is not None:
            w.series["jax.jit"] = lambda: jax_mod.tiny_mlp_steps(params(npf.TINY, np.float64), steps)
        w.ratios = [("jax.jit", "numpy"), ("engine", "numpy"), ("engine, SGD by hand", "numpy"), ("engine, compiled", "numpy"),
                    ("engine", "baseline"), ("baseline", "numpy"), ("engine", "reference"), ("torch", "numpy"),
                    ("engine", "torch"), ("engine, compiled", "torch")]
        w.targets = [("engine", "numpy", 3.5), ("engine, compiled", "numpy", 1.3)]
        w.rounds_factor = 5
        w.note = ("engine: tg.optim.SGD's step() and zero_grad(); 'SGD by hand': `p -= lr * p.grad` under no_grad(); "
                  "torch: `p -= lr * p.grad` under torch.no_grad() (faster than torch.optim.SGD here)")
        workloads.append(w)

    if 4 in only:
        short, long = sizes.chains
        w = Workload(4, f"chains of {short} and {long} elementwise ops (·c, +c, tanh), forward + backward", "s")
        for name, module in (("engine", eng), ("baseline", baseline), ("numpy", npf),
                             ("torch", torch_mods[1] if torch_mods else None)):
            if module is not None:
                w.series[f"{name} {short}"] = lambda m=module: m.elementwise_chain(short)
                w.series[f"{name} {long}"] = lambda m=module: m.elementwise_chain(long)
        # The same engine runs with Python's cyclic garbage collector paused: the difference is the
        # collector's full passes over the growing graph (objects it must traverse), not the engine's walk.
        w.series[f"engine {short} gc paused"] = lambda: _gc_paused(eng.elementwise_chain, short)
        w.series[f"engine {long} gc paused"] = lambda: _gc_paused(eng.elementwise_chain, long)
        w.ratios = [(f"engine {long}", f"engine {short}"), (f"baseline {long}", f"baseline {short}"),
                    (f"engine {long}", f"baseline {long}"),
                    (f"engine {long} gc paused", f"engine {short} gc paused"),
                    (f"numpy {long}", f"numpy {short}"), (f"torch {long}", f"torch {short}"),
                    (f"engine {long}", f"numpy {long}"), (f"engine {long}", f"torch {long}")]
        w.targets = [(f"engine {long}", f"engine {short}", 12.0)]
        w.note = (f"linear growth gives {long / short:.0f}x; 'gc paused' runs the same chain with gc.disable() "
                  f"(for diagnosis only: the target is measured with the collector on)")
        workloads.append(w)

    if 7 in only:
        w = Workload(7, "LeNet-5 epoch, MNIST-shaped images, relu, softmax cross-entropy, SGD, batch 64, float32",
                     "s/epoch")
        rng = np.random.default_rng(0)
        images = rng.random((sizes.images, 1, 28, 28), dtype=np.float32)
        classes = rng.integers(0, 10, sizes.images)
        images_t, classes_t = tg.tensor(images), tg.tensor(classes)
        w.series["engine"] = lambda: eng.lenet_epoch(images_t, classes_t, eng.leaves(npf.init_lenet_params()))
        w.series["numpy"] = lambda: npf.lenet_epoch(images, classes, npf.init_lenet_params())
        if torch_mods:
            torch, tw = torch_mods
            images_tt, classes_tt = torch.from_numpy(images), torch.from_numpy(classes)
            w.series["torch"] = lambda: tw.lenet_epoch(images_tt, classes_tt, tw.leaves(npf.init_lenet_params()))
        w.ratios = [("engine", "numpy"), ("engine", "torch"), ("torch", "numpy")]
        w.targets = [("engine", "numpy", 1.2)]
        workloads.append(w)
    return workloads


def _gc_paused(function: Callable[[int], float], n: int) -> float:
    gc.disable()
    try:
        return function(n)
    finally:
        gc.enable()


def time_interleaved(workload: Workload, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Run every series `warmup + repeats` times, rotating the order each round; keep the last `repeats`."""
    names = list(workload.series)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(warmup + repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()  # garbage of the previous series is not collected on this one's clock
            seconds = workload.series[name]()
            if round_ >= warmup:
                times[name].append(seconds)
    return times


# ---------------------------------------------------------------------------------------------------------------
# Workload 6: memory, one subprocess per side
# ---------------------------------------------------------------------------------------------------------------


def _proc_status_kib(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM (the peak resident size) to the current size; Linux only."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(side: str, samples: int, reference_path: Path | None) -> dict[str, Any]:
    """Measure one epoch of workload 1 on `side` in this (fresh) process: data loaded first, then
    (a) the resident-memory peak above the resident size before the epoch, and
    (b) in a second, separate epoch, tracemalloc's peak of memory allocated during it (numpy reports its
        array buffers to tracemalloc). The dataset and the imports are in neither."""
    X, Y = npf.mnist_shaped_data(samples)
    reference = load_reference(reference_path) if side == "reference" else None
    if side == "engine":
        Xt, Yt = tg.tensor(X), tg.tensor(Y)
        del X, Y  # the engine trains on its own copy

        def epoch(n: int) -> None:
            eng.mnist_sigmoid_epoch(Xt[:n], Yt[:n], eng.leaves(npf.init_params(npf.MNIST_SIGMOID)))

    elif side == "numpy":

        def epoch(n: int) -> None:
            npf.mnist_sigmoid_epoch(X[:n], Y[:n], npf.init_params(npf.MNIST_SIGMOID))

    elif side == "reference" and reference is not None:

        def epoch(n: int) -> None:  # builds its float64 initial weights inside: they count here
            reference.mnist_epoch(X[:n], Y[:n])

    else:
        raise SystemExit(f"unknown memory side {side!r}")
    epoch(256)  # warm-up: BLAS buffers, first-call caches (the same on every side)
    gc.collect()
    result: dict[str, Any] = {"side": side}
    if _reset_peak_rss():
        before = _proc_status_kib("VmRSS")
        epoch(samples)
        peak = _proc_status_kib("VmHWM")
        result["rss_extra"] = None if before is None or peak is None else (peak - before) * 1024
    else:
        result["rss_extra"] = None
    gc.collect()
    tracemalloc.start()
    epoch(samples)
    result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result


def measure_memory(sizes: Sizes, reference_path: Path | None, repeats: int) -> tuple[Workload, dict[str, list[float]]]:
    sides = ["engine", "numpy"] + (["reference"] if reference_path is not None else [])
    w = Workload(6, "extra memory of one workload-1 epoch (tracemalloc peak; dataset excluded)", "bytes")
    w.ratios = [("engine", "numpy"), ("engine", "reference"), ("engine rss", "numpy rss")]
    w.targets = [("engine", "numpy", 1.3)]
    w.note = "the reference builds float64 initial weights inside its epoch: they count in its peak"
    results: dict[str, list[float]] = {}
    for round_ in range(repeats):
        shift = round_ % len(sides)
        for side in sides[shift:] + sides[:shift]:
            command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", side,
                       "--samples", str(sizes.samples)]
            if reference_path is not None:
                command += ["--reference", str(reference_path)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"memory measurement of {side} failed:\n{done.stderr}")
            child = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(side, []).append(child["tracemalloc_peak"])
            if child["rss_extra"] is not None:
                results.setdefault(f"{side} rss", []).append(child["rss_extra"])
    return w, results


# ---------------------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "engine": f"tinygrad_edu {tg.__version__} ({Path(tg.__file__).parent})",
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]  # type: ignore[func-returns-value]
        info["blas_build"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older numpy: no dict mode
        info["blas_build"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas_runtime"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer", "architecture")}
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas_runtime"] = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    if "jax" in sys.modules:
        info["jax"] = sys.modules["jax"].__version__
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str, cwd: Path = ROOT) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _format(value: float, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 2**20:.2f} MiB"
    if value < 1e-3:
        return f"{value * 1e6:.1f} µs"
    if value < 1:
        return f"{value * 1e3:.1f} ms"
    return f"{value:.3f} s"


def summarize(workload: Workload, times: dict[str, list[float]]) -> dict[str, Any]:
    medians = {name: statistics.median(values) for name, values in times.items() if values}
    ratios = []
    for num, den in workload.ratios:
        if num in medians and den in medians and medians[den] > 0:
            entry: dict[str, Any] = {"ratio": f"{num} / {den}", "value": medians[num] / medians[den]}
            if len(times[num]) == len(times[den]) > 1:  # the same rounds: also the median of each round's ratio
                entry["paired"] = statistics.median(a / b for a, b in zip(times[num], times[den]) if b > 0)
            for target in workload.targets:
                if target[:2] == (num, den):
                    entry["target_max"] = target[2]
                    entry["met"] = entry["value"] <= target[2]
            ratios.append(entry)
    return {"id": workload.id, "title": workload.title, "unit": workload.unit, "times": times,
            "medians": medians, "ratios": ratios, "note": workload.note, "rounds_factor": workload.rounds_factor}


DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def time_to_accuracy(mnist_dir: Path, quick: bool) -> dict[str, Any]:
    """Workload 5 as a summary like the others: one timed run per side (each takes minutes), the ratio of
    training seconds, and the test accuracies in the note; skipped without the MNIST files."""
    title = "training time to 98 % validation accuracy on real MNIST vs scikit-learn's MLPClassifier((100,))"
    from tinygrad_edu.data import MNISTNotFoundError

    import time_to_accuracy as tta

    try:
        result = tta.measure(str(mnist_dir), quick=quick)
    except MNISTNotFoundError:
        return {"id": 5, "title": title, "skipped": f"no MNIST files in {mnist_dir} (pass --mnist-dir)"}
    a, b = result["engine"], result["sklearn"]
    ratio: dict[str, Any] = {"ratio": "engine / scikit-learn (training seconds)", "value": result["ratio"]}
    if not quick:
        ratio.update(target_max=0.25, met=a["reached"] and result["ratio"] <= 0.25)
    floor_ratio = {"ratio": "numpy floor / scikit-learn (training seconds)", "value": result["floor_ratio"]}
    eager_ratio = {"ratio": "engine, eager / scikit-learn (training seconds)", "value": result["eager_ratio"]}
    floor, eager = result["numpy_floor"], result["engine_eager"]
    times = {"engine": [a["train_seconds"]], "engine, eager": [eager["train_seconds"]],
             "scikit-learn": [b["train_seconds"]], "numpy floor": [floor["train_seconds"]]}
    note = (f"{'quick: 3 000 images, 90 % target, 3 sklearn epochs; ' if quick else ''}engine: {a['settings']}, "
            f"{'reached' if a['reached'] else 'did NOT reach'} {100 * result['target']:.0f} % validation accuracy "
            f"after {a['epochs']} epochs, test accuracy {a['test_accuracy']:.4f} (eager: the same run without "
            f"tinygrad_edu.compile, test accuracy {eager['test_accuracy']:.4f}); scikit-learn: {b['settings']}, "
            f"validation {b['val_accuracy']:.4f}, test accuracy {b['test_accuracy']:.4f}; numpy floor: the engine's "
            f"{floor['epochs']} epochs at the median epoch time of hand-written numpy (numpy_floor.py, same sizes "
            f"and batch, {floor['epoch_seconds']:.2f} s/epoch), i.e. the engine's run without any engine overhead")
    return {"id": 5, "title": title, "unit": "s", "times": times,
            "medians": {k: v[0] for k, v in times.items()}, "ratios": [ratio, eager_ratio, floor_ratio], "note": note,
            "detail": result}


def print_workload(summary: dict[str, Any]) -> None:
    print(f"\n[{summary['id']}] {summary['title']}")
    for name, median in summary["medians"].items():
        spread = summary["times"][name]
        print(f"    {name:<26} median {_format(median, summary['unit']):>12}   "
              f"(min {_format(min(spread), summary['unit'])}, max {_format(max(spread), summary['unit'])}, "
              f"n={len(spread)})")


def ratio_rows(summaries: list[dict[str, Any]]) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for s in summaries:
        if "skipped" in s:
            rows.append((str(s["id"]), "skipped: " + s["skipped"], "-", "-", "-", "-"))
            continue
        for r in s["ratios"]:
            target = f"<= {r['target_max']:g}" if "target_max" in r else ""
            met = ("met" if r["met"] else "MISSED") if "met" in r else ""
            paired = f"{r['paired']:.2f}x" if "paired" in r else ""
            rows.append((str(s["id"]), r["ratio"], f"{r['value']:.2f}x", paired, target, met))
    return rows


def print_ratio_table(summaries: list[dict[str, Any]]) -> None:
    print("\nRatios of medians (one process; only ratios are comparable between runs); 'paired': the median of the"
          "\nratios round by round")
    print(f"{'workload':<9} {'ratio':<48} {'value':>8} {'paired':>8}  {'target':<8} status")
    for wid, ratio, value, paired, target, met in ratio_rows(summaries):
        print(f"{wid:<9} {ratio:<48} {value:>8} {paired:>8}  {target:<8} {met}")


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    blas = m.get("blas_runtime") or []
    blas_text = ", ".join(f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)" for p in blas) or (
        m.get("blas_build") or "unknown")
    lines = [
        MARK_BEGIN,
        f"## Latest run ({'quick' if results['settings']['quick'] else 'full'})",
        "",
        f"{m['date']} · commit {(m['git_commit'] or 'unknown')[:10]}{' (dirty)' if m['git_dirty'] else ''} · "
        f"{m['cpu']}, {m['usable_cores']} of {m['cores']} cores · Python {m['python']} · numpy {m['numpy']} · "
        f"BLAS {blas_text}" + (f" · torch {m['torch']}" if m.get("torch") else "") + (f" · jax {m['jax']}" if m.get("jax") else "")
        + (f" · baseline: commit {(m['baseline_commit'] or 'unknown')[:10]} ({results['settings']['baseline']})"
           if results["settings"].get("baseline") else ""),
        "",
        f"{results['settings']['repeats']} interleaved rounds after {results['settings']['warmup']} warm-up"
        + "".join(f" (workload {s['id']}: {len(next(iter(s['times'].values())))} shorter ones)"
                  for s in results["workloads"] if s.get("rounds_factor", 1) > 1) + "; "
        "medians. Timings drift by tens of percent between runs on this kind of machine: read the ratios.",
        "",
        "| workload | series | median |",
        "|---|---|---|",
    ]
    for s in results["workloads"]:
        if "skipped" in s:
            lines.append(f"| {s['id']} | {s['title']}: skipped ({s['skipped']}) | |")
            continue
        for name, median in s["medians"].items():
            lines.append(f"| {s['id']} | {name} | {_format(median, s['unit'])} |")
    lines += ["", "Ratios of medians; 'paired' is the median of the ratios round by round (the target is on the "
              "ratio of medians).", "", "| workload | ratio | value | paired | target | status |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in ratio_rows(results["workloads"])]
    notes = [f"- {s['id']}: {s['note']}" for s in results["workloads"] if s.get("note")]
    lines += ([""] + notes if notes else []) + ["", MARK_END]
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], out: Path) -> None:
    """results.json, and RESULTS.md with its generated section replaced (hand-written text around it kept)."""
    from tinygrad_edu._atomic import atomic_writer  # readers never see a half-written file

    out.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out / "results.json") as f:
        f.write((json.dumps(results, indent=2) + "\n").encode())
    path = out / "RESULTS.md"
    generated = markdown(results)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if MARK_BEGIN in old and MARK_END in old:
        head, rest = old.split(MARK_BEGIN, 1)
        text = head + generated + rest.split(MARK_END, 1)[1].lstrip("\n")
    else:
        text = "# Benchmark results\n\nWritten by `python benchmarks/run.py`.\n\n" + generated + old
    with atomic_writer(path) as f:
        f.write(text.encode())


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def parse_only(text: str | None) -> set[int]:
    if not text:
        return {1, 2, 3, 4, 5, 6, 7}
    try:
        chosen = {int(part) for part in text.replace(",", " ").split()}
    except ValueError:
        raise SystemExit(f"--only takes workload numbers like 1,3; got {text!r}") from None
    if not chosen or not chosen <= {1, 2, 3, 4, 5, 6, 7}:
        raise SystemExit(f"--only: workloads are numbered 1 to 7; got {text!r}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few rounds (CI)")
    parser.add_argument("--only", help="comma-separated workload numbers, e.g. 1,3")
    parser.add_argument("--repeats", type=int, help="timed rounds per workload (default 5, quick 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument("--out", type=Path, default=HERE, help="directory for results.json and RESULTS.md")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is importable")
    parser.add_argument("--no-jax", action="store_true", help="skip JAX even if it is importable")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="the reference numpy_baselines.py (optional; default ../shared/bench/)")
    parser.add_argument("--mnist-dir", type=Path, default=DEFAULT_MNIST,
                        help="the MNIST files for workload 5 (default ../shared/data/mnist)")
    parser.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                        help="also time the engine of another checkout of this project (e.g. a worktree of the "
                             "commit before a change), interleaved with this one (workloads 1, 3, 4)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--samples", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    sizes = QUICK if args.quick else FULL
    if args.samples:
        sizes = Sizes(args.samples, sizes.tiny_steps, sizes.chains, sizes.images)
    reference_path = args.reference if args.reference and args.reference.is_file() else None
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, sizes.samples, reference_path)))
        return 0

    repeats = args.repeats or (3 if args.quick else 5)
    only = parse_only(args.only)
    reference = load_reference(reference_path)
    torch_mods = load_torch(not args.no_torch)
    jax_mod = load_jax(not args.no_jax)
    baseline = load_baseline(args.baseline) if args.baseline else None
    print(f"tinygrad_edu benchmarks ({'quick' if args.quick else 'full'}): {repeats} rounds, "
          f"reference {'at ' + str(reference_path) if reference else 'absent'}, "
          f"torch {'present' if torch_mods else 'absent'}, jax {'present' if jax_mod else 'absent'}"
          + (f", baseline engine at {args.baseline}" if baseline else ""), flush=True)

    summaries: list[dict[str, Any]] = []
    started = time.perf_counter()
    for workload in build_workloads(only, sizes, reference, torch_mods, baseline, jax_mod):
        rounds = repeats * workload.rounds_factor
        summaries.append(summarize(workload, time_interleaved(workload, rounds, args.warmup)))
        print_workload(summaries[-1])
        sys.stdout.flush()
    if 5 in only:
        summaries.append(time_to_accuracy(args.mnist_dir, args.quick))
        if "skipped" in summaries[-1]:
            print(f"\n[5] {summaries[-1]['title']}: skipped ({summaries[-1]['skipped']})")
        else:
            print_workload(summaries[-1])
            print(f"    {summaries[-1]['note']}")
    if 6 in only:
        summaries.append(summarize(*measure_memory(sizes, reference_path, repeats=1)))
        print_workload(summaries[-1])
    summaries.sort(key=lambda s: s["id"])

    machine = machine_info()
    if args.baseline:
        machine["baseline_commit"] = _git("rev-parse", "HEAD", cwd=args.baseline)
    results = {
        "machine": machine,
        "settings": {"quick": args.quick, "repeats": repeats, "warmup": args.warmup, "samples": sizes.samples,
                     "baseline": str(args.baseline) if args.baseline else None,
                     "tiny_steps": sizes.tiny_steps, "chains": list(sizes.chains), "images": sizes.images,
                     "only": sorted(only),
                     "seconds": round(time.perf_counter() - started, 1)},
        "workloads": summaries,
    }
    print_ratio_table(summaries)
    write_results(results, args.out)
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
