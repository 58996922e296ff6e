"""The class summary page: score histogram, pass rate per item, failed submissions, run times."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.report import evidence as ev
from grader.report import problems
from grader.report.env import html_env
from grader.report.files import write_text_atomic
from grader.report.format import points
from grader.report.student import ITEM_STATUSES, assignment_title, result_id

if TYPE_CHECKING:
    from grader.assignment import Assignment


def _runtime(result: dict[str, Any]) -> float | None:
    """Notebook wall time; the grader's total time when the notebook never ran."""
    telemetry = ev.mapping(result.get("telemetry"))
    timings = ev.mapping(result.get("timings"))
    for value in (ev.number(telemetry.get("wall_s")), ev.number(timings.get("total_s"))):
        if value is not None and value > 0:
            return value
    return None  # never ran (not a notebook, grader failure before the kernel started)


def item_stats(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per rubric item, in first-seen order: how many passed, partial, failed, pending, error."""
    stats: dict[str, dict[str, Any]] = {}
    for result in results:
        items = ev.sequence(result.get("items"))
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            entry = stats.setdefault(
                item["id"],
                {
                    "id": ev.text(item["id"], 200),
                    "title": ev.text(item.get("title"), 200) or ev.text(item["id"], 200),
                    "part": ev.text(item.get("part"), 100),
                    "max_points": points(item.get("max_points")),
                    "counts": dict.fromkeys(ITEM_STATUSES, 0),
                    "points_sum": 0.0,
                    "n": 0,
                },
            )
            status = item.get("status")
            if status in entry["counts"]:
                entry["counts"][status] += 1
            entry["n"] += 1
            if status != "pending":
                entry["points_sum"] += points(item.get("points"))
    rows = []
    for entry in stats.values():
        marked = entry["n"] - entry["counts"]["pending"]
        entry["pass_rate"] = entry["counts"]["passed"] / marked if marked else None
        entry["mean_points"] = points(entry["points_sum"] / marked) if marked else None
        rows.append(entry)
    return rows


def cause_groups(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failure causes across the class (missing module X, no network, timeout in part P, not
    built on the template, ...), most frequent first, each with the submissions it hit."""
    groups: dict[str, list[dict[str, str]]] = {}
    for result in results:
        rid = result_id(result)
        who = {"id": rid, "student": ev.text(result.get("student"), 200) or rid}
        for cause in problems.causes(result):
            groups.setdefault(cause, []).append(who)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [{"cause": cause, "count": len(who), "submissions": who} for cause, who in ordered]


def summary_view(results: list[dict[str, Any]], assignment: Assignment | None = None) -> dict[str, Any]:
    from grader.report import plots  # lazy: start-up (matplotlib)

    rows: list[dict[str, Any]] = []
    for result in results:
        rid = result_id(result)
        rows.append(
            {
                "id": rid,
                "student": ev.text(result.get("student"), 200) or rid,
                "status": ev.text(result.get("status"), 40) or "unknown",
                "message": ev.text(result.get("message"), 600),
                "score": points(result.get("score")),
                "max_score": points(result.get("max_score")),
                "pending_manual": points(result.get("pending_manual")),
                "runtime_s": _runtime(result),
                "errors": sum(
                    1
                    for c in (ev.sequence(result.get("cells")))
                    if isinstance(c, dict) and isinstance(c.get("error"), dict)
                ),
            }
        )
    graded = [r for r in rows if r["status"] == "graded"]
    scores = [r["score"] for r in graded]
    runtimes = [r["runtime_s"] for r in rows if r["runtime_s"] is not None]
    max_score = max((r["max_score"] for r in rows), default=0.0)
    title = assignment_title(results[0], assignment) if results else "Assignment"
    return {
        "title": title,
        "n": len(rows),
        "n_graded": len(graded),
        "rows": rows,
        "failed": [r for r in rows if r["status"] != "graded"],
        "items": item_stats(results),
        "causes": cause_groups(results),
        "score_mean": statistics.fmean(scores) if scores else None,
        "score_median": statistics.median(scores) if scores else None,
        "max_score": max_score,
        "pending_total": sum(1 for r in rows if r["pending_manual"] > 0),
        "runtime_median": statistics.median(runtimes) if runtimes else None,
        "runtime_p90": _quantile(runtimes, 0.9),
        "runtime_max": max(runtimes) if runtimes else None,
        "score_plot": ev.data_uri(
            plots.histogram_png(scores, title="Scores (graded submissions)", x_label="score", upper=max_score)
        ),
        "runtime_plot": ev.data_uri(
            plots.histogram_png(runtimes, title="Notebook run time", x_label="seconds")
        ),
    }


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def render_summary(
    results: list[dict[str, Any]], out_dir: Path, *, assignment: Assignment | None = None
) -> Path:
    """Write ``OUT/summary.html`` (links point at ``feedback/<id>.html`` beside it)."""
    view = summary_view(list(results), assignment)
    html = html_env().get_template("summary.html.j2").render(s=view)
    return write_text_atomic(Path(out_dir) / "summary.html", html)
