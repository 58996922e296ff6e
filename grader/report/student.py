"""Per-student feedback: one result document in, ``feedback/<id>.html`` and ``.md`` out.

The view built here is the only thing templates see: every field is already typed, capped and,
for images, re-encoded, so the templates stay free of logic about untrusted data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.cell_names import cell_label
from grader.report import evidence as ev
from grader.report import plot_cache, problems
from grader.report.curve_svg import curve_svg, svg_data_uri
from grader.report.env import html_env, md_env, md_fence
from grader.report.files import write_text_atomic
from grader.report.format import points
from grader.report.plot_cache import PlotCache
from grader.submission import UnsafeId, check_id

if TYPE_CHECKING:
    from grader.assignment import Assignment

ITEM_STATUSES = ("passed", "partial", "failed", "pending", "error")
MAX_CELLS = 400
MAX_ITEMS = 400


class ReportError(ValueError):
    """A result document cannot be rendered; the message says which field is wrong."""


def result_id(result: dict[str, Any]) -> str:
    """The submission id of a result document, checked to be usable as a file name."""
    if not isinstance(result, dict):
        raise ReportError(f"a result document must be a JSON object, not {type(result).__name__}")
    try:
        return check_id(result.get("id"), what="result id")
    except UnsafeId as exc:
        raise ReportError(str(exc)) from None


def feedback_paths(out_dir: Path, rid: str) -> dict[str, Path]:
    return {"html": out_dir / "feedback" / f"{rid}.html", "md": out_dir / "feedback" / f"{rid}.md"}


def assignment_title(result: dict[str, Any], assignment: Assignment | None) -> str:
    if assignment is not None:
        title = assignment.rubric.get("title")
        if isinstance(title, str) and title:
            return ev.text(title, 200)
    return ev.text(result.get("assignment"), 200) or "Assignment"


def _status(value: Any, allowed: tuple[str, ...]) -> str:
    return value if isinstance(value, str) and value in allowed else "unknown"


def _figures(item_title: str, evidence: Any, cache: PlotCache) -> list[dict[str, str]]:
    from grader.report import plots  # lazy: start-up (matplotlib, only when an item has a curve)

    figures = []
    curve = ev.curve(evidence)
    if curve is not None:  # an SVG: drawn afresh in well under a millisecond, so never cached
        y_label = ev.text(evidence.get("y_label"), 60) if isinstance(evidence, dict) else ""
        svg = curve_svg(curve, title=item_title, y_label=y_label)
        figures.append(
            {
                "title": "your curve over the reference band" if curve["band"] else "your curve",
                "uri": svg_data_uri(svg),
            }
        )
    lines = ev.series_set(evidence)
    if lines is not None:
        caption = " and ".join(lines["lines"]) + f" by {lines['x_label']}"
        png = cache.png(
            "lines", {"lines": lines, "title": item_title}, lambda: plots.lines_png(lines, title=item_title)
        )
        figures.append({"title": caption, "uri": ev.data_uri(png)})
    return figures


def _images(evidence: Any) -> dict[str, Any] | None:
    if not isinstance(evidence, dict) or "image_png" not in evidence:
        return None
    student = ev.png(evidence.get("image_png"))
    original = ev.png(evidence.get("original_png"))
    return {
        "student": ev.data_uri(student) if student else None,
        "original": ev.data_uri(original) if original else None,
        "psnr_db": ev.number(evidence.get("psnr_db")),
    }


def _manual(evidence: Any) -> dict[str, Any] | None:
    mark = evidence.get("manual") if isinstance(evidence, dict) else None
    if not isinstance(mark, dict):
        return None
    return {"points": ev.number(mark.get("points")), "comment": ev.text(mark.get("comment"))}


def item_view(item: Any, plots: PlotCache | None = None) -> dict[str, Any]:
    """One rubric item, ready for the templates (plots drawn, or taken from ``plots``)."""
    if not isinstance(item, dict):
        item = {}
    title = ev.text(item.get("title"), 200) or ev.text(item.get("id"), 200) or "(untitled item)"
    visibility = item.get("visibility") if isinstance(item.get("visibility"), str) else "visible"
    hidden = visibility == "hidden"
    evidence = item.get("evidence")
    view: dict[str, Any] = {
        "id": ev.text(item.get("id"), 200),
        "title": title,
        "part": item.get("part") if isinstance(item.get("part"), str) else None,
        "status": _status(item.get("status"), ITEM_STATUSES),
        "points": points(item.get("points")),
        "max_points": points(item.get("max_points")),
        "extra_credit": item.get("extra_credit") is True,
        "hidden": hidden,
        "message": "" if hidden else ev.text(item.get("message")),
        "figures": [],
        "images": None,
        "gauge": None,
        "answer": "",
        "manual": None,
        "override": isinstance(evidence, dict) and isinstance(evidence.get("override"), dict),
    }
    if not hidden:
        view["figures"] = _figures(title, evidence, plots or PlotCache(None))
        view["images"] = _images(evidence)
        view["gauge"] = ev.threshold(evidence)
        if isinstance(evidence, dict):
            view["answer"] = ev.text(evidence.get("answer"))
        view["manual"] = _manual(evidence)
    return view


def _cell_view(cell: Any) -> dict[str, Any] | None:
    if not isinstance(cell, dict):
        return None
    return {
        "label": ev.text(cell_label(cell), 200),
        "part": ev.text(cell.get("part"), 60),
        "status": ev.text(cell.get("status"), 40) or "unknown",
        "wall_s": ev.number(cell.get("wall_s")),
        "peak_rss_mb": ev.number(cell.get("peak_rss_mb")),
    }


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any, limit: int) -> list[Any]:
    return value[:limit] if isinstance(value, list) else []


def student_view(
    result: dict[str, Any], assignment: Assignment | None = None, *, plots: PlotCache | None = None
) -> dict[str, Any]:
    """Everything the student templates show, built from the result document alone."""
    rid = result_id(result)
    items = [item_view(item, plots) for item in _list(result.get("items"), MAX_ITEMS)]
    parts = []
    known: set[str] = set()
    for part in _list(result.get("parts"), 100):
        if not isinstance(part, dict) or not isinstance(part.get("id"), str):
            continue
        known.add(part["id"])
        parts.append(
            {
                "id": ev.text(part["id"], 100),
                "title": ev.text(part.get("title"), 200) or ev.text(part["id"], 100),
                "score": points(part.get("score")),
                "max_score": points(part.get("max_score")),
                "pending_manual": points(part.get("pending_manual")),
                "items": [i for i in items if i["part"] == part["id"]],
            }
        )
    orphans = [i for i in items if i["part"] not in known]
    if orphans:
        parts.append(
            {
                "id": "other",
                "title": "Other items",
                "score": points(sum(i["points"] for i in orphans if i["status"] != "pending")),
                "max_score": points(sum(i["max_points"] for i in orphans if not i["extra_credit"])),
                "pending_manual": points(sum(i["max_points"] for i in orphans if i["status"] == "pending")),
                "items": orphans,
            }
        )
    cells = [c for c in (_cell_view(c) for c in _list(result.get("cells"), MAX_CELLS)) if c]
    telemetry, timings = _dict(result.get("telemetry")), _dict(result.get("timings"))
    return {
        "id": rid,
        "student": ev.text(result.get("student"), 200) or rid,
        "assignment_title": assignment_title(result, assignment),
        "status": ev.text(result.get("status"), 40) or "unknown",
        "message": ev.text(result.get("message")),
        "score": points(result.get("score")),
        "max_score": points(result.get("max_score")),
        "auto_score": points(result.get("auto_score")),
        "auto_max_score": points(result.get("auto_max_score")),
        "pending_manual": points(result.get("pending_manual")),
        "extra_credit": points(result.get("extra_credit")),
        "parts": parts,
        "cells": cells,
        "errors": problems.cell_problems(result),
        "top": problems.top_message(result),
        "fold_items": result.get("status") == problems.OFF_TEMPLATE,
        "environment": problems.environment_packages(result),
        "notes": [ev.text(n, 1000) for n in _list(result.get("notes"), 20) if isinstance(n, str)],
        "warnings": [ev.text(w, 1000) for w in _list(result.get("warnings"), 20) if isinstance(w, str)],
        "limits": problems.limit_problems(result),
        "wall_s": ev.number(telemetry.get("wall_s")),
        "peak_rss_mb": ev.number(telemetry.get("peak_rss_mb")),
        "total_s": ev.number(timings.get("total_s")),
        "backend": ev.text(result.get("backend"), 40),
        "isolated": result.get("isolated") is True,
        "graded_at": ev.text(result.get("graded_at"), 40),
        "grader_version": ev.text(result.get("grader_version"), 40),
    }


def render_student(
    result: dict[str, Any],
    out_dir: Path,
    *,
    assignment: Assignment | None = None,
) -> dict[str, Path]:
    """Write ``OUT/feedback/<id>.html`` and ``OUT/feedback/<id>.md``.

    Reference bands come from each item's evidence, which the scorer fills from expected.json,
    so reports need nothing but the result document (and the assignment, for titles). Plots are
    drawn once per distinct input and kept in OUT/.cache/plots (grader.report.plot_cache).
    """
    view = student_view(result, assignment, plots=plot_cache.for_out_dir(Path(out_dir)))
    paths = feedback_paths(Path(out_dir), view["id"])
    html = html_env().get_template("student.html.j2").render(r=view)
    for error in view["errors"]:
        error["fenced"] = md_fence(error["traceback"]) if error["traceback"] else ""
    md = md_env().get_template("student.md.j2").render(r=view)
    write_text_atomic(paths["html"], html, durable=False)  # derived: `grader report` writes them again
    write_text_atomic(paths["md"], md, durable=False)
    return paths
