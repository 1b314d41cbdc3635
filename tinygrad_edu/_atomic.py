"""Atomic writes: readers see the old file (or folder) or the complete new one, never a partial one.

A temporary lives next to its target (a rename is atomic only within one file system), is named
`.<target>.<pid>.<random>.part` and is removed on every exception path. SIGKILL (or a power cut) gives no
chance to clean up: the next write to the same target removes the temporaries of processes that no longer
run, and keeps those of processes still running (another write of the same target may be under way).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _running(pid: int) -> bool:
    if pid == os.getpid():  # ours: another thread may be writing the same target
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> None:
    """Remove the temporaries of `path` that processes no longer running left behind."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"(\d+)\.[^.]+\.part")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return  # no folder yet, or one we cannot list: nothing of ours can be there
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _running(int(match.group(1))):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform allows opening a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` only if the `with` body finishes without an exception."""
    path = Path(path)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; data files are meant to be shared
        os.replace(tmp, path)
        _sync_folder(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class AtomicDirectory:
    """A folder filled under a temporary name next to `path` and renamed to `path` when the `with` block ends.

        with AtomicDirectory("runs/x") as folder:
            (folder.tmp / "metrics.json").write_text(...)
        folder.path      # runs/x; runs/x-1 (then -2, ...) if runs/x already held files

    `overwrite=True` replaces a `path` that holds files instead of keeping it. The temporary folder is made
    at once (with the missing parents of `path`), so that a place where nothing can be written fails before
    the work starts; it is removed if the block raises, or by `discard()`, with the parents it made.
    """

    def __init__(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        self.target = Path(path)
        if self.target.name in ("", ".", ".."):  # "." or "runs/..": the folder by its own name, next to its parent
            self.target = Path(os.path.abspath(path))
        self.overwrite = overwrite
        self.path: Path | None = None  # where the folder ended up, once the block has finished
        if self.target.exists() and not self.target.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(self.target))
        self._made = [p for p in self.target.parents if not p.exists()]  # innermost first
        self.target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.target)
        self.tmp = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=_prefix(self.target), suffix=".part"))

    def __enter__(self) -> AtomicDirectory:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is not None:
            self.discard()
            return
        try:
            self.path = self._replace() if self.overwrite else self._keep()
        except BaseException:
            self.discard()
            raise
        _sync_folder(self.target.parent)

    def discard(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)
        for folder in self._made:
            try:
                folder.rmdir()  # only while empty: what the folder became is kept
            except OSError:
                break

    def _keep(self) -> Path:
        """Rename into the first of path, path-1, path-2, ... that is free (or an empty folder)."""
        for i in itertools.count():
            candidate = self.target if i == 0 else self.target.with_name(f"{self.target.name}-{i}")
            if candidate.exists() and not candidate.is_dir():
                continue
            try:
                os.rename(self.tmp, candidate)  # replaces an empty folder only
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST):
                    continue
                raise
            return candidate
        raise AssertionError("unreachable")

    def _replace(self) -> Path:
        """Swap the new folder in for the old one, then delete the old one."""
        try:
            os.rename(self.tmp, self.target)
            return self.target
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        # no system call swaps two folders portably: the old one steps aside under a temporary name first
        old = Path(tempfile.mkdtemp(dir=self.target.parent, prefix=_prefix(self.target), suffix=".part"))
        try:
            os.rename(self.target, old)  # onto the empty temporary folder
        except BaseException:
            os.rmdir(old)
            raise
        try:
            os.rename(self.tmp, self.target)
        except BaseException:
            os.rename(old, self.target)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return self.target
