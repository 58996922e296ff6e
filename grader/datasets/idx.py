"""Read the idx file format of MNIST and Fashion-MNIST (optionally gzipped).

Why here: instructors point ``grader data --source`` at the full MNIST files (for instance Debian's
``dataset-fashion-mnist``), which are in this format; numpy reads it without another dependency.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from grader.datasets.manifest import DataError

# third magic byte -> element type (the idx specification's table; multi-byte types are big-endian)
_IDX_TYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an idx file; ``.gz`` files are decompressed on the fly."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an idx file (the first two bytes must be zero)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown idx element type 0x{type_code:02x}")
    header_end = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_end:
        raise DataError(f"{path}: truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise DataError(
            f"{path}: header says shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header_end}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)


def write_idx(array: np.ndarray, path: Path) -> None:
    """Write an unsigned-byte idx file (used by tests and by instructors preparing a subset)."""
    values = np.asarray(array)
    if values.dtype != np.uint8:
        raise DataError(f"write_idx writes uint8 arrays only, got {values.dtype}")
    header = bytes([0, 0, 0x08, values.ndim]) + b"".join(d.to_bytes(4, "big") for d in values.shape)
    data = header + values.tobytes()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def find_idx(directory: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in a directory, accepting the ``idx3.`` dot variant some mirrors use."""
    for name in (stem, stem.replace("-idx", ".idx")):
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None
