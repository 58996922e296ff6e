"""`grader new NAME`: scaffold ./NAME/, an assignment folder that release-check accepts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.commands.options import backend_option


@click.command("new")
@click.argument("name")
@click.option(
    "--no-run", is_flag=True, help="Only write the files (skip `grader assign`: no kernel, no calibration)."
)
@backend_option
def new(name: str, no_run: bool, backend: str) -> None:
    """Create ./NAME/: rubric.yaml, master.ipynb (one question of each kind), build_data.py; then
    derive the template and reference, calibrate and release-check it (`grader assign`)."""
    from grader.authoring.assign import assign
    from grader.authoring.scaffold import scaffold

    folder = Path(name)
    try:
        written = scaffold(folder)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    for path in written:
        click.echo(f"wrote {path}")
    status = assign(folder, run=not no_run, backend=backend, echo=click.echo)
    click.echo(
        f"\nNext: edit {folder}/master.ipynb, {folder}/rubric.yaml and {folder}/build_data.py, then run "
        f"`grader assign {folder}` (docs/AUTHORING.md explains the markers and the rubric)."
    )
    sys.exit(status)
