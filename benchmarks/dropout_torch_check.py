"""The dropout network's recipe in PyTorch: validation accuracy per epoch, to tell an engine bug from a recipe.

    python benchmarks/dropout_torch_check.py --data-dir DIR --epochs 5 --lr 0.1

The network and data of benchmarks/mnist_results.py's "dropout" entry (784-800-800-10, relu, dropout 0.5 on the
hidden units and 0.2 on the pixels, He-normal weights and zero biases as nn.MLP's, the last 10 000 training
images for validation), SGD with momentum 0.9 or Adam, the step cosine-decayed over the run, 782 shuffled
batches of 63-64 per epoch. Only the validation accuracy is printed: the test set is not looked at. Needs torch
(not a dependency of the package).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinygrad_edu.data import load_mnist  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--optimizer", choices=("momentum", "adam"), default="momentum")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    ds = load_mnist(args.data_dir, progress=False, dtype=np.float32).split_validation(10_000)
    X, y = torch.tensor(ds.X_train), torch.tensor(ds.y_train).long()
    X_val, y_val = torch.tensor(ds.X_val), torch.tensor(ds.y_val).long()
    nn = torch.nn
    net = nn.Sequential(nn.Dropout(0.2), nn.Linear(784, 800), nn.ReLU(), nn.Dropout(0.5),
                        nn.Linear(800, 800), nn.ReLU(), nn.Dropout(0.5), nn.Linear(800, 10))
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    opt = (torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9) if args.optimizer == "momentum"
           else torch.optim.Adam(net.parameters(), lr=args.lr))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)
    order = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        net.train()
        start = time.perf_counter()
        for batch in np.array_split(order.permutation(len(X)), math.ceil(len(X) / 64)):  # 782 of 63-64
            opt.zero_grad()
            nn.functional.cross_entropy(net(X[batch]), y[batch]).backward()
            opt.step()
        schedule.step()
        net.eval()
        with torch.no_grad():
            accuracy = (net(X_val).argmax(1) == y_val).float().mean().item()
        print(f"epoch {epoch}: validation accuracy {accuracy:.4f} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
