"""Reading MNIST, the chapter's case study ("Introduction"), made runnable.

1. where the four IDX files are looked for (the chapter keeps them in ./data/mnist);
2. the chapter's two loaders, load_mnist_images and load_mnist_labels: flat images x/255 in [0, 1] (0 is
   white, 1 is black) and integer labels, checked against the facts published with the files;
3. the "0" and the "9" the chapter plots, X_train[1] and X_train[4], and the first 20 training images.

Without the MNIST files it says where to put them and falls back on scikit-learn's 8×8 digits.

    python examples/01_reading_mnist.py                     # full: all 70 000 images
    python examples/01_reading_mnist.py --quick             # what CI runs: the first 2 000 of each set
    python examples/01_reading_mnist.py --data-dir DIR      # or --download (to the user cache)

Measured on a shared 2-core machine: full 4–6 s, quick 3 s (wall clock); 60 000 + 10 000 images of 784 = 28×28
pixels, pixel mean 0.1307 and images per class as published with the files.
Credit: the chapter "Neural Networks" (contributors include Bruno Deremble and Alexis Tantet).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu.viz import plots

FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # published with the files (LeCun, Cortes, Burges)
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def read_mnist(data_dir, download: bool, n: int | None):
    """The chapter's loaders on the files load_mnist would find; None (and a message) when there are none."""
    try:
        paths = tg.data.locate_mnist(data_dir)
    except tg.data.MNISTNotFoundError as error:
        if data_dir is not None and not download:  # a named folder without the files: as train, exit 2
            print(error, file=sys.stderr)
            raise SystemExit(2) from None
        if not download:
            print(tg.data.DIGITS_INSTEAD)
            return None
        tg.data.load_mnist(data_dir, download=True)  # fetches the missing files, checksums verified
        paths = tg.data.locate_mnist(data_dir)
    print(f"reading {paths['train_images'].parent}")
    X_train = tg.data.load_mnist_images(paths["train_images"], n)  # float64, as the chapter's / 255.
    y_train = tg.data.load_mnist_labels(paths["train_labels"], n)
    X_test = tg.data.load_mnist_images(paths["test_images"], n)
    y_test = tg.data.load_mnist_labels(paths["test_labels"], n)
    return X_train, y_train, X_test, y_test


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="read 2 000 images of each set (CI)")
    parser.add_argument("--data-dir", help="directory holding the four MNIST files")
    parser.add_argument("--download", action="store_true", help="fetch the MNIST files if they are missing")
    parser.add_argument("--out", help="directory for the figures (default out/01_reading_mnist; "
                                      "--quick: a temporary directory)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or (tmp if args.quick else "out/01_reading_mnist"))
        return run(args, out)


def run(args, out: Path) -> int:
    print("1. Directories searched, in order (the first holding all four files wins):")
    for directory, why in tg.data.search_dirs(args.data_dir):
        print(f"   {directory}  ({why})")

    n = 2000 if args.quick else None
    data = read_mnist(args.data_dir, args.download, n)
    if data is not None:
        X_train, y_train, X_test, y_test = data
        zero, nine = 1, 4  # the chapter's examples of a "0" and a "9"
    else:
        digits = tg.data.load_digits(dtype=np.float64)
        X_train, y_train, X_test, y_test = digits.X_train, digits.y_train, digits.X_test, digits.y_test
        zero, nine = int(np.argmax(y_train == 0)), int(np.argmax(y_train == 9))  # the first "0" and "9"

    print(f"\n2. X_train {X_train.shape} {X_train.dtype}, y_train {y_train.shape} {y_train.dtype}; "
          f"X_test {X_test.shape}, y_test {y_test.shape}")
    side = tg.data.image_side(X_train.shape[1])
    print(f"   each image is a vector of p = {X_train.shape[1]} = {side}×{side} pixels in "
          f"[{X_train.min():g}, {X_train.max():g}], mean {X_train.mean():.4f}")
    print(f"   first labels {y_train[:10].tolist()}; training images per class {np.bincount(y_train).tolist()}")
    assert X_train.min() >= 0 and X_train.max() <= 1 and len(X_train) == len(y_train)
    assert y_train[zero] == 0 and y_train[nine] == 9
    if data is not None:
        assert X_train.shape[1] == 784 and y_train[:10].tolist() == FIRST_TRAIN_LABELS
        if n is None:  # the whole files: compare with the facts published with them
            assert len(X_train) == 60000 and len(X_test) == 10000
            assert np.bincount(y_train).tolist() == TRAIN_LABEL_COUNTS
            assert abs(X_train.mean() - 0.1307) < 5e-4
        # the package's one-call loader gives the same numbers (float32 by default, float64 on request)
        ds = tg.data.load_mnist(args.data_dir, dtype=np.float64)
        assert np.array_equal(ds.X_train[: len(X_train)], X_train)
        assert np.array_equal(ds.y_test[: len(y_test)], y_test)
        print(f"   load_mnist() agrees: {ds}")

    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "zero.png": plots.show_image(X_train[zero], label=y_train[zero]),
        "nine.png": plots.show_image(X_train[nine], label=y_train[nine]),
        "first_20.png": plots.image_grid(X_train[:20], y_train[:20]),
    }
    print(f"\n3. X_train[{zero}] is a {y_train[zero]}, X_train[{nine}] a {y_train[nine]}; figures:")
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
        print(f"   {out / name}")
    if args.quick and not args.out:
        print("   (quick mode: a temporary directory, removed on exit; pass --out DIR to keep the figures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
