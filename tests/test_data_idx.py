"""IDX reading/writing: round trips for every type code, and every validation error with its message."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_edu.data import IDXError, read_idx, write_idx
from tinygrad_edu.data import idx as idx_module
from tinygrad_edu.data.idx import IDX_TYPES, read_idx_header

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def raw_idx(code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def put(tmp_path: Path, name: str, content: bytes, *, gz: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", [".gz", ""])
def test_round_trip_every_dtype(tmp_path: Path, dtype: type, suffix: str) -> None:
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True, dtype=dtype)
    else:
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0] = 0  # arrays handed out are writable
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(
        dtype=st.sampled_from([np.dtype(d) for d in DTYPES]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    ),
    compress=st.booleans(),
)
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, array: np.ndarray, compress: bool) -> None:
    path = write_idx(tmp_path_factory.mktemp("idx") / "x.idx", array, compress=compress)
    np.testing.assert_array_equal(read_idx(path), array)  # NaNs compare equal here


def test_big_endian_on_disk_and_type_codes(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "x", np.array([1, 258], dtype=np.int16))
    assert path.read_bytes() == bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0, 1, 1, 2])
    assert sorted(IDX_TYPES) == [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]


def test_detects_gzip_by_content_not_name(tmp_path: Path) -> None:
    content = raw_idx(0x08, (3,), b"\x01\x02\x03")
    raw_named_gz = put(tmp_path, "labels.gz", content)
    gz_named_raw = put(tmp_path, "labels-idx1-ubyte", content, gz=True)
    for path in (raw_named_gz, gz_named_raw):
        np.testing.assert_array_equal(read_idx(path), [1, 2, 3])


def test_write_rejects_unsupported_dtype(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="IDX cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3))
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        write_idx(tmp_path / "x", np.uint8(3))
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C during the write leaves the old file untouched and no temporary file."""
    target = write_idx(tmp_path / "x.gz", np.arange(4, dtype=np.uint8))
    before = target.read_bytes()

    def interrupted(self: gzip.GzipFile, data: bytes) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(gzip.GzipFile, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_idx(target, np.arange(10, dtype=np.uint8))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]


# --- validation errors: each message names the file, the byte offset and what was expected -------------


@pytest.mark.parametrize("gz", [False, True])
def test_bad_magic(tmp_path: Path, gz: bool) -> None:
    path = put(tmp_path, "f.idx", b"\x01\x00\x08\x01" + b"\x00" * 8, gz=gz)
    with pytest.raises(IDXError, match=r"f\.idx: bad magic number 01 00 08 01 at byte 0: expected 00 00"):
        read_idx(path)


def test_html_page_is_not_idx(tmp_path: Path) -> None:
    path = put(tmp_path, "train-images-idx3-ubyte.gz", b"<html>403 Forbidden</html>")
    with pytest.raises(IDXError, match=r"bad magic number 3c 68 74 6d at byte 0.*not an IDX file"):
        read_idx(path)


def test_bad_type_code(tmp_path: Path) -> None:
    path = put(tmp_path, "f.idx", raw_idx(0x0A, (1,), b"\x00"))
    with pytest.raises(IDXError, match=r"f\.idx: unknown IDX type code 0x0A at byte 2: expected one of 0x08 \(ubyte\)"):
        read_idx(path)


def test_zero_dimensions(tmp_path: Path) -> None:
    path = put(tmp_path, "f.idx", b"\x00\x00\x08\x00")
    with pytest.raises(IDXError, match="0 dimensions in the magic number at byte 3: expected at least 1"):
        read_idx(path)


def test_wrong_ndim(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))
    with pytest.raises(IDXError, match=r"labels\.gz: has 1 dimensions \(5\), expected 3"):
        read_idx(path, ndim=3)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x00", "truncated at byte 2 of the file: expected a 4-byte magic number"),
        (
            b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02" * 2,
            "truncated at byte 12 of the file: the magic number promises 3 dimensions, i.e. a 16-byte header",
        ),
    ],
)
def test_truncated_header(tmp_path: Path, content: bytes, message: str) -> None:
    with pytest.raises(IDXError, match=message):
        read_idx(put(tmp_path, "f.idx", content))


def test_truncated_data_message_matches_mnist_case(tmp_path: Path) -> None:
    """The MNIST test images cut 100 bytes short: the message gives offset, dims and sizes."""
    header = raw_idx(0x08, (10000, 28, 28), b"")
    path = put(tmp_path, "t10k-images-idx3-ubyte.gz", header + bytes(10000 * 784 - 100), gz=True)
    with pytest.raises(IDXError) as err:
        read_idx(path)
    assert str(err.value) == (
        f"{path}: truncated at byte 7 839 916 of the decompressed data: header promises 10000×28×28 ubyte "
        "values = 7 840 000 bytes after the 16-byte header (7 840 016 bytes in all)"
    )


def test_truncated_float_data(tmp_path: Path) -> None:
    path = put(tmp_path, "f.idx", raw_idx(0x0D, (2, 2), bytes(15)))
    with pytest.raises(IDXError, match="truncated at byte 27 of the file: header promises 2×2 float values = 16 bytes"):
        read_idx(path)


def test_trailing_garbage(tmp_path: Path) -> None:
    """A raw file's size is known, so the message counts the extra bytes; a gzip stream is not inflated past
    the first extra byte, so its message cannot."""
    content = raw_idx(0x08, (3,), b"\x01\x02\x03") + b"junk"
    with pytest.raises(IDXError, match=r"f\.idx: 4 unexpected trailing bytes from byte 11 of the file: header"):
        read_idx(put(tmp_path, "f.idx", content))
    with pytest.raises(IDXError, match=r"g\.idx: unexpected trailing data from byte 11 of the decompressed data: "):
        read_idx(put(tmp_path, "g.idx", content, gz=True))


@pytest.mark.parametrize(
    ("mangle", "detail"),
    [
        (lambda b: b[: len(b) // 2], "Compressed file ended"),  # cut download
        (lambda b: b[:10] + bytes(len(b) - 10), "invalid"),  # zeroed deflate data
        (lambda b: b[:-8] + bytes(4) + b[-4:], "CRC check failed"),  # flipped checksum
    ],
)
def test_corrupt_gzip(tmp_path: Path, mangle: object, detail: str) -> None:
    good = gzip.compress(raw_idx(0x08, (2000,), bytes(range(250)) * 8))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(mangle(good))  # type: ignore[operator]
    with pytest.raises(IDXError) as err:
        read_idx(path)
    text = str(err.value)
    assert text.startswith(f"{path}: corrupt or truncated gzip stream after ")
    assert detail in text and "delete it and get it again" in text


# --- bounded reading: what is allocated is bounded by what the header promises and the file holds ------


def peak_bytes(fn: object) -> tuple[BaseException | None, int]:
    """(the exception fn raised or None, the peak of Python allocations while it ran, in bytes)."""
    tracemalloc.start()
    try:
        fn()  # type: ignore[operator]
    except Exception as exc:  # returned, so that the caller asserts on it
        return exc, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return None, 0


def test_gzip_bomb_is_not_decompressed(tmp_path: Path) -> None:
    """A 66 kB gzip file whose header promises 18 bytes but which inflates to 64 MiB: read_idx stops after
    byte 19 of the decompressed data instead of inflating it all (before: 64 MiB allocated)."""
    member = gzip.compress(bytes(1 << 20), mtime=0)  # one zero-filled MiB, about 1 kB compressed
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(raw_idx(0x08, (10,), bytes(10)), mtime=0) + member * 64)
    error, peak = peak_bytes(lambda: read_idx(path))
    assert peak < 4 << 20, f"{peak / 2**20:.0f} MiB allocated"
    assert isinstance(error, IDXError)
    assert str(error) == (
        f"{path}: unexpected trailing data from byte 18 of the decompressed data: header promises 10 ubyte "
        "values = 10 bytes after the 8-byte header (18 bytes in all)"
    )


@pytest.mark.parametrize("gz", [False, True])
def test_size_claim_beyond_the_data_allocates_nothing_large(tmp_path: Path, gz: bool) -> None:
    """A header promising 60 000×65 535×65 535 doubles (2 PB) over 10 bytes of data: truncated, reported
    without allocating what was promised."""
    path = put(tmp_path, "f.idx", raw_idx(0x0E, (60000, 65535, 65535), bytes(10)), gz=gz)
    error, peak = peak_bytes(lambda: read_idx(path))
    where = "of the decompressed data" if gz else "of the file"
    assert isinstance(error, IDXError) and str(error).startswith(
        f"{path}: truncated at byte 26 {where}: header promises 60000×65535×65535 double values = "
    )
    assert peak < 4 << 20, f"{peak / 2**20:.0f} MiB allocated"


def test_empty_array_too_large_for_numpy(tmp_path: Path) -> None:
    """2³²-1 × 2³²-1 × 0 is a valid IDX header with no data, but numpy cannot index such an array."""
    path = put(tmp_path, "f.idx", raw_idx(0x08, (2**32 - 1, 2**32 - 1, 0), b""))
    with pytest.raises(IDXError) as err:
        read_idx(path)
    assert str(err.value) == (
        f"{path}: the dimensions 4294967295×4294967295×0 in the header (bytes 4 to 15) describe an empty array "
        "too large for numpy to index"
    )
    np.testing.assert_array_equal(read_idx(put(tmp_path, "g.idx", raw_idx(0x08, (2**31, 0), b""))), np.zeros((2**31, 0)))


def test_out_of_memory_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Data that is there but does not fit in memory: an IDXError naming the file, not a bare MemoryError."""
    path = put(tmp_path, "f.idx", raw_idx(0x08, (4, 5), bytes(20)), gz=True)
    real_read = idx_module._Source.read

    def read(self: idx_module._Source, n: int) -> bytearray:
        if n > 8:
            raise MemoryError
        return real_read(self, n)

    monkeypatch.setattr(idx_module._Source, "read", read)
    with pytest.raises(IDXError) as err:
        read_idx(path)
    assert str(err.value).startswith(
        f"{path}: not enough memory after reading 12 bytes of the decompressed data: header promises 4×5 ubyte values"
    )


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_header_reads_only_the_header(tmp_path: Path, gz: bool) -> None:
    """The shape a header declares, whatever follows: here 60 000×28×28 ubyte over 3 bytes of data."""
    path = put(tmp_path, "f.idx", raw_idx(0x08, (60000, 28, 28), b"abc"), gz=gz)
    assert read_idx_header(path) == ((60000, 28, 28), np.dtype(np.uint8))
    assert read_idx_header(write_idx(tmp_path / "g.idx", np.zeros((2, 3), dtype=">f8"))) == ((2, 3), np.float64)
    with pytest.raises(IDXError, match=r"f\.idx: has 3 dimensions \(60000×28×28\), expected 1"):
        read_idx(path, ndim=1)  # refused from the header, before the data is found missing
    with pytest.raises(IDXError, match=r"h\.idx: bad magic number"):
        read_idx_header(put(tmp_path, "h.idx", b"\x01\x02\x03\x04", gz=gz))
