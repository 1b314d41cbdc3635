"""Peak extra memory of a LeNet-5 epoch (workload 7's networks), the engine against the hand-written numpy one.

    .venv/bin/python benchmarks/lenet_memory.py            # both sides, each in its own process, twice

Each side runs in a fresh process: a 640-image warm-up epoch, then tracemalloc's peak during an epoch of 6 400
random 28 × 28 images (batch 64, float32; the peak is per batch, so the epoch's length does not change it; numpy
reports its buffers to tracemalloc). The images and the parameters are allocated before tracing starts.
"""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGES = 6400


def peak_mib(side: str) -> float:
    sys.path.insert(0, str(HERE))
    import numpy_floor as npf

    rng = np.random.default_rng(0)
    images = rng.random((IMAGES, 1, 28, 28), dtype=np.float32)
    classes = rng.integers(0, 10, IMAGES)
    if side == "engine":
        import engine_workloads as eng
        import tinygrad_edu as tg

        X, y = tg.tensor(images), tg.tensor(classes)
        params = eng.leaves(npf.init_lenet_params())

        def run(n: int) -> None:
            eng.lenet_epoch(X[:n], y[:n], params)
    else:
        params = npf.init_lenet_params()

        def run(n: int) -> None:
            npf.lenet_epoch(images[:n], classes[:n], params)
    run(640)
    tracemalloc.start()
    run(IMAGES)
    return tracemalloc.get_traced_memory()[1] / 2**20


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(peak_mib(sys.argv[2]))
        return 0
    peaks: dict[str, list[float]] = {"engine": [], "numpy": []}
    for _ in range(2):
        for side in peaks:
            done = subprocess.run([sys.executable, __file__, "--child", side], capture_output=True, text=True,
                                  check=True)
            peaks[side].append(float(done.stdout.strip().splitlines()[-1]))
    for side, values in peaks.items():
        print(f"{side:7s} peak {min(values):.2f}-{max(values):.2f} MiB")
    print(f"engine / numpy {min(peaks['engine']) / min(peaks['numpy']):.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
