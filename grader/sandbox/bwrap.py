"""The ``bwrap`` backend: the kernel in bubblewrap, as an unprivileged uid, behind seccomp.

What the kernel gets:
  * its own user, pid, ipc, uts, cgroup and network namespaces (no interface but a down loopback),
    no further user namespaces (``--disable-userns`` and the seccomp filter);
  * a read-only root with only: /usr, the Python base install and the venv (never the repository,
    ``reference/`` or the data cache), a fresh /etc (generated passwd/group/hosts plus the loader
    cache, time zone and fonts), /dev (bubblewrap's minimal one), /proc, /sys/devices/system/cpu;
  * writable: its workdir at SANDBOX_HOME, its IPC directory at the same path as outside, and
    sized tmpfs at /tmp and /dev/shm; the assignment's public data read-only at SANDBOX_DATA;
    as root the workdir is itself a sized tmpfs mounted on the host (``grader.sandbox.workdir``),
    so its total size is capped (``Limits.disk_mb``); otherwise it is not, and ``notes`` say so;
  * a cleared environment, a new session, death with its parent, the seccomp filter of
    ``grader.sandbox.seccomp``;
  * rlimits for file size, open files, CPU time and core dumps; memory and process count through a
    cgroup where one is writable and enforcing, else RLIMIT_AS and RLIMIT_NPROC (per uid: hence one
    uid per run, from ``grader.sandbox.uids``, when the grader is root).

When the grader is root, bubblewrap itself runs as the run's uid (unprivileged, in a user
namespace). The launcher first binds every source into a world-traversable staging tmpfs in a
private mount namespace, because the Python install may sit under /root (mode 0700).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from .base import SANDBOX_DATA, SANDBOX_ENV, SANDBOX_HOME, KernelInterpreter, Sandbox, SandboxConfig
from .cgroups import RunCgroups, create_run_cgroups
from .common import (
    MIB,
    SandboxError,
    absolute_command,
    backstop_address_space_mb,
    environment,
    kill_process_group,
    launcher_argv,
    make_state_dir,
    nproc_limit,
    read_pid,
    remove_tree,
    rlimit_args,
    validate_config,
)
from .gpu import GpuInfo, GpuPlan, plan_gpu
from .seccomp import write_filter
from .uids import UidSlot, allocate_uid, kill_uid
from .workdir import WorkdirCap, cap_workdir

log = logging.getLogger(__name__)

SECCOMP_FD = 10
# Host /etc files the kernel's libraries read; nothing secret (no shadow, no ssh, no credentials).
ETC_ALLOW = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "fonts", "mime.types")


def _python_roots(kernel: KernelInterpreter | None = None) -> list[Path]:
    """What the kernel needs to import its libraries: the grader's interpreter and venv when no
    environment is declared; else only the environment's base interpreter (the environment
    itself is mounted at SANDBOX_ENV), so the grader's packages are not there to import."""
    if kernel is None:
        places = [
            sys.base_prefix,
            sys.prefix,
            os.path.realpath(sys.base_prefix),
            os.path.realpath(sys.prefix),
        ]
    else:
        places = [str(kernel.base_prefix), os.path.realpath(kernel.base_prefix)]
    roots: list[Path] = []
    for p in places:
        path = Path(p)
        if path not in roots and path != Path("/usr"):
            roots.append(path)
    return roots


class BwrapSandbox(Sandbox):
    """One run inside bubblewrap (see the module docstring for what is visible and what is limited)."""

    name = "bwrap"
    isolated = True

    def __init__(
        self,
        config: SandboxConfig,
        *,
        dev_root: Path = Path("/dev"),
        gpus: list[GpuInfo] | None = None,
        bwrap: str | None = None,
        uid_lock_dir: Path | None = None,
        use_cgroups: bool = True,
    ) -> None:
        validate_config(config)
        super().__init__(config)
        self.dev_root = dev_root
        self._gpus = gpus
        found = bwrap or shutil.which("bwrap")
        if not found:
            raise SandboxError("bubblewrap (bwrap) is not installed: install it or use --backend process")
        self.bwrap: str = found
        self._uid_lock_dir = uid_lock_dir
        self._use_cgroups = use_cgroups
        self.gpu: GpuPlan | None = None
        self.uid: int | None = None
        self.gid: int | None = None
        self._slot: UidSlot | None = None
        self._cgroups: RunCgroups | None = None
        self._state: Path | None = None
        self._root = os.geteuid() == 0
        self._workdir_cap: WorkdirCap | None = None

    # -- life cycle -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Take a uid slot (root) or the user's uid, make cgroups, write the filter and /etc files."""
        if self._state is not None:
            return
        if self.config.gpu is not None:
            try:
                self.gpu = plan_gpu(self.config.gpu, dev_root=self.dev_root, gpus=self._gpus)
            except ValueError as e:
                raise SandboxError(str(e)) from None
        try:
            self._state = make_state_dir()
            if self._root:
                self._slot = allocate_uid(self._uid_lock_dir) if self._uid_lock_dir else allocate_uid()
                self.uid, self.gid = self._slot.uid, self._slot.gid
            else:
                self.uid, self.gid = os.getuid(), os.getgid()
            lim = self.config.limits
            if self._root and self._use_cgroups:
                self._cgroups = create_run_cgroups(
                    f"mlag-{uuid.uuid4().hex[:12]}", lim.memory_mb, lim.max_processes
                )
            self._choose_mechanisms()
            self._cap_workdir()
            missing = [o for o in OPTIONAL_OPTIONS if o not in bwrap_features(self.bwrap)]
            if missing:
                self.notes.append(f"this bubblewrap lacks {', '.join(missing)}: upgrade to 0.8 or later")
            write_filter(self._state / "seccomp.bpf")
            self._write_etc()
        except Exception:
            self.cleanup()
            raise

    def _choose_mechanisms(self) -> None:
        """Record which mechanism enforces each limit; fallbacks also become notes in the RunRecord."""
        cg = self._cgroups
        lim = self.config.limits
        if cg is not None and cg.memory is not None:
            self.mechanisms["memory"] = f"cgroup v{cg.version} memory ({lim.memory_mb} MiB)"
            if self.gpu is None:
                self.mechanisms["memory"] += (
                    f" + rlimit-as backstop ({backstop_address_space_mb(lim.memory_mb) + self.reserved_address_space_mb()} MiB of address space)"
                )
        elif self.gpu is not None:
            self.mechanisms["memory"] = "none (GPU job: CUDA needs a large address space; no cgroup)"
            self.notes.append("GPU job without a memory cgroup: host memory is not limited")
        else:
            self.mechanisms["memory"] = f"rlimit-as ({lim.memory_mb} MiB of address space)"
            if self.reserved_address_space_mb():
                self.mechanisms["memory"] += (
                    f" + {self.reserved_address_space_mb()} MiB its environment's libraries reserve on import"
                )
            self.notes.append(
                f"memory limited by RLIMIT_AS (no enforcing memory cgroup): allocations beyond "
                f"{lim.memory_mb} MiB of address space raise MemoryError"
            )
        if cg is not None and cg.pids is not None:
            self.mechanisms["processes"] = f"cgroup v{cg.version} pids ({lim.max_processes})"
        elif self._root:
            self.mechanisms["processes"] = f"rlimit-nproc on uid {self.uid} ({lim.max_processes})"
            self.notes.append(
                f"process count limited by RLIMIT_NPROC ({lim.max_processes}) on a dedicated uid"
            )
        else:
            self.mechanisms["processes"] = "rlimit-nproc (approximate: shares the user's uid)"
            self.notes.append(
                "not root: the kernel runs as the grader's own uid; process limit is approximate"
            )
        self.mechanisms["file_size"] = "rlimit-fsize"
        self.mechanisms["network"] = "network namespace + seccomp (Unix sockets only)"
        self.mechanisms["uid"] = f"{self.uid} ({'dedicated' if self._root else 'the grader user'})"

    def _cap_workdir(self) -> None:
        """As root: a sized tmpfs on the workdir (see grader.sandbox.workdir). Else, or when the
        mount fails: no cap, said in ``mechanisms`` and ``notes``; the size is measured at the end."""
        charged = self._cgroups is not None and self._cgroups.memory is not None
        assert self.uid is not None and self.gid is not None
        self._workdir_cap = cap_workdir(
            self.config.workdir, self.config.limits, self.uid, self.gid, root=self._root, charged=charged
        )
        self.mechanisms["disk"] = self._workdir_cap.mechanism
        self.notes += self._workdir_cap.notes

    def _nproc(self) -> int | None:
        if self._cgroups is not None and self._cgroups.pids is not None:
            return None
        if self._root:
            return self.config.limits.max_processes
        return nproc_limit(self.config.limits)

    def _write_etc(self) -> None:
        assert self._state is not None
        files = {
            "passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"student:x:{self.uid}:{self.gid}:student:{SANDBOX_HOME}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": f"root:x:0:\nstudent:x:{self.gid}:\nnogroup:x:65534:\n",
            "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n",
        }
        for name, text in files.items():
            path = self._state / f"etc-{name}"
            path.write_text(text)
            path.chmod(0o644)

    # -- command line -----------------------------------------------------------------------------

    def _binds(self) -> list[tuple[str, str, str]]:
        """(bwrap option, host source, path inside) for everything taken from the host."""
        assert self._state is not None
        binds: list[tuple[str, str, str]] = [("--ro-bind", "/usr", "/usr")]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            host = Path("/") / top
            if host.is_dir() and not host.is_symlink():
                binds.append(("--ro-bind", str(host), str(host)))
        binds += [("--ro-bind", str(p), str(p)) for p in _python_roots(self.config.kernel)]
        if self.config.kernel is not None:
            binds.append(("--ro-bind", str(self.config.kernel.prefix), SANDBOX_ENV))
        for name in ETC_ALLOW:
            host = Path("/etc") / name
            if host.exists():
                binds.append(("--ro-bind", str(host), str(host)))
        for name in ("passwd", "group", "hosts"):
            binds.append(("--ro-bind", str(self._state / f"etc-{name}"), f"/etc/{name}"))
        cpu = Path("/sys/devices/system/cpu")
        if cpu.is_dir():
            binds.append(("--ro-bind", str(cpu), str(cpu)))
        binds.append(("--bind", str(self.config.workdir), SANDBOX_HOME))
        binds.append(("--bind", str(self.config.ipc_dir), str(self.config.ipc_dir)))
        if self.config.data_dir is not None:
            binds.append(("--ro-bind", str(self.config.data_dir), SANDBOX_DATA))
        if self.gpu is not None:
            binds += [("--dev-bind", str(host), inside) for host, inside in self.gpu.devices]
            binds.append(("--ro-bind", "/sys", "/sys"))  # CUDA reads PCI topology, as in a container
        return binds

    def bwrap_args(self, argv: list[str], sources: dict[str, str] | None = None) -> list[str]:
        """bubblewrap's own command line; ``sources`` maps host paths to their staged copies.

        Options newer than bubblewrap 0.4 are used only when this bubblewrap has them (see
        ``bwrap_features``); what is lost without them is covered elsewhere and noted.
        """
        lim = self.config.limits
        has = bwrap_features(self.bwrap)
        args = [
            self.bwrap,
            "--unshare-user",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if "--disable-userns" in has:  # else the seccomp filter alone refuses new user namespaces
            args.append("--disable-userns")
        args += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        if "--clearenv" in has:  # the kernel's environment is environment(), whatever env the caller passes
            args.append("--clearenv")
            for key, value in self.environment().items():
                args += ["--setenv", key, value]
        for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            link = Path("/") / top
            if link.is_symlink():
                args += ["--symlink", os.readlink(link), f"/{top}"]
        args += ["--dev", "/dev", "--proc", "/proc"]
        # /dev/shm is where DataLoader workers and multiprocessing pass arrays; sized like /tmp.
        for size_mb, path in ((lim.tmpfs_mb, "/tmp"), (lim.tmpfs_mb, "/dev/shm")):
            if "--perms" in has:
                args += ["--perms", "1777"]
            if "--size" in has:
                args += ["--size", str(size_mb * MIB)]
            args += ["--tmpfs", path]
        for option, host, inside in self._binds():
            args += [option, (sources or {}).get(host, host), inside]
        args += ["--chdir", SANDBOX_HOME, "--seccomp", str(SECCOMP_FD), "--remount-ro", "/", "--", *argv]
        return args

    def wrap(self, argv: list[str]) -> list[str]:
        if self._state is None:
            raise RuntimeError("prepare() must be called before wrap()")
        argv = absolute_command(argv)
        state = self._state
        launch = [*launcher_argv(), "--fd", str(SECCOMP_FD), str(state / "seccomp.bpf")]
        for d in self._cgroups.dirs() if self._cgroups else []:
            launch += ["--cgroup", str(d)]
        launch += ["--pid-file", str(state / "pid"), "--new-session", "--chdir", "/"]
        sources: dict[str, str] = {}
        if self._root:
            owner = f"{self.uid}:{self.gid}"
            launch += ["--chown", owner, str(self.config.workdir), "--chown", owner, str(self.config.ipc_dir)]
            launch += ["--stage-root", str(state / "stage")]
            for i, (_, host, _) in enumerate(self._binds()):
                if host not in sources:
                    sources[host] = str(state / "stage" / str(i))
                    launch += ["--stage", host, str(i)]
            (state / "stage").mkdir(exist_ok=True)
        launch += rlimit_args(
            self.config.limits, address_space_mb=self._address_space_mb(), nproc=self._nproc()
        )
        if self._root:
            launch += ["--user", f"{self.uid}:{self.gid}"]
        launch += ["--no-new-privs", "--", *self.bwrap_args(argv, sources)]
        return launch

    def _address_space_mb(self) -> int | None:
        """RLIMIT_AS: none for GPU jobs, a backstop beside a memory cgroup, else the limit itself;
        plus what the environment's libraries reserve on import (address space, not memory)."""
        if self.gpu is not None:
            return None
        if self._cgroups is not None and self._cgroups.memory is not None:
            return backstop_address_space_mb(self.config.limits.memory_mb) + self.reserved_address_space_mb()
        return self.config.limits.memory_mb + self.reserved_address_space_mb()

    def kernel_python(self) -> str:
        """The environment is mounted at SANDBOX_ENV, so tracebacks show no host path for it."""
        if self.config.kernel is not None:
            return f"{SANDBOX_ENV}/bin/python"
        return sys.executable

    # -- the rest of the protocol -----------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = environment(self.config, python=self.kernel_python())
        if self.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.gpu.visible
        return env

    def peak_memory_mb(self) -> float | None:
        return self._cgroups.peak_memory_mb() if self._cgroups else None

    def limits_fired(self) -> list[dict]:
        fired = self._cgroups.limits_fired() if self._cgroups else []
        disk = self._disk_fired()
        return [*fired, disk] if disk else fired

    def make_room(self, nbytes: int) -> None:
        """Grow the workdir tmpfs by ``nbytes`` for the harvest (see WorkdirCap.grow)."""
        if self._workdir_cap is not None:
            self._workdir_cap.grow(nbytes)

    def _disk_fired(self) -> dict | None:
        """``disk`` when the workdir filled its cap; read before cleanup() (the engine does)."""
        if self._workdir_cap is None or self._state is None:
            return None
        return self._workdir_cap.fired(self.config.workdir, self.config.limits)

    def kill_all(self) -> None:
        """Kill the run: its cgroup, every process of its uid, and bubblewrap's process group."""
        kill_process_group(read_pid(self._state))
        if self._cgroups is not None:
            self._cgroups.kill_all()
        if self._slot is not None and self._slot.held:
            if not kill_uid(self._slot.uid):
                log.error("processes of uid %s survived SIGKILL", self._slot.uid)

    def cleanup(self) -> None:
        self.kill_all()
        if self._workdir_cap is not None:
            self._workdir_cap.release()
        if self._cgroups is not None:
            self._cgroups.remove()
            self._cgroups = None
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        remove_tree(self._state)
        self._state = None


# -- does bubblewrap work here? -----------------------------------------------------------------------

OPTIONAL_OPTIONS = ("--disable-userns", "--clearenv", "--perms", "--size")
_features: dict[str, frozenset[str]] = {}


def bwrap_features(bwrap: str) -> frozenset[str]:
    """Which version-dependent options this bubblewrap accepts (from its --help; cached)."""
    if bwrap not in _features:
        try:
            text = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        _features[bwrap] = frozenset(o for o in OPTIONAL_OPTIONS if re.search(rf"^\s*{o}\b", text, re.M))
    return _features[bwrap]
