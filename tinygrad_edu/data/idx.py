"""Read and write IDX files, the format MNIST is published in.

An IDX file is a 4-byte magic number ``00 00 <type code> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the values in C order, big-endian. The file may be gzip-compressed; that is told
by its first two bytes (1f 8b), never by its name.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .._atomic import atomic_writer

__all__ = ["IDX_TYPES", "IDXError", "parse_idx", "read_idx", "read_idx_header", "write_idx"]

GZIP_MAGIC = b"\x1f\x8b"

#: IDX type code -> (big-endian numpy dtype, name used in messages)
IDX_TYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(">u1"), "ubyte"),
    0x09: (np.dtype(">i1"), "sbyte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}

_CODES_TEXT = ", ".join(f"0x{code:02X} ({name})" for code, (_, name) in IDX_TYPES.items())


class IDXError(ValueError):
    """A file is not a valid IDX file: bad header, truncated, trailing bytes, or a corrupt gzip stream."""


def _fmt(n: int) -> str:
    """7856016 -> '7 856 016' (readable byte offsets in messages)."""
    return f"{n:,}".replace(",", " ")


#: Read at most this much at a time, so that memory follows the bytes actually present, not a header's claim.
_CHUNK = 1 << 20


class _Source:
    """A binary stream read in bounded chunks, counting the bytes it delivered (for error messages).

    `size` is the stream's total length when it is known without reading it (a regular raw file, bytes in
    memory), None for a gzip stream, whose length is known only once it has been inflated.
    """

    def __init__(self, stream: BinaryIO, size: int | None) -> None:
        self.stream, self.size, self.offset = stream, size, 0

    def read(self, n: int) -> bytearray:
        """Up to `n` bytes, fewer only at the end of the stream. A request for n bytes allocates them only as
        they arrive (a file object's read(n) would allocate all n at once)."""
        data = bytearray()
        while len(data) < n:
            chunk = self.stream.read(min(n - len(data), _CHUNK))
            if not chunk:
                break
            data += chunk
            self.offset += len(chunk)
        return data


def _parse_header(source: _Source, name: str, where: str) -> tuple[tuple[int, ...], np.dtype, str]:
    """(dimensions, big-endian dtype, type name) from an IDX stream's header, which it reads and no more."""
    magic = source.read(4)
    if len(magic) < 4:
        raise IDXError(
            f"{name}: truncated at byte {len(magic)} {where}: expected a 4-byte magic number 00 00 <type code> <ndim>"
        )
    zero0, zero1, code, ndim = magic
    if zero0 or zero1:
        raise IDXError(
            f"{name}: bad magic number {bytes(magic).hex(' ')} at byte 0: expected 00 00 <type code> <ndim>; "
            "this is not an IDX file (a gzip file would start with 1f 8b)"
        )
    if code not in IDX_TYPES:
        raise IDXError(f"{name}: unknown IDX type code 0x{code:02X} at byte 2: expected one of {_CODES_TEXT}")
    if ndim == 0:
        raise IDXError(f"{name}: 0 dimensions in the magic number at byte 3: expected at least 1")
    sizes = source.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IDXError(
            f"{name}: truncated at byte {4 + len(sizes)} {where}: the magic number promises {ndim} dimensions, "
            f"i.e. a {4 + 4 * ndim}-byte header (4 + {ndim}×4)"
        )
    return struct.unpack(f">{ndim}I", sizes), *IDX_TYPES[code]


def _parse(source: _Source, name: str, where: str) -> np.ndarray:
    """Decode an IDX stream, reading only what its header promises plus one byte (to detect trailing data)."""
    dims, dtype, type_name = _parse_header(source, name, where)
    header = source.offset
    count = math.prod(dims)
    nbytes = count * dtype.itemsize
    expected = header + nbytes
    promise = (
        f"header promises {'×'.join(map(str, dims))} {type_name} values = {_fmt(nbytes)} bytes "
        f"after the {header}-byte header ({_fmt(expected)} bytes in all)"
    )
    if source.size is not None and source.size < expected:  # known short: refused before reading the data
        raise IDXError(f"{name}: truncated at byte {_fmt(source.size)} {where}: {promise}")
    try:
        payload = source.read(nbytes)
    except MemoryError:  # the data is there, but more than this machine can hold
        raise IDXError(
            f"{name}: not enough memory after reading {_fmt(source.offset)} bytes {where}: {promise}"
        ) from None
    if len(payload) < nbytes:
        raise IDXError(f"{name}: truncated at byte {_fmt(header + len(payload))} {where}: {promise}")
    if source.read(1):
        extra = "unexpected trailing data" if source.size is None else (
            f"{_fmt(source.size - expected)} unexpected trailing bytes")
        raise IDXError(f"{name}: {extra} from byte {_fmt(expected)} {where}: {promise}")
    try:
        array = np.frombuffer(payload, dtype=dtype, count=count).reshape(dims)
    except ValueError:  # only with no values: sizes such as 2³²-1 × 2³²-1 × 0 overflow numpy's index type
        raise IDXError(
            f"{name}: the dimensions {'×'.join(map(str, dims))} in the header (bytes 4 to {header - 1}) describe an "
            "empty array too large for numpy to index"
        ) from None
    return array.astype(dtype.newbyteorder("="), copy=False)  # native order: no surprises downstream


def parse_idx(data: bytes | bytearray, name: str = "<bytes>", *, where: str = "of the data") -> np.ndarray:
    """Decode the (already decompressed) bytes of an IDX file into a writable array in native byte order.

    `name` and `where` only go into error messages ("truncated at byte N {where}").
    """
    return _parse(_Source(io.BytesIO(data), len(data)), name, where)


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[_Source, str]]:
    """The file as a _Source, decompressed if it is gzip (told by its first two bytes), with the `where` of its
    messages. A corrupt gzip stream raises IDXError naming the file."""
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not compressed:
            info = os.fstat(f.fileno())
            yield _Source(f, info.st_size if stat.S_ISREG(info.st_mode) else None), "of the file"
            return
        source = _Source(gzip.GzipFile(fileobj=f, mode="rb"), None)
        try:
            yield source, "of the decompressed data"
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise IDXError(
                f"{path}: corrupt or truncated gzip stream after {_fmt(source.offset)} bytes of decompressed "
                f"data ({exc}); the file is damaged: delete it and get it again"
            ) from exc


def read_idx_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and (native) dtype an IDX file declares, reading nothing past its header: to check a file
    before its data is read."""
    path = Path(path)
    with _opened(path) as (source, where):
        dims, dtype, _ = _parse_header(source, str(path), where)
    return dims, dtype.newbyteorder("=")


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a writable numpy array in native byte order.

    Every byte is accounted for: header, dimensions, data length and no trailing bytes. Only as much is
    read (and, for gzip, inflated) as the header promises, plus one byte to detect trailing data, so a
    small file cannot make it allocate more than its header's claim, nor more than the data it holds. If
    `ndim` is given, the file must have that many dimensions (checked before the data is read). Problems
    raise `IDXError` naming the file.
    """
    path = Path(path)
    if ndim is not None and len(shape := read_idx_header(path)[0]) != ndim:
        raise IDXError(f"{path}: has {len(shape)} dimensions ({'×'.join(map(str, shape))}), expected {ndim}")
    with _opened(path) as (source, where):
        return _parse(source, str(path), where)


def _type_code(dtype: np.dtype) -> int:
    for code, (idx_dtype, _) in IDX_TYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    raise TypeError(
        f"IDX cannot store dtype {dtype}: supported are uint8, int8, int16, int32, float32, float64; "
        "convert with array.astype(...) first"
    )


def write_idx(path: str | os.PathLike[str], array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write `array` as an IDX file, atomically; gzip-compressed if `compress` (default: name ends in .gz).

    The dtype picks the IDX type code (uint8, int8, int16, int32, float32, float64). Returns the path.
    """
    path = Path(path)
    array = np.asarray(array)
    code = _type_code(array.dtype)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores 1 to 255 dimensions, got an array with {array.ndim}")
    if any(d >= 2**32 for d in array.shape):
        raise ValueError(f"IDX dimension sizes must fit in 32 bits, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_TYPES[code][0]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    with atomic_writer(path) as f:
        if compress:
            # mtime=0 makes the output reproducible byte for byte
            with gzip.GzipFile(filename=path.name, fileobj=f, mode="wb", compresslevel=6, mtime=0) as gz:
                gz.write(header)
                gz.write(payload)
        else:
            f.write(header)
            f.write(payload)
    return path
