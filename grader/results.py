"""Result documents on disk: atomic per-submission files plus an append-only results.jsonl.

Writes go to a temporary file in the same directory, are fsynced, then renamed, so a grader
killed at any instant leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def write_json_atomic(path: Path, document: Any, *, indent: int | None = None) -> None:
    """Write ``document`` as JSON to ``path`` atomically (tmp file + fsync + rename).

    Compact by default: result and run documents are machine records, and the standard library
    encodes compact JSON in C but indented JSON in Python, ten times slower (it dominated a class
    rescore). Files people read and diff (expected.json) pass ``indent=1``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=indent, sort_keys=False, default=_jsonable)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide results from the course staff
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, read without the set-and-restore race of os.umask where Linux allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _jsonable(value: Any) -> Any:
    """Fallback for numpy scalars and paths that slip into documents."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def result_path(out_dir: Path, submission_id: str) -> Path:
    return out_dir / "results" / f"{submission_id}.json"


def save_result(out_dir: Path, document: dict[str, Any]) -> Path:
    """Store one submission's result: results/<id>.json atomically, then append it to results.jsonl.

    results/<id>.json is the source of truth. A run killed between the two steps, or in the middle
    of the append, is repaired by ``rebuild_jsonl``, which batch runs call when they start and end.
    """
    path = result_path(out_dir, document["id"])
    write_json_atomic(path, document)
    line = json.dumps(document, sort_keys=False, default=_jsonable) + "\n"
    with _locked(out_dir), (out_dir / "results.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
    return path


class _locked:
    """An exclusive flock on OUT/.results.lock for the duration of a with-block."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self._path = out_dir / ".results.lock"

    def __enter__(self) -> None:
        self._handle = self._path.open("w")
        fcntl.flock(self._handle, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def iter_results(out_dir: Path) -> Iterator[dict[str, Any]]:
    """Every stored result document, one at a time, sorted by id. Unreadable files are skipped
    (a crash mid-rename cannot produce one, but a person editing the folder can)."""
    for path in sorted((out_dir / "results").glob("*.json")):
        try:
            yield json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue


def load_results(out_dir: Path) -> list[dict[str, Any]]:
    """Every stored result document, sorted by id."""
    return list(iter_results(out_dir))


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def rebuild_jsonl(out_dir: Path) -> Path:
    """Regenerate results.jsonl from results/*.json (one line per submission, no duplicates).

    The per-submission files are the source of truth; deriving the JSON-lines file from them under
    a lock means a killed run can never leave a duplicated or half-written line behind.
    """
    target = out_dir / "results.jsonl"
    with _locked(out_dir):
        fd, tmp = tempfile.mkstemp(prefix=".results.jsonl.", dir=out_dir)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in _result_lines(out_dir):  # one document in memory at a time
                handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    return target


def _result_lines(out_dir: Path) -> Iterator[str]:
    """Each readable result document as one JSON line, sorted by id. A compact file (what
    ``write_json_atomic`` writes) is checked by parsing and copied as it is, not encoded again."""
    for path in sorted((out_dir / "results").glob("*.json")):
        try:
            text = path.read_text(encoding="utf-8")
            document = json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        text = text.strip()
        yield text if "\n" not in text else json.dumps(document, sort_keys=False, default=_jsonable)


def jsonl_current(out_dir: Path) -> bool:
    """Whether results.jsonl is newer than every result document and holds one line per document:
    then nothing a killed run left behind needs repairing."""
    target = out_dir / "results.jsonl"
    try:
        written = target.stat().st_mtime_ns
        with target.open("rb") as handle:
            lines = sum(1 for line in handle if line.strip())
        documents = list((out_dir / "results").glob("*.json"))
        return lines == len(documents) and all(p.stat().st_mtime_ns <= written for p in documents)
    except OSError:
        return False
