"""`grader grade PATH... --assignment NAME --out DIR`: grade a batch of submissions.

PATH may be notebooks, folders, or Canvas/Gradescope exports (zip or unpacked); see
grader.intake for how students are identified and which notebook counts when a student has
several. Results are written as each submission finishes; rerunning the same command resumes.

Exit codes: 0 every submission was graded; 3 some could not be graded (status ``error`` or
``sandbox_error``: see their rows); 2 usage errors (bad options, unknown assignment, GPUs needed
but none offered); 1 results saved but the class summary or an export could not be written;
130 interrupted by Ctrl-C (finished results are kept).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from grader.commands.options import backend_option, data_option
from grader.limits import limit_options, limits_from_options

EPILOG = (
    "Several notebooks from one student: one named like the template wins, else the newest "
    "(submission time, else modification time); the others are noted in the result. "
    "GPU submissions: those matching --gpu-notebooks (or all, when the rubric profile says gpu: true) "
    "need a GPU; the local pool hands each job one GPU from --gpus, Dask routes them to workers "
    "started with `grader worker --gpu ID`. Exit codes: 0 all graded, 3 some could not be graded, "
    "2 usage error, 1 results saved but a summary/export failed, 130 interrupted."
)


def _gpu_list(text: str | None) -> list[str]:
    if text is None:
        return []
    items = [g.strip() for g in text.split(",")]
    if not items or not all(items):
        raise click.BadParameter(
            f"{text!r}: expected GPU ids separated by commas, e.g. 0,1", param_hint="--gpus"
        )
    return items


@click.command("grade", epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--assignment",
    "assignment_name",
    required=True,
    help="The assignment: its folder, its rubric file, or a name such as hw2.",
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Parallel notebooks."
)
@click.option(
    "--gpus", default=None, help="Local pool: GPU ids (0,1); each job gets one. Repeat an id to share."
)
@click.option(
    "--gpu-notebooks", "gpu_glob", default=None, metavar="GLOB", help="Submissions that need a GPU."
)
@limit_options
@data_option("Data directory (default: the profile's data, built once into the cache).")
@click.option("--profile", default=None, help="Data profile from the rubric (default: its default profile).")
@backend_option
@click.option("--no-reports", is_flag=True, help="Skip per-student feedback and the class summary.")
@click.option("--force", is_flag=True, help="Regrade everything, even unchanged submissions.")
@click.option(
    "--no-progress", is_flag=True, help="No progress bar (it is off anyway when stderr is not a tty)."
)
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: a process pool; dask: a LocalCluster of --workers workers unless --scheduler/--slurm.",
)
@click.option("--scheduler", default=None, metavar="ADDRESS|FILE", help="Grade on this Dask scheduler.")
@click.option(
    "--wait-workers", type=float, default=60.0, show_default=True, help="Seconds to wait for workers."
)
@click.option(
    "--slurm", is_flag=True, help="Start Dask workers as SLURM jobs (dask-jobqueue); see docs/CLUSTER.md."
)
@click.option(
    "--slurm-jobs", type=click.IntRange(min=1), default=4, show_default=True, help="SLURM jobs (workers)."
)
@click.option("--slurm-partition", default=None, help="SLURM partition (sbatch -p).")
@click.option("--slurm-account", default=None, help="SLURM account (sbatch -A).")
@click.option("--slurm-walltime", default="02:00:00", show_default=True, help="Walltime per job.")
@click.option("--slurm-memory", default="8GB", show_default=True, help="Memory per job.")
@click.option("--slurm-gpus", type=click.IntRange(min=0), default=0, show_default=True, help="GPUs per job.")
@click.option("--slurm-interface", default=None, help="Network interface the workers reach the scheduler on.")
@click.option(
    "--slurm-python",
    default=None,
    metavar="PATH",
    help="The Python (with grader installed) the jobs run on the compute nodes (default: this one's path).",
)
@click.option(
    "--slurm-directive",
    "slurm_directives",
    multiple=True,
    metavar="OPTION",
    help="An extra #SBATCH line, e.g. --slurm-directive=--output=/tmp/grader-%j.out (repeatable).",
)
@click.option(
    "--similarity",
    is_flag=True,
    help="Also write similarity.html/.csv for the instructor (see `grader similarity`).",
)
def grade(
    paths: tuple[Path, ...],
    assignment_name: str,
    out_dir: Path,
    workers: int,
    gpus: str | None,
    gpu_glob: str | None,
    data_dir: Path | None,
    profile: str | None,
    backend: str,
    no_reports: bool,
    force: bool,
    no_progress: bool,
    executor: str,
    scheduler: str | None,
    wait_workers: float,
    slurm: bool,
    slurm_jobs: int,
    slurm_partition: str | None,
    slurm_account: str | None,
    slurm_walltime: str,
    slurm_memory: str,
    slurm_gpus: int,
    slurm_interface: str | None,
    slurm_python: str | None,
    slurm_directives: tuple[str, ...],
    similarity: bool,
    **limit_values: Any,
) -> None:
    """Grade notebooks, folders or LMS exports (zip); write results and reports into --out."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.batch import EXIT_USAGE, BatchError, grade_batch
    from grader.grading import GradeOptions
    from grader.notebook_set import grade_notebook_set, is_notebook_set
    from grader.slurm import SlurmOptions

    if slurm and scheduler:
        raise click.UsageError("give either --slurm or --scheduler, not both")
    try:
        assignment = load_assignment(assignment_name)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from exc
    if profile is not None and profile not in assignment.profiles:
        known = ", ".join(sorted(assignment.profiles))
        raise click.BadParameter(f"unknown profile {profile!r}; known: {known}", param_hint="--profile")
    options = GradeOptions(
        assignment=assignment,
        out_dir=out_dir,
        data_dir=data_dir,
        profile=profile,
        backend=backend,
        limits=limits_from_options(limit_values),
        write_reports=not no_reports,
    )
    slurm_options = (
        SlurmOptions(
            jobs=slurm_jobs,
            partition=slurm_partition,
            account=slurm_account,
            walltime=slurm_walltime,
            memory=slurm_memory,
            gpus_per_job=slurm_gpus,
            interface=slurm_interface,
            python=slurm_python,
            extra_directives=list(slurm_directives),
        )
        if slurm
        else None
    )
    run = grade_notebook_set if is_notebook_set(assignment) else grade_batch  # one row per student either way
    try:
        summary = run(
            list(paths),
            options,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            force=force,
            progress=not no_progress and sys.stderr.isatty(),
            gpus=_gpu_list(gpus) or None,
            gpu_glob=gpu_glob,
            slurm=slurm_options,
            wait_s=wait_workers,
        )
    except BatchError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(summary.describe(), err=True)
    exit_code = summary.exit_code
    if similarity:
        from grader.commands.similarity import after_grading

        exit_code = after_grading(out_dir, assignment, data_dir, profile, exit_code)
    sys.exit(exit_code)
