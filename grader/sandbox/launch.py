"""The last step before a sandboxed command runs: limits, cgroups, staging, privilege drop, exec.

Run as ``python -I -S launch.py [options] -- ABSOLUTE_ARGV...``. It is a separate tiny program
(stdlib only, no grader imports) because these steps must happen in the child process, between
fork and exec, and a Popen ``preexec_fn`` is unsafe in the threaded engine.

Order matters:
  1. open the files that must reach bubblewrap as fds (the seccomp filter) while still root;
  2. join the run's cgroups (needs root) and write our pid (bwrap's pid after exec) to a file;
  3. as root, in a private mount namespace, bind the sources bubblewrap needs into a world-
     traversable staging tmpfs: the unprivileged uid cannot otherwise reach e.g. a Python under
     /root (mode 0700), and bubblewrap resolves bind sources with realpath() as that uid;
  4. set rlimits, drop to the run's uid/gid with no supplementary groups, set no_new_privs;
  5. exec. Everything is imported up front: after the drop the stdlib may be unreadable.

Any failure exits with status 125 and one line on stderr starting with ``sandbox launcher:``.
"""

import ctypes
import os
import resource
import signal
import sys

EXIT_LAUNCH_FAILED = 125

RLIMITS = {
    "as": resource.RLIMIT_AS,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "nofile": resource.RLIMIT_NOFILE,
    "cpu": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
}

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

USAGE = """usage: launch.py [options] -- ARGV...
  --rlimit NAME=VALUE     NAME in as,nproc,fsize,nofile,cpu,core; VALUE bytes/count or 'unlimited'
  --cgroup DIR            move this process into cgroup DIR (writes DIR/cgroup.procs)
  --pid-file PATH         write "PID STARTTIME" of this process (ARGV's after exec)
  --chdir DIR             change directory before exec
  --new-session           setsid(): own session and process group (kill_all kills the group)
  --die-with-parent       SIGKILL when the parent dies (PR_SET_PDEATHSIG)
  --stage-root DIR        private mount namespace with a tmpfs on DIR (root only)
  --stage SRC NAME        bind SRC on STAGE_ROOT/NAME (needs --stage-root)
  --fd N PATH             open PATH read-only as file descriptor N, kept across exec
  --chown UID:GID DIR     give DIR and its direct entries (no symlinks followed) to UID:GID
  --user UID:GID          drop to UID/GID with no supplementary groups (when root)
  --no-new-privs          prctl(PR_SET_NO_NEW_PRIVS)"""


class LaunchError(Exception):
    """A launcher step failed; the message says which and why."""


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (/proc/PID/stat field 22): with the pid, it
    names one process for good, so a recycled pid is never mistaken for ours."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _ids(spec: str, option: str) -> tuple[int, int]:
    uid, sep, gid = spec.partition(":")
    if not sep or not uid.isdigit() or not gid.isdigit():
        raise LaunchError(f"bad {option} {spec!r}: expected UID:GID")
    return int(uid), int(gid)


def chown_dir(path: str, uid: int, gid: int) -> None:
    """Give directory ``path`` and its direct entries to uid:gid, following no symlink.

    One level only, and by names relative to the opened directory: on a kernel restart the previous
    kernel's processes may still be alive and swapping entries for symlinks, so no path below
    ``path`` is ever walked as root.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
        for name in os.listdir(fd):
            try:
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)


def parse_args(args: list[str]) -> dict:
    """Parse the launcher's options; everything after ``--`` is the command to exec."""
    opts: dict = {
        "rlimits": [],
        "cgroups": [],
        "pid_file": None,
        "chdir": None,
        "new_session": False,
        "die_with_parent": False,
        "stage_root": None,
        "stages": [],
        "fds": [],
        "chowns": [],
        "user": None,
        "no_new_privs": False,
        "argv": [],
    }
    i = 0

    def take(n: int) -> list[str]:
        nonlocal i
        vals = args[i + 1 : i + 1 + n]
        if len(vals) != n:
            raise LaunchError(f"option {args[i]} needs {n} value(s)")
        i += n
        return vals

    while i < len(args):
        a = args[i]
        if a == "--":
            opts["argv"] = args[i + 1 :]
            break
        if a == "--rlimit":
            (spec,) = take(1)
            name, sep, value = spec.partition("=")
            if not sep or name not in RLIMITS:
                raise LaunchError(
                    f"bad --rlimit {spec!r}: expected NAME=VALUE with NAME in {sorted(RLIMITS)}"
                )
            if value == "unlimited":
                num = resource.RLIM_INFINITY
            else:
                try:
                    num = int(value)
                except ValueError:
                    raise LaunchError(
                        f"bad --rlimit {spec!r}: value must be an integer or 'unlimited'"
                    ) from None
                if num < 0:
                    raise LaunchError(f"bad --rlimit {spec!r}: value must not be negative")
            opts["rlimits"].append((name, num))
        elif a == "--cgroup":
            opts["cgroups"].append(take(1)[0])
        elif a == "--pid-file":
            opts["pid_file"] = take(1)[0]
        elif a == "--chdir":
            opts["chdir"] = take(1)[0]
        elif a == "--new-session":
            opts["new_session"] = True
        elif a == "--die-with-parent":
            opts["die_with_parent"] = True
        elif a == "--stage-root":
            opts["stage_root"] = take(1)[0]
        elif a == "--stage":
            src, name = take(2)
            if "/" in name or name in ("", ".", ".."):
                raise LaunchError(f"bad --stage name {name!r}: must be a plain file name")
            opts["stages"].append((src, name))
        elif a == "--fd":
            fd_text, path = take(2)
            if not fd_text.isdigit() or int(fd_text) < 3:
                raise LaunchError(f"bad --fd number {fd_text!r}: must be an integer >= 3")
            opts["fds"].append((int(fd_text), path))
        elif a == "--chown":
            spec, path = take(2)
            opts["chowns"].append((_ids(spec, "--chown"), path))
        elif a == "--user":
            opts["user"] = _ids(take(1)[0], "--user")
        elif a == "--no-new-privs":
            opts["no_new_privs"] = True
        else:
            raise LaunchError(f"unknown option {a!r}\n{USAGE}")
        i += 1
    if not opts["argv"]:
        raise LaunchError(f"no command given after '--'\n{USAGE}")
    if not os.path.isabs(opts["argv"][0]):
        raise LaunchError(f"command {opts['argv'][0]!r} must be an absolute path (no PATH lookup)")
    if opts["stages"] and not opts["stage_root"]:
        raise LaunchError("--stage needs --stage-root")
    return opts


_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise LaunchError(f"{what}: {os.strerror(err)}")


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = [None if s is None else s.encode() for s in (src, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {src} on {target}")


def stage(root: str, stages: list[tuple[str, str]]) -> None:
    """Private mount namespace; tmpfs on ``root``; bind every source at ``root/NAME``."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("mlag-stage", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    for src, name in stages:
        target = os.path.join(root, name)
        try:
            if os.path.isdir(src):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        except OSError as e:
            raise LaunchError(f"stage {src}: {e}") from None
        _mount(src, target, None, MS_BIND | MS_REC)


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids; no groups)."""
    if os.geteuid() != 0:
        if (os.getuid(), os.getgid()) != (uid, gid):
            raise LaunchError(f"not root: cannot switch to uid {uid}, gid {gid}")
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getgroups():
        raise LaunchError("privilege drop did not take effect")


def launch(opts: dict) -> None:
    """Perform every step in order, then exec; returns only by raising."""
    for num, path in opts["fds"]:
        fd = os.open(path, os.O_RDONLY)
        if fd != num:
            os.dup2(fd, num)
            os.close(fd)
        os.set_inheritable(num, True)
    for cg in opts["cgroups"]:
        try:
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError as e:
            raise LaunchError(f"join cgroup {cg}: {e}") from None
    for (uid, gid), path in opts["chowns"]:
        try:
            chown_dir(path, uid, gid)
        except OSError as e:
            raise LaunchError(f"chown {path}: {e}") from None
    if opts["pid_file"]:
        with open(opts["pid_file"], "w") as f:
            f.write(f"{os.getpid()} {process_start_time(os.getpid())}")
    if opts["new_session"]:
        os.setsid()
    if opts["die_with_parent"]:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        if os.getppid() == 1:  # the parent died before we set the signal
            raise LaunchError("parent exited before launch")
    if opts["stage_root"]:
        stage(opts["stage_root"], opts["stages"])
    if opts["chdir"]:
        os.chdir(opts["chdir"])
    for name, value in opts["rlimits"]:
        try:
            resource.setrlimit(RLIMITS[name], (value, value))
        except (ValueError, OSError) as e:
            raise LaunchError(f"setrlimit {name}={value}: {e}") from None
    if opts["user"]:
        drop_privileges(*opts["user"])
    if opts["no_new_privs"]:
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    # Python ignores SIGPIPE/SIGXFSZ; restore defaults so the exec'd program sees normal signals.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    argv = opts["argv"]
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        raise LaunchError(f"exec {argv[0]}: {e}") from None


def main(args: list[str] | None = None) -> int:
    try:
        launch(parse_args(sys.argv[1:] if args is None else args))
    except (LaunchError, OSError) as e:
        sys.stderr.write(f"sandbox launcher: {e}\n")
        sys.stderr.flush()
        return EXIT_LAUNCH_FAILED
    return EXIT_LAUNCH_FAILED  # unreachable: launch() execs or raises


if __name__ == "__main__":
    sys.exit(main())
