"""`grader check NOTEBOOK`: a student's self-check before submitting."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from grader.commands.options import backend_option, data_option
from grader.limits import limit_options, limits_from_options


@click.command("check")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--assignment",
    "assignment_name",
    default=None,
    help="The assignment's folder or rubric file, or its name (default: found from the notebook's name).",
)
@click.option("--part", "parts", multiple=True, help="Only run the set-up cells and this part (repeatable).")
@click.option("--fast", is_flag=True, help="Skip the feedback report; with --part, runs in seconds.")
@data_option("Data directory (default: the embedded data, built once).")
@backend_option
@limit_options
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the executed notebook and report here.",
)
def check(
    notebook: Path,
    assignment_name: str | None,
    parts: tuple[str, ...],
    fast: bool,
    data_dir: Path | None,
    backend: str,
    out_dir: Path | None,
    **limit_values: Any,
) -> None:
    """Grade NOTEBOOK on public data only and say what to fix.

    Items that need the hidden data are graded when you submit; free-text answers are marked by a
    person. A computed result is said to lie within its band or how far outside it (the reference
    values are shown when you submit). Exits 1 when an automatically graded item fails, 0 otherwise.
    """
    from grader.assignment import AssignmentError, load_assignment
    from grader.grading import GradeOptions, grade_one
    from grader.selfcheck import assignment_for_notebook, restrict_to_parts, summarise
    from grader.submission import Submission

    try:
        assignment = (
            load_assignment(assignment_name) if assignment_name else assignment_for_notebook(notebook)
        )
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from exc
    # without --out, everything is written to a directory removed on exit (nothing left in /tmp)
    with tempfile.TemporaryDirectory(prefix="grader-check-") as scratch:
        work = Path(out_dir) if out_dir else Path(scratch)
        target = notebook
        if parts:
            try:
                target = restrict_to_parts(
                    notebook, assignment, list(parts), work / "selected" / notebook.name
                )
            except ValueError as exc:
                raise click.UsageError(str(exc)) from exc
        options = GradeOptions(
            assignment=assignment,
            out_dir=work,
            data_dir=data_dir,
            backend=backend,
            limits=limits_from_options(limit_values),
            public_only=True,
            write_reports=not fast and out_dir is not None,
        )
        document = grade_one(Submission(id="self-check", student=notebook.stem, path=target), options)
        text, failed = summarise(document, list(parts) or None)
        click.echo(text)
        if document.get("feedback"):
            click.echo(f"\nFeedback report: {work / document['feedback']['html']}")
        elif out_dir is None and not fast:
            click.echo("\n(pass --out DIR to keep the executed notebook and a feedback report)")
    sys.exit(1 if failed else 0)
