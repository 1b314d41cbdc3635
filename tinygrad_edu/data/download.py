"""Opt-in download of data files from public mirrors, checksum-verified and written atomically.

Nothing here touches the network unless called. urllib and tqdm are imported inside the functions so that
``import tinygrad_edu.data`` stays light.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .._atomic import atomic_writer

__all__ = ["DEFAULT_DEADLINE", "DEFAULT_MIRRORS", "MNIST_FILES", "DownloadError", "FileSpec", "download_file",
           "download_files"]

log = logging.getLogger(__name__)

#: Tried in order. The original yann.lecun.com host answers 403 nowadays, so it is not listed.
DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_CHUNK = 1 << 16

#: Seconds a `download_file` or `download_files` call may take in all (every mirror, every file): enough for
#: the four MNIST files (11.6 MB) at 13 kB/s. `timeout` bounds each network operation, which alone does not
#: stop a server that keeps sending a byte now and then.
DEFAULT_DEADLINE = 900.0


@dataclass(frozen=True)
class FileSpec:
    """What a downloaded file must be: its name on the mirrors, md5, sha256 and (if known) size in bytes."""

    name: str
    md5: str
    sha256: str
    size: int | None = None

    @classmethod
    def of_bytes(cls, name: str, data: bytes) -> FileSpec:
        """The spec matching `data` (to serve your own files from your own mirror)."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return cls(name, md5, hashlib.sha256(data).hexdigest(), len(data))


#: The four original MNIST files (LeCun, Cortes, Burges), md5 as published on the MNIST page.
MNIST_FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(
            "train-images-idx3-ubyte.gz",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            9912422,
        ),
        FileSpec(
            "train-labels-idx1-ubyte.gz",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            28881,
        ),
        FileSpec(
            "t10k-images-idx3-ubyte.gz",
            "9fb629c4189551a2d022fa330f9573f3",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            1648877,
        ),
        FileSpec(
            "t10k-labels-idx1-ubyte.gz",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            4542,
        ),
    )
}


class DownloadError(OSError):
    """No mirror delivered a file with the expected size and checksums. The message lists every attempt."""


class _MirrorFailed(Exception):
    """One mirror failed for a reason already phrased for the user."""


class _DeadlineReached(_MirrorFailed):
    """The call's deadline passed during this mirror's transfer."""


class _Deadline:
    """When a download call must end. A timer thread shuts down every socket the call opened at that moment,
    so that a read blocked on one returns at once, in the headers or in the body (a per-read timeout cannot
    do this: a server trickling a byte per read never trips it)."""

    def __init__(self, seconds: float | None) -> None:
        if seconds is not None and not seconds > 0:  # also refuses NaN
            raise ValueError(f"deadline must be a positive number of seconds, or None for no limit, got {seconds!r}")
        self.seconds = seconds
        self._end = math.inf if seconds is None else time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        # no timer for no limit (None or inf: a Timer cannot wait for ever)
        self._timer = None if math.isinf(self._end) else threading.Timer(self._end - time.monotonic(), self._expire)
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def __enter__(self) -> _Deadline:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    @property
    def reached(self) -> bool:
        return time.monotonic() >= self._end

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
        if self.reached:
            self._expire()

    def _expire(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # already closed
                    # the plain socket's shutdown, for TLS too: SSLSocket.shutdown would drop its TLS state
                    # under the thread reading from it
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _opener(deadline: _Deadline) -> Any:
    """urllib's default opener (proxies, redirects, HTTPS), but each connection it opens is watched by
    `deadline`."""
    import urllib.request

    class Watching:
        def do_open(self, http_class: type, req: Any, **kwargs: Any) -> Any:
            class Connection(http_class):  # type: ignore[valid-type, misc]
                def connect(self) -> None:
                    super().connect()
                    deadline.watch(self.sock)

            return super().do_open(Connection, req, **kwargs)  # type: ignore[misc]

    class HTTPHandler(Watching, urllib.request.HTTPHandler):
        pass

    handlers: list[type] = [HTTPHandler]
    if hasattr(urllib.request, "HTTPSHandler"):  # absent when Python was built without ssl

        class HTTPSHandler(Watching, urllib.request.HTTPSHandler):
            pass

        handlers.append(HTTPSHandler)
    return urllib.request.build_opener(*handlers)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        pass


def _progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is optional: no bar rather than no download
        return _NoBar()
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024)


def _fetch(url: str, out: BinaryIO, spec: FileSpec, timeout: float, progress: bool, deadline: _Deadline) -> None:
    """Stream `url` into `out`, checking length and checksums; raise _MirrorFailed with a reason."""
    import http.client
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_edu-data"})
    # `timeout` bounds the connection and every read, so a dead network fails in seconds, not minutes; no
    # more than the time left, so that connecting ends by the deadline too (and the TLS handshake: ssl applies
    # a socket's timeout to the whole handshake). The watched opener ends what comes after.
    with _opener(deadline).open(request, timeout=min(timeout, max(deadline.remaining(), 1e-3))) as response:
        announced = response.headers.get("Content-Length")
        announced = int(announced) if announced and announced.isdigit() else None
        if announced is not None and spec.size is not None and announced != spec.size:
            raise _MirrorFailed(f"server announces {announced} bytes, expected {spec.size}")
        md5, sha256, received = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
        with _progress_bar(announced or spec.size, spec.name, progress) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (http.client.IncompleteRead, OSError) as exc:  # resets, timeouts, a deadline's shutdown
                    if deadline.reached:
                        break
                    raise _MirrorFailed(
                        f"transfer interrupted after {received} bytes ({type(exc).__name__}: {exc})"
                    ) from exc
                if not chunk:
                    break
                received += len(chunk)
                if spec.size is not None and received > spec.size:
                    raise _MirrorFailed(f"server sends more than the expected {spec.size} bytes")
                md5.update(chunk)
                sha256.update(chunk)
                out.write(chunk)
                bar.update(len(chunk))
                if deadline.reached:
                    break
    expected = announced if announced is not None else spec.size
    if deadline.reached and received != expected:
        raise _DeadlineReached(f"{received} of {expected if expected is not None else '?'} bytes received")
    if expected is not None and received != expected:
        raise _MirrorFailed(f"truncated: received {received} of {expected} bytes (connection closed early)")
    bad = [
        f"{algo} {got} (expected {want})"
        for algo, got, want in (("md5", md5.hexdigest(), spec.md5), ("sha256", sha256.hexdigest(), spec.sha256))
        if got != want.lower()
    ]
    if bad:
        raise _MirrorFailed("checksum mismatch: " + ", ".join(bad))


def _reason(exc: BaseException, timeout: float) -> str:
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return f"no answer within {timeout:g} s"
        return f"cannot connect: {reason}"
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, _MirrorFailed):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def download_file(
    spec: FileSpec,
    dest_dir: str | os.PathLike[str],
    *,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    timeout: float = 10.0,
    deadline: float | None = DEFAULT_DEADLINE,
    progress: bool = True,
) -> Path:
    """Download `spec.name` into `dest_dir`, trying `mirrors` (base URLs) in order; return the file's path.

    The file appears only once its size, md5 and sha256 match `spec`; a failure or Ctrl-C leaves no
    partial file. If every mirror fails, `DownloadError` lists each URL with its reason. `timeout` bounds
    each network operation (connecting, each read), `deadline` the whole call, every mirror included
    (default `DEFAULT_DEADLINE`, 15 minutes; None: no limit): when it passes, the transfer is cut off and
    `DownloadError` says so.
    """
    with _Deadline(deadline) as clock:
        return _download(spec, dest_dir, mirrors, timeout, progress, clock)


def _download(
    spec: FileSpec, dest_dir: str | os.PathLike[str], mirrors: Sequence[str], timeout: float, progress: bool,
    deadline: _Deadline,
) -> Path:
    import http.client

    if not mirrors:
        raise ValueError("no mirrors given")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.name
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + spec.name
        try:
            with atomic_writer(target) as out:
                _fetch(url, out, spec, timeout, progress, deadline)
        except (_MirrorFailed, OSError, http.client.HTTPException, ValueError) as exc:
            # OSError covers URLError, HTTPError, timeouts and resets; ValueError a malformed mirror URL.
            if deadline.reached:  # no time left for another mirror
                detail = f" ({exc})" if isinstance(exc, _DeadlineReached) else ""
                failures.append(f"  - {url}: stopped at the deadline{detail}")
                raise DownloadError(
                    f"could not download {spec.name} into {dest_dir}: the deadline of {deadline.seconds:g} s was "
                    "reached:\n" + "\n".join(failures) + "\nOn a slow connection pass a longer deadline (seconds; "
                    f"None for no limit), or fetch the file by hand and put it in {dest_dir}."
                ) from exc
            failures.append(f"  - {url}: {_reason(exc, timeout)}")
            log.info("download of %s failed: %s", url, failures[-1])
            continue
        return target
    raise DownloadError(
        f"could not download {spec.name} into {dest_dir}: every mirror failed:\n"
        + "\n".join(failures)
        + f"\nCheck the network connection (and proxy settings), or fetch {spec.name} by hand "
        f"and put it in {dest_dir}."
    )


def download_files(
    dest_dir: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    *,
    specs: Mapping[str, FileSpec] = MNIST_FILES,
    mirrors: Sequence[str] = DEFAULT_MIRRORS,
    timeout: float = 10.0,
    deadline: float | None = DEFAULT_DEADLINE,
    progress: bool = True,
) -> list[Path]:
    """Download the files `names` (default: all of `specs`) that `dest_dir` does not hold yet.

    Files already present are not checked again. `specs` maps file names to their `FileSpec`. `timeout`
    and `deadline` as in `download_file`, the deadline covering all the files together.
    """
    paths = []
    with _Deadline(deadline) as clock:
        for name in specs if names is None else names:
            if name not in specs:
                raise KeyError(f"no checksums known for {name!r}: pass specs={{name: FileSpec(...)}}")
            target = Path(dest_dir) / name
            if not target.exists():
                _download(specs[name], dest_dir, mirrors, timeout, progress, clock)
            paths.append(target)
    return paths
