"""Damaged and hostile model files for the tests: archives rewritten member by member, headers that lie."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def npy(array: np.ndarray) -> bytes:
    """The bytes of `array` as a .npy file (what np.savez stores in each member)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], dtype: str, data: bytes = b"") -> bytes:
    """A .npy file whose header claims `shape` and `dtype`, followed by `data` (what it really holds)."""
    buffer = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


def rewrite(src: Path, dst: Path, replace: Mapping[str, bytes] | None = None, drop: tuple[str, ...] = (),
            compress_type: int = zipfile.ZIP_STORED) -> Path:
    """Copy the archive `src` to `dst`, with members replaced or added (`replace`: member name -> bytes), some
    dropped, and every member compressed with `compress_type`."""
    replace = dict(replace or {})
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", compression=compress_type) as new:
        for info in old.infolist():
            if info.filename not in drop:
                new.writestr(info.filename, replace.pop(info.filename, None) or old.read(info))
        for name, data in replace.items():
            new.writestr(name, data)
    return dst


def with_config(src: Path, dst: Path, config: object, cls: str | None = None) -> Path:
    """`src` with its `__config__` (and `__class__`, if given) replaced."""
    text = config if isinstance(config, str) else json.dumps(config)
    members = {"__config__.npy": npy(np.array(text))}
    if cls is not None:
        members["__class__.npy"] = npy(np.array(cls))
    return rewrite(src, dst, members)


def config_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive, archive.open("__config__.npy") as f:
        return json.loads(str(np.lib.format.read_array(f)))


def deflate_bomb(src: Path, dst: Path, nbytes: int, name: str = "junk.npy") -> Path:
    """`src` plus a member `name` holding a .npy array of `nbytes` zero bytes, deflated (about 1000 times smaller)."""
    rewrite(src, dst)
    with zipfile.ZipFile(dst, "a") as archive:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=nbytes > 2**31) as f:
            f.write(npy_header((nbytes,), "|u1"))
            chunk = bytes(1 << 20)
            for start in range(0, nbytes, len(chunk)):
                f.write(chunk[: nbytes - start])
    return dst


def set_central_field(path: Path, member: str, **fields: int) -> Path:
    """Change fields of `member`'s entry in the central directory in place (`flag_bits`, `compress_type`), as
    a damaged or hand-made archive has them; its data and local header stay as they are."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.find(b"PK\x01\x02")  # each central directory entry: 46 bytes of fields, then the name
    while at != -1 and data[at + 46:at + 46 + int.from_bytes(data[at + 28:at + 30], "little")] != name:
        at = data.find(b"PK\x01\x02", at + 4)
    assert at != -1, f"no central directory entry for {member}"
    offsets = {"flag_bits": 8, "compress_type": 10}
    for field, value in fields.items():
        data[at + offsets[field]:at + offsets[field] + 2] = value.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path
