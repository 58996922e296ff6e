"""`grader import otter MASTER.ipynb --out DIR`: another grader's assignment as a folder of ours."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.commands.options import backend_option

if TYPE_CHECKING:
    from grader.authoring.imported import ImportedAssignment  # lazy: see the module docstring of grader.cli


@click.command("import")
@click.argument("kind", type=click.Choice(["otter", "nbgrader"]))
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--seeds", default=3, show_default=True, type=click.IntRange(min=1), help="Calibration seeds.")
@click.option("--no-run", is_flag=True, help="Only write the folder (skip `grader assign`).")
@backend_option
def import_assignment(kind: str, source: Path, out_dir: Path, seeds: int, no_run: bool, backend: str) -> None:
    """Write an assignment folder from an otter master notebook or nbgrader source notebooks.

    Solution regions become master markers, points and names carry over, manually graded
    questions become free-text items, tests become function items, answer checks or in-kernel
    test items (docs/SECURITY.md: the last can be defeated by a hostile notebook). Then runs
    `grader assign` on the folder. Prints what could not be carried over. An nbgrader folder
    with several notebooks gives one assignment of several notebooks (a folder each, and
    OUT/rubric.yaml naming them)."""
    from grader.authoring.import_nbgrader import (
        nbgrader_sources,
        read_nbgrader_notebook,
    )  # lazy: see the module docstring of grader.cli
    from grader.authoring.import_otter import (
        read_otter_master,
    )  # lazy: see the module docstring of grader.cli

    try:
        if kind == "otter":
            jobs = [(read_otter_master(source), out_dir)]
        else:
            notebooks = nbgrader_sources(source)
            several = len(notebooks) > 1
            jobs = [
                (read_nbgrader_notebook(nb), out_dir / nb.stem if several else out_dir) for nb in notebooks
            ]
            if several:
                click.echo(
                    f"{len(notebooks)} notebooks: one assignment of {len(notebooks)} notebooks in {out_dir} "
                    "(each notebook's own folder under it; a student submits the set)"
                )
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    worst = 0
    for imported, folder in jobs:
        worst = max(worst, _write_and_assign(imported, folder, run=not no_run, seeds=seeds, backend=backend))
    if kind == "nbgrader" and len(jobs) > 1:
        written = _write_set_rubric(out_dir, source, [folder.name for _, folder in jobs])
        click.echo(f"wrote {written} (grade the set with --assignment {out_dir})")
    sys.exit(worst)


def _write_set_rubric(out_dir: Path, source: Path, names: list[str]) -> Path:
    """The rubric of an assignment spanning several notebooks: each notebook and its own rubric."""
    import re  # lazy: only this branch needs it

    import yaml  # lazy: only this branch needs it

    name = re.sub(r"[^A-Za-z0-9_-]", "_", source.resolve().name)
    rubric = {
        "schema_version": 1,
        "assignment": name if name[:1].isalpha() else f"a{name}",
        "title": f"{source.resolve().name} (imported from nbgrader)",
        "notebooks": [{"name": n, "rubric": f"{n}/rubric.yaml"} for n in names],
    }
    path = out_dir / "rubric.yaml"
    path.write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    return path


def _write_and_assign(
    imported: ImportedAssignment, out_dir: Path, *, run: bool, seeds: int, backend: str
) -> int:
    """Write one imported assignment, say what did not carry over, then `grader assign` it."""
    from grader.authoring.assign import assign  # lazy: see the module docstring of grader.cli
    from grader.authoring.imported import write_folder  # lazy: see the module docstring of grader.cli

    try:
        written = write_folder(imported, out_dir)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for path in written:
        click.echo(f"wrote {path}")
    for note in imported.notes:
        click.echo(f"not carried over: {note}")
    kinds: dict[str, int] = {}
    for question in imported.questions:
        for test in question.tests:
            kinds[test.kind] = kinds.get(test.kind, 0) + 1
    click.echo("tests: " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"))
    if kinds.get("kernel_test"):
        click.echo(
            "note: in-kernel test items run beside the student's code and can be defeated by a hostile "
            "notebook (docs/SECURITY.md); replace them by native items where it matters"
        )
    return assign(out_dir, run=run, seeds=seeds, backend=backend, echo=click.echo)
