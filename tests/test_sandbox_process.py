"""The process backend and the launcher: limits really apply, the environment is cleared, it says it does not isolate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.limits import Limits
from grader.sandbox import SandboxConfig, SandboxError, make_sandbox
from grader.sandbox.launch import EXIT_LAUNCH_FAILED, LaunchError, parse_args


@pytest.fixture
def run_dirs(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    ipc = tmp_path / "ipc"
    work.mkdir()
    ipc.mkdir(mode=0o700)
    return work, ipc


def _sandbox(run_dirs, **limits):
    work, ipc = run_dirs
    sb = make_sandbox(
        "process", SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None, limits=Limits(**limits))
    )
    sb.prepare()
    return sb


def _run(sb, code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = sb.wrap([sys.executable, "-c", code])
    return subprocess.run(cmd, env=sb.environment(), capture_output=True, text=True, timeout=timeout)


def test_process_backend_says_it_does_not_isolate(run_dirs, caplog):
    with caplog.at_level("WARNING"):
        sb = _sandbox(run_dirs)
    try:
        assert sb.isolated is False
        assert sb.name == "process"
        assert any("NOT isolated" in n for n in sb.notes)
        assert "NOT isolated" in caplog.text
    finally:
        sb.cleanup()


def test_environment_is_cleared_and_home_is_workdir(run_dirs, monkeypatch):
    monkeypatch.setenv("GRADER_SECRET_TOKEN", "hunter2")
    sb = _sandbox(run_dirs)
    try:
        r = _run(sb, "import os, json; print(json.dumps(dict(os.environ))); print(os.getcwd())")
        assert r.returncode == 0, r.stderr
        env_line, cwd = r.stdout.strip().splitlines()
        assert "GRADER_SECRET_TOKEN" not in env_line
        assert "hunter2" not in env_line
        assert cwd == str(run_dirs[0])
        assert f'"HOME": "{run_dirs[0]}"' in env_line
    finally:
        sb.cleanup()


def test_memory_rlimit_raises_memoryerror(run_dirs):
    sb = _sandbox(run_dirs, memory_mb=512)
    try:
        r = _run(sb, "x = bytearray(2 << 30)")
        assert r.returncode == 1
        assert "MemoryError" in r.stderr
    finally:
        sb.cleanup()


def test_file_size_rlimit_refuses_big_write(run_dirs):
    sb = _sandbox(run_dirs, file_size_mb=1)
    try:
        code = (
            "import errno\n"
            "try:\n"
            "    open('big', 'wb').write(b'x' * (3 << 20))\n"
            "except OSError as e:\n"
            "    print('refused', errno.errorcode[e.errno])\n"
        )
        r = _run(sb, code)
        # The launcher restores SIGXFSZ's default; Python ignores it again at start-up, so the write fails.
        assert r.stdout.strip() == "refused EFBIG", (r.returncode, r.stdout, r.stderr)
        assert (run_dirs[0] / "big").stat().st_size == 1 << 20
    finally:
        sb.cleanup()


def test_kill_all_kills_the_whole_group(run_dirs):
    sb = _sandbox(run_dirs)
    try:
        code = "import subprocess, time; subprocess.Popen(['sleep', '300']); print('up', flush=True); time.sleep(300)"
        proc = subprocess.Popen(
            sb.wrap([sys.executable, "-c", code]), env=sb.environment(), stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "up"
        pid = proc.pid
        sb.kill_all()
        assert proc.wait(timeout=10) == -9
        deadline = time.time() + 5
        while time.time() < deadline:
            alive = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid]
            if not alive:
                break
            time.sleep(0.05)
        assert not alive, f"processes of the killed group survive: {alive}"
    finally:
        sb.cleanup()


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_wrap_before_prepare_is_an_error(run_dirs):
    work, ipc = run_dirs
    sb = make_sandbox("process", SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None))
    with pytest.raises(RuntimeError, match="prepare"):
        sb.wrap(["/bin/true"])


def test_bad_config_is_refused_clearly(tmp_path):
    with pytest.raises(SandboxError, match="does not exist"):
        make_sandbox("process", SandboxConfig(workdir=tmp_path / "nope", ipc_dir=tmp_path, data_dir=None))
    with pytest.raises(SandboxError, match="memory_mb must be positive"):
        make_sandbox(
            "process",
            SandboxConfig(workdir=tmp_path, ipc_dir=tmp_path, data_dir=None, limits=Limits(memory_mb=0)),
        )
    with pytest.raises(SandboxError, match="unknown sandbox backend"):
        make_sandbox("chroot", SandboxConfig(workdir=tmp_path, ipc_dir=tmp_path, data_dir=None))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rlimit", "as=lots", "--", "/bin/true"], "must be an integer"),
        (["--rlimit", "stack=1", "--", "/bin/true"], "NAME=VALUE"),
        (["--user", "alice", "--", "/bin/true"], "UID:GID"),
        (["--", "true"], "absolute path"),
        (["--chdir"], "needs 1 value"),
        (["--stage", "/usr", "usr", "--", "/bin/true"], "needs --stage-root"),
        (["--bogus", "--", "/bin/true"], "unknown option"),
        ([], "no command"),
    ],
)
def test_launcher_rejects_bad_arguments(args, message):
    with pytest.raises(LaunchError, match=message):
        parse_args(args)


def test_launcher_failure_exits_125_with_a_clear_line(tmp_path):
    from grader.sandbox.common import launcher_argv

    r = subprocess.run(
        [*launcher_argv(), "--chdir", str(tmp_path / "missing"), "--", "/bin/true"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == EXIT_LAUNCH_FAILED
    assert r.stderr.startswith("sandbox launcher:")


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_launcher_chown_is_one_level_and_follows_no_symlink(tmp_path):
    from grader.sandbox.launch import chown_dir

    secret = tmp_path / "secret"
    secret.write_text("root's")
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    (run / "sub" / "deep.txt").write_text("x")
    (run / "conn.json").write_text("{}")
    (run / "link").symlink_to(secret)
    chown_dir(str(run), 70030, 70030)
    assert run.stat().st_uid == 70030
    assert (run / "conn.json").stat().st_uid == 70030
    assert (run / "link").lstat().st_uid == 70030  # the link itself
    assert secret.stat().st_uid == 0  # never its target
    assert (run / "sub" / "deep.txt").stat().st_uid == 0  # one level only
    with pytest.raises(OSError):
        chown_dir(str(run / "link"), 70030, 70030)  # a symlink in place of the directory is refused


def test_recycled_pid_is_never_killed(tmp_path):
    from grader.sandbox.common import read_pid
    from grader.sandbox.launch import process_start_time

    me = os.getpid()
    (tmp_path / "pid").write_text(f"{me} {process_start_time(me)}")
    assert read_pid(tmp_path) == me  # still the process the launcher recorded
    (tmp_path / "pid").write_text(f"{me} {process_start_time(me) - 1}")
    assert read_pid(tmp_path) is None  # same number, another process: hands off
    (tmp_path / "pid").write_text("4194303 12345")  # no such process: safe as a group id
    assert read_pid(tmp_path) == 4194303
    (tmp_path / "pid").write_text("garbage")
    assert read_pid(tmp_path) is None
