"""The interface every sandbox backend implements (bwrap, process, docker), with its defaults.

The execution engine (grader.engine) never builds sandbox command lines itself: it asks a
backend to wrap the kernel's argv and to kill the run's processes. Backends own isolation.
``Sandbox`` is an abstract base class rather than a Protocol so that the members only some
backends can provide (notes, mechanisms, cgroup readings, a growable working directory) have
real defaults, and the engine calls them without probing.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.limits import Limits

# Where the sandbox shows things to the kernel (fixed paths, so notebooks can rely on them).
SANDBOX_HOME = "/home/student"  # the writable per-run working directory (cwd, HOME)
SANDBOX_DATA = "/assignment/data"  # the assignment's public data, read-only; ASSIGNMENT_DATA points here
SANDBOX_ENV = "/opt/kernel-env"  # the assignment's kernel environment, read-only (where a backend can remap)


@dataclass(frozen=True)
class KernelInterpreter:
    """The Python the kernel runs when an assignment declares its own environment (a venv).

    ``prefix`` is the built environment on the host, ``base_prefix`` the installation its
    interpreter comes from (both are shown to the kernel read-only; the grader's venv is not).
    ``reserved_address_space_mb`` is what the environment's libraries reserve on import (a CUDA
    build of torch reserves gigabytes it never touches): an RLIMIT_AS limit adds it.
    """

    prefix: Path
    base_prefix: Path
    reserved_address_space_mb: int = 0

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"


@dataclass
class SandboxConfig:
    """What a backend needs to know about one run.

    ``workdir`` (writable, becomes SANDBOX_HOME) and ``ipc_dir`` (mode 0700, holds the connection
    file and IPC sockets, visible at the *same* path inside the sandbox so both sides agree on the
    socket names) are created by the caller; the backend may chown them to the run's uid.
    """

    workdir: Path
    ipc_dir: Path
    data_dir: Path | None
    limits: Limits = field(default_factory=Limits)
    gpu: str | None = None  # a GPU index or UUID; None: no GPU device is visible
    env: dict[str, str] = field(default_factory=dict)
    kernel: KernelInterpreter | None = None  # None: the grader's own interpreter (no declared environment)


class Sandbox(ABC):
    """One run's sandbox: prepare, wrap the kernel command, measure, kill, clean up.

    Subclasses set ``name`` and ``isolated`` and may append to ``notes`` (caveats for the
    RunRecord: "does not isolate", "memory limited by RLIMIT_AS") and fill ``mechanisms``
    (which mechanism enforces each limit: {"memory": "cgroup v1 memory", ...}).
    """

    name: str = "sandbox"
    isolated: bool = False  # False for the process backend: it says so in logs and results

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.notes: list[str] = []
        self.mechanisms: dict[str, str] = {}

    def kernel_python(self) -> str:
        """The kernel's interpreter as the kernel sees it: the assignment's environment where one
        is declared, else the grader's own. Backends that mount the environment elsewhere override."""
        if self.config.kernel is not None:
            return str(self.config.kernel.python)
        return sys.executable

    def reserved_address_space_mb(self) -> int:
        """Address space the kernel's libraries reserve on import, added to an RLIMIT_AS limit."""
        return self.config.kernel.reserved_address_space_mb if self.config.kernel is not None else 0

    @abstractmethod
    def prepare(self) -> None:
        """Allocate the run's uid/cgroup, chown the per-run directories."""

    @abstractmethod
    def wrap(self, argv: list[str]) -> list[str]:
        """The full command line that starts ``argv`` (the kernel) inside the sandbox."""

    @abstractmethod
    def environment(self) -> dict[str, str]:
        """The complete (cleared) environment the wrapped command starts with."""

    @abstractmethod
    def kill_all(self) -> None:
        """Kill every process of the run (the watchdog's hammer). Idempotent."""

    @abstractmethod
    def cleanup(self) -> None:
        """Release the uid slot and cgroup; remove temporary mounts. Idempotent."""

    def peak_memory_mb(self) -> float | None:
        """Peak memory of the run so far, where the backend can measure it (cgroup), else None."""
        return None

    def limits_fired(self) -> list[dict[str, Any]]:
        """Limits the backend saw fire ({"limit": "memory" | "processes" | "disk", "message": ...}),
        where it can tell (cgroup counters); [] otherwise."""
        return []

    def make_room(self, nbytes: int) -> None:
        """Let a size-capped working directory take ``nbytes`` more for the harvest (called by the
        engine before it stages inputs). Nothing to do where the directory is not capped."""
        return None
