"""The downloader against a local http.server on 127.0.0.1: mirror fallback, truncation, bad checksums,
interrupted transfers, timeouts, Ctrl-C. Every failure must leave no partial or temporary file behind.
Nothing here may reach a non-loopback address (an autouse guard makes sure)."""

from __future__ import annotations

import contextlib
import gzip
import inspect
import io
import math
import re
import socket
import ssl
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
    """A local web server whose URL prefix picks the behaviour: /<behaviour>/<file name>; HTTPS with `tls`."""

    BEHAVIOURS = ("ok", "forbidden", "truncated", "corrupt", "cut", "slow", "trickle", "trickle-headers")
    #: seconds between two bytes of a trickling answer: each read gets a byte well within any timeout used here
    TRICKLE = 0.1

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.scheme = "https" if tls else "http"
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
                if behaviour.startswith("trickle"):  # one byte at a time, for ever, until the client hangs up
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    if behaviour == "trickle":
                        self.wfile.write(head)
                        head = b""
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        for i in range(len(head + body)):
                            self.wfile.write((head + body)[i : i + 1])
                            self.wfile.flush()
                            time.sleep(Mirrors.TRICKLE)
                    return
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
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, behaviour: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/{behaviour}/"

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


# --- the overall deadline -------------------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", ["trickle", "trickle-headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(
    tmp_path: Path, mirrors: Mirrors, spec: FileSpec, behaviour: str
) -> None:
    """A byte every 0.1 s never trips the 5 s per-read timeout; the 1 s deadline ends the call, in the body or
    in the headers, and the next mirror is not tried."""
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download_file(spec, tmp_path, mirrors=[mirrors.url(behaviour), mirrors.url("ok")], timeout=5.0, deadline=1.0,
                      progress=False)
    elapsed = time.monotonic() - start
    assert 1.0 <= elapsed < 2.5, f"took {elapsed:.1f} s"
    lines = str(err.value).splitlines()
    assert lines[0] == f"could not download {spec.name} into {tmp_path}: the deadline of 1 s was reached:"
    assert lines[1].startswith(f"  - {mirrors.url(behaviour)}{spec.name}: stopped at the deadline")
    if behaviour == "trickle":  # about 9 bytes in the second the body trickled
        assert re.search(rf"\(([1-9]\d*) of {spec.size} bytes received\)$", lines[1]), lines[1]
    assert lines[2] == "On a slow connection pass a longer deadline (seconds; None for no limit), or fetch the file " \
                       f"by hand and put it in {tmp_path}."
    assert len(mirrors.requests) == 1
    assert_empty(tmp_path)


def test_the_deadline_covers_every_file_of_download_files(tmp_path: Path, mirrors: Mirrors) -> None:
    specs = {name: mirrors.add(name, idx_bytes(np.arange(30, dtype=np.uint8))) for name in "abc"}
    start = time.monotonic()
    with pytest.raises(DownloadError, match="could not download a into .*: the deadline of 0.5 s was reached"):
        download_files(tmp_path, specs=specs, mirrors=[mirrors.url("trickle")], deadline=0.5, progress=False)
    assert time.monotonic() - start < 2.0
    assert mirrors.requests == ["/trickle/a"]
    assert_empty(tmp_path)


def test_a_download_within_the_deadline_and_the_default(tmp_path: Path, mirrors: Mirrors, spec: FileSpec) -> None:
    assert download_file(spec, tmp_path, mirrors=[mirrors.url("ok")], deadline=30, progress=False).is_file()
    assert download_module.DEFAULT_DEADLINE == 900.0
    for function in (download_file, download_files, load_mnist):
        assert inspect.signature(function).parameters["deadline"].default == download_module.DEFAULT_DEADLINE
    for unlimited in (None, math.inf):
        assert download_file(spec, tmp_path / str(unlimited), mirrors=[mirrors.url("ok")], deadline=unlimited,
                             progress=False).is_file()
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"deadline must be a positive number of seconds, or None for no limit"):
            download_file(spec, tmp_path, mirrors=[mirrors.url("ok")], deadline=bad)


def test_load_mnist_passes_the_deadline_on(isolated: Path, mirrors: Mirrors) -> None:
    specs = tiny_mnist(mirrors)
    with pytest.raises(DownloadError, match="the deadline of 0.5 s was reached"):
        load_mnist(isolated / "dl", download=True, mirrors=[mirrors.url("trickle")], specs=specs, deadline=0.5,
                   progress=False)
    assert_empty(isolated / "dl")


#: A self-signed certificate for 127.0.0.1 (valid 2000-2100) and its key, made for these tests with openssl:
#: the HTTPS mirror below is trusted by monkeypatching the default context, never by disabling verification.
TEST_CERTIFICATE = """-----BEGIN CERTIFICATE-----
MIIBXDCCAQKgAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAkxMjcuMC4w
LjEwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CTEyNy4wLjAuMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABNNOVQIQay7PGPFm
OQY+g84OyJo46twemSy0CkPAKg9OMZVDWIbC7lgtCaMW/5p1Na8sMezOgNf3z2BH
ZtFxmKejQzBBMA8GA1UdEQQIMAaHBH8AAAEwDwYDVR0TAQH/BAUwAwEB/zAdBgNV
HQ4EFgQUeiZzAniRp/MYtkrcVuxkip9eCcMwCgYIKoZIzj0EAwIDSAAwRQIhAMlP
L84oJxl5KkPTQ31gFY58CKneSSNfOOsP33lYWdEMAiBe6AoSXu23HnHiG83fruLf
FgSFkDkVxu1HTsdaw0dhKA==
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQnxwXokt3ZC0BKSF
jRnhpUqse8kVHRe/GW1z98pRGEOhRANCAATTTlUCEGsuzxjxZjkGPoPODsiaOOrc
HpkstApDwCoPTjGVQ1iGwu5YLQmjFv+adTWvLDHszoDX989gR2bRcZin
-----END PRIVATE KEY-----
"""


@pytest.fixture
def https_mirrors(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirrors]:
    keys = tmp_path_factory.mktemp("tls")
    (keys / "cert.pem").write_text(TEST_CERTIFICATE)
    (keys / "key.pem").write_text(TEST_KEY)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(keys / "cert.pem", keys / "key.pem")
    client_context = ssl.create_default_context(cafile=keys / "cert.pem")  # verifies, against the test's CA only
    monkeypatch.setattr(ssl, "_create_default_https_context", lambda: client_context)
    server = Mirrors(tls=server_context)
    yield server
    server.close()


def test_https_download_and_deadline(tmp_path: Path, https_mirrors: Mirrors) -> None:
    """The mirrors are HTTPS: the watched connections work over TLS, and the deadline cuts a TLS read short."""
    spec = https_mirrors.add("train-labels-idx1-ubyte.gz", idx_bytes(np.arange(200, dtype=np.uint8)))
    path = download_file(spec, tmp_path / "ok", mirrors=[https_mirrors.url("ok")], deadline=30, progress=False)
    assert path.read_bytes() == https_mirrors.files[spec.name]
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"the deadline of 1 s was reached:\n.*stopped at the deadline \([1-9]"):
        download_file(spec, tmp_path / "slow", mirrors=[https_mirrors.url("trickle")], timeout=5, deadline=1,
                      progress=False)
    assert time.monotonic() - start < 2.5
    assert_empty(tmp_path / "slow")


def test_the_deadline_cuts_a_trickled_tls_handshake(tmp_path: Path, spec: FileSpec) -> None:
    """A server that answers the TLS hello with the header of a 16 kB record, then one byte of it every 0.1 s:
    the 5 s per-operation timeout never trips, the call still ends at its 1 s deadline."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, contextlib.suppress(OSError):
            connection.sendall(b"\x16\x03\x03\x40\x00")  # handshake record, TLS 1.2, 16 384 bytes follow
            while not stop.wait(Mirrors.TRICKLE):
                connection.sendall(b"\x00")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError, match=r"the deadline of 1 s was reached:\n  - https://.*: stopped at the"):
            download_file(spec, tmp_path, mirrors=[url], timeout=5, deadline=1, progress=False)
        assert time.monotonic() - start < 2.5
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert_empty(tmp_path)
