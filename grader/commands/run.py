"""`grader run NOTEBOOK --assignment NAME --out DIR`: execute and harvest one notebook, no scoring.

Writes DIR/executed/<id>.ipynb and DIR/run/<id>.json (the RunRecord: every cell's outcome, time
and memory, the harvest, the limits that fired) and prints a short summary. Useful to see what
the grader sees before scoring is involved, and to debug a student's notebook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from grader.commands.options import backend_option, data_option
from grader.limits import limit_options, limits_from_options

if TYPE_CHECKING:
    from grader.records import RunRecord


def _run_id(notebook: Path, given: str | None) -> str:
    from grader.submission import safe_id  # lazy: see the module docstring of grader.cli

    return given or safe_id(notebook.stem, fallback="notebook")


def _parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env


def _first_gpu(gpus: str | None) -> str | None:
    if not gpus:
        return None
    items = [g.strip() for g in gpus.split(",") if g.strip()]
    if not items:
        raise click.BadParameter("empty GPU list", param_hint="--gpus")
    return items[0]  # one notebook runs on one GPU; batch grading spreads a list over workers


@click.command("run")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--assignment",
    "assignment_name",
    required=True,
    help="The assignment: its folder, its rubric file, or a name such as hw2.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@backend_option
@click.option("--gpus", default=None, help="GPU indices or UUIDs (comma-separated); the run uses the first.")
@limit_options
@data_option(
    "Data directory with public/ and hidden/ (default: the assignment's default profile, built once)."
)
@click.option(
    "--id", "run_id", default=None, help="Run id used for file names (default: the notebook's name)."
)
@click.option("--public-only", is_flag=True, help="Do not run the students' models on hidden inputs.")
@click.option(
    "--env", "env_pairs", multiple=True, help="Extra environment for the kernel, KEY=VALUE (repeatable)."
)
def run(
    notebook: Path,
    assignment_name: str,
    out_dir: Path,
    backend: str,
    gpus: str | None,
    data_dir: Path | None,
    run_id: str | None,
    public_only: bool,
    env_pairs: tuple[str, ...],
    **limit_values: Any,
) -> None:
    """Execute NOTEBOOK in the sandbox and harvest its answers, without scoring."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.engine import run_notebook

    try:
        assignment = load_assignment(assignment_name)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from exc
    if data_dir is None:
        from grader.datasets import ensure_data

        try:
            data_dir = ensure_data(assignment)
        except Exception as exc:  # DataError and friends: say what failed, no traceback
            raise click.ClickException(f"could not prepare the data for {assignment.name}: {exc}") from exc
    identifier = _run_id(notebook, run_id)
    limits = limits_from_options(limit_values)
    try:
        record = run_notebook(
            notebook,
            assignment,
            data_dir,
            out_dir,
            run_id=identifier,
            backend=backend,
            gpu=_first_gpu(gpus),
            limits=limits,
            env=_parse_env(env_pairs),
            public_only=public_only,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    _summarise(record, out_dir, identifier)
    if record["status"] in ("invalid_notebook", "sandbox_error", "error"):
        raise SystemExit(1)


def _summarise(record: RunRecord, out_dir: Path, identifier: str) -> None:
    isolation = "isolated" if record.get("isolated") else "NOT isolated"
    click.echo(f"{identifier}: {record['status']} ({record['backend']}, {isolation}): {record['message']}")
    from grader.cell_names import cell_label

    for cell in record.get("cells", []):
        if cell["status"] not in ("ok",):
            error = cell.get("error")
            if error:
                evalue = " ".join(error["evalue"].split())
                detail = f"{error['ename']}: {evalue[:300]}" if evalue else error["ename"]
            else:
                detail = cell.get("message") or ""
            click.echo(
                f"  cell {cell['index']} [{cell.get('part') or '-'}]: {cell['status']} {detail}".rstrip()
                + f"  ({cell_label(cell)})"
            )
            diagnosis = cell.get("diagnosis")
            if diagnosis:
                click.echo(f"      {diagnosis['message']}")
    for fired in record.get("limits_fired", []):
        where = f" (cell {fired['cell']})" if fired.get("cell") is not None else ""
        click.echo(f"  limit {fired['limit']}{where}: {fired['message']}")
    harvest = record.get("harvest", {})
    answers = harvest.get("answers", {})
    ok = sum(1 for a in answers.values() if a.get("status") == "ok")
    click.echo(
        f"  harvest: {harvest.get('status')}, {ok}/{len(answers)} answers {harvest.get('message') or ''}".rstrip()
    )
    telemetry = record.get("telemetry", {})
    click.echo(f"  wall {telemetry.get('wall_s')} s, peak {telemetry.get('peak_rss_mb')} MiB")
    click.echo(
        f"  wrote {out_dir / 'run' / (identifier + '.json')} and {out_dir / 'executed' / (identifier + '.ipynb')}"
    )
