"""The interface every sandbox backend implements (bwrap, process, docker).

The execution engine (grader.execute) never builds sandbox command lines itself: it asks a
backend to wrap the kernel's argv and to kill the run's processes. Backends own isolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Where the sandbox shows things to the kernel (fixed paths, so notebooks can rely on them).
SANDBOX_HOME = "/home/student"  # the writable per-run working directory (cwd, HOME)
SANDBOX_DATA = "/assignment/data"  # the assignment's public data, read-only; ASSIGNMENT_DATA points here


@dataclass
class Limits:
    """Resource limits for one notebook run. Sizes in MiB, times in seconds.

    ``disk_mb`` caps the total size of the working directory (SANDBOX_HOME): with the bwrap
    backend as root it is a tmpfs of that size (RAM, charged to the run's memory cgroup; see
    docs/SECURITY.md), elsewhere it is not enforced and the run's ``notes`` say so.
    ``file_size_mb`` caps each file (RLIMIT_FSIZE); ``tmpfs_mb`` sizes /tmp and /dev/shm each.
    """

    cell_timeout: float = 600.0
    notebook_timeout: float = 3600.0
    memory_mb: int = 4096
    max_processes: int = 128
    file_size_mb: int = 100
    open_files: int = 256
    cpu_seconds: int = 7200
    output_bytes: int = 1_000_000
    tmpfs_mb: int = 256
    harvest_timeout: float = 120.0
    answer_bytes: int = 2_000_000
    disk_mb: int = 1024


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


class Sandbox(Protocol):
    """One run's sandbox: prepare, wrap the kernel command, measure, kill, clean up."""

    name: str
    isolated: bool  # False for the process backend: it says so in logs and results
    # Added after the first version; callers read them with getattr(..., default) for old backends:
    notes: list[str]  # caveats for the RunRecord ("does not isolate", "memory limited by RLIMIT_AS")
    mechanisms: dict[str, str]  # which mechanism enforces each limit: {"memory": "cgroup v1 memory", ...}

    def prepare(self) -> None:
        """Allocate the run's uid/cgroup, chown the per-run directories."""

    def wrap(self, argv: list[str]) -> list[str]:
        """The full command line that starts ``argv`` (the kernel) inside the sandbox."""

    def environment(self) -> dict[str, str]:
        """The complete (cleared) environment the wrapped command starts with."""

    def peak_memory_mb(self) -> float | None:
        """Peak memory of the run so far, where the backend can measure it (cgroup), else None."""

    def limits_fired(self) -> list[dict]:
        """Limits the backend saw fire ({"limit": "memory" | "processes", "message": ...}), where
        it can tell (cgroup counters); [] otherwise. Optional: read with getattr."""

    def make_room(self, nbytes: int) -> None:
        """Let a size-capped working directory take ``nbytes`` more for the harvest (called by the
        engine before it stages inputs). Optional: read with getattr; only bwrap as root has it."""

    def kill_all(self) -> None:
        """Kill every process of the run (the watchdog's hammer). Idempotent."""

    def cleanup(self) -> None:
        """Release the uid slot and cgroup; remove temporary mounts. Idempotent."""
