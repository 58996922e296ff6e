"""Attacks on the bwrap sandbox, run as small Python scripts through ``wrap()``.

Each test asserts how the attack was refused (the error the script saw, the exit status) and
that the grader and the machine are unaffected (no processes left, cgroups removed).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.limits import Limits
from grader.sandbox import SandboxConfig, make_sandbox
from grader.sandbox.bwrap import ETC_ALLOW, BwrapSandbox
from grader.sandbox.bwrap_probe import bwrap_failure, bwrap_works
from grader.sandbox.cgroups import enforcement
from grader.sandbox.uids import processes_of_uid

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(not bwrap_works(), reason=f"bubblewrap cannot run here: {bwrap_failure()}"),
]
ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    d = {name: tmp_path / name for name in ("work", "ipc", "data", "other_work")}
    d["work"].mkdir()
    d["ipc"].mkdir(mode=0o700)
    d["data"].mkdir()
    (d["data"] / "public.csv").write_text("x,y\n1,2\n")
    d["other_work"].mkdir()
    (d["other_work"] / "alice_secret.txt").write_text("another run's work")
    return d


@pytest.fixture
def sandbox_factory(dirs):
    made: list[BwrapSandbox] = []

    def make(use_cgroups: bool = True, **limits) -> BwrapSandbox:
        cfg = SandboxConfig(
            workdir=dirs["work"], ipc_dir=dirs["ipc"], data_dir=dirs["data"], limits=Limits(**limits)
        )
        sb = BwrapSandbox(cfg, use_cgroups=use_cgroups)
        sb.prepare()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        uid, cgroups = sb.uid, sb._cgroups
        sb.cleanup()
        if ROOT:  # the machine is unaffected: nothing of the run's uid survives, its cgroups are gone
            assert processes_of_uid(uid) == []
            if cgroups is not None:
                assert not any(d.exists() for d in cgroups.dirs())


def run_script(sb: BwrapSandbox, code: str, timeout: float = 120) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``code`` in the sandbox; the script prints one JSON object as its last stdout line."""
    cmd = sb.wrap([sys.executable, "-c", textwrap.dedent(code)])
    r = subprocess.run(cmd, env=sb.environment(), capture_output=True, text=True, timeout=timeout)
    lines = r.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return r, result


def test_network_is_refused(sandbox_factory):
    sb = sandbox_factory()
    r, out = run_script(
        sb,
        """
        import json, socket
        out = {}
        def attempt(name, fn):
            try:
                fn()
                out[name] = "allowed"
            except OSError as e:
                out[name] = f"{type(e).__name__}:{e.errno}"
        attempt("tcp_localhost", lambda: socket.create_connection(("127.0.0.1", 22), timeout=2))
        attempt("tcp_outside", lambda: socket.create_connection(("1.1.1.1", 80), timeout=2))
        attempt("tcp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53)))
        attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
        attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
        attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
        a, b = socket.socketpair(socket.AF_UNIX)
        a.sendall(b"ping")
        out["unix"] = b.recv(4).decode()
        print(json.dumps(out))
        """,
    )
    assert r.returncode == 0, r.stderr
    eafnosupport = "OSError:97"
    assert out["tcp_localhost"] == eafnosupport
    assert out["tcp_outside"] == eafnosupport
    assert out["tcp6"] == eafnosupport
    assert out["udp"] == eafnosupport
    assert out["packet"] == eafnosupport
    assert out["netlink"] == "OSError:95"  # EOPNOTSUPP (see grader.sandbox.seccomp)
    assert out["dns"].startswith("gaierror")
    assert out["unix"] == "ping"  # the kernel's own channel still works


def test_files_outside_the_allow_list_are_invisible(sandbox_factory, dirs):
    sb = sandbox_factory()
    r, out = run_script(
        sb,
        f"""
        import json, os
        def probe(path):
            try:
                if os.path.isdir(path):
                    return sorted(os.listdir(path))
                with open(path) as f:
                    return "read:" + f.read(20)
            except OSError as e:
                return f"{{type(e).__name__}}"
        paths = ["/etc/shadow", {str(REPO / "reference")!r}, {str(REPO / "rubrics")!r}, {str(REPO)!r},
                 "/root", "/root/.cache/ml-autograder", {str(dirs["other_work"])!r},
                 {str(dirs["other_work"] / "alice_secret.txt")!r}, "/home", "/etc", "/assignment/data", "/tmp",
                 {str(dirs["ipc"].parent)!r}]
        out = {{p: probe(p) for p in paths}}
        out["uid"] = os.getuid()
        out["cwd"] = os.getcwd()
        out["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print(json.dumps(out))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out["/etc/shadow"] == "FileNotFoundError"
    assert out[str(REPO / "reference")] == "FileNotFoundError"
    assert out[str(REPO / "rubrics")] == "FileNotFoundError"
    assert out[str(REPO)] == [".venv"]  # only the interpreter's venv, bound for the kernel's imports
    assert out["/root/.cache/ml-autograder"] == "FileNotFoundError"
    assert out[str(dirs["other_work"])] == "FileNotFoundError"
    assert out[str(dirs["other_work"] / "alice_secret.txt")] == "FileNotFoundError"
    assert out["/home"] == ["student"]
    assert sorted(out["/etc"]) == sorted(
        {"passwd", "group", "hosts"} | {n for n in os.listdir("/etc") if n in ETC_ALLOW}
    )
    assert out["/assignment/data"] == ["public.csv"]
    ipc = dirs["ipc"]  # the IPC directory appears at its own path; its parents are empty stand-ins
    # /tmp is a fresh tmpfs: only the mount points of the run's IPC directory and of the venv show
    mount_points = {p.relative_to("/tmp").parts[0] for p in (ipc, REPO) if p.is_relative_to("/tmp")}
    assert out["/tmp"] == sorted(mount_points)
    assert out[str(dirs["ipc"].parent)] == ["ipc"]  # not the other run's workdir beside it
    assert out["cwd"] == "/home/student"
    assert out["uid"] != 0
    assert len(out["pids"]) <= 3  # its own pid namespace: bwrap's init, the script, nothing of the host
    if ROOT:
        assert out["/root"] == [".pyenv"] or not str(sys.base_prefix).startswith("/root")


def test_read_only_everywhere_but_home_and_tmp(sandbox_factory):
    sb = sandbox_factory(tmpfs_mb=8)
    r, out = run_script(
        sb,
        """
        import errno, json, os
        out = {}
        def attempt(name, path, data=b"x"):
            try:
                with open(path, "wb") as f:
                    f.write(data)
                out[name] = "written"
            except OSError as e:
                out[name] = errno.errorcode[e.errno]
        attempt("usr", "/usr/evil")
        attempt("root_fs", "/evil")
        attempt("data", "/assignment/data/public.csv")
        attempt("venv", os.path.join(os.path.dirname(os.path.dirname(os.__file__)), "evil.py"))
        attempt("home", "/home/student/ok.txt")
        attempt("tmp", "/tmp/ok.txt")
        attempt("tmp_full", "/tmp/big", b"x" * (16 << 20))
        print(json.dumps(out))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out["usr"] == "EROFS"
    assert out["root_fs"] in ("EROFS", "EACCES")
    assert out["data"] == "EROFS"
    assert out["venv"] in ("EROFS", "EACCES")
    assert out["home"] == "written"
    assert out["tmp"] == "written"
    assert out["tmp_full"] == "ENOSPC"  # the 8 MiB tmpfs is full


@pytest.mark.parametrize("caller_env", ["sandbox", "grader"])
def test_grader_environment_does_not_leak(sandbox_factory, monkeypatch, caller_env):
    """Cleared even when the caller forgets env= and the launcher inherits the grader's environment."""
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    sb = sandbox_factory()
    env = sb.environment() if caller_env == "sandbox" else None
    cmd = sb.wrap([sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    out = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert "GRADER_SECRET_TOKEN" not in out
    assert "hunter2" not in json.dumps(out)
    assert set(out) <= set(sb.environment()) | {"PWD"}
    assert out["HOME"] == "/home/student"
    assert out["ASSIGNMENT_DATA"] == "/assignment/data"


def test_nested_namespaces_are_refused(sandbox_factory):
    sb = sandbox_factory()
    r, out = run_script(
        sb,
        """
        import ctypes, errno, json, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        out = {}
        for name, flag in [("user", 0x10000000), ("net", 0x40000000), ("mount", 0x00020000)]:
            rc = libc.unshare(flag)
            out[name] = "allowed" if rc == 0 else errno.errorcode[ctypes.get_errno()]
        p = subprocess.run(["/usr/bin/unshare", "--user", "--map-root-user", "true"], capture_output=True, text=True)
        out["unshare_cmd"] = [p.returncode, p.stderr.strip()]
        print(json.dumps(out))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out["user"] == "EPERM"
    assert out["net"] == "EPERM"
    assert out["mount"] == "EPERM"
    assert out["unshare_cmd"][0] != 0
    assert "Operation not permitted" in out["unshare_cmd"][1]


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroup", "rlimit"])
def test_fork_bomb_is_capped(sandbox_factory, use_cgroups):
    sb = sandbox_factory(use_cgroups=use_cgroups, max_processes=64)
    r, out = run_script(
        sb,
        """
        import errno, json, os, time
        children, error = [], None
        for i in range(500):
            try:
                pid = os.fork()
            except OSError as e:
                error = errno.errorcode[e.errno]
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
        print(json.dumps({"forked": len(children), "error": error}), flush=True)
        os._exit(0)
        """,
    )
    if use_cgroups and ROOT and "pids" in enforcement():
        assert sb._cgroups is not None and sb._cgroups.pids is not None  # the cgroup must be used here
    assert r.returncode == 0, r.stderr
    assert out["error"] == "EAGAIN"
    assert 0 < out["forked"] < 64
    if use_cgroups and sb._cgroups is not None and sb._cgroups.pids is not None:
        assert sb.mechanisms["processes"].startswith("cgroup")
        assert [f["limit"] for f in sb.limits_fired()] == ["processes"]
    elif ROOT:
        assert sb.mechanisms["processes"].startswith("rlimit-nproc")
    sb.kill_all()  # the sleeping children are the run's; kill_all must reach all of them
    if ROOT:
        assert processes_of_uid(sb.uid) == []


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroup", "rlimit"])
def test_impossible_allocation_fails_at_once(sandbox_factory, use_cgroups):
    """4 GiB under a 1 GiB limit: a MemoryError the student can read, in both modes (the cgroup
    mode keeps an address-space backstop of 2 x limit + 1 GiB)."""
    sb = sandbox_factory(use_cgroups=use_cgroups, memory_mb=1024)
    r, out = run_script(
        sb,
        """
        import json
        try:
            block = bytearray(b"x") * (4 << 30)
            print(json.dumps({"allocated": len(block)}))
        except MemoryError:
            print(json.dumps({"error": "MemoryError"}))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out == {"error": "MemoryError"}
    assert sb.limits_fired() == []


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroup", "rlimit"])
def test_gradual_growth_is_stopped(sandbox_factory, use_cgroups):
    """Growing by 64 MiB blocks towards 1.5 GiB under 512 MiB: the cgroup OOM-kills the process and
    says so; without a cgroup RLIMIT_AS raises MemoryError."""
    sb = sandbox_factory(use_cgroups=use_cgroups, memory_mb=512)
    r, out = run_script(
        sb,
        """
        import json
        blocks = []
        try:
            for _ in range(24):
                blocks.append(bytearray(b"x") * (64 << 20))
            print(json.dumps({"allocated_mb": 64 * len(blocks)}))
        except MemoryError:
            print(json.dumps({"error": "MemoryError", "allocated_mb": 64 * len(blocks)}))
        """,
    )
    if use_cgroups and ROOT and "memory" in enforcement():
        assert sb._cgroups is not None and sb._cgroups.memory is not None  # the cgroup must be used here
    if sb._cgroups is not None and sb._cgroups.memory is not None:
        assert sb.mechanisms["memory"].startswith("cgroup")
        assert r.returncode == 128 + signal.SIGKILL  # bubblewrap reports its child's death by SIGKILL
        assert out == {}
        assert [f["limit"] for f in sb.limits_fired()] == ["memory"]
        assert 400 <= sb.peak_memory_mb() <= 600
    else:
        assert sb.mechanisms["memory"].startswith("rlimit-as")
        assert r.returncode == 0, r.stderr
        assert out["error"] == "MemoryError"
        assert out["allocated_mb"] < 512


def test_file_size_limit(sandbox_factory, dirs):
    sb = sandbox_factory(file_size_mb=100)
    r, out = run_script(
        sb,
        """
        import errno, json
        try:
            with open("big.bin", "wb") as f:
                for _ in range(200):
                    f.write(b"x" * (1 << 20))
            print(json.dumps({"written": True}))
        except OSError as e:
            print(json.dumps({"error": errno.errorcode[e.errno]}))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out == {"error": "EFBIG"}
    assert (dirs["work"] / "big.bin").stat().st_size == 100 << 20


def _mounted_at(path: Path) -> list[str]:
    """File-system types mounted exactly at ``path`` in the grader's namespace."""
    real = os.path.realpath(path)
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if left.split()[4] == real:
            found.append(right.split()[0])
    return found


@pytest.mark.skipif(not ROOT, reason="the working directory is a sized tmpfs only when the grader is root")
def test_working_directory_total_size_is_capped(sandbox_factory, dirs):
    """Files of 12 MiB each (under the file-size limit) into /home/student until refused: ENOSPC
    near the 32 MiB cap, the host directory keeps only what it held before, nothing stays mounted."""
    (dirs["work"] / "given.txt").write_text("from the caller")  # put there before prepare()
    sb = sandbox_factory(disk_mb=32, file_size_mb=100)
    assert _mounted_at(dirs["work"]) == ["tmpfs"]
    assert sb.mechanisms["disk"].startswith("tmpfs on the working directory (32 MiB")
    r, out = run_script(
        sb,
        """
        import errno, json
        written, error = 0, None
        try:
            for n in range(10):
                with open(f"filler-{n}", "wb") as f:
                    for _ in range(3):
                        f.write(b"x" * (4 << 20))
                        written += 4 << 20
        except OSError as e:
            error = errno.errorcode[e.errno]
        print(json.dumps({"written_mb": written >> 20, "error": error, "given": open("given.txt").read()}))
        """,
    )
    assert r.returncode == 0, r.stderr
    assert out["error"] == "ENOSPC"
    assert 24 <= out["written_mb"] <= 32
    assert out["given"] == "from the caller"  # the caller's file was carried into the tmpfs
    assert [f["limit"] for f in sb.limits_fired()] == ["disk"]
    with pytest.raises(OSError) as full:
        (dirs["work"] / "grader-file").write_bytes(b"x" * (4 << 20))  # the grader too: no reserve
    assert full.value.errno == errno.ENOSPC
    sb.make_room(6 << 20)  # the engine, before the harvest: room on top of the notebook's share
    (dirs["work"] / "grader-file").write_bytes(b"x" * (6 << 20))
    assert (dirs["work"] / "grader-file").stat().st_uid == 0
    sb.cleanup()
    sb.cleanup()  # idempotent
    assert _mounted_at(dirs["work"]) == []
    assert sorted(p.name for p in dirs["work"].iterdir()) == ["given.txt"]  # no filler reached the host


@pytest.mark.skipif(not ROOT, reason="the working directory is a sized tmpfs only when the grader is root")
def test_working_directory_is_unmounted_after_a_killed_kernel(sandbox_factory, dirs):
    """A process still inside the directory (killed mid-write) does not keep the tmpfs mounted."""
    sb = sandbox_factory(disk_mb=16)
    proc = subprocess.Popen(
        sb.wrap(
            [
                sys.executable,
                "-c",
                "f = open('held', 'wb'); print('up', flush=True); import time; time.sleep(300)",
            ]
        ),
        env=sb.environment(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "up"
        assert _mounted_at(dirs["work"]) == ["tmpfs"]
        sb.cleanup()
        assert _mounted_at(dirs["work"]) == []
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()


def test_kill_all_stops_everything(sandbox_factory):
    sb = sandbox_factory()
    code = "import subprocess, time; subprocess.Popen(['sleep', '300']); print('up', flush=True); time.sleep(300)"
    proc = subprocess.Popen(
        sb.wrap([sys.executable, "-c", code]), env=sb.environment(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "up"
        sb.kill_all()
        assert proc.wait(timeout=10) == -signal.SIGKILL
        if ROOT:
            assert processes_of_uid(sb.uid) == []
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not ROOT, reason="uid slots are allocated only when the grader is root")
def test_concurrent_runs_get_different_uids(tmp_path):
    sbs = []
    try:
        for i in range(3):
            work, ipc = tmp_path / f"w{i}", tmp_path / f"i{i}"
            work.mkdir()
            ipc.mkdir(mode=0o700)
            sb = make_sandbox("bwrap", SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None))
            sb.prepare()
            sbs.append(sb)
        uids = {sb.uid for sb in sbs}
        assert len(uids) == 3
        assert 0 not in uids
    finally:
        for sb in sbs:
            sb.cleanup()


@pytest.mark.skipif(not ROOT, reason="ownership changes only when the grader is root")
def test_workdir_and_ipc_dir_belong_to_the_run(sandbox_factory, dirs):
    sb = sandbox_factory()
    r, _ = run_script(sb, "print('{}')")
    assert r.returncode == 0, r.stderr
    for d in (dirs["work"], dirs["ipc"]):
        st = d.stat()
        assert (st.st_uid, st.st_gid) == (sb.uid, sb.gid)
    assert dirs["ipc"].stat().st_mode & 0o777 == 0o700


def test_grader_survives_and_next_run_is_clean(sandbox_factory):
    """After an OOM kill and a fork bomb, a fresh run on the same machine works normally."""
    sb = sandbox_factory(memory_mb=256, max_processes=16)
    run_script(sb, "blocks = [bytearray(b'x') * (64 << 20) for _ in range(16)]")
    run_script(sb, "import os\nwhile True:\n    os.fork()", timeout=60)
    sb.kill_all()
    t0 = time.monotonic()
    sb2 = sandbox_factory()
    r, out = run_script(sb2, "import json, numpy; print(json.dumps({'sum': int(numpy.arange(10).sum())}))")
    assert r.returncode == 0, r.stderr
    assert out == {"sum": 45}
    assert time.monotonic() - t0 < 120  # a generous bound: only catches a wedged machine


def test_ipc_kernel_runs_inside_and_interrupts_by_message(sandbox_factory, dirs):
    """The engine's set-up in miniature: ipykernel over Unix sockets in ipc_dir, interrupt by message."""
    from jupyter_client.blocking import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    sb = sandbox_factory()
    conn, _ = write_connection_file(
        str(dirs["ipc"] / "kernel.json"), transport="ipc", ip=str(dirs["ipc"] / "k")
    )
    proc = subprocess.Popen(
        sb.wrap([sys.executable, "-m", "ipykernel_launcher", "-f", conn]),
        env=sb.environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kc = BlockingKernelClient(connection_file=conn)
    kc.load_connection_file()
    kc.start_channels(hb=False)  # the heartbeat's 1 s grace misreads a slow start on a loaded machine
    try:
        try:
            kc.wait_for_ready(timeout=120)
        except RuntimeError:
            proc.kill()
            raise AssertionError(f"kernel did not start: {proc.communicate()[1].decode()[-3000:]}") from None
        outputs: list[str] = []
        reply = kc.execute_interactive(
            "import os, socket; print(os.getuid(), os.getcwd(), socket.gethostname())",
            timeout=60,
            output_hook=lambda m: outputs.append(m["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok"
        uid, cwd, host = "".join(outputs).split()
        assert (int(uid) != 0, cwd, host) == (True, "/home/student", "sandbox")

        msg_id = kc.execute("import time; time.sleep(60)")
        time.sleep(1.0)
        kc.control_channel.send(kc.session.msg("interrupt_request", {}))
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert proc.poll() is None  # interrupted by message, the kernel (and bubblewrap) live on
        kc.shutdown()
        assert proc.wait(timeout=30) == 0
    finally:
        kc.stop_channels()
        proc.kill()
        proc.wait()


def test_everyday_notebook_workloads_still_work(sandbox_factory, dirs):
    """The seccomp filter and namespaces must not break what homework does: process pools, joblib,
    DataLoader workers, threads, matplotlib, subprocesses."""
    (dirs["work"] / "job.py").write_text(
        textwrap.dedent(
            """
            import json, multiprocessing as mp, subprocess
            def sq(x):
                return x * x
            if __name__ == "__main__":
                out = {}
                with mp.Pool(2) as pool:
                    out["pool"] = sum(pool.map(sq, range(10)))
                from joblib import Parallel, delayed
                out["joblib"] = sum(Parallel(n_jobs=2)(delayed(sq)(i) for i in range(10)))
                import torch
                from torch.utils.data import DataLoader, TensorDataset
                loader = DataLoader(TensorDataset(torch.arange(100.0)), batch_size=10, num_workers=2)
                out["dataloader"] = sum(float(b[0].sum()) for b in loader)
                import matplotlib
                matplotlib.use("Agg")
                import matplotlib.pyplot as plt
                plt.plot([1, 2])
                plt.savefig("figure.png")
                out["ls"] = subprocess.run(["ls", "/home/student"], capture_output=True, text=True).stdout.split()
                print(json.dumps(out))
            """
        )
    )
    sb = sandbox_factory()
    r = subprocess.run(
        sb.wrap([sys.executable, "job.py"]), env=sb.environment(), capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"pool": 285, "joblib": 285, "dataloader": 4950.0, "ls": ["figure.png", "job.py"]}


def test_older_bubblewrap_gets_a_command_line_it_understands(sandbox_factory, monkeypatch):
    import grader.sandbox.bwrap as bw

    sb = sandbox_factory()
    monkeypatch.setitem(bw._features, sb.bwrap, frozenset())
    cmd = sb.wrap(["/bin/true"])
    inner = cmd[cmd.index("--") + 1 :]
    for option in bw.OPTIONAL_OPTIONS:
        assert option not in inner
    assert "--seccomp" in inner  # nested user namespaces are still refused by the filter


SYSTEM_PYTHON = Path("/usr/bin/python3")


def _system_python_matches() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    r = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    return r.stdout.strip() == str(sys.version_info[:2])


@pytest.mark.skipif(
    not ROOT or not _system_python_matches(),
    reason="needs root (to become an ordinary user) and a system Python of the venv's version",
)
def test_unprivileged_grader_uses_its_own_uid():
    """A student on a laptop: the grader is not root, so no uid slot, no staging, no cgroup.

    The grader runs as nobody with the system Python (the venv's interpreter sits under /root,
    which nobody cannot read) and the venv's packages on sys.path.
    """
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    script = textwrap.dedent(
        f"""
        import json, os, subprocess, sys, tempfile
        sys.path[:0] = [{str(REPO)!r}, {str(site)!r}]
        from pathlib import Path
        from grader.limits import Limits
        from grader.sandbox import SandboxConfig
        from grader.sandbox.bwrap import BwrapSandbox
        t = Path(tempfile.mkdtemp())
        (t / "w").mkdir(); (t / "i").mkdir(mode=0o700)
        sb = BwrapSandbox(SandboxConfig(workdir=t / "w", ipc_dir=t / "i", data_dir=None,
                                        limits=Limits(memory_mb=512, max_processes=32)))
        sb.prepare()
        code = '''
        import errno, json, os, socket
        out = {{"uid": os.getuid()}}
        try:
            socket.socket()
        except OSError as e:
            out["socket"] = errno.errorcode[e.errno]
        try:
            block = bytearray(b"x") * (1 << 30)
        except MemoryError:
            out["memory"] = "MemoryError"
        print(json.dumps(out))
        '''
        import textwrap
        r = subprocess.run(sb.wrap([sys.executable, "-c", textwrap.dedent(code)]), env=sb.environment(),
                           capture_output=True, text=True, timeout=120)
        sb.cleanup()
        print(json.dumps({{"rc": r.returncode, "inside": r.stdout.strip(), "err": r.stderr[-2000:],
                          "mechanisms": sb.mechanisms, "notes": sb.notes}}))
        """
    )
    r = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(SYSTEM_PYTHON), "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/tmp",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rc"] == 0, out["err"]
    assert json.loads(out["inside"]) == {"uid": 65534, "socket": "EAFNOSUPPORT", "memory": "MemoryError"}
    assert out["mechanisms"]["memory"].startswith("rlimit-as")
    assert out["mechanisms"]["uid"] == "65534 (the grader user)"
    assert any("not root" in n for n in out["notes"])
    assert out["mechanisms"]["disk"].startswith("none")  # no tmpfs without root, and it says so
    assert any("total disk use is NOT capped" in n for n in out["notes"])
