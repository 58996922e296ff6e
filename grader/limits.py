"""Resource limits of one notebook run, and the one place their command-line options come from.

``Limits`` is read by two parties: the engine (cell, notebook and harvest timeouts, the output
cap, the size of harvested answers) and the sandbox backends (memory, processes, files, disk).
It lives here, beside neither, so that both import it without importing each other. Each field
carries its option name and help text, and ``limit_options`` turns them into click options, so
``grader grade``, ``run`` and ``check`` accept the same limits with the same defaults and checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def _limit(default: float | int, option: str, help: str, minimum: float = 0) -> Any:
    """A field with its command-line option; values must be above 0 and at least ``minimum``."""
    return field(default=default, metadata={"option": option, "help": help, "minimum": minimum})


@dataclass(frozen=True)
class Limits:
    """Resource limits for one notebook run. Sizes in MiB unless named bytes, times in seconds.

    ``disk_mb`` caps the total size of the working directory: with the bwrap backend as root it
    is a tmpfs of that size (RAM, charged to the run's memory cgroup; see docs/SECURITY.md),
    elsewhere it is not enforced and the run's ``notes`` say so. ``file_size_mb`` caps each file
    (RLIMIT_FSIZE); ``tmpfs_mb`` sizes /tmp and /dev/shm each.
    """

    cell_timeout: float = _limit(600.0, "--timeout", "Per-cell timeout, seconds.")
    notebook_timeout: float = _limit(3600.0, "--notebook-timeout", "Whole-notebook limit, seconds.")
    memory_mb: int = _limit(4096, "--memory-mb", "Memory of the sandbox, MiB.", minimum=64)
    max_processes: int = _limit(128, "--max-processes", "Processes and threads per run.")
    file_size_mb: int = _limit(100, "--file-size-mb", "Largest file a run may write, MiB.")
    open_files: int = _limit(256, "--open-files", "Open files per process.")
    cpu_seconds: int = _limit(7200, "--cpu-seconds", "CPU time of the whole run, seconds.")
    output_bytes: int = _limit(1_000_000, "--output-bytes", "Output kept per cell, bytes.")
    tmpfs_mb: int = _limit(256, "--tmpfs-mb", "Size of /tmp and of /dev/shm inside the sandbox, MiB.")
    harvest_timeout: float = _limit(
        120.0, "--harvest-timeout", "Seconds for reading answers and running models after the notebook."
    )
    answer_bytes: int = _limit(2_000_000, "--answer-bytes", "Largest harvested answer document, bytes.")
    disk_mb: int = _limit(
        1024,
        "--disk-mb",
        "Total size of a run's working directory, MiB (enforced by the bwrap backend as root; "
        "see docs/SECURITY.md).",
    )


def _check(minimum: float) -> Callable[[Any, Any, Any], Any]:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        if value is not None and (not value > 0 or value < minimum):
            import click  # lazy: keeps `import grader.limits` free of click for the engine and workers

            floor = f" and at least {minimum:g}" if minimum else ""
            raise click.BadParameter(f"{value:g} is not allowed: limits must be positive{floor}")
        return value

    return check


def limit_options(command: F) -> F:
    """Add one click option per ``Limits`` field to ``command`` (its value arrives as a keyword
    named like the field); ``limits_from_options`` collects them back into a ``Limits``."""
    import click  # lazy: see _check

    for spec in reversed(dataclasses.fields(Limits)):
        kind = float if isinstance(spec.default, float) else int
        command = click.option(
            spec.metadata["option"],
            spec.name,
            type=kind,
            default=spec.default,
            show_default=True,
            callback=_check(spec.metadata["minimum"]),
            help=spec.metadata["help"],
        )(command)
    return command


def limits_from_options(values: dict[str, Any]) -> Limits:
    """The ``Limits`` named by a command's keyword arguments; removes those keywords from ``values``."""
    return Limits(**{spec.name: values.pop(spec.name) for spec in dataclasses.fields(Limits)})


def with_limits(base: Limits | None = None, **changes: Any) -> Limits:
    """``base`` (default limits when None) with some fields changed."""
    return dataclasses.replace(base or Limits(), **changes)
