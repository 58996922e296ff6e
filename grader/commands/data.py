"""`grader data NAME --out DIR`: write an assignment's public and hidden data files."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("data")
@click.argument("assignment")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write public/, hidden/ and MANIFEST.json into (an earlier build there is replaced).",
)
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of the instructor's own files, passed to the assignment's data builder as `source` "
    "(which files it reads is the builder's to say; hw2's are in docs/DATA.md).",
)
@click.option(
    "--profile", default=None, help="Data profile to record (default: embedded, or full with --source)."
)
def data(assignment: str, out_dir: Path, source: Path | None, profile: str | None) -> None:
    """Write ASSIGNMENT's data (its folder, its rubric file, or a name such as hw2).

    A failed build leaves --out as it was."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.datasets import DataError, build_data

    started = time.perf_counter()
    try:
        manifest = build_data(load_assignment(assignment), out_dir, profile=profile, source=source)
    except (AssignmentError, DataError) as exc:
        raise click.ClickException(str(exc)) from exc
    files = manifest["files"]
    public = sum(1 for name in files if name.startswith("public/"))
    size = sum(entry["bytes"] for entry in files.values()) / 1e6
    click.echo(
        f"{manifest['assignment']} ({manifest['profile']}): {public} public and {len(files) - public} hidden "
        f"files, {size:.1f} MB, in {out_dir} ({time.perf_counter() - started:.1f} s)"
    )
    for name, description in sorted(manifest.get("source", {}).items()):
        click.echo(f"  {name}: {description}")
