"""Byte-stable writers for data files, and the MANIFEST.json that lists them.

Why: ``grader data`` must give the same bytes for the same inputs (the manifest's hashes feed the
result's ``content_hash`` and the stale-``expected.json`` check). ``np.savez`` stamps the current
time into its zip entries and PNG writers may add metadata, so the writers here pin both.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MANIFEST_NAME = "MANIFEST.json"
DATA_SUBDIRS = ("public", "hidden")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


class DataError(ValueError):
    """Data cannot be built or read; the message names the file and what is wrong with it."""


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


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_data_files(out_dir: Path) -> list[Path]:
    """Every regular file under ``public/`` and ``hidden/``, sorted by relative path."""
    found = [p for sub in DATA_SUBDIRS for p in (out_dir / sub).rglob("*") if p.is_file()]
    return sorted(found, key=lambda p: p.relative_to(out_dir).as_posix())


def make_manifest(out_dir: Path, **fields: Any) -> dict[str, Any]:
    """The manifest of a data directory: the given fields plus every file's sha256 and size."""
    files = {
        p.relative_to(out_dir).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in list_data_files(out_dir)
    }
    return {"schema_version": 1, **fields, "files": files}


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Sorted keys and a trailing newline, so the manifest's own bytes are stable too."""
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (out_dir / MANIFEST_NAME).write_text(text, encoding="utf-8")


def read_manifest(data_dir: Path) -> dict[str, Any]:
    path = data_dir / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{data_dir} is not a data directory: {MANIFEST_NAME} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise DataError(f"{path}: a manifest is a JSON object with a 'files' mapping")
    return manifest


def verify_manifest(data_dir: Path) -> list[str]:
    """Problems found comparing a data directory with its manifest; ``[]`` when they agree."""
    manifest = read_manifest(data_dir)
    problems: list[str] = []
    listed = manifest["files"]
    present = {p.relative_to(data_dir).as_posix(): p for p in list_data_files(data_dir)}
    for name in sorted(set(listed) - set(present)):
        problems.append(f"{name}: listed in the manifest but missing")
    for name in sorted(set(present) - set(listed)):
        problems.append(f"{name}: present but not listed in the manifest")
    for name in sorted(set(listed) & set(present)):
        if sha256_file(present[name]) != listed[name].get("sha256"):
            problems.append(f"{name}: sha256 differs from the manifest")
    return problems
