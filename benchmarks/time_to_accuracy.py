"""Workload 5: training time until 98 % validation accuracy on the real MNIST split, next to scikit-learn.

    python benchmarks/time_to_accuracy.py --data-dir ../shared/data/mnist [--seed 0] [--hidden 300]

Ours: `tinygrad-edu train`'s recommended settings for relu + cross-entropy (momentum 0.9, λ = 0.1 cosine-decayed
over 20 epochs, batch 64, float32), stopped after the first epoch whose validation accuracy reaches 98 %; once
with the compiled step (train's default, tinygrad_edu.compile) and once eagerly (`--eager`): the same numbers.
Theirs: scikit-learn's `MLPClassifier((100,))`, Adam, 20 epochs (its defaults otherwise), fitted on the same
50 000 training images. Both sides count training only: no data loading, and our per-epoch validation pass
is not counted (fit's History.train_seconds). The test set is evaluated once for each side, after training.
Run by `benchmarks/run.py` as workload 5, or alone.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import numpy as np  # noqa: E402

TARGET = 0.98


def ours(ds: Any, hidden: int, seed: int, epochs: int = 20, target: float = TARGET, compile: bool = True
         ) -> dict[str, Any]:
    """`tinygrad-edu train`'s run on the given split, stopped by a callback at the target."""
    from tinygrad_edu import experiment
    from tinygrad_edu.train import Callback, StopTraining

    class StopAtTarget(Callback):
        def on_epoch_end(self, epoch: int, history: Any) -> None:
            if history.val_accuracy[-1] >= target:
                raise StopTraining

    config = experiment.TrainConfig(dataset="mnist", hidden=(hidden,), activation="relu", loss="ce", epochs=epochs,
                                    seed=seed, compile=compile).resolved()
    result = experiment.train_and_test(config, ds, progress=False, log=None, callbacks=[StopAtTarget()])
    history = result.history
    return {
        "settings": f"784-{hidden}-10 relu + cross-entropy, {config.optimizer} λ {config.lr:g} ({config.schedule} over "
                    f"{config.epochs} epochs), batch {config.batch_size}, {config.dtype}"
                    f"{', compiled' if result.metrics['compiled'] else ', eager'}",
        "reached": history.stopped_early, "epochs": len(history), "batch": config.batch_size,
        "val_accuracy": history.val_accuracy[-1],
        "train_seconds": result.metrics["train_seconds"], "test_accuracy": result.metrics["test_accuracy"],
    }


def scikit_learn(ds: Any, seed: int, epochs: int = 20) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier((100,), solver="adam", max_iter=epochs, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 20 epochs is the budget, not convergence
        clf.fit(ds.X_train, ds.y_train)
    seconds = time.perf_counter() - start
    return {"settings": f"MLPClassifier((100,)), adam, {clf.n_iter_} epochs, batch {min(200, len(ds.X_train))}",
            "epochs": int(clf.n_iter_), "train_seconds": seconds,
            "val_accuracy": float(clf.score(ds.X_val, ds.y_val)),
            "test_accuracy": float(clf.score(ds.X_test, ds.y_test))}


def measure(data_dir: str, seed: int = 0, hidden: int = 300, quick: bool = False) -> dict[str, Any]:
    """Both sides on the real split; quick: 3 000 training images, a 90 % target and 3 epochs for scikit-learn
    (the plumbing only: CI)."""
    from dataclasses import replace

    from tinygrad_edu.data import load_mnist

    ds = load_mnist(data_dir, val_size=10_000, progress=False)
    target, sklearn_epochs = TARGET, 20
    if quick:
        ds = replace(ds, X_train=ds.X_train[:3000], y_train=ds.y_train[:3000])
        target, sklearn_epochs = 0.90, 3
    a = ours(ds, hidden, seed, target=target)
    eager = ours(ds, hidden, seed, target=target, compile=False)
    b = scikit_learn(ds, seed, epochs=sklearn_epochs)
    floor = numpy_floor_time(ds, hidden, a["batch"], a["epochs"], repeats=1 if quick else 3)
    return {"target": target, "seed": seed, "n_train": len(ds.X_train), "engine": a, "engine_eager": eager,
            "sklearn": b, "numpy_floor": floor, "ratio": a["train_seconds"] / b["train_seconds"],
            "eager_ratio": eager["train_seconds"] / b["train_seconds"],
            "floor_ratio": floor["train_seconds"] / b["train_seconds"]}


def numpy_floor_time(ds: Any, hidden: int, batch: int, epochs: int, repeats: int = 3) -> dict[str, Any]:
    """The hand-written numpy network of numpy_floor.py (784-hidden-10 relu + softmax cross-entropy, float32, the
    engine's batch size) timed for one epoch on the same training images, `repeats` times; its median epoch
    times the engine's number of epochs is what the engine's run would cost with no engine overhead at all.
    (Plain SGD: momentum would add two array operations per parameter per step, a lower bound either way.)"""
    import numpy_floor as npf

    X = np.ascontiguousarray(ds.X_train, dtype=np.float32)
    Y = np.eye(10, dtype=np.float32)[ds.y_train]
    seconds = [npf.mnist_relu_ce_epoch(X, Y, npf.init_params((X.shape[1], hidden, 10), np.float32), batch=batch)
               for _ in range(repeats)]
    epoch = float(np.median(seconds))
    return {"epoch_seconds": epoch, "epochs": epochs, "train_seconds": epoch * epochs}


def describe(result: dict[str, Any]) -> str:
    a, b, f = result["engine"], result["sklearn"], result["numpy_floor"]
    reached = (f"reached {100 * result['target']:.0f} % validation accuracy after {a['epochs']} epochs"
               if a["reached"] else f"did NOT reach {100 * result['target']:.0f} % in {a['epochs']} epochs "
                                    f"(best {a['val_accuracy']:.4f})")
    return (f"tinygrad_edu ({a['settings']}): {reached}, {a['train_seconds']:.1f} s of training, test accuracy "
            f"{a['test_accuracy']:.4f}\neager (--eager): {result['engine_eager']['train_seconds']:.1f} s, test "
            f"accuracy {result['engine_eager']['test_accuracy']:.4f}\nscikit-learn ({b['settings']}): {b['train_seconds']:.1f} s, validation "
            f"{b['val_accuracy']:.4f}, test accuracy {b['test_accuracy']:.4f}\nnumpy floor (the same "
            f"{f['epochs']} epochs in hand-written numpy, {f['epoch_seconds']:.2f} s each): {f['train_seconds']:.1f} s"
            f"\nratio engine / scikit-learn: {result['ratio']:.2f} (target <= 0.25); numpy floor / scikit-learn: "
            f"{result['floor_ratio']:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=300)
    args = parser.parse_args(argv)
    print(describe(measure(args.data_dir, args.seed, args.hidden)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
