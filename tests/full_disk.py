"""Running a command as if the disk were full: for atomic-write tests that must hit a real failing write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_with_file_size_limit(argv: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    """`python argv...` in a process whose writes past `limit` bytes of a file fail with EFBIG, as they would
    on a full disk (RLIMIT_FSIZE; Python ignores the SIGXFSZ that comes with it)."""
    import resource

    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)))
