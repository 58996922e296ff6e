"""What went wrong in one submission, said the same way in HTML, Markdown and Gradescope JSON.

Built from the result document alone: the cells that failed (named as the student sees them,
with the diagnosis that says what to do, then the exception and its trimmed traceback), the
limits that fired, and the top-level message of a notebook not built on the template. The class
summary groups the same causes across submissions (``causes``).
"""

from __future__ import annotations

from typing import Any

from grader.cell_names import cell_label
from grader.report import evidence as ev

OFF_TEMPLATE = "not_on_template"
TOP_TITLES = {OFF_TEMPLATE: "This notebook is not built on the template"}
LIMIT_NAMES = {
    "cell_timeout": "time limit of a cell",
    "notebook_timeout": "time limit of the whole notebook",
    "output_cap": "output limit",
    "memory": "memory limit",
    "processes": "process limit",
    "file_size": "file-size limit",
    "disk": "disk limit",
    "harvest_timeout": "time limit for reading the answers",
    "harvest_size": "size limit of the answers",
}
MAX_PROBLEMS = 60


def _cells(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in ev.sequence(result.get("cells")) if isinstance(c, dict)]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cell_names(result: dict[str, Any]) -> dict[int, str]:
    """The grader's cell index -> the cell's name as the student sees it."""
    return {
        c["index"]: ev.text(cell_label(c), 200) for c in _cells(result) if _int(c.get("index")) is not None
    }


def cell_problems(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every failed cell: its name, what to do (the diagnosis), the exception and its traceback."""
    problems = []
    for cell in _cells(result):
        error = ev.mapping(cell.get("error"))
        diagnosis = ev.mapping(cell.get("diagnosis"))
        if not error and not diagnosis:
            continue
        problems.append(
            {
                "label": ev.text(cell_label(cell), 200),
                "part": ev.text(cell.get("part"), 60),
                "status": ev.text(cell.get("status"), 40) or "error",
                "cause": ev.text(diagnosis.get("cause"), 40),
                "advice": ev.text(diagnosis.get("message"), 2000),
                "ename": ev.text(error.get("ename"), 200),
                "evalue": ev.text(error.get("evalue"), 2000),
                "traceback": ev.traceback_text(error.get("traceback")),
                "message": ev.text(cell.get("message"), 1000),
            }
        )
    return problems[:MAX_PROBLEMS]


def limit_problems(result: dict[str, Any]) -> list[dict[str, str]]:
    """Every limit that fired, with the name of the cell it fired in."""
    names = cell_names(result)
    limits = []
    for limit in ev.sequence(result.get("limits_fired"))[:50]:
        if not isinstance(limit, dict):
            continue
        kind = ev.text(limit.get("limit"), 60)
        index = _int(limit.get("cell"))
        limits.append(
            {
                "limit": kind,
                "what": LIMIT_NAMES.get(kind, kind or "limit"),
                "cell": names.get(index, f"cell {index + 1}") if index is not None else "",
                "message": ev.text(limit.get("message"), 1000),
            }
        )
    return limits


def top_message(result: dict[str, Any]) -> dict[str, str] | None:
    """The one message a submission that was not (fully) graded opens with: a title and the text."""
    status = ev.text(result.get("status"), 40)
    if status == "graded":
        return None
    return {
        "status": status or "unknown",
        "title": TOP_TITLES.get(status, f"This submission was not fully graded: {status}"),
        "text": ev.text(result.get("message")) or "No further detail was recorded.",
    }


def environment_packages(result: dict[str, Any]) -> dict[str, Any] | None:
    """The kernel environment's Python and packages, as a student may import them."""
    environment = ev.mapping(result.get("environment"))
    packages = ev.mapping(environment.get("packages"))
    if not packages:
        return None
    return {
        "python": ev.text(environment.get("python"), 40),
        "declared": [
            ev.text(r, 200).replace("==", " ") for r in ev.sequence(environment.get("declared"))[:200]
        ],
        "packages": [
            f"{ev.text(name, 100)} {ev.text(version, 60)}" for name, version in sorted(packages.items())
        ][:400],
    }


def causes(result: dict[str, Any]) -> list[str]:
    """This submission's failure causes, as the class summary groups them (each listed once)."""
    found: list[str] = []
    status = ev.text(result.get("status"), 40)
    if status == OFF_TEMPLATE:
        found.append("not built on the template")
    elif status in ("invalid_notebook", "sandbox_error", "error") and not _cells(result):
        found.append(f"could not be run ({status})")
    parts_of = {
        c["index"]: ev.text(c.get("part"), 60) for c in _cells(result) if _int(c.get("index")) is not None
    }
    for cell in _cells(result):
        diagnosis = ev.mapping(cell.get("diagnosis"))
        cause = diagnosis.get("cause")
        if cause == "missing_module":
            found.append(f"missing module {ev.text(diagnosis.get('module'), 100)}")
        elif cause == "no_network":
            found.append("no network")
        elif cause == "pip_install":
            found.append("installs packages (pip)")
        elif cause == "colab":
            found.append("Google Colab only (google.colab)")
        elif cause == "missing_file":
            found.append("reads a file that is not there")
        elif cell.get("status") == "kernel_died":
            found.append("kernel died")
        elif isinstance(cell.get("error"), dict) and cell.get("status") == "error":
            ename = ev.text(cell["error"].get("ename"), 100) or "error"
            part = ev.text(cell.get("part"), 60)
            found.append(f"{ename} in part {part}" if part else f"{ename} outside the parts")
    for limit in ev.sequence(result.get("limits_fired")):
        if not isinstance(limit, dict):
            continue
        index = _int(limit.get("cell"))
        part = parts_of.get(index, "") if index is not None else ""
        where = f" in part {part}" if part else ""
        kind = limit.get("limit")
        if kind in ("cell_timeout", "notebook_timeout"):
            found.append(f"timeout{where}")
        elif isinstance(kind, str) and kind:
            found.append(f"{LIMIT_NAMES.get(kind, kind)}{where}")
    return list(dict.fromkeys(found))
