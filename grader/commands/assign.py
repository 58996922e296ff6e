"""`grader assign MASTER.ipynb`: derive the template and the reference from a master notebook,
draft the rubric's answers, recalibrate and release-check (docs/AUTHORING.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.commands.options import backend_option, data_option


@click.command("assign")
@click.argument("master", type=click.Path(path_type=Path))  # also a bare name: `grader assign hw2`
@click.option(
    "--check", is_flag=True, help="Only say whether the committed template and reference match the master."
)
@click.option(
    "--no-run", is_flag=True, help="Write the template and reference only (no kernel, no release check)."
)
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Calibration seeds.")
@data_option("Data directory (default: the embedded data, built once).")
@backend_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the release check's graded notebooks here.",
)
def assign(
    master: Path,
    check: bool,
    no_run: bool,
    seeds: int,
    data_dir: Path | None,
    backend: str,
    out_dir: Path | None,
) -> None:
    """Build MASTER's template and reference (MASTER: the master notebook, or the assignment's
    folder, rubric or bare name). Exits 0 when ready to release (with --check: when nothing drifted)."""
    from grader.authoring.assign import assign as run_assign

    status = run_assign(
        master,
        check=check,
        run=not no_run,
        seeds=seeds,
        data_dir=data_dir,
        backend=backend,
        out_dir=out_dir,
        echo=click.echo,
    )
    sys.exit(status)
