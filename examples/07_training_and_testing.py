"""Training and testing, the chapter's section on its MNIST network, made runnable.

Two networks of the same size trained on the same images, each with the settings `tinygrad-edu train`
recommends (tinygrad_edu/experiment.py explains them):
  1. the chapter's network: 784-300-10, sigmoid hidden and output units, the chapter's cost
     C = 1/N Σ‖y − a^L‖², plain minibatch gradient descent;
  2. the same layers with relu hidden units, softmax outputs and the cross-entropy cost, with momentum.
The last 10 000 training images are held out for validation (they choose the epoch whose weights are kept);
the test set is used once, at the end. Pictures: loss and accuracy per epoch for both, and both confusion
matrices. `tinygrad-edu train` does the same from the shell and saves the models.

    python examples/07_training_and_testing.py              # full MNIST, 10 epochs each (about 10 min here)
    python examples/07_training_and_testing.py --quick      # what CI runs: 10 000 images, 4 epochs
    python examples/07_training_and_testing.py --epochs 20  # the chapter's table: benchmarks/MNIST_RESULTS.md

Without the MNIST files it says where to put them and uses scikit-learn's 8×8 digits (64-300-10).
Measured on a shared 2-core machine, quick mode, seed 0: on MNIST test accuracy 0.90 (sigmoid + MSE, still
climbing: the chapter's network starts slowly) and 0.96 (relu + cross-entropy), 30 s in all; on the digits
0.95 and 0.97, 10 s. Full mode: benchmarks/MNIST_RESULTS.md has the 20-epoch numbers over three seeds.
Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

import tinygrad_edu as tg
from tinygrad_edu.experiment import TrainConfig, run
from tinygrad_edu.viz import plots

NETWORKS = {
    "sigmoid + MSE (the chapter)": dict(activation="sigmoid", loss="mse"),
    "relu + cross-entropy": dict(activation="relu", loss="ce"),
}


def pick_dataset(data_dir: str | None, download: bool) -> str:
    try:
        dataset, note = tg.data.pick_dataset(data_dir, download)
    except tg.data.MNISTNotFoundError as error:  # a named folder without the files: as train, exit 2
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    if note:
        print(note)
    return dataset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 000 MNIST training images, 4 epochs (CI)")
    parser.add_argument("--epochs", type=int, help="epochs per network (default: train's, 10 on MNIST)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="directory holding the four MNIST files")
    parser.add_argument("--download", action="store_true", help="fetch the MNIST files if they are missing")
    parser.add_argument("--out", help="directory for the figures (default out/07_training_and_testing; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    dataset = pick_dataset(args.data_dir, args.download)
    quick = dict(train_limit=10_000, epochs=4) if args.quick and dataset == "mnist" else {}
    if args.quick and dataset == "digits":
        quick = dict(epochs=10)

    results = {}
    for title, spec in NETWORKS.items():
        print(f"\n== {title} ==")
        config = TrainConfig(dataset=dataset, data_dir=args.data_dir if dataset == "mnist" else None,
                             download=args.download, hidden=(300,), seed=args.seed,
                             **{**quick, **({"epochs": args.epochs} if args.epochs else {})}, **spec)
        results[title] = run(config, progress=not args.quick)

    print("\n                               test error   train accuracy   selected epoch   training seconds")
    for title, r in results.items():
        m = r.metrics
        print(f"{title:30} {100 * m['test_error']:8.2f} %   {m['train_accuracy']:14.4f}   {m['selected_epoch']:14}"
              f"   {m['train_seconds']:16.1f}")
    if dataset == "mnist" and not quick:
        print("published (LeCun et al. 1998; Simard et al. 2003): 4.7 % for 300 sigmoid units with MSE, "
              "1.6 % for 800 units with cross-entropy")

    # the network learns: far better than chance (10 %) even in quick mode, and both costs went down
    for title, r in results.items():
        history = r.history
        assert history.train_loss[-1] < history.train_loss[0], title
        assert r.metrics["test_accuracy"] > (0.85 if args.quick else 0.95), (title, r.metrics["test_accuracy"])

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or (tmp if args.quick else "out/07_training_and_testing"))
        out.mkdir(parents=True, exist_ok=True)
        for i, (title, r) in enumerate(results.items(), start=1):
            curves: Figure = plots.training_curves(r.history, title=title)
            curves.savefig(out / f"curves_{i}.png", dpi=100)
            confusion = plots.confusion_matrix(r.dataset.y_test, r.test_predictions)
            confusion.suptitle(title)
            confusion.savefig(out / f"confusion_{i}.png", dpi=100)
        print(f"\nfigures: {', '.join(sorted(p.name for p in out.glob('*.png')))} in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
