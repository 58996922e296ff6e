"""Sandbox pieces on their own: uid slots, cgroup bookkeeping, the seccomp filter, docker's command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import SandboxConfig, SandboxError, available_backends, make_sandbox
from grader.sandbox.cgroups import RunCgroups, create_run_cgroups, enforcement
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.seccomp import build_filter, filter_bpf
from grader.sandbox.uids import NoFreeUid, allocate_uid, kill_uid, processes_of_uid

ROOT = os.geteuid() == 0


# -- uid slots -------------------------------------------------------------------------------------


def test_uid_slots_are_exclusive_and_reusable(tmp_path):
    a = allocate_uid(tmp_path, base=70000, count=2)
    b = allocate_uid(tmp_path, base=70000, count=2)
    assert {a.uid, b.uid} == {70000, 70001}
    with pytest.raises(NoFreeUid, match="no free uid in 70000..70001"):
        allocate_uid(tmp_path, base=70000, count=2)
    a.release()
    a.release()  # idempotent
    c = allocate_uid(tmp_path, base=70000, count=2)
    assert c.uid == a.uid
    b.release()
    c.release()


def test_uid_slot_lock_is_seen_by_another_process(tmp_path):
    slot = allocate_uid(tmp_path, base=70010, count=1)
    try:
        code = (
            "import sys; from pathlib import Path; from grader.sandbox.uids import allocate_uid, NoFreeUid\n"
            f"try:\n    allocate_uid(Path({str(tmp_path)!r}), base=70010, count=1)\nexcept NoFreeUid:\n    print('taken')"
        )
        r = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1]
        )
        assert r.stdout.strip() == "taken", r.stderr
    finally:
        slot.release()


def test_bad_uid_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match="1000 or above"):
        allocate_uid(tmp_path, base=0, count=10)


@pytest.mark.skipif(not ROOT, reason="needs root to run a process as another uid")
def test_slot_with_live_processes_is_skipped_and_kill_uid_empties_it(tmp_path):
    uid = 70020
    proc = subprocess.Popen(["sleep", "60"], user=uid, group=uid, extra_groups=[])
    try:
        assert processes_of_uid(uid) == [proc.pid]
        with pytest.raises(NoFreeUid):
            allocate_uid(tmp_path, base=uid, count=1)
        assert kill_uid(uid)
        assert proc.wait(timeout=10) == -9
        assert processes_of_uid(uid) == []
        allocate_uid(tmp_path, base=uid, count=1).release()
    finally:
        proc.kill()
        proc.wait()


def test_kill_uid_refuses_the_graders_own_uid():
    with pytest.raises(ValueError, match="own uid"):
        kill_uid(os.getuid())


# -- cgroups ---------------------------------------------------------------------------------------


def test_limits_fired_reads_cgroup_v1_counters(tmp_path):
    mem, pids = tmp_path / "mem", tmp_path / "pids"
    mem.mkdir()
    pids.mkdir()
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    (mem / "memory.max_usage_in_bytes").write_text(str(1536 << 20))
    (pids / "pids.events").write_text("max 7\n")
    cg = RunCgroups(version=1, memory=mem, pids=pids, memory_mb=1024, max_processes=64)
    fired = cg.limits_fired()
    assert [f["limit"] for f in fired] == ["memory", "processes"]
    assert "1024 MiB" in fired[0]["message"] and "2 process(es)" in fired[0]["message"]
    assert "refused 7 fork(s)" in fired[1]["message"]
    assert cg.peak_memory_mb() == 1536.0


def test_limits_fired_is_empty_when_nothing_fired(tmp_path):
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\noom_kill 0\n")
    (tmp_path / "pids.events").write_text("max 0\n")
    assert RunCgroups(version=1, memory=tmp_path, pids=tmp_path).limits_fired() == []


@pytest.mark.skipif(not enforcement(), reason="no enforcing cgroup controller on this machine")
def test_run_cgroups_are_created_with_limits_and_removed():
    cg = create_run_cgroups("mlag-unit-test", 300, 20)
    assert cg is not None
    try:
        if cg.memory is not None and cg.version == 1:
            assert int((cg.memory / "memory.limit_in_bytes").read_text()) == 300 << 20
        if cg.pids is not None:
            assert (cg.pids / "pids.max").read_text().strip() == "20"
    finally:
        cg.kill_all()
        cg.remove()
    assert not any(d.exists() for d in cg.dirs())


def test_no_cgroups_when_no_controller_is_wanted():
    assert create_run_cgroups("mlag-unused", 100, 10, controllers=set()) is None


# -- seccomp ---------------------------------------------------------------------------------------


def test_seccomp_filter_compiles_and_covers_the_policy():
    bpf = filter_bpf()
    assert len(bpf) > 0 and len(bpf) % 8 == 0  # a whole number of BPF instructions
    import tempfile

    with tempfile.TemporaryFile(mode="w+") as f:
        build_filter().export_pfc(f)
        f.seek(0)
        pfc = f.read()
    for name in (
        "socket",
        "socketpair",
        "clone",
        "clone3",
        "unshare",
        "setns",
        "ptrace",
        "io_uring_setup",
        "bpf",
    ):
        assert f'"{name}"' in pfc, name


# -- docker ----------------------------------------------------------------------------------------


def test_docker_command_line(tmp_path):
    work, ipc, data = tmp_path / "w", tmp_path / "i", tmp_path / "d"
    for d in (work, ipc, data):
        d.mkdir()
    sb = DockerSandbox(
        SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=data), engine="podman", image="img:1"
    )
    cmd = sb.wrap(["/opt/venv/bin/python", "-m", "ipykernel_launcher", "-f", f"{ipc}/k.json"])
    assert cmd[:2] == ["podman", "run"]
    joined = " ".join(cmd)
    for expected in (
        "--network none",
        "--memory 4096m",
        "--memory-swap 4096m",
        "--pids-limit 128",
        "--cap-drop ALL",
        "--read-only",
        f"-v {work}:/home/student:rw",
        f"-v {ipc}:{ipc}:rw",
        f"-v {data}:/assignment/data:ro",
        "--ulimit core=0",
        f"--ulimit fsize={100 << 20}",
    ):
        assert expected in joined, expected
    assert cmd[-6:] == ["img:1", "python3", "-m", "ipykernel_launcher", "-f", f"{ipc}/k.json"]
    assert "--gpus" not in cmd
    assert "hunter" not in joined  # env values are passed by name only
    assert sb.isolated


def test_docker_rejects_unknown_engine(tmp_path):
    with pytest.raises(SandboxError, match="unknown container engine"):
        DockerSandbox(SandboxConfig(workdir=tmp_path, ipc_dir=tmp_path, data_dir=None), engine="lxc")


# -- selection -------------------------------------------------------------------------------------


def test_available_backends_and_auto(tmp_path):
    backends = available_backends()
    assert "process" in backends
    sb = make_sandbox("auto", SandboxConfig(workdir=tmp_path, ipc_dir=tmp_path, data_dir=None))
    assert sb.name == ("bwrap" if "bwrap" in backends else "process")


def test_cgroup_v2_under_a_delegated_root_is_set_up_and_read(tmp_path, monkeypatch):
    """Bookkeeping only (this machine runs cgroup v1): files written, counters read back."""
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    monkeypatch.setenv("ML_AUTOGRADER_CGROUP_ROOT", str(tmp_path))
    cg = create_run_cgroups("mlag-v2", 768, 50, controllers={"memory", "pids"})
    assert cg is not None and cg.version == 2
    assert cg.memory == cg.pids == tmp_path / "mlag-v2"
    assert (cg.memory / "memory.max").read_text() == str(768 << 20)
    assert (cg.pids / "pids.max").read_text() == "50"
    assert cg.dirs() == [tmp_path / "mlag-v2"]
    (cg.memory / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (cg.memory / "memory.peak").write_text(str(700 << 20))
    (cg.pids / "pids.events").write_text("max 0\n")
    assert [f["limit"] for f in cg.limits_fired()] == ["memory"]
    assert cg.peak_memory_mb() == 700.0


def test_make_sandbox_names_each_backend(tmp_path):
    cfg = SandboxConfig(workdir=tmp_path, ipc_dir=tmp_path, data_dir=None)
    assert make_sandbox("process", cfg).name == "process"
    assert make_sandbox("docker", cfg).name == "docker"
    assert make_sandbox("podman", cfg).name == "podman"
