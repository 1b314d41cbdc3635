"""From the chapter's fully connected network to a convolutional one (LeNet-5), with its learnt filters.

1. A convolution is a matrix product: `tg.unfold` lays every 5×5 window of an image out as a column, and
   W.reshape(C_out, -1) @ unfold(x) is conv2d(x, W), checked here number for number.
2. Two networks on the same images with `tinygrad-edu train`'s settings (tinygrad_edu/experiment.py): the
   784-300-10 relu network with cross-entropy, and LeNet-5 (conv 5×5 ×6 → pool → conv 5×5 ×16 → pool → 120
   → 84 → 10, `nn.LeNet5`, what `tinygrad-edu train --model lenet` trains). The validation split chooses the
   epoch; the test set is used once.
3. Pictures: the first layer's 6 learnt filters, and the feature maps of one test digit after the first
   convolution and its relu (what each filter responds to: strokes of one direction, edges, the background).

    python examples/12_convolution.py              # full MNIST, the recipes' epochs (about 6 min here)
    python examples/12_convolution.py --quick      # what CI runs: 5 000 images, 2 epochs (digits: 10)

Without the MNIST files it says where to put them and uses scikit-learn's 8×8 digits (LeNet5 then pads its second
convolution too, see nn/lenet.py). Measured on a shared 2-core machine, quick mode, seed 0: see the numbers it
prints; benchmarks/MNIST_RESULTS.md has the full runs over three seeds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.experiment import TrainConfig, run
from tinygrad_edu.viz import plots

NETWORKS = {
    "784-300-10 relu (the chapter's layers)": dict(model="mlp", hidden=(300,), activation="relu", loss="ce"),
    "LeNet-5": dict(model="lenet", activation="relu", loss="ce"),
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


def convolution_is_a_product(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, w = tg.tensor(rng.random((2, 1, 28, 28))), tg.tensor(rng.standard_normal((6, 1, 5, 5)))
    columns = tg.unfold(x, 5)  # (2, 1·5·5, 24·24): one column per window
    product = (w.reshape(6, -1) @ columns).reshape(2, 6, 24, 24)
    difference = float(np.abs(product.data - tg.conv2d(x, w).data).max())
    print(f"unfold: {x.shape} -> {columns.shape}; W.reshape(6, -1) @ unfold(x) equals conv2d(x, W) "
          f"to {difference:.1e}")
    assert difference < 1e-12


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 000 MNIST training images, 2 epochs (CI)")
    parser.add_argument("--epochs", type=int, help="epochs per network (default: train's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="directory holding the four MNIST files")
    parser.add_argument("--download", action="store_true", help="fetch the MNIST files if they are missing")
    parser.add_argument("--out", help="directory for the figures (default out/12_convolution; --quick: a "
                                      "temporary directory)")
    args = parser.parse_args(argv)
    convolution_is_a_product(args.seed)
    dataset = pick_dataset(args.data_dir, args.download)
    quick = {}
    if args.quick:
        quick = dict(train_limit=5_000, epochs=2) if dataset == "mnist" else dict(epochs=10)

    results = {}
    for title, spec in NETWORKS.items():
        print(f"\n== {title} ==")
        config = TrainConfig(dataset=dataset, data_dir=args.data_dir if dataset == "mnist" else None,
                             download=args.download, seed=args.seed,
                             **{**quick, **({"epochs": args.epochs} if args.epochs else {})}, **spec)
        results[title] = run(config, progress=not args.quick)

    print("\n                                        test error   parameters   training seconds")
    for title, r in results.items():
        m = r.metrics
        print(f"{title:40} {100 * m['test_error']:8.2f} %   {r.model.num_parameters():10}   "
              f"{m['train_seconds']:16.1f}")
    if dataset == "mnist" and not quick:
        print("published (LeCun et al. 1998): 0.95 % for LeNet-5, 4.7 % for 300 sigmoid units with MSE")

    for title, r in results.items():  # both learn: far better than chance (10 %), the cost went down
        assert r.history.train_loss[-1] < r.history.train_loss[0], title
        assert r.metrics["test_accuracy"] > (0.5 if args.quick else 0.95), (title, r.metrics["test_accuracy"])

    lenet = results["LeNet-5"]
    model, ds = lenet.model, lenet.dataset
    digit = ds.X_test[:1]
    side = model.image_size
    with tg.no_grad():
        maps = model.features[:2](digit.reshape(1, 1, side, side))  # the first convolution and its relu
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or (tmp if args.quick else "out/12_convolution"))
        out.mkdir(parents=True, exist_ok=True)
        plots.filters(model.convs[0].weight).savefig(out / "filters.png", dpi=100)
        plots.feature_maps(maps, image=digit[0], title=f"a test {ds.y_test[0]}: the 6 maps after the first "
                                                        f"convolution and relu").savefig(out / "feature_maps.png",
                                                                                         dpi=100)
        print(f"\nfigures: {', '.join(sorted(p.name for p in out.glob('*.png')))} in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
