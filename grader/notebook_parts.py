"""Map a notebook's cells to rubric parts and count its figures, without a kernel.

A part opens at a markdown heading whose text starts with the part's ``heading`` and lasts until
the next part's heading; cells before the first part belong to no part (the preamble: imports,
data loading). Free-text answers are found by ``grader.free_text``. All of this reads the
notebook file itself, so it works even when the kernel never started.
"""

from __future__ import annotations

import re
from typing import Any

PLACEHOLDER = "_Write your answer here._"  # what a template's ANSWER cell holds for the student to replace

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_DECORATION = re.compile(r"[*_`]")


def cell_source(cell: Any) -> str:
    """A cell's source as one string (nbformat allows a list of lines on disk)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _headings(text: str) -> list[str]:
    """The text of each markdown heading line, with emphasis marks removed."""
    found = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            found.append(_DECORATION.sub("", match.group(1)).strip())
    return found


def assign_parts(cells: list[Any], parts: list[dict[str, Any]]) -> list[str | None]:
    """The part id of every cell (None before the first part heading).

    Parts are matched in any order, so a notebook that moved a section still maps correctly;
    a heading matching several parts opens the one with the longest (most specific) prefix.
    """
    prefixes = sorted(
        ((str(p["heading"]).strip(), str(p["id"])) for p in parts if p.get("heading")),
        key=lambda item: -len(item[0]),
    )
    current: str | None = None
    result: list[str | None] = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for heading in _headings(cell_source(cell)):
                lowered = heading.lower()
                for prefix, part_id in prefixes:
                    if lowered.startswith(prefix.lower()):
                        current = part_id
                        break
        result.append(current)
    return result


def count_figures(cell: Any) -> int:
    """How many image outputs (PNG, SVG or JPEG) a code cell produced."""
    count = 0
    for output in cell.get("outputs", []) or []:
        data = output.get("data") or {}
        if any(kind in data for kind in ("image/png", "image/svg+xml", "image/jpeg")):
            count += 1
    return count


def figures_by_part(cells: list[Any], part_of: list[str | None]) -> dict[str, int]:
    """Figures per part id (the preamble is ``"preamble"``), counted from executed outputs."""
    totals: dict[str, int] = {}
    for cell, part in zip(cells, part_of, strict=True):
        if cell.get("cell_type") != "code":
            continue
        n = count_figures(cell)
        if n:
            key = part or "preamble"
            totals[key] = totals.get(key, 0) + n
    return totals
