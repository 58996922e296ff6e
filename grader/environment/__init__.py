"""Kernel environments: the packages an assignment's notebooks run with, apart from the grader's.

``spec`` reads and hashes a rubric's ``environment:`` declaration, ``build`` installs it once
into the cache, ``store`` finds a built one. Grading only ever calls ``for_assignment``: it
finds the built environment or raises ``EnvironmentNotBuilt`` naming the command to run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grader.environment.spec import (
    EnvironmentNotBuilt,
    EnvironmentSpec,
    KernelEnvironmentError,
    assignment_spec,
)
from grader.environment.store import KernelEnvironment, envs_root, find_built, locate, require_built

if TYPE_CHECKING:
    from grader.assignment import Assignment

__all__ = [
    "EnvironmentNotBuilt",
    "EnvironmentSpec",
    "KernelEnvironment",
    "KernelEnvironmentError",
    "assignment_spec",
    "envs_root",
    "environment_hash",
    "find_built",
    "for_assignment",
    "locate",
]


def for_assignment(assignment: Assignment) -> KernelEnvironment | None:
    """The assignment's built environment; None when its rubric declares none (the kernel then
    runs the grader's own interpreter). Raises EnvironmentNotBuilt when it is declared but not built."""
    spec = assignment_spec(assignment)
    if spec is None:
        return None
    return require_built(spec, assignment.name)


def environment_hash(assignment: Assignment) -> str | None:
    """The sha256 of the assignment's declared kernel environment (its normalised specification:
    Python version, requirements, torch build), or None when its rubric declares none. Needs no
    build: the same declaration gives the same hash on every machine, so it can key executions."""
    spec = assignment_spec(assignment)
    return spec.sha256 if spec is not None else None
