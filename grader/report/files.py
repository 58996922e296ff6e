"""Atomic text writes for reports and exports (tmp file in the same directory, fsync, rename).

A reader (a browser, an LMS import, a second grader run) never sees half a report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, content: str, *, newline: str | None = None) -> Path:
    """Write ``content`` to ``path`` atomically, creating parent directories; return ``path``.
    ``newline`` as for ``open``: None writes the platform's line ending, "" and "\\n" leave lines
    as they are, anything else replaces every "\\n"."""
    ending = os.linesep if newline is None else newline
    text = content if ending in ("", "\n") else content.replace("\n", ending)
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (same-folder temporary file, fsync, rename),
    creating parent directories; return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
