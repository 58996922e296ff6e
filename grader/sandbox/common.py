"""Pieces every backend shares: the launcher command, the cleared environment, rlimits, state dirs."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from grader.limits import Limits

from .base import SANDBOX_DATA, SANDBOX_HOME, SandboxConfig
from .launch import process_start_time

LAUNCH_PY = Path(__file__).with_name("launch.py")
MIB = 1024 * 1024
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(RuntimeError):
    """The sandbox could not be set up (not the student's fault: a grader or machine problem)."""


def launcher_argv() -> list[str]:
    """How to start the launcher: isolated mode, no site, so nothing but the stdlib is imported."""
    return [sys.executable, "-I", "-S", str(LAUNCH_PY)]


def absolute_command(argv: list[str]) -> list[str]:
    """Resolve argv[0] now: the launcher never searches PATH (after the uid drop it may not read it)."""
    if not argv:
        raise SandboxError("wrap() needs a command, got an empty argv")
    if os.path.isabs(argv[0]):
        return list(argv)
    found = shutil.which(argv[0])
    if not found:
        raise SandboxError(f"command {argv[0]!r} not found on PATH")
    return [os.path.abspath(found), *argv[1:]]


def backstop_address_space_mb(memory_mb: int) -> int:
    """RLIMIT_AS beside an enforcing memory cgroup: 2 x the limit + 1 GiB.

    The cgroup enforces the real limit, but only once pages are touched (a 4 GiB array under a
    1 GiB limit is killed after filling 1 GiB). This backstop refuses an impossible allocation at
    once with a MemoryError the student can read, and leaves room for address space that threads
    and libraries reserve without touching (malloc arenas, stacks: ~1.4 GiB for torch + sklearn).
    """
    return 2 * memory_mb + 1024


def rlimit_args(limits: Limits, *, address_space_mb: int | None, nproc: int | None) -> list[str]:
    """``--rlimit`` options for the launcher; no address-space limit when ``address_space_mb`` is None
    (GPU jobs: CUDA reserves huge address ranges)."""
    args = [
        f"fsize={limits.file_size_mb * MIB}",
        f"nofile={limits.open_files}",
        f"cpu={int(limits.cpu_seconds)}",
        "core=0",
    ]
    if address_space_mb is not None:
        args.append(f"as={address_space_mb * MIB}")
    if nproc is not None:
        args.append(f"nproc={nproc}")
    out: list[str] = []
    for a in args:
        out += ["--rlimit", a]
    return out


def validate_config(config: SandboxConfig) -> None:
    """Refuse configurations that would give a confusing failure later, with a clear message."""
    for name, path in (("workdir", config.workdir), ("ipc_dir", config.ipc_dir)):
        if not Path(path).is_absolute():
            raise SandboxError(f"{name} must be an absolute path, got {path}")
        if not Path(path).is_dir():
            raise SandboxError(f"{name} {path} does not exist (the caller creates it)")
    if config.data_dir is not None and not Path(config.data_dir).is_dir():
        raise SandboxError(f"data_dir {config.data_dir} is not a directory")
    lim = config.limits
    for field in (
        "memory_mb",
        "max_processes",
        "file_size_mb",
        "open_files",
        "cpu_seconds",
        "tmpfs_mb",
        "disk_mb",
    ):
        if getattr(lim, field) <= 0:
            raise SandboxError(f"limit {field} must be positive, got {getattr(lim, field)}")
    for key, value in config.env.items():
        if not key or "=" in key or "\0" in key or "\0" in str(value):
            raise SandboxError(f"bad environment variable {key!r}")


def environment(
    config: SandboxConfig,
    *,
    home: str = SANDBOX_HOME,
    data: str = SANDBOX_DATA,
    tmp: str = "/tmp",
    python: str | None = None,
) -> dict[str, str]:
    """The complete environment of the kernel: nothing inherited from the grader.

    The kernel interpreter's bin directory (``python``, as the kernel sees it) comes first on
    PATH so ``!python`` in a notebook is the kernel's.
    """
    env = {
        "PATH": f"{os.path.dirname(python or sys.executable)}:{SYSTEM_PATH}",
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "TMPDIR": tmp,
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "XDG_CACHE_HOME": f"{home}/.cache",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CUDA_VISIBLE_DEVICES": "",  # no GPU unless one is assigned (the gpu module overrides this)
    }
    if config.data_dir is not None:
        env["ASSIGNMENT_DATA"] = data
    env.update({k: str(v) for k, v in config.env.items()})
    return env


def make_state_dir() -> Path:
    """A per-run directory outside the sandbox for the launcher's files (pid, seccomp filter, passwd).

    Mode 0711: bubblewrap, running as the run's uid, must reach named files in it; nobody may list it.
    """
    path = Path(tempfile.mkdtemp(prefix="mlag-sandbox-"))
    path.chmod(0o711)
    return path


def read_pid(state_dir: Path | None) -> int | None:
    """The launcher's pid (the sandbox's top process after exec, a process-group leader), unless
    that number now belongs to another process.

    The launcher records its start time beside its pid. Same start time: still ours. No process
    with that pid: the number is still safe as a process group id, because Linux does not recycle
    a pid while any process uses it as its group id (orphaned members of our group keep it). A
    process with another start time: recycled, so our group is empty; None, so kill_all never
    hits a stranger.
    """
    if state_dir is None:
        return None
    try:
        pid_text, _, start_text = (state_dir / "pid").read_text().strip().partition(" ")
        pid, start = int(pid_text), int(start_text)
    except (OSError, ValueError):
        return None
    now = process_start_time(pid)
    return pid if now is None or now == start else None


def kill_process_group(pid: int | None) -> None:
    """SIGKILL a process group led by ``pid`` (the launcher calls setsid); gone already is fine."""
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def remove_tree(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _processes_of_uid(uid: int) -> int:
    """How many processes ``uid`` runs now (RLIMIT_NPROC counts all of them, not just ours)."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def nproc_limit(limits: Limits) -> int | None:
    """RLIMIT_NPROC for a run sharing the grader's uid: the uid's current count plus the budget.

    Root ignores RLIMIT_NPROC, so there is no process limit then (None).
    """
    if os.geteuid() == 0:
        return None
    return _processes_of_uid(os.getuid()) + limits.max_processes
