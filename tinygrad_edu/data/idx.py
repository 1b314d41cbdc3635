"""Read and write IDX files, the format MNIST is published in.

An IDX file is a 4-byte magic number ``00 00 <type code> <ndim>``, then ``ndim`` big-endian uint32
dimension sizes, then the values in C order, big-endian. The file may be gzip-compressed; that is told
by its first two bytes (1f 8b), never by its name.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._atomic import atomic_writer

__all__ = ["IDX_TYPES", "IDXError", "parse_idx", "read_idx", "write_idx"]

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


def parse_idx(data: bytes | bytearray, name: str = "<bytes>", *, where: str = "of the data") -> np.ndarray:
    """Decode the (already decompressed) bytes of an IDX file into an array in native byte order.

    `name` and `where` only go into error messages ("truncated at byte N {where}").
    """
    size = len(data)
    if size < 4:
        raise IDXError(
            f"{name}: truncated at byte {_fmt(size)} {where}: expected a 4-byte magic number 00 00 <type code> <ndim>"
        )
    zero0, zero1, code, ndim = data[:4]
    if zero0 or zero1:
        raise IDXError(
            f"{name}: bad magic number {bytes(data[:4]).hex(' ')} at byte 0: expected 00 00 <type code> <ndim>; "
            "this is not an IDX file (a gzip file would start with 1f 8b)"
        )
    if code not in IDX_TYPES:
        raise IDXError(f"{name}: unknown IDX type code 0x{code:02X} at byte 2: expected one of {_CODES_TEXT}")
    if ndim == 0:
        raise IDXError(f"{name}: 0 dimensions in the magic number at byte 3: expected at least 1")
    header = 4 + 4 * ndim
    if size < header:
        raise IDXError(
            f"{name}: truncated at byte {_fmt(size)} {where}: the magic number promises {ndim} dimensions, "
            f"i.e. a {header}-byte header (4 + {ndim}×4)"
        )
    dims = struct.unpack(f">{ndim}I", bytes(data[4:header]))
    dtype, type_name = IDX_TYPES[code]
    count = math.prod(dims)
    expected = header + count * dtype.itemsize
    promise = (
        f"header promises {'×'.join(map(str, dims))} {type_name} values = {_fmt(count * dtype.itemsize)} bytes "
        f"after the {header}-byte header ({_fmt(expected)} bytes in all)"
    )
    if size < expected:
        raise IDXError(f"{name}: truncated at byte {_fmt(size)} {where}: {promise}")
    if size > expected:
        raise IDXError(
            f"{name}: {_fmt(size - expected)} unexpected trailing bytes from byte {_fmt(expected)} {where}: {promise}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    array = array.astype(dtype.newbyteorder("="), copy=False)  # native order: no surprises downstream
    return array if array.flags.writeable else array.copy()


def _read_bytes(path: Path) -> tuple[bytearray | bytes, bool]:
    """Return (decompressed content, was_gzip). Corrupt gzip streams raise IDXError naming the file."""
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not compressed:
            return f.read(), False
        data = bytearray()
        try:
            with gzip.GzipFile(fileobj=f, mode="rb") as gz:
                while chunk := gz.read(1 << 20):
                    data += chunk
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise IDXError(
                f"{path}: corrupt or truncated gzip stream after {_fmt(len(data))} bytes of decompressed data "
                f"({exc}); the file is damaged: delete it and get it again"
            ) from exc
        return data, True


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a numpy array in native byte order.

    Every byte is accounted for: header, dimensions, data length and no trailing bytes. If `ndim` is
    given, the file must have that many dimensions. Problems raise `IDXError` naming the file.
    """
    path = Path(path)
    data, compressed = _read_bytes(path)
    where = "of the decompressed data" if compressed else "of the file"
    array = parse_idx(data, str(path), where=where)
    if ndim is not None and array.ndim != ndim:
        raise IDXError(f"{path}: has {array.ndim} dimensions ({'×'.join(map(str, array.shape))}), expected {ndim}")
    return array


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
