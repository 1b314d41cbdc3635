"""Atomic writes of files and folders: all or nothing, and the temporaries a killed process leaves removed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinygrad_edu._atomic import AtomicDirectory, atomic_writer


def _dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_writer(path) as f:
        f.write(b"half of the new")
        raise RuntimeError("the disk is full")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with atomic_writer(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_the_next_write_removes_what_killed_writers_left(tmp_path):
    dead, alive = _dead_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [tmp_path / f".a.txt.{dead}.x1y2z3w4.part", tmp_path / f".a.txt.{dead}.folder00.part"]
        stale[0].write_bytes(b"killed while writing")
        stale[1].mkdir()
        (stale[1] / "model.npz").write_bytes(b"killed while writing a run")
        running = tmp_path / f".a.txt.{alive.pid}.q1w2e3r4.part"  # another process writing a.txt right now
        other = tmp_path / f".a.txt.1.{dead}.k1k2k3k4.part"  # a temporary of the file a.txt.1
        for path in (running, other):
            path.write_bytes(b"")
        with atomic_writer(tmp_path / "a.txt") as f:
            f.write(b"new")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.txt", running.name, other.name])
    finally:
        alive.kill()
        alive.wait()


def test_a_folder_appears_complete_or_not_at_all(tmp_path):
    target = tmp_path / "runs" / "run"
    with pytest.raises(KeyboardInterrupt), AtomicDirectory(target) as folder:
        (folder.tmp / "model.npz").write_bytes(b"weights")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # nor the parent it made
    AtomicDirectory(target).discard()  # what check_out_dir does before a run: a place that can be written
    assert list(tmp_path.iterdir()) == []
    with AtomicDirectory(target) as folder:
        assert folder.tmp.parent == target.parent and folder.tmp.name.endswith(".part")
        (folder.tmp / "model.npz").write_bytes(b"first")
    assert folder.path == target and (target / "model.npz").read_bytes() == b"first"


def test_an_existing_folder_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    with AtomicDirectory(target) as folder:  # an empty folder holds nothing to keep
        (folder.tmp / "m").write_bytes(b"first")
    for expected in ("run-1", "run-2"):
        with AtomicDirectory(target) as folder:
            (folder.tmp / "m").write_bytes(expected.encode())
        assert folder.path == tmp_path / expected and (folder.path / "m").read_bytes() == expected.encode()
    assert (target / "m").read_bytes() == b"first"
    with AtomicDirectory(target, overwrite=True) as folder:
        (folder.tmp / "n").write_bytes(b"replaced")
    assert folder.path == target and [p.name for p in target.iterdir()] == ["n"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run-1", "run-2"]


def test_a_folder_cannot_replace_a_file(tmp_path):
    (tmp_path / "run").write_text("a file")
    with pytest.raises(NotADirectoryError, match="run"):
        AtomicDirectory(tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_the_current_folder_by_its_name(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "notes").write_text("mine")
    monkeypatch.chdir(tmp_path / "here")
    with AtomicDirectory(".") as folder:  # "." is "here", which holds files: kept
        (folder.tmp / "m").write_bytes(b"run")
    assert folder.path == tmp_path / "here-1" and (tmp_path / "here" / "notes").read_text() == "mine"
