"""A size cap on the run's working directory: a tmpfs mounted on the host at the workdir's path.

Only root can mount it (the normal bwrap case). The tmpfs is made in ``prepare()`` (before the
launcher chowns the directory) with the run's uid/gid as its owner, mode 0700, nosuid and nodev;
a write past its size fails inside the sandbox with ENOSPC. Whatever the caller put in the
directory before ``prepare()`` is copied in (no student code has run yet, so the copy is trusted).
``unmount()`` detaches it in ``cleanup()``, after the engine has read the harvest's output files.
Before the harvest the engine asks for room (``make_room``): the tmpfs grows by what the harvest
writes (staged inputs, output files), so a notebook that filled its share is still harvested.

Its pages are RAM and are charged to the memory cgroup of the process that writes them, i.e. to
the run's cgroup when one is enforcing: files and processes share ``memory_mb``. Unlike /tmp and
/dev/shm (which live in bubblewrap's namespace and go with the kernel), the workdir outlives a
kernel restart, so ``effective_size_mb`` keeps it to a quarter of the memory limit there: a
disk-filling notebook meets ENOSPC before the cgroup's OOM killer, and a restarted kernel keeps
three quarters of its memory.

A grader killed before ``cleanup()`` leaves its mounts behind; ``sweep_stale`` (called from
``prepare()``) detaches those whose grader process is gone: the mount's source names the pid and
start time of the process that made it.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from grader.limits import Limits

from .common import MIB
from .launch import process_start_time

log = logging.getLogger(__name__)

MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MNT_DETACH = 2
SOURCE_PREFIX = "mlag-work"
_SOURCE = re.compile(rf"^{SOURCE_PREFIX}-(\d+)-(\d+)$")

_libc = ctypes.CDLL(None, use_errno=True)


class MountError(OSError):
    """The tmpfs could not be mounted (the caller falls back and says so)."""


def effective_size_mb(disk_mb: int, memory_mb: int | None) -> int:
    """The tmpfs size: ``disk_mb``, at most a quarter of the memory cgroup's limit when one
    charges the files to the run (``memory_mb``; None: no enforcing memory cgroup)."""
    if memory_mb is None:
        return disk_mb
    return max(1, min(disk_mb, memory_mb // 4))


def source_name() -> str:
    pid = os.getpid()
    return f"{SOURCE_PREFIX}-{pid}-{process_start_time(pid) or 0}"


def _unescape(field: str) -> str:
    """/proc/self/mountinfo escapes space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts() -> list[tuple[str, str, str]]:
    """(mount point, file-system type, source) of every mount in our namespace, in mount order."""
    out: list[tuple[str, str, str]] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rfields = left.split(), right.split()
        if len(fields) >= 5 and len(rfields) >= 2:
            out.append((_unescape(fields[4]), rfields[0], _unescape(rfields[1])))
    return out


def is_our_tmpfs(path: Path, source: str) -> bool:
    """Whether the top mount at ``path`` is a tmpfs with this ``source`` name."""
    top = [m for m in mounts() if m[0] == str(path)]
    return bool(top) and top[-1][1] == "tmpfs" and top[-1][2] == source


def mount_tmpfs(path: Path, size_mb: int, uid: int, gid: int, source: str) -> None:
    """Mount a ``size_mb`` tmpfs owned by uid:gid on ``path``, keeping what ``path`` held."""
    path = Path(path)
    old = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        data = f"size={size_mb}m,mode=0700,uid={uid},gid={gid}"
        ret = _libc.mount(
            source.encode(), str(path).encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV), data.encode()
        )
        if ret != 0:
            err = ctypes.get_errno()
            raise MountError(err, f"mount tmpfs on {path}: {os.strerror(err)}")
        try:
            _copy_into(old, path)
        except OSError:
            unmount(path, source)
            raise
    finally:
        os.close(old)


def resize(path: Path, source: str, size_mb: int) -> None:
    """Set our tmpfs at ``path`` to ``size_mb`` (a remount; owner and mode stay)."""
    if not is_our_tmpfs(path, source):
        raise MountError(errno.EINVAL, f"{path} is not the run's tmpfs")
    flags = ctypes.c_ulong(MS_REMOUNT | MS_NOSUID | MS_NODEV)
    if _libc.mount(source.encode(), str(path).encode(), b"tmpfs", flags, f"size={size_mb}m".encode()) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"resize the tmpfs on {path}: {os.strerror(err)}")


def _copy_into(old_fd: int, path: Path) -> None:
    """Copy the covered directory's entries (reached through the fd opened before the mount)."""
    names = os.listdir(old_fd)
    if not names:
        return
    covered = f"/proc/self/fd/{old_fd}"
    for name in names:
        src, dst = os.path.join(covered, name), path / name
        if os.path.isdir(src) and not os.path.islink(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst, follow_symlinks=False)


def unmount(path: Path, source: str) -> bool:
    """Detach our tmpfs from ``path`` (lazily: a process still inside cannot keep it mounted).

    Idempotent: does nothing unless the top mount at ``path`` is ours. True when it was detached.
    """
    if not is_our_tmpfs(path, source):
        return False
    if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return False
        raise OSError(err, f"unmount {path}: {os.strerror(err)}")
    return True


def sweep_stale() -> list[str]:
    """Detach workdir tmpfs mounts whose grader process (pid and start time) no longer exists."""
    swept = []
    for point, fstype, source in mounts():
        m = _SOURCE.match(source)
        if fstype != "tmpfs" or m is None:
            continue
        pid, start = int(m.group(1)), int(m.group(2))
        if process_start_time(pid) == start:
            continue  # its grader is alive: the mount is in use
        try:
            if unmount(Path(point), source):
                swept.append(point)
        except OSError as exc:
            log.warning("could not detach a stale working-directory tmpfs at %s: %s", point, exc)
    if swept:
        log.warning("detached %d working-directory tmpfs left by dead graders: %s", len(swept), swept)
    return swept


def usage_mb(path: Path, *, max_entries: int = 200_000) -> float | None:
    """Bytes under ``path`` in MiB (lstat only, no symlink followed); None when the walk is too
    big or fails. For the backends that cannot cap the directory: they report, not enforce."""
    total, seen = 0, 0
    stack = [str(path)]
    try:
        while stack:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    seen += 1
                    if seen > max_entries:
                        return None
                    st = entry.stat(follow_symlinks=False)
                    total += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
    except OSError:
        return None
    return total / (1024 * 1024)


@dataclass
class WorkdirCap:
    """How one run's working directory is capped: a mounted tmpfs (``mount``: host path and mount
    source, ``size_mb``), or nothing (``mount`` None: only measured at the end)."""

    mechanism: str
    notes: list[str] = field(default_factory=list)
    mount: tuple[Path, str] | None = None
    size_mb: int | None = None

    def grow(self, nbytes: int) -> None:
        """Grow the tmpfs by ``nbytes`` for the harvest (the engine asks before it stages inputs):
        the notebook's share stays ``disk_mb``, the harvest writes on top of it. The kernel can use
        the room too; that only spoils its own harvest."""
        if self.mount is not None and self.size_mb is not None:
            resize(*self.mount, self.size_mb + -(-max(0, nbytes) // MIB) + 1)

    def fired(self, workdir: Path, limits: Limits) -> dict[str, str] | None:
        """``disk`` when the tmpfs is (nearly) full now, or, uncapped, the directory is over
        ``disk_mb``. A notebook that filled the tmpfs and then deleted its files is not seen, nor
        needed: the student saw ENOSPC."""
        if self.mount is not None and self.size_mb is not None:
            try:
                st = os.statvfs(self.mount[0])
            except OSError:
                return None
            filled = (st.f_blocks - st.f_bfree) * st.f_frsize
            if filled > self.size_mb * MIB - max(MIB, self.size_mb * MIB // 100):
                return {
                    "limit": "disk",
                    "message": f"the working directory filled its {self.size_mb} MiB cap (writes failed with ENOSPC)",
                }
            return None
        used = usage_mb(workdir)
        if used is not None and used > limits.disk_mb:
            return {
                "limit": "disk",
                "message": f"the working directory grew to {used:.0f} MiB, over the {limits.disk_mb} MiB "
                "cap, which is not enforced here (see the run's notes)",
            }
        return None

    def release(self) -> None:
        """Unmount the tmpfs (after the engine has read the harvest's files); idempotent."""
        if self.mount is None:
            return
        try:
            unmount(*self.mount)
        except OSError as exc:
            log.error("the working directory's tmpfs stays mounted: %s", exc)
        else:
            self.mount = None


def cap_workdir(
    workdir: Path, limits: Limits, uid: int, gid: int, *, root: bool, charged: bool
) -> WorkdirCap:
    """As root: mount a sized tmpfs on ``workdir`` owned by the run's uid. Else, or when the mount
    fails: no cap, and the returned mechanism and notes say so. ``charged``: a memory cgroup
    counts the tmpfs pages against ``memory_mb``."""
    if root:
        size = effective_size_mb(limits.disk_mb, limits.memory_mb if charged else None)
        path, source = Path(os.path.realpath(workdir)), source_name()
        try:
            sweep_stale()
            mount_tmpfs(path, size, uid, gid, source)
        except OSError as exc:
            reason = f"the working directory's tmpfs could not be mounted ({exc})"
        else:
            where = (
                f"RAM charged to the run's memory cgroup ({limits.memory_mb} MiB)"
                if charged
                else f"RAM not counted by RLIMIT_AS: the run may hold {limits.memory_mb} MiB + these files"
            )
            cap = WorkdirCap(
                f"tmpfs on the working directory ({size} MiB; {where})", mount=(path, source), size_mb=size
            )
            if size < limits.disk_mb:
                cap.notes.append(
                    f"working directory capped at {size} MiB, not {limits.disk_mb}: its files are RAM "
                    f"charged to the {limits.memory_mb} MiB memory limit, of which they may take a quarter"
                )
            return cap
    else:
        reason = "not root: the working directory cannot be mounted as a sized tmpfs"
    return WorkdirCap(
        f"none ({reason}; RLIMIT_FSIZE caps each file only)",
        notes=[
            f"total disk use is NOT capped: {reason}; only each file is limited "
            f"({limits.file_size_mb} MiB); a size over {limits.disk_mb} MiB is reported after the run"
        ],
    )
