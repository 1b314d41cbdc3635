"""The downloader against a local http.server on 127.0.0.1: mirror fallback, truncation, bad checksums,
interrupted transfers, timeouts, Ctrl-C. Every failure must leave no partial or temporary file behind.
Nothing here may reach a non-loopback address (an autouse guard makes sure)."""

from __future__ import annotations

import contextlib
import gzip
import io
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.data import DownloadError, FileSpec, download_file, download_files, load_mnist, write_idx
from tinygrad_edu.data import download as download_module
from tinygrad_edu.data.mnist import MNIST_FILENAMES

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to connect anywhere but loopback (http.client connects via this function)."""
    real = socket.create_connection

    def guarded(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] not in LOOPBACK:
            raise AssertionError(f"test tried to reach {address[0]}: tests must stay on loopback")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file as gzip bytes, built by hand (independently of write_idx)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


class Mirrors:
    """A local web server whose URL prefix picks the behaviour: /<behaviour>/<file name>."""

    BEHAVIOURS = ("ok", "forbidden", "truncated", "corrupt", "cut", "slow")

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        mirrors = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                mirrors.requests.append(self.path)
                _, behaviour, name = self.path.split("/", 2)
                body = mirrors.files.get(name)
                if behaviour == "forbidden" or body is None:
                    self.send_error(403 if body is not None else 404)
                    return
                if behaviour == "slow":
                    time.sleep(0.5)
                if behaviour == "cut":  # chunked body, connection closed in the middle of the chunk
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(f"{len(body):x}\r\n".encode() + body[: len(body) // 2])
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if behaviour == "truncated":  # promises len(body), sends half, closes
                    body = body[: len(body) // 2]
                elif behaviour == "corrupt":  # same length, one byte changed
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/"

    def add(self, name: str, content: bytes) -> FileSpec:
        self.files[name] = content
        return FileSpec.of_bytes(name, content)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mirrors() -> Iterator[Mirrors]:
    server = Mirrors()
    yield server
    server.close()


@pytest.fixture
def spec(mirrors: Mirrors) -> FileSpec:
    """A 100×28×28 random-pixel images file (about 78 kB, more than one read chunk)."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    return mirrors.add("train-images-idx3-ubyte.gz", idx_bytes(pixels))


def closed_port_url() -> str:
    """A loopback URL nobody listens on: connection refused at once (like an offline machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def assert_empty(directory: Path) -> None:
    assert sorted(p.name for p in directory.iterdir()) == [], "a partial or temporary file was left behind"


def test_success_with_progress_bar(
    tmp_path: Path, mirrors: Mirrors, spec: FileSpec, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    path = download_file(spec, tmp_path / "new" / "dir", mirrors=[mirrors.url("ok")], progress=True)
    assert path == tmp_path / "new" / "dir" / spec.name
    assert path.read_bytes() == mirrors.files[spec.name]
    assert [p.name for p in path.parent.iterdir()] == [spec.name]
    err = capsys.readouterr().err
    assert spec.name in err and "100%" in err  # the tqdm bar went to stderr and finished


def test_forbidden_mirror_then_good_one(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    path = download_file(spec, tmp_path, mirrors=[mirrors.url("forbidden"), mirrors.url("ok")], progress=False)
    assert path.read_bytes() == mirrors.files[spec.name]
    assert mirrors.requests == [f"/forbidden/{spec.name}", f"/ok/{spec.name}"]
    assert [p.name for p in tmp_path.iterdir()] == [spec.name]


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("forbidden", "HTTP 403 Forbidden"),
        ("truncated", r"truncated: received 39\d\d\d of 78\d\d\d bytes \(connection closed early\)"),
        ("corrupt", r"checksum mismatch: md5 [0-9a-f]{32} \(expected [0-9a-f]{32}\), sha256 [0-9a-f]{64} \(expected"),
        ("cut", r"transfer interrupted after \d+ bytes \(IncompleteRead"),
    ],
)
def test_failing_mirror(tmp_path: Path, mirrors: Mirrors, spec: FileSpec, behaviour: str, reason: str) -> None:
    with pytest.raises(DownloadError, match=reason) as err:
        download_file(spec, tmp_path, mirrors=[mirrors.url(behaviour)], progress=False)
    assert f"could not download {spec.name} into {tmp_path}: every mirror failed" in str(err.value)
    assert f"- {mirrors.url(behaviour)}{spec.name}: " in str(err.value)
    assert_empty(tmp_path)


def test_all_mirrors_fail_reports_each_reason(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    refused = closed_port_url()
    urls = [mirrors.url("forbidden"), refused, mirrors.url("truncated"), mirrors.url("corrupt")]
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_file(spec, tmp_path, mirrors=urls, progress=False)
    assert time.monotonic() - start < 5  # an unreachable mirror fails fast
    lines = str(err.value).splitlines()
    assert lines[1:5] == [
        f"  - {urls[0]}{spec.name}: HTTP 403 Forbidden",
        lines[2],
        lines[3],
        lines[4],
    ]
    assert lines[2].startswith(f"  - {refused}{spec.name}: cannot connect: ") and "refused" in lines[2]
    assert "truncated" in lines[3] and "checksum mismatch" in lines[4]
    assert "Check the network connection" in lines[-1]
    assert_empty(tmp_path)


def test_unresponsive_mirror_times_out(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    with pytest.raises(DownloadError, match=r"no answer within 0\.1 s"):
        download_file(spec, tmp_path, mirrors=[mirrors.url("slow")], timeout=0.1, progress=False)
    assert_empty(tmp_path)


def test_ctrl_c_mid_transfer_leaves_nothing(
    tmp_path: Path, mirrors: Mirrors, spec: FileSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    class InterruptingBar:
        """Stands in for tqdm: the user presses Ctrl-C after the first chunk."""

        def __enter__(self) -> InterruptingBar:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def update(self, n: int) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "_progress_bar", lambda *args: InterruptingBar())
    with pytest.raises(KeyboardInterrupt):  # not swallowed, and the next mirror is not tried
        download_file(spec, tmp_path, mirrors=[mirrors.url("ok"), mirrors.url("ok")])
    assert len(mirrors.requests) == 1
    assert_empty(tmp_path)


def test_existing_file_is_replaced_only_on_success(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    old = tmp_path / spec.name
    old.write_bytes(b"old")
    with pytest.raises(DownloadError):
        download_file(spec, tmp_path, mirrors=[mirrors.url("truncated")], progress=False)
    assert old.read_bytes() == b"old"
    download_file(spec, tmp_path, mirrors=[mirrors.url("ok")], progress=False)
    assert old.read_bytes() == mirrors.files[spec.name]


def test_wrong_announced_size_is_rejected_early(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    wrong = FileSpec(spec.name, spec.md5, spec.sha256, size=spec.size + 1)  # type: ignore[operator]
    with pytest.raises(DownloadError, match=rf"server announces {spec.size} bytes, expected {wrong.size}"):
        download_file(wrong, tmp_path, mirrors=[mirrors.url("ok")], progress=False)
    assert_empty(tmp_path)


def test_download_files_skips_present_files(tmp_path: Path, mirrors: Mirrors) -> None:
    specs = {name: mirrors.add(name, idx_bytes(np.arange(i + 1, dtype=np.uint8))) for i, name in enumerate("ab")}
    (tmp_path / "a").write_bytes(b"already here")
    paths = download_files(tmp_path, specs=specs, mirrors=[mirrors.url("ok")], progress=False)
    assert paths == [tmp_path / "a", tmp_path / "b"]
    assert mirrors.requests == ["/ok/b"]
    with pytest.raises(KeyError, match="no checksums known for 'c'"):
        download_files(tmp_path, ["c"], specs=specs)


def tiny_mnist(mirrors: Mirrors) -> dict[str, FileSpec]:
    """Four synthetic MNIST-format files (5 train, 3 test images of 4×4) served by the mirror."""
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, size=(5, 4, 4)),
        "train_labels": np.array([5, 0, 4, 1, 9]),
        "test_images": rng.integers(0, 256, size=(3, 4, 4)),
        "test_labels": np.array([7, 2, 1]),
    }
    return {MNIST_FILENAMES[role]: mirrors.add(MNIST_FILENAMES[role], idx_bytes(a)) for role, a in arrays.items()}


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real data directory is visible: empty cwd, no $TINYGRAD_EDU_DATA, cache under tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_load_mnist_download_into_cache_then_offline(isolated: Path, mirrors: Mirrors) -> None:
    specs = tiny_mnist(mirrors)
    ds = load_mnist(download=True, mirrors=[mirrors.url("forbidden"), mirrors.url("ok")], specs=specs, progress=False)
    cache = isolated / "cache" / "tinygrad_edu" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(specs)
    assert ds.X_train.shape == (5, 16) and ds.y_test.tolist() == [7, 2, 1] and ds.source == str(cache)
    served = len(mirrors.requests)
    again = load_mnist(download=True, mirrors=[mirrors.url("ok")], specs=specs)  # found: no network
    assert len(mirrors.requests) == served
    np.testing.assert_array_equal(again.X_train, ds.X_train)


def test_load_mnist_downloads_into_env_dir(isolated: Path, mirrors: Mirrors, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = tiny_mnist(mirrors)
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(isolated / "env"))
    ds = load_mnist(download=True, mirrors=[mirrors.url("ok")], specs=specs, progress=False)
    assert ds.source == str(isolated / "env") and sorted(p.name for p in (isolated / "env").iterdir()) == sorted(specs)


def test_load_mnist_downloads_only_missing_files_into_data_dir(isolated: Path, mirrors: Mirrors) -> None:
    specs = tiny_mnist(mirrors)
    target = isolated / "mine"
    target.mkdir()
    present = MNIST_FILENAMES["test_labels"]
    (target / present).write_bytes(mirrors.files[present])
    load_mnist(target, download=True, mirrors=[mirrors.url("ok")], specs=specs, progress=False)
    assert sorted(mirrors.requests) == sorted(f"/ok/{n}" for n in specs if n != present)


def test_load_mnist_download_failure_is_reported(isolated: Path, mirrors: Mirrors) -> None:
    specs = tiny_mnist(mirrors)
    with pytest.raises(DownloadError, match="HTTP 403 Forbidden"):
        load_mnist(isolated / "dl", download=True, mirrors=[mirrors.url("forbidden")], specs=specs)
    assert_empty(isolated / "dl")


def test_idx_bytes_helper_agrees_with_write_idx(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = write_idx(tmp_path / "x.gz", array)
    assert gzip.decompress(path.read_bytes()) == gzip.decompress(idx_bytes(array))
    assert io.BytesIO(idx_bytes(array)).read(2) == b"\x1f\x8b"
