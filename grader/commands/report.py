"""`grader report DIR`: re-render feedback, the class summary and the exports from stored results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def resolve_assignment(name: str | None, results: list[dict[str, Any]]) -> Any:
    """The assignment named on the command line, else the one the results name, else None.

    Reports need the assignment only for its title and free-text guidance, so a rubric that
    cannot be found is a note, not an error.
    """
    from grader.assignment import AssignmentError, load_assignment

    if name:
        try:
            return load_assignment(name)
        except AssignmentError as exc:
            raise click.UsageError(str(exc)) from exc
    rubrics = {str(r["rubric"]) for r in results if isinstance(r.get("rubric"), str)}
    names = {str(r["assignment"]) for r in results if isinstance(r.get("assignment"), str)}
    # the rubric path the results recorded finds an assignment anywhere; older results name it only
    wanted = rubrics if len(rubrics) == 1 and Path(next(iter(rubrics))).is_file() else names
    if len(wanted) != 1:
        return None
    try:
        return load_assignment(wanted.pop())
    except AssignmentError as exc:
        click.echo(
            f"note: rendering without the rubric ({exc}); pass --assignment FOLDER_OR_RUBRIC", err=True
        )
        return None


def load_or_fail(out_dir: Path) -> list[dict[str, Any]]:
    from grader.results import load_results

    results = load_results(out_dir)
    if not results:
        raise click.UsageError(f"no result documents in {out_dir / 'results'} (run `grader grade` first)")
    return results


@click.command("report")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--assignment", "assignment_name", help="Assignment name or rubric path (default: from the results)."
)
@click.option("--canvas-column", help="Header of the grade column in canvas.csv (e.g. 'Homework 2 (12345)').")
@click.option(
    "--roster",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Canvas gradebook export, to match students to Canvas ids in canvas.csv.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Render in this many processes.",
)
def report(
    out_dir: Path, assignment_name: str | None, canvas_column: str | None, roster: Path | None, workers: int
) -> None:
    """Re-render DIR/feedback/*, DIR/summary.html, grades.csv, canvas.csv and gradescope/ from DIR/results."""
    from grader.publish import feedback_field, publish
    from grader.results import rebuild_jsonl, result_path, write_json_atomic

    results = load_or_fail(out_dir)
    assignment = resolve_assignment(assignment_name, results)
    done = publish(
        results, out_dir, assignment=assignment, canvas_column=canvas_column, roster=roster, workers=workers
    )
    stale = 0
    for doc in results:
        if doc.get("id") not in done.feedback:
            continue
        wanted = feedback_field(out_dir, done.feedback[doc["id"]])
        if doc.get("feedback") != wanted:
            doc["feedback"] = wanted
            write_json_atomic(result_path(out_dir, doc["id"]), doc)
            stale += 1
    if stale:
        rebuild_jsonl(out_dir)
    click.echo(
        f"rendered {len(done.feedback)} reports in {done.render_s:.2f} s ({1000 * done.per_student_s:.0f} ms each); "
        f"summary: {done.summary}; exports: {out_dir / 'grades.csv'}, {out_dir / 'canvas.csv'}, "
        f"{out_dir / 'gradescope'}/"
    )
    unmatched = done.exports.get("canvas_unmatched") or []
    if unmatched:
        click.echo(
            f"warning: not on the Canvas roster, left out of canvas.csv: {', '.join(unmatched)}", err=True
        )
    if done.failures:
        raise click.ClickException("could not write " + "; ".join(done.failures))
