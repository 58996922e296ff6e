"""One unprivileged uid per concurrent run, allocated with file locks.

Why a uid per run: RLIMIT_NPROC counts every process of a uid, and signals, /proc and files are
guarded by uid; two runs sharing one uid could starve or signal each other. A slot is a lock file
``<dir>/<uid>.lock`` held with flock() for as long as the run lives, so concurrent graders (even
separate processes on the same machine) never share a uid, and a crashed grader's slots free
themselves when its file descriptors close. No passwd entry is needed.
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BASE = 61000
DEFAULT_COUNT = 2000
DEFAULT_LOCK_DIR = Path(os.environ.get("ML_AUTOGRADER_UID_LOCKS", "/run/ml-autograder/uids"))


class NoFreeUid(RuntimeError):
    """Every uid slot is taken (or still has live processes)."""


@dataclass
class UidSlot:
    """A uid (and gid of the same number) reserved for one run until ``release()``."""

    uid: int
    gid: int
    _fd: int | None = field(default=None, repr=False)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Give the slot back (idempotent). Kill the uid's processes first: see ``kill_uid``."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def processes_of_uid(uid: int) -> list[int]:
    """Live (non-zombie) pids whose real uid is ``uid``, from /proc; racy by nature, so callers loop.

    Zombies are skipped: they run nothing, and they stay until their parent (often the engine's
    Popen) reaps them.
    """
    pids = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as f:
                status = f.read()
        except OSError:
            continue
        state = uid_field = None
        for line in status.splitlines():
            if line.startswith("State:"):
                state = line.split()[1]
            elif line.startswith("Uid:"):
                uid_field = line.split()[1]
                break
        if uid_field == str(uid) and state not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def allocate_uid(
    lock_dir: Path = DEFAULT_LOCK_DIR, base: int = DEFAULT_BASE, count: int = DEFAULT_COUNT
) -> UidSlot:
    """Reserve a free uid in ``[base, base + count)``; raise NoFreeUid when none is left.

    A slot whose lock is free but which still has processes (left over from a killed grader) is
    skipped, never reused while anything runs under it.
    """
    if base < 1000 or count < 1:
        raise ValueError(f"uid range must start at 1000 or above and be non-empty, got {base}+{count}")
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = random.randrange(count)  # spread concurrent graders over the range
    for i in range(count):
        uid = base + (start + i) % count
        fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        if processes_of_uid(uid):
            os.close(fd)
            continue
        return UidSlot(uid=uid, gid=uid, _fd=fd)
    raise NoFreeUid(f"no free uid in {base}..{base + count - 1} (lock files in {lock_dir})")


def kill_uid(uid: int, *, attempts: int = 20) -> bool:
    """SIGKILL every process of ``uid``; True when none is left.

    A process that becomes ``uid`` and calls kill(-1, SIGKILL) reaches exactly that uid's processes,
    in any pid namespace, in one system call; it is repeated because a fork bomb can race it.
    Only for root (the uid must be a dedicated one, never the grader's own).
    """
    if uid == os.getuid() or uid == 0:
        raise ValueError("refusing to kill every process of the grader's own uid")
    kill = shutil.which("kill") or "/bin/kill"
    for _ in range(attempts):
        if not processes_of_uid(uid):
            return True
        # subprocess (not os.fork) because the engine is threaded; the kill binary becomes uid and
        # kill(-1) spares only itself.
        try:
            subprocess.run(
                [kill, "-KILL", "-1"], user=uid, group=uid, extra_groups=[], capture_output=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            _fork_kill(uid)
        time.sleep(0.01)
    return not processes_of_uid(uid)


def _fork_kill(uid: int) -> None:
    """Fallback without a kill binary: a forked child becomes ``uid`` and calls kill(-1, SIGKILL)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
