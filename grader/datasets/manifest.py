"""MANIFEST.json: the list of a data directory's files with their sha256, and the checks on it.

Kept apart from the file writers (which need numpy and pandas) because every command reads
manifests, and most of them never write a data file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

MANIFEST_NAME = "MANIFEST.json"
DATA_SUBDIRS = ("public", "hidden")


class DataError(ValueError):
    """Data cannot be built or read; the message names the file and what is wrong with it."""


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
