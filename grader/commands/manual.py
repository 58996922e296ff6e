"""`grader manual DIR`: the marking sheet of free-text answers, and merging it back."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("manual")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--merge",
    "filled",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A filled-in marking sheet to merge into DIR's results; reports and exports are re-rendered.",
)
@click.option(
    "--out",
    "sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the marking sheet (default: DIR/manual/marks.csv).",
)
@click.option(
    "--all", "include_marked", is_flag=True, help="Also list answers already marked (to re-mark them)."
)
@click.option(
    "--assignment", "assignment_name", help="Assignment name or rubric path (default: from the results)."
)
@click.option("--marker", help="Who marked the sheet, for the audit log (default: your user name).")
def manual(
    out_dir: Path,
    filled: Path | None,
    sheet: Path | None,
    include_marked: bool,
    assignment_name: str | None,
    marker: str | None,
) -> None:
    """Write DIR's pending free-text answers to a CSV, or merge a filled-in CSV back with --merge.

    Fill the `points` and `comment` columns; rows left without points stay pending. A merge checks
    every row first and changes nothing if any row is invalid. Marks are kept in DIR/marks.sqlite,
    which `grader review` shares; a sheet's mark replaces an earlier one (the audit log keeps both).
    """
    from grader.commands.report import load_or_fail, resolve_assignment
    from grader.manual import ManualMarkError, merge, with_marks, write_pending_csv
    from grader.marks import StoreError

    results = with_marks(out_dir, load_or_fail(out_dir))
    assignment = resolve_assignment(assignment_name, results)
    if filled is None:
        target = sheet or out_dir / "manual" / "marks.csv"
        count = write_pending_csv(results, target, assignment=assignment, include_marked=include_marked)
        click.echo(
            f"{count} answers to mark written to {target}; fill `points` and `comment`, then run "
            f"`grader manual {out_dir} --merge {target}`"
        )
        return
    try:
        summary = merge(out_dir, filled, assignment=assignment, marker=marker)
    except (ManualMarkError, StoreError) as exc:
        raise click.ClickException(f"{exc}; nothing was changed") from exc
    click.echo(
        f"merged {summary.merged} marks for {len(summary.students)} submissions "
        f"({summary.blank} rows left blank stay pending); reports and exports re-rendered"
    )
    if summary.failures:
        raise click.ClickException("the marks are saved, but could not write " + "; ".join(summary.failures))
