"""The seccomp filter bubblewrap loads before exec'ing the kernel (``bwrap --seccomp FD``).

Default allow, with a deny list aimed at what a notebook never needs and an attacker wants:
sockets of any family but Unix (the kernel talks over Unix sockets; the network namespace already
has no route out, this also closes 127.0.0.1 and netlink; ipykernel's TCP pipe for output of
forked subprocesses then fails and it carries on without it, with a warning), new namespaces (no nested user
namespaces), mounts, ptrace, kernel keyrings, BPF, io_uring (it can open sockets behind
seccomp's back), module loading, and terminal injection. Each refusal is an errno, not a kill,
so student code sees an ordinary OSError it can report.

Syscalls of a foreign ABI (i386 via int 0x80, x32) are killed by libseccomp's bad-arch action.
"""

from __future__ import annotations

import errno
import socket
import threading
from pathlib import Path

import pyseccomp as sc

# clone() flags that create namespaces; CLONE_NEWUSER is the one that matters most.
NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "CLONE_NEWTIME": 0x00000080,
}
AF_LIMIT = 64  # above AF_MAX (46 in Linux 6.x); anything from here on is refused in one rule
TIOCSTI = 0x5412
TIOCLINUX = 0x541C

# Refused outright with EPERM.
DENIED = (
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "iopl",
    "ioperm",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "name_to_handle_at",
    "open_by_handle_at",
    "lookup_dcookie",
)

_lock = threading.Lock()
_cached: bytes | None = None


def _family_errno(family: int) -> int:
    """EAFNOSUPPORT for every refused family, except netlink: EOPNOTSUPP there.

    Why: getifaddrs() opens a netlink socket, and libzmq (inside ipykernel) aborts the kernel on
    any getifaddrs() error but EOPNOTSUPP/EINVAL, which it reads as "no such interface".
    """
    return errno.EOPNOTSUPP if family == socket.AF_NETLINK else errno.EAFNOSUPPORT


def build_filter() -> sc.SyscallFilter:
    """The filter as a libseccomp object (see the module docstring for the policy)."""
    f = sc.SyscallFilter(sc.ALLOW)
    for call in ("socket", "socketpair"):
        for family in range(AF_LIMIT):
            if family != socket.AF_UNIX:
                f.add_rule(sc.ERRNO(_family_errno(family)), call, sc.Arg(0, sc.EQ, family))
        f.add_rule(sc.ERRNO(errno.EAFNOSUPPORT), call, sc.Arg(0, sc.GE, AF_LIMIT))
    for flag in NAMESPACE_FLAGS.values():
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes glibc use clone().
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for ioctl in (TIOCSTI, TIOCLINUX):
        f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, ioctl))
    for name in DENIED:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (ValueError, OSError):  # unknown to this libseccomp/architecture: nothing to deny
            continue
    return f


def filter_bpf() -> bytes:
    """The compiled BPF program (built once per process; it never changes)."""
    global _cached
    with _lock:
        if _cached is None:
            import tempfile

            with tempfile.TemporaryFile() as tmp:
                build_filter().export_bpf(tmp)
                tmp.seek(0)
                _cached = tmp.read()
        return _cached


def write_filter(path: Path) -> Path:
    """Write the compiled filter to ``path`` (mode 0644) for the launcher to open as an fd."""
    path.write_bytes(filter_bpf())
    path.chmod(0o644)
    return path
