"""Byte-stable writers for data files (MANIFEST.json, which lists them, is grader.datasets.manifest).

Why: ``grader data`` must give the same bytes for the same inputs (the manifest's hashes feed the
result's ``content_hash`` and the stale-``expected.json`` check). ``np.savez`` stamps the current
time into its zip entries and PNG writers may add metadata, so the writers here pin both.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with ``\\n`` line ends, no index, and pandas' shortest round-trip float repr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))


def write_npy(array: np.ndarray, path: Path) -> None:
    """A plain ``.npy`` file (format 1.0: its header holds only dtype, order and shape)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    path.write_bytes(buffer.getvalue())


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """An ``.npz`` that ``np.load`` reads, with fixed entry times and no compression.

    Stored (not deflated) entries keep the bytes independent of the zlib version.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    path.write_bytes(buffer.getvalue())


def write_png(image: np.ndarray, path: Path) -> None:
    """An 8-bit RGB PNG of a float image in [0, 1], with no metadata chunks."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG", optimize=False, compress_level=9)
    path.write_bytes(buffer.getvalue())
