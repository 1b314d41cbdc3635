"""IDX fuzz: random headers, truncations, byte flips, trailing bytes, size claims far beyond the data, gzip or
not. Every input either parses to exactly what an independent reference decoder reads from its header and
payload, or raises IDXError naming the file; never another exception, never a large allocation."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tinygrad_edu.data import IDXError, read_idx

#: type code -> big-endian dtype, written out here rather than taken from the reader under test
REFERENCE_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: Beyond the data a file holds and its header asks for, the reader may allocate this much (read buffers).
SLACK = 3 << 20
#: A gzip member of zeros, several times SLACK, in a few kB: appended to a stream, it makes a gzip bomb.
BOMB = gzip.compress(bytes(3 * SLACK), mtime=0)
OUTCOMES = ("corrupt", "truncated", "bad magic", "type code", "0 dimensions", "trailing", "too large for numpy")


def inflate(content: bytes) -> tuple[bytes, bool]:
    """(the bytes a gzip stream inflates to, up to its first error if any; whether it has none)."""
    out = bytearray()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
            while chunk := stream.read(1 << 16):
                out += chunk
    except (OSError, EOFError, zlib.error):
        return bytes(out), False
    return bytes(out), True


def reference(content: bytes) -> tuple[np.ndarray | None, int]:
    """(what the file holds by the IDX definition, or None if it is not a valid IDX file; the number of bytes
    a reader may need to read, i.e. those its header promises, plus one, and that are there)."""
    sound = True
    if content[:2] == b"\x1f\x8b":
        content, sound = inflate(content)
    if len(content) < 4 or content[0] or content[1] or content[2] not in REFERENCE_TYPES or not content[3]:
        return None, 0
    ndim = content[3]
    if len(content) < 4 + 4 * ndim:
        return None, 0
    dims = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    dtype = np.dtype(REFERENCE_TYPES[content[2]])
    promised = 4 + 4 * ndim + int(np.prod(dims, dtype=object)) * dtype.itemsize
    needed = min(promised + 1, len(content))
    if not sound or len(content) != promised:
        return None, needed
    try:
        return np.frombuffer(content, dtype=dtype, offset=4 + 4 * ndim).reshape(dims), needed
    except ValueError:  # valid IDX, but numpy cannot index it (empty, with sizes like 2**32-1 × 2**32-1 × 0)
        return None, needed


@st.composite
def idx_files(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(file content, whether it is gzip): a valid IDX file, then damaged in a few random ways."""
    code = draw(st.sampled_from([*REFERENCE_TYPES, draw(st.integers(0, 255))]))
    dims = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    itemsize = np.dtype(REFERENCE_TYPES.get(code, ">u1")).itemsize
    payload = draw(st.binary(min_size=int(np.prod(dims)) * itemsize, max_size=int(np.prod(dims)) * itemsize))
    content = bytearray(bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload)
    claims = st.sampled_from([2**32 - 1, 2**31, 65535, 60000]) | st.integers(0, 2**32 - 1)
    for damage in draw(st.lists(st.sampled_from(["claim", "ndim", "magic", "flip", "cut", "append"]), max_size=3)):
        if damage == "claim" and content[3:4] != b"\0" and len(content) >= 8:  # a size far beyond the data
            at = 4 + 4 * draw(st.integers(0, min(content[3], (len(content) - 4) // 4) - 1))
            content[at : at + 4] = struct.pack(">I", draw(claims))
        elif damage == "ndim" and len(content) >= 4:
            content[3] = draw(st.integers(0, 255))
        elif damage == "magic" and len(content) >= 2:
            content[draw(st.integers(0, 1))] = draw(st.integers(1, 255))
        elif damage == "flip" and content:
            at = draw(st.integers(0, len(content) - 1))
            content[at] ^= draw(st.integers(1, 255))
        elif damage == "cut":
            del content[draw(st.integers(0, len(content))) :]
        elif damage == "append":
            content += draw(st.binary(min_size=1, max_size=8))
    if not draw(st.booleans()):
        return bytes(content), False
    packed = bytearray(gzip.compress(bytes(content), mtime=0))
    if draw(st.integers(0, 9)) == 0:  # a gzip bomb: a second member of megabytes of zeros after the data
        packed += BOMB
    for damage in draw(st.lists(st.sampled_from(["flip", "cut", "append"]), max_size=2)):  # damage the stream
        if damage == "flip":
            at = draw(st.integers(0, len(packed) - 1))
            packed[at] ^= draw(st.integers(1, 255))
        elif damage == "cut":
            del packed[draw(st.integers(2, len(packed))) :]  # keeps 1f 8b: still read as gzip
        else:
            packed += draw(st.binary(min_size=1, max_size=8))
    return bytes(packed), True


@pytest.mark.slow  # 600 files, 4-5 s
@settings(max_examples=600)
@given(file=idx_files())
@example(file=(bytes([0, 0, 0x08, 3]) + b"\xff" * 8 + bytes(4), False))  # 2**32-1 × 2**32-1 × 0: no numpy array
def test_fuzz_every_input_parses_exactly_or_raises_idx_error(
    tmp_path_factory: pytest.TempPathFactory, file: tuple[bytes, bool]
) -> None:
    content, compressed = file
    path = tmp_path_factory.mktemp("fuzz") / "f-idx-ubyte"
    path.write_bytes(content)
    expected, needed = reference(content)
    tracemalloc.start()
    try:
        array = read_idx(path)
    except IDXError as error:
        array, message = None, str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    outcome = "parsed" if array is not None else next(k for k in OUTCOMES if k in message)
    event(f"{'gzip' if compressed else 'raw'}: {outcome}")  # the mix of cases, with --hypothesis-show-statistics
    assert peak < 2 * needed + SLACK, f"{peak / 2**20:.1f} MiB allocated for {needed} bytes needed of {len(content)}"
    if expected is None:
        assert array is None, f"accepted an invalid file as {array!r}"
        assert message.startswith(f"{path}: ") and "\n" not in message
    else:
        assert array is not None, f"refused a valid file: {message}"
        assert array.dtype == expected.dtype.newbyteorder("=") and array.shape == expected.shape
        assert array.tobytes() == expected.astype(array.dtype).tobytes()  # bit for bit, NaNs included
        assert array.flags.writeable
