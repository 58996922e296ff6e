"""`grader env build|show|path ASSIGNMENT`: the kernel environment an assignment declares.

``build`` installs it once into the cache (``$ML_AUTOGRADER_ENVS``, keyed by the hash of the
declaration; a no-op when it is there). ``show`` lists its packages, as students see them in
the template's first cell and on their feedback page. ``path`` prints its directory (for a
Dockerfile or a Gradescope setup script that ships it).
"""

from __future__ import annotations

import json
import time
from typing import Any

import click


@click.group("env")
def env() -> None:
    """Build and inspect assignments' kernel environments (the packages notebooks may import)."""


def _spec(assignment_name: str) -> tuple[Any, Any]:
    from grader.assignment import AssignmentError, load_assignment
    from grader.environment import KernelEnvironmentError, assignment_spec

    try:
        assignment = load_assignment(assignment_name)
        spec = assignment_spec(assignment)
    except (AssignmentError, KernelEnvironmentError) as exc:
        raise click.ClickException(str(exc)) from exc
    if spec is None:
        raise click.ClickException(
            f"{assignment.name} declares no environment (its rubric has no `environment:` block): "
            "its notebooks run on the grader's own interpreter; see docs/ENVIRONMENTS.md"
        )
    return assignment, spec


@env.command("build")
@click.argument("assignment_name", metavar="ASSIGNMENT")
@click.option("--force", is_flag=True, help="Rebuild even when the environment is already built.")
def build(assignment_name: str, force: bool) -> None:
    """Build ASSIGNMENT's environment once (needs the package index; grading never does)."""
    from grader.environment import KernelEnvironmentError
    from grader.environment.build import build_environment

    assignment, spec = _spec(assignment_name)
    started = time.perf_counter()
    try:
        built, fresh = build_environment(spec, assignment.name, force=force, say=click.echo)
    except KernelEnvironmentError as exc:
        raise click.ClickException(str(exc)) from exc
    what = "built" if fresh else "already built"
    click.echo(
        f"{assignment.name}: environment {built.key} {what} ({len(built.packages)} packages, "
        f"Python {built.python_version}) in {built.prefix} ({time.perf_counter() - started:.1f} s)"
    )


@env.command("show")
@click.argument("assignment_name", metavar="ASSIGNMENT")
@click.option("--json", "as_json", is_flag=True, help="Print the declaration and the packages as JSON.")
def show(assignment_name: str, as_json: bool) -> None:
    """List the packages of ASSIGNMENT's environment (declared, and installed where built)."""
    from grader.environment import find_built

    assignment, spec = _spec(assignment_name)
    built = find_built(spec, assignment.name)
    if as_json:
        document = {"assignment": assignment.name, "key": spec.key, "spec": spec.canonical()}
        document["built"] = None if built is None else {"prefix": str(built.prefix), **built.summary()}
        click.echo(json.dumps(document, indent=1))
        return
    click.echo(f"{assignment.name}: Python {spec.python}, environment {spec.key}")
    click.echo("declared:")
    for requirement in spec.requirements:
        click.echo(f"  {requirement}")
    if built is None:
        click.echo(f"not built on this machine: run `grader env build {assignment.name}`")
        return
    click.echo(f"installed in {built.prefix} (Python {built.python_version}):")
    for name, version in sorted(built.packages.items(), key=lambda kv: kv[0].lower()):
        click.echo(f"  {name}=={version}")


@env.command("path")
@click.argument("assignment_name", metavar="ASSIGNMENT")
def path(assignment_name: str) -> None:
    """Print the directory of ASSIGNMENT's built environment (exit 1 when it is not built)."""
    from grader.environment import find_built

    assignment, spec = _spec(assignment_name)
    built = find_built(spec, assignment.name)
    if built is None:
        raise click.ClickException(f"not built: run `grader env build {assignment.name}`")
    click.echo(str(built.prefix))
