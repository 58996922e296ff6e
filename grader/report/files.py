"""Atomic text writes for reports and exports (tmp file in the same directory, fsync, rename).

A reader (a browser, an LMS import, a second grader run) never sees half a report.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, content: str, *, newline: str | None = None, durable: bool = True) -> Path:
    """Write ``content`` to ``path`` atomically, creating parent directories; return ``path``.
    ``newline`` as for ``open``: None writes the platform's line ending, "" and "\\n" leave lines
    as they are, anything else replaces every "\\n". ``durable`` as for ``write_bytes_atomic``."""
    ending = os.linesep if newline is None else newline
    text = content if ending in ("", "\n") else content.replace("\n", ending)
    return write_bytes_atomic(path, text.encode("utf-8"), durable=durable)


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (same-folder temporary file, fsync, rename),
    creating parent directories; return ``path``. ``durable=False`` skips the fsync: for files
    derived from the results that `grader report` writes again (pages, exports per student,
    caches), where a class rescore's thousand fsyncs cost more than the rendering; the rename
    still means a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
