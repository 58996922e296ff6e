"""Read what the grader stored for a class into one plain record per submission.

Everything comes from ``grader grade``'s output directory: the result document (id, student,
status), the run record (the harvested answers, predictions on hidden inputs, free text) and the
executed notebook (the code). Every file is student-influenced, so each is read defensively: a
missing or odd file costs that submission its part of the evidence and adds a note, never the run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.free_text import assignment_template_text, free_text_answers
from grader.notebook_parts import assign_parts, cell_source
from grader.results import iter_results
from grader.similarity.tokens import CodeCell

MAX_NOTEBOOK_BYTES = 64_000_000  # an executed notebook with figures; bigger ones are not read
MAX_CODE_CHARS = 400_000  # code per notebook considered (a notebook is not a code base)
MAX_TEXT_CHARS = 20_000  # per free-text answer
MAX_NUMBERS = 200  # numbers per answer (curves, sweeps); arrays such as images are left out


@dataclass
class Work:
    """One submission as the similarity check sees it."""

    id: str
    student: str
    status: str
    cells: list[CodeCell] = field(default_factory=list)
    numbers: dict[str, list[float]] = field(default_factory=dict)  # answer -> flattened numbers
    predictions: dict[tuple[str, str], list[Any]] = field(default_factory=dict)  # (model, input) -> values
    free_text: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path, limit: int) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{path.name} is missing")
    if path.stat().st_size > limit:
        raise ValueError(f"{path.name} is larger than {limit // 1_000_000} MB")
    return json.loads(path.read_text(encoding="utf-8"))


def _inside(out_dir: Path, relative: Any) -> Path | None:
    """``out_dir / relative`` when it stays inside ``out_dir`` (result documents are data)."""
    if not isinstance(relative, str) or not relative:
        return None
    path = (out_dir / relative).resolve()
    return path if path.is_relative_to(out_dir.resolve()) else None


def notebook_cells(notebook: Any, assignment: Assignment | None) -> list[CodeCell]:
    """The code cells of a notebook document with the rubric part each one sits in."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a notebook (no list of cells)")
    cells = [c for c in cells if isinstance(c, dict)]
    parts = assign_parts(cells, assignment.parts if assignment else [])
    found, budget = [], MAX_CODE_CHARS
    for index, (cell, part) in enumerate(zip(cells, parts, strict=True)):
        if cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)[:budget]
        budget -= len(source)
        found.append(CodeCell(index=index, part=part, source=source))
        if budget <= 0:
            break
    return found


def read_notebook_cells(path: Path, assignment: Assignment | None) -> list[CodeCell]:
    return notebook_cells(_read_json(path, MAX_NOTEBOOK_BYTES), assignment)


def notebook_free_text(path: Path, assignment: Assignment) -> dict[str, str]:
    """The written answers a notebook holds (the reference's model answers, say), by id."""
    cells = _read_json(path, MAX_NOTEBOOK_BYTES).get("cells") or []
    found = free_text_answers(
        [c for c in cells if isinstance(c, dict)], assignment.free_text, assignment_template_text(assignment)
    )
    return {k: str(v["value"]) for k, v in found.items() if v.get("status") == "ok" and "value" in v}


def flat_numbers(value: Any, limit: int = MAX_NUMBERS) -> list[float] | None:
    """A number or a (nested) list of numbers as a flat list; None for anything else or too many."""
    out: list[float] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            out.append(float(item) if math.isfinite(item) else math.nan)
        else:
            return None
        if len(out) > limit:
            return None
    return out or None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ok_value(entry: Any) -> tuple[bool, Any]:
    if isinstance(entry, dict) and entry.get("status") == "ok" and "value" in entry:
        return True, entry["value"]
    return False, None


def run_predictions(run: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    """A run record's usable predictions, by (model, input set); anything malformed is left out."""
    found: dict[tuple[str, str], list[Any]] = {}
    predictions = _mapping(_mapping(run.get("harvest")).get("predictions"))
    for model, by_input in predictions.items():
        for input_name, entry in by_input.items() if isinstance(by_input, dict) else []:
            ok, value = _ok_value(entry)
            if ok and isinstance(value, list):
                found[(str(model), str(input_name))] = value
    return found


def _harvest(work: Work, run: dict[str, Any]) -> None:
    harvest = _mapping(run.get("harvest"))
    answers = _mapping(harvest.get("answers"))
    for name, entry in answers.items():
        ok, value = _ok_value(entry)
        numbers = flat_numbers(value) if ok else None
        if numbers is not None:
            work.numbers[str(name)] = numbers
    work.predictions.update(run_predictions(run))
    for text_id, entry in _mapping(harvest.get("free_text")).items():
        ok, value = _ok_value(entry)
        if ok and isinstance(value, str) and value.strip():
            work.free_text[str(text_id)] = value[:MAX_TEXT_CHARS]


def _free_text_from_result(work: Work, result: dict[str, Any]) -> None:
    """Free-text answers as the result document keeps them (``evidence.answer``), where the run
    record has none (a result merged from elsewhere)."""
    for item in result.get("items") or []:
        if not isinstance(item, dict) or item.get("kind") != "free_text":
            continue
        answer = _mapping(item.get("evidence")).get("answer")
        if isinstance(answer, str) and answer.strip() and str(item.get("id")) not in work.free_text:
            work.free_text[str(item.get("id"))] = answer[:MAX_TEXT_CHARS]


def load_work(out_dir: Path, result: dict[str, Any], assignment: Assignment | None) -> Work:
    """One submission's code, numbers, predictions and free text, from what ``grader grade`` stored."""
    rid = str(result.get("id"))
    work = Work(
        id=rid,
        student=str(result.get("student") or rid),
        status=str(result.get("status") or "unknown"),
    )
    try:
        _harvest(work, _mapping(_read_json(out_dir / "run" / f"{rid}.json", MAX_NOTEBOOK_BYTES)))
    except (OSError, ValueError) as exc:
        work.notes.append(f"run record not read ({exc}): no numbers or predictions")
    _free_text_from_result(work, result)
    candidates = [_inside(out_dir, result.get("executed_notebook")), out_dir / "executed" / f"{rid}.ipynb"]
    submitted = result.get("submission")
    if isinstance(submitted, str) and submitted.endswith(".ipynb"):
        candidates.append(Path(submitted))
    problems = []
    for path in candidates:
        if path is None or not path.is_file():
            continue
        try:
            work.cells = read_notebook_cells(path, assignment)
            break
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: {exc}")
    else:
        work.notes.append(
            "no readable notebook" + (f" ({'; '.join(problems)})" if problems else "") + ": no code"
        )
    return work


def load_class(out_dir: Path, assignment: Assignment | None) -> list[Work]:
    """Every stored submission of ``grader grade``'s output directory, sorted by id."""
    return [load_work(Path(out_dir), result, assignment) for result in iter_results(Path(out_dir))]
