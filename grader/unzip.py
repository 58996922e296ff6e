"""Extract an LMS export zip safely: no path outside the target, no links, no bombs.

Entries with absolute paths, ``..``, drive letters, links or device files are refused, and sizes
are counted while decompressing (a zip's headers can lie), so a bomb stops at the cap. Each
refused entry is reported with the reason, for intake to turn into a result row.
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

# Zip caps: far above any homework notebook, far below what a zip bomb expands to.
MAX_ENTRY_BYTES = 200 * 1024 * 1024
MAX_TOTAL_BYTES = 2 * 1024 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, checked for entries above RATIO_FLOOR
RATIO_FLOOR = 1024 * 1024
MAX_ENTRIES = 20_000


def extract_zip(archive: Path, target: Path) -> tuple[Path | None, list[tuple[str, str]]]:
    """Extract ``archive`` into ``target``: the folder (None when nothing was extracted) and the
    problems, each (entry name, message), for entries left out and why.

    Sizes are counted while decompressing (headers can lie), so a bomb is stopped at the cap.
    """
    problems: list[tuple[str, str]] = []

    def reject(name: str, message: str) -> None:
        problems.append((name, message))

    try:
        handle = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        reject("archive", f"{archive.name} cannot be opened as a zip archive: {exc}")
        return None, problems
    with handle:
        infos = handle.infolist()
        if len(infos) > MAX_ENTRIES:
            reject("archive", f"{archive.name} has {len(infos)} entries (limit {MAX_ENTRIES}); not extracted")
            return None, problems
        total = 0
        for info in infos:
            problem = _entry_problem(info)
            if problem:
                reject(
                    PurePosixPath(info.filename).name or "entry",
                    f"{archive.name}: entry {info.filename!r} {problem}",
                )
                continue
            if info.is_dir():
                continue
            destination = target.joinpath(*PurePosixPath(info.filename).parts)
            try:
                written = _copy_entry(handle, info, destination, MAX_TOTAL_BYTES - total)
            except _TooLarge as exc:
                destination.unlink(missing_ok=True)
                if exc.total_cap:
                    reject(
                        "archive",
                        f"{archive.name} expands beyond {MAX_TOTAL_BYTES >> 20} MiB; extraction stopped",
                    )
                    return (target if target.exists() else None), problems
                reject(destination.name, f"{archive.name}: entry {info.filename!r} {exc}")
                continue
            except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, ValueError) as exc:
                destination.unlink(missing_ok=True)
                reject(
                    destination.name, f"{archive.name}: entry {info.filename!r} cannot be extracted: {exc}"
                )
                continue
            total += written
            stamp = _dt.datetime(*info.date_time).timestamp()
            os.utime(destination, (stamp, stamp))
    return (target if target.exists() else None), problems


class _TooLarge(Exception):
    def __init__(self, message: str, total_cap: bool = False) -> None:
        super().__init__(message)
        self.total_cap = total_cap


def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    """Why an entry may not be extracted, or None."""
    name = info.filename
    if "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "uses a Windows path; rejected"
    path = PurePosixPath(name)
    if path.is_absolute():
        return "is an absolute path; rejected"
    if ".." in path.parts:
        return "climbs out of the archive ('..'); rejected"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link; rejected"
    if info.file_size > MAX_ENTRY_BYTES:
        return f"declares {info.file_size >> 20} MiB (limit {MAX_ENTRY_BYTES >> 20} MiB); rejected"
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return f"compresses {info.file_size // max(info.compress_size, 1)}:1 (limit {MAX_RATIO}:1), a zip bomb; rejected"
    return None


def _copy_entry(handle: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path, budget: int) -> int:
    """Stream one entry to disk, counting real bytes against the entry, ratio and total caps."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with handle.open(info) as source, destination.open("wb") as sink:
        for block in iter(lambda: source.read(1 << 20), b""):
            written += len(block)
            if written > MAX_ENTRY_BYTES:
                raise _TooLarge(f"expands beyond {MAX_ENTRY_BYTES >> 20} MiB; rejected")
            if written > RATIO_FLOOR and written > MAX_RATIO * max(info.compress_size, 1):
                raise _TooLarge(f"expands more than {MAX_RATIO}:1, a zip bomb; rejected")
            if written > budget:
                raise _TooLarge("total cap", total_cap=True)
            sink.write(block)
    return written
