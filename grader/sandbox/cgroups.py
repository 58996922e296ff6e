"""Per-run memory and process-count limits through cgroups, when one is writable and really enforces.

cgroup v1 (this machine): a child of our own memory cgroup and a child of our own pids cgroup.
cgroup v2: only under a directory an administrator delegated to the grader, named by
``ML_AUTOGRADER_CGROUP_ROOT`` (a v2 cgroup that holds processes cannot hand controllers to
children, so guessing a place is unsafe). Anything else: no cgroup, and the backend uses rlimits.

Writing a limit is not the same as enforcing it (containers can hand out cgroups whose controller
does nothing), so ``enforcement()`` starts one small probe process per grader process that must be
refused a fork and OOM-killed; only the controllers that passed are used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .common import launcher_argv

CGROUP_FS = Path("/sys/fs/cgroup")
MIB = 1024 * 1024


class CgroupError(RuntimeError):
    """A cgroup could not be created or configured."""


def _own_v1_path(controller: str) -> str | None:
    """Our cgroup path within a v1 hierarchy, from /proc/self/cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise CgroupError(f"cannot write {value!r} to {path}: {e.strerror}") from None


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path) -> dict[str, int]:
    out = {}
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().lstrip("-").isdigit():
                out[key] = int(value)
    except OSError:
        pass
    return out


@dataclass
class RunCgroups:
    """The cgroups of one run: which exist, how to read them, how to empty and remove them."""

    version: int
    memory: Path | None = None  # v1 memory cgroup, or the v2 cgroup when memory is enforced there
    pids: Path | None = None  # v1 pids cgroup, or the v2 cgroup
    memory_mb: int = 0
    max_processes: int = 0

    def dirs(self) -> list[Path]:
        """The distinct cgroup directories a process must join (the launcher's --cgroup)."""
        seen: list[Path] = []
        for d in (self.memory, self.pids):
            if d is not None and d not in seen:
                seen.append(d)
        return seen

    def peak_memory_mb(self) -> float | None:
        if self.memory is None:
            return None
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        value = _read_int(self.memory / name)
        return None if value is None else round(value / MIB, 1)

    def limits_fired(self) -> list[dict]:
        """Limits the kernel enforced during the run, for the RunRecord's ``limits_fired``."""
        fired = []
        if self.memory is not None:
            if self.version == 1:
                ooms = _read_keyed(self.memory / "memory.oom_control").get("oom_kill", 0)
            else:
                ooms = _read_keyed(self.memory / "memory.events").get("oom_kill", 0)
            if ooms:
                fired.append(
                    {
                        "limit": "memory",
                        "message": f"the memory cgroup limit of {self.memory_mb} MiB killed "
                        f"{ooms} process(es) (out of memory)",
                    }
                )
        if self.pids is not None:
            refused = _read_keyed(self.pids / "pids.events").get("max", 0)
            if refused:
                fired.append(
                    {
                        "limit": "processes",
                        "message": f"the process limit of {self.max_processes} refused {refused} fork(s)",
                    }
                )
        return fired

    def pids_inside(self) -> list[int]:
        pids: set[int] = set()
        for d in self.dirs():
            try:
                pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return sorted(pids)

    def kill_all(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process in the run's cgroups until none is left; True when empty."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids_inside()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Remove the cgroups (kill_all first). Idempotent; a busy cgroup is left with no error."""
        for d in self.dirs():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)  # the last exiting task can take a moment to leave


def _v1_child(controller: str, name: str, root: Path) -> Path | None:
    own = _own_v1_path(controller)
    base = root / controller
    if own is None or not base.is_dir():
        return None
    parent = base / own.lstrip("/")
    path = parent / name
    try:
        path.mkdir()
    except OSError:
        return None
    return path


def _create_v1(name: str, memory_mb: int, max_processes: int, root: Path, want: set[str]) -> RunCgroups:
    cg = RunCgroups(version=1, memory_mb=memory_mb, max_processes=max_processes)
    try:
        if "memory" in want and (mem := _v1_child("memory", name, root)) is not None:
            cg.memory = mem
            limit = memory_mb * MIB
            _write(mem / "memory.limit_in_bytes", str(limit))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                _write(mem / "memory.memsw.limit_in_bytes", str(limit))  # swap may not extend it
            try:
                _write(mem / "memory.swappiness", "0")
            except CgroupError:
                pass  # not settable under some hierarchies; memsw (if present) still holds
            if _read_int(mem / "memory.limit_in_bytes") != limit:
                raise CgroupError(f"{mem}: memory limit did not stick")
        if "pids" in want and (pids := _v1_child("pids", name, root)) is not None:
            cg.pids = pids
            _write(pids / "pids.max", str(max_processes))
            if _read_int(pids / "pids.max") != max_processes:
                raise CgroupError(f"{pids}: pids.max did not stick")
    except CgroupError:
        cg.remove()
        raise
    return cg


def _create_v2(name: str, memory_mb: int, max_processes: int, root: Path, want: set[str]) -> RunCgroups:
    controllers = set((root / "cgroup.controllers").read_text().split())
    path = root / name
    try:
        path.mkdir()
    except OSError as e:
        raise CgroupError(f"cannot create {path}: {e.strerror}") from None
    cg = RunCgroups(version=2, memory_mb=memory_mb, max_processes=max_processes)
    try:
        if "memory" in want and "memory" in controllers:
            _write(path / "memory.max", str(memory_mb * MIB))
            if (path / "memory.swap.max").exists():
                _write(path / "memory.swap.max", "0")
            cg.memory = path
        if "pids" in want and "pids" in controllers:
            _write(path / "pids.max", str(max_processes))
            cg.pids = path
    except CgroupError:
        path.rmdir()
        raise
    if cg.memory is None and cg.pids is None:
        path.rmdir()
    return cg


def create_run_cgroups(
    name: str,
    memory_mb: int,
    max_processes: int,
    *,
    root: Path = CGROUP_FS,
    controllers: set[str] | None = None,
) -> RunCgroups | None:
    """Create this run's cgroups for the enforcing ``controllers`` (default: ``enforcement()``).

    Returns None when no controller is usable; the caller then falls back to rlimits.
    """
    want = enforcement() if controllers is None else controllers
    if not want:
        return None
    if memory_mb <= 0 or max_processes <= 0:
        raise ValueError("memory_mb and max_processes must be positive")
    delegated = os.environ.get("ML_AUTOGRADER_CGROUP_ROOT")
    try:
        if delegated:
            cg = _create_v2(name, memory_mb, max_processes, Path(delegated), want)
        elif (root / "memory").is_dir() or (root / "pids").is_dir():
            cg = _create_v1(name, memory_mb, max_processes, root, want)
        else:
            return None
    except (CgroupError, OSError):
        return None
    return cg if cg.dirs() else None


_probe_lock = threading.Lock()
_probe_result: set[str] | None = None

_PROBE_CODE = """
import os, sys
try:
    pid = os.fork()
except BlockingIOError:
    print("fork-refused", flush=True)
else:
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print("fork-allowed", flush=True)
block = bytearray(b"x") * (96 << 20)
print("alloc-survived", flush=True)
"""


def enforcement() -> set[str]:
    """Controllers ({"memory", "pids"}) that a real probe showed to be enforced (cached per process).

    The probe joins a 32 MiB / 1-task cgroup through the launcher, forks, then fills 96 MiB:
    the fork must fail with EAGAIN and the process must be OOM-killed.
    """
    global _probe_result
    with _probe_lock:
        if _probe_result is None:
            _probe_result = _probe()
        return set(_probe_result)


def _probe() -> set[str]:
    if os.environ.get("ML_AUTOGRADER_NO_CGROUPS"):
        return set()
    cg = create_run_cgroups(f"mlag-probe-{uuid.uuid4().hex[:8]}", 32, 1, controllers={"memory", "pids"})
    if cg is None:
        return set()
    try:
        cmd = [*launcher_argv()]
        for d in cg.dirs():
            cmd += ["--cgroup", str(d)]
        cmd += ["--", sys.executable, "-I", "-S", "-c", _PROBE_CODE]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={})
        except subprocess.TimeoutExpired:
            return set()
        works = set()
        if cg.pids is not None and "fork-refused" in r.stdout:
            works.add("pids")
        if cg.memory is not None and r.returncode == -signal.SIGKILL and "alloc-survived" not in r.stdout:
            works.add("memory")
        return works
    finally:
        cg.kill_all()
        cg.remove()
