"""`grader reference NAME [--seeds K]`: calibrate expected.json from the reference notebook.

Runs are kept in the cache by execution key (grader.runstore): a run whose notebook, data, limits
and seed are unchanged and whose harvest plan covers the rubric is reused, so recalibrating after
a band or threshold edit runs nothing. ``--reuse`` insists on that (it fails, saying why, where a
run would have to execute); ``--fresh`` executes every run again. With ``--check`` nothing runs:
the existing expected.json is compared with the rubric, reference and data, and every reason it is
stale is listed (exit status 1 when stale).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from grader.commands.options import backend_option, data_option

STORE = "\0store"  # --reuse given without a directory: the run store


@click.command("reference")
@click.argument("assignment")
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Model seeds to run.")
@data_option("Data directory (default: the built-once cache of the default profile).")
@click.option("--profile", default=None, help="Data profile when --data is not given.")
@backend_option
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write expected.json (default: the rubric's 'expected:' path; for a profile other "
    "than the default, expected.<profile>.json beside it).",
)
@click.option(
    "--keep",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the reference's executed notebooks and RunRecords in this directory.",
)
@click.option(
    "--reuse",
    is_flag=False,
    flag_value=STORE,
    default=None,
    metavar="[DIR]",
    help="Run nothing: re-summarise the stored runs (after a band or threshold edit); fails, saying "
    "why, when one must execute. With DIR: the runs an earlier --keep DIR kept.",
)
@click.option("--fresh", is_flag=True, help="Execute every run again, even those stored.")
@click.option("--check", is_flag=True, help="Only report whether the existing expected.json is current.")
def reference(
    assignment: str,
    seeds: int,
    data_dir: Path | None,
    profile: str | None,
    backend: str,
    out: Path | None,
    keep: Path | None,
    reuse: str | None,
    fresh: bool,
    check: bool,
) -> None:
    """Run ASSIGNMENT's reference notebook K times and write its expected metrics."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.calibration import CalibrationError, calibrate, summarise_kept
    from grader.context import resolve_context
    from grader.datasets import DataError, ensure_data
    from grader.environment import KernelEnvironmentError
    from grader.expected import check_current, release_margins
    from grader.results import write_json_atomic
    from grader.runstore import NotStored, RunStore

    try:
        loaded = load_assignment(assignment)
        context = resolve_context(loaded, ensure_data(loaded, data_dir, profile), profile)
    except (AssignmentError, DataError, KernelEnvironmentError) as exc:
        raise click.ClickException(str(exc)) from exc
    data = context.data_dir
    target = out or context.expected_path
    if check:
        if target is None or not target.is_file():
            raise click.ClickException(
                f"{target} does not exist: run `grader reference {loaded.command_ref}`"
            )
        reasons = check_current(loaded, json.loads(target.read_text(encoding="utf-8")), data)
        for reason in reasons:
            click.echo(f"stale: {reason}")
        if reasons:
            raise SystemExit(1)
        click.echo(f"{target} is current")
        return
    if reuse is not None and fresh:
        raise click.UsageError("give either --reuse or --fresh, not both")
    started = time.perf_counter()
    counts: dict[str, int] = {}
    try:
        if reuse not in (None, STORE):
            kept = Path(str(reuse))
            if not kept.is_dir():
                raise click.BadParameter(f"{kept} is not a directory", param_hint="--reuse")
            if target is None:
                raise CalibrationError("the rubric names no 'expected:' file; pass --out")
            expected = summarise_kept(loaded, kept, data)
            write_json_atomic(target, expected, indent=1)
        else:
            verb = "re-summarising the stored runs of" if reuse else "running"
            click.echo(f"{verb} {loaded.reference} with {seeds} seed(s) on {data} ...")
            expected = calibrate(
                loaded,
                seeds,
                data_dir=data,
                backend=backend,
                out=target,
                work_dir=keep,
                store=None if fresh else RunStore.for_assignment(loaded),
                reuse_only=reuse == STORE,
                counts=counts,
            )
    except NotStored as exc:
        raise click.ClickException(f"--reuse: a run must execute: {exc} (run without --reuse)") from exc
    except CalibrationError as exc:
        raise click.ClickException(str(exc)) from exc
    runs = f", {counts['reused']} run(s) reused, {counts['executed']} executed" if counts else ""
    click.echo(
        f"wrote {target} ({len(expected['items'])} items{runs}, {time.perf_counter() - started:.1f} s)"
    )
    for margin in release_margins(expected):
        std = margin["margin_in_std"]
        spread = f"{std:.1f} sd" if std is not None else "no seed noise"
        verdict = "ok" if margin["cleared"] else "TOO CLOSE"
        click.echo(
            f"  {margin['item']}: reference {margin['reference_mean']:.4g} ± {margin['reference_std']:.2g}, "
            f"full marks at {margin['full_at']:.4g}: margin {margin['margin']:.3g} ({spread}) {verdict}"
        )
