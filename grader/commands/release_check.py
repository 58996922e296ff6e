"""`grader release-check ASSIGNMENT`: is this assignment ready to hand out?"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.commands.options import backend_option, data_option

if TYPE_CHECKING:
    from grader.assignment import Assignment  # lazy: see the module docstring of grader.cli


@click.command("release-check")
@click.argument("assignment_name", metavar="ASSIGNMENT")
@data_option("Data directory (default: the embedded data, built once).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the graded reference and template here.",
)
@backend_option
@click.option("--fresh", is_flag=True, help="Execute the reference and template again, even if stored.")
def release_check(
    assignment_name: str, data_dir: Path | None, out_dir: Path | None, backend: str, fresh: bool
) -> None:
    """Check ASSIGNMENT: valid rubric, current expected.json, reference full marks, template zero,
    thresholds reachable with margin. Exits 1 and lists what is wrong otherwise."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.notebook_set import is_notebook_set, members

    try:
        assignment = load_assignment(assignment_name)
        notebooks = (
            [m.assignment for m in members(assignment)] if is_notebook_set(assignment) else [assignment]
        )
    except AssignmentError as exc:
        click.echo(f"FAIL rubric is valid: {exc}")
        sys.exit(1)
    if len(notebooks) > 1 or notebooks[0] is not assignment:  # a set: each notebook checked as its own
        worst = 0
        for one in notebooks:
            click.echo(f"\n== notebook {one.name} ({one.command_ref})")
            worst = max(worst, _check_one(one, None, out_dir / one.name if out_dir else None, backend, fresh))
        sys.exit(worst)
    sys.exit(_check_one(assignment, data_dir, out_dir, backend, fresh))


def _check_one(
    assignment: Assignment, data_dir: Path | None, out_dir: Path | None, backend: str, fresh: bool
) -> int:
    """Run and print the release check of one notebook's assignment; the exit status."""
    from grader.context import resolve_context
    from grader.datasets import DataError
    from grader.environment import KernelEnvironmentError
    from grader.release import run_release_check
    from grader.runstore import RunStore

    ref = assignment.command_ref
    try:
        context = resolve_context(assignment, data_dir)
    except KernelEnvironmentError as exc:
        raise click.ClickException(str(exc)) from exc
    except DataError as exc:
        click.echo(f"FAIL data can be prepared: {exc}")
        click.echo(
            f"\nBuild the data with `grader data {ref} --out DATA`, then run "
            f"`grader release-check {ref} --data DATA`."
        )
        return 1
    out = out_dir or Path(tempfile.mkdtemp(prefix=f"release-check-{assignment.name}-"))
    store = None if fresh else RunStore.for_assignment(assignment)
    checks = run_release_check(context, Path(out), backend=backend, store=store)
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    failed = [c for c in checks if not c.ok]
    click.echo(
        f"\n{assignment.name}: {'ready to release' if not failed else f'{len(failed)} check(s) failed'} (graded notebooks in {out})"
    )
    return 1 if failed else 0
