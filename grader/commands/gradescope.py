"""`grader gradescope`: run inside Gradescope's autograder container.

Gradescope puts the student's files in /autograder/submission and reads
/autograder/results/results.json; both paths are options so tests can point them elsewhere.
The grading itself is ``grader.grading.grade_one``, the same function a local batch uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from grader.commands.options import backend_option, data_option

SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}


def find_notebook(submission_dir: Path, preferred_name: str | None) -> tuple[Path | None, list[str]]:
    """The notebook to grade and notes about the choice: the template's name first, then the newest."""
    found = sorted(
        p
        for p in submission_dir.rglob("*.ipynb")
        if p.is_file()
        and not any(part in SKIP_DIRS or part.startswith(".") for part in p.relative_to(submission_dir).parts)
    )
    if not found:
        return None, []
    preferred = (preferred_name or "").lower()
    found.sort(key=lambda p: (p.name.lower() == preferred, p.stat().st_mtime, str(p)))
    chosen = found[-1]
    notes = []
    if len(found) > 1:
        others = ", ".join(str(p.relative_to(submission_dir)) for p in found[:-1])
        notes.append(
            f"{len(found)} notebooks submitted; graded {chosen.name} (the template's name first, then the newest); not graded: {others}"
        )
    return chosen, notes


def student_from_metadata(path: Path | None) -> str:
    """The submitter's SID, else e-mail login, else name, from submission_metadata.json."""
    if path is None or not path.is_file():
        return "student"
    try:
        meta: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "student"
    users = meta.get("users") if isinstance(meta, dict) else None
    if isinstance(users, list) and users and isinstance(users[0], dict):
        first = users[0]
        for value in (first.get("sid"), str(first.get("email") or "").split("@")[0], first.get("name")):
            if isinstance(value, (str, int)) and str(value).strip():
                return str(value).strip()
    return "student"


@click.command("gradescope")
@click.option(
    "--assignment",
    "assignment_name",
    default=lambda: os.environ.get("GRADER_ASSIGNMENT"),
    show_default="$GRADER_ASSIGNMENT",
    help="The assignment's folder or rubric file, or its name (required: here or in $GRADER_ASSIGNMENT).",
)
@click.option(
    "--submission-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/autograder/submission"),
    show_default=True,
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("/autograder/results/results.json"),
    show_default=True,
)
@click.option(
    "--metadata",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("/autograder/submission_metadata.json"),
    show_default=True,
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/autograder/grader-out"),
    show_default=True,
    help="Where the executed notebook, run record and feedback go.",
)
@data_option("Data directory (default: the embedded data, built once).")
@backend_option
def gradescope(
    assignment_name: str | None,
    submission_dir: Path,
    results_path: Path,
    metadata: Path,
    work_dir: Path,
    data_dir: Path | None,
    backend: str,
) -> None:
    """Grade the submission in SUBMISSION-DIR and write Gradescope's results.json.

    Exits 0 whenever results.json was written (a student's failing notebook is a result, not an
    autograder failure), so Gradescope shows the student the explanation.
    """
    from grader.assignment import AssignmentError, load_assignment
    from grader.grading import GradeOptions, error_result, grade_one
    from grader.notebook_set import grade_set_submission, is_notebook_set
    from grader.submission import Submission, safe_id

    if not assignment_name:
        raise click.UsageError(
            "which assignment? pass --assignment FOLDER_OR_RUBRIC or set GRADER_ASSIGNMENT "
            "(in Gradescope's run_autograder script)"
        )
    try:
        assignment = load_assignment(assignment_name)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from exc
    if not submission_dir.is_dir():
        raise click.UsageError(f"submission directory {submission_dir} does not exist")
    student = student_from_metadata(metadata)
    options = GradeOptions(assignment=assignment, out_dir=work_dir, data_dir=data_dir, backend=backend)
    if is_notebook_set(assignment):  # several notebooks: each matched by name, one merged result
        _finish(grade_set_submission(submission_dir, student, options), work_dir, results_path)
        return
    template_name = assignment.template.name if assignment.template else None
    notebook, notes = find_notebook(submission_dir, template_name)
    submission = Submission(
        id=safe_id(student),
        student=student,
        path=notebook or submission_dir,
        source="gradescope",
        notes=tuple(notes),
    )
    if notebook is None:
        result = error_result(
            submission,
            options,
            f"no .ipynb notebook in the submission; upload your {template_name or 'notebook'} file",
            status="invalid_notebook",
        )
    else:
        result = grade_one(submission, options)
    _finish(result, work_dir, results_path)


def _finish(result: dict[str, Any], work_dir: Path, results_path: Path) -> None:
    from grader.exports import write_gradescope_document  # lazy: see the module docstring of grader.cli
    from grader.results import save_result  # lazy: see the module docstring of grader.cli

    save_result(work_dir, result)
    write_gradescope_document(result, results_path)
    click.echo(
        f"{result.get('status')}: score {result.get('score')} of {result.get('max_score')}; wrote {results_path}"
    )
