"""Regrade requests: a CSV of (student, item, text) checked against the results, then stored.

Requests arrive from wherever a course collects them (an LMS form export, an email digest). The
import is all or nothing like a marks merge: every row is checked first (known student, an item
that student's result has, some text), and a file imported twice adds nothing the second time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.marks.store import MarksStore
from grader.results import load_results

REQUIRED = ("student", "item", "text")
MAX_TEXT = 10_000


class RegradeImportError(ValueError):
    """The requests file cannot be imported; the message names the row and what is wrong."""


@dataclass(frozen=True)
class RegradeImport:
    rows: int
    added: int

    @property
    def repeated(self) -> int:
        return self.rows - self.added


def read_requests(path: Path, results: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The checked (student, item, text) rows of a requests file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegradeImportError(f"{path}: cannot read the requests file: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise RegradeImportError(f"{path}: the header lacks column(s) {', '.join(missing)}")
    items = {
        str(doc.get("id")): {str(i.get("id")) for i in doc.get("items") or [] if isinstance(i, dict)}
        for doc in results
    }
    rows = []
    for number, row in enumerate(reader, start=2):
        where = f"{path} row {number}"
        student = (row.get("student") or "").strip().lstrip("'")
        item = (row.get("item") or "").strip().lstrip("'")
        request = (row.get("text") or "").strip()
        if not (student or item or request):
            continue
        if student not in items:
            raise RegradeImportError(f"{where}: unknown student {student!r}")
        if item not in items[student]:
            raise RegradeImportError(f"{where}: student {student!r} has no item {item!r}")
        if not request:
            raise RegradeImportError(f"{where}: the request text is empty")
        if len(request) > MAX_TEXT:
            raise RegradeImportError(f"{where}: the request is longer than {MAX_TEXT} characters")
        rows.append((student, item, request))
    return rows


def import_requests(out_dir: Path, path: Path, *, marker: str) -> RegradeImport:
    """Check a requests file against OUT's results and add its new requests to the store."""
    results = load_results(Path(out_dir))
    if not results:
        raise RegradeImportError(f"{out_dir}: no result documents in {Path(out_dir) / 'results'}")
    rows = read_requests(path, results)
    added = MarksStore.for_out(out_dir).add_regrades(rows, source=Path(path).name, marker=marker)
    return RegradeImport(rows=len(rows), added=added)
