"""Figure summaries, outside the sandbox: read them off each cell's outputs, strictly.

``grader/engine/kernel/figure_kernel.py`` (sent into every fresh kernel) makes each displayed
matplotlib figure carry a JSON summary under ``SUMMARY_MIME``. Here each summary is read as
untrusted data (a student can display anything under any MIME type): sizes capped, every field
checked, anything malformed dropped. The summaries go into the cell's record (``plots``) and the
private MIME type is removed from the executed notebook the student sees.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SUMMARY_MIME = "application/vnd.ml-autograder.figure+json"
INSTALL_CODE = (Path(__file__).with_name("kernel") / "figure_kernel.py").read_text(encoding="utf-8")
MAX_SUMMARY_BYTES = 400_000
MAX_FIGURES_PER_CELL = 50
MAX_AXES = 16
MAX_SERIES = 24
MAX_POINTS = 200
MAX_TEXT = 200
SERIES_KINDS = ("lines", "scatters", "bars")
COUNT_KINDS = ("lines", "collections", "patches", "images")


def _text(value: Any) -> str:
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _numbers(value: Any) -> list[float | None] | None:
    if not isinstance(value, list) or len(value) > MAX_POINTS:
        return None
    out: list[float | None] = []
    for v in value:
        if v is None:
            out.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(float(v))
        else:
            return None
    return out


def _series(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    xs, ys = _numbers(raw.get("x")), _numbers(raw.get("y"))
    n = raw.get("n")
    if xs is None or ys is None or len(xs) != len(ys) or not isinstance(n, int) or n < len(xs):
        return None
    return {"label": _text(raw.get("label")), "n": n, "x": xs, "y": ys}


def _axes(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    found = raw.get("counts")
    counts: dict[str, Any] = found if isinstance(found, dict) else {}
    axes: dict[str, Any] = {
        key: _text(raw.get(key)) for key in ("title", "xlabel", "ylabel", "xscale", "yscale")
    }
    legend = raw.get("legend")
    axes["legend"] = [_text(t) for t in legend[:MAX_SERIES]] if isinstance(legend, list) else []
    axes["counts"] = {
        k: int(counts[k]) if isinstance(counts.get(k), int) and counts[k] >= 0 else 0 for k in COUNT_KINDS
    }
    for kind in SERIES_KINDS:
        items = raw.get(kind)
        parsed = [_series(s) for s in items[:MAX_SERIES]] if isinstance(items, list) else []
        axes[kind] = [s for s in parsed if s is not None]
    return axes


def parse_summary(raw: Any) -> dict[str, Any] | None:
    """One figure's summary as checked plain data, or None when it is not one."""
    if isinstance(raw, str):  # nbformat may hold JSON outputs as text
        if len(raw) > MAX_SUMMARY_BYTES:
            return None
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, dict) or raw.get("v") != 1 or not isinstance(raw.get("axes"), list):
        return None
    if len(json.dumps(raw, default=str)) > MAX_SUMMARY_BYTES:
        return None
    axes = [_axes(a) for a in raw["axes"][:MAX_AXES]]
    return {"suptitle": _text(raw.get("suptitle")), "axes": [a for a in axes if a is not None]}


def take_summaries(cell: Any) -> list[dict[str, Any]]:
    """The figure summaries of one executed code cell, removed from its outputs."""
    found: list[dict[str, Any]] = []
    for output in cell.get("outputs") or []:
        data = output.get("data") if isinstance(output, dict) else None
        if not isinstance(data, dict) or SUMMARY_MIME not in data:
            continue
        raw = data.pop(SUMMARY_MIME)
        if len(found) < MAX_FIGURES_PER_CELL:
            summary = parse_summary(raw)
            if summary is not None:
                found.append(summary)
    return found
