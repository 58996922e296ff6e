"""Attack notebooks run through the real engine and sandbox (bwrap where it works, else process).

Each attack must be stopped and reported on its own cell; the cell after it must still run with
the set-up's state (``total == 42`` is harvested); no process of the run may survive it; and the
grader (this test process) carries on. Attacks on isolation (network, secrets) need an isolating
backend and are skipped, loudly, on the process backend, which does not isolate.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.engine import run_notebook
from grader.limits import Limits

from .notebooks import AFTER_CELL, ATTACK_CELL, attack_notebook, write

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "exec"
LIMITS = Limits(
    cell_timeout=10,
    notebook_timeout=150,
    memory_mb=1024,
    max_processes=64,
    file_size_mb=100,
    output_bytes=100_000,
    harvest_timeout=60,
)


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment carries ``marker`` (the run's processes, wherever they moved)."""
    needle = f"GRADER_TEST_MARKER={marker}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                if needle in handle.read():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def run_attack(
    tmp_path: Path, name: str, limits: Limits = LIMITS, backend: str = "auto", **constants: object
) -> dict:
    marker = uuid.uuid4().hex
    notebook = write(attack_notebook(name, **constants), tmp_path / f"{name}.ipynb")
    record = run_notebook(
        notebook,
        load_assignment(FIXTURE / "exec.yaml"),
        FIXTURE / "data",
        tmp_path / "out",
        run_id=name,
        limits=limits,
        backend=backend,
        env={"GRADER_TEST_MARKER": marker},
    )
    assert _processes_with(marker) == [], "a process of the run outlived it"
    assert (tmp_path / "out" / "run" / f"{name}.json").is_file()
    executed = nbformat.read(tmp_path / "out" / "executed" / f"{name}.ipynb", as_version=4)
    after_text = "".join(o.get("text", "") for o in executed.cells[AFTER_CELL].outputs)
    record["_after_output"] = after_text
    return record


def cell(record: dict, index: int) -> dict:
    return next(c for c in record["cells"] if c["index"] == index)


def assert_contained(record: dict) -> None:
    """The attack cost nothing outside its cell: the cell after it ran on the set-up's state."""
    assert record["status"] == "completed", record["message"]
    after = cell(record, AFTER_CELL)
    assert after["status"] == "ok", after
    assert record["harvest"]["answers"]["total"] == {"status": "ok", "value": 42}
    assert "after 42" in record["_after_output"]  # its output arrived too (IOPub still works)


def fired(record: dict, limit: str) -> list[dict]:
    return [f for f in record["limits_fired"] if f["limit"] == limit]


def require_isolation(record: dict) -> None:
    if not record["isolated"]:
        pytest.skip(f"backend {record['backend']} does not isolate; isolation attacks need bwrap")


def test_tcp_socket_is_blocked(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    try:
        record = run_attack(tmp_path, "tcp_socket", PORT=server.getsockname()[1])
        require_isolation(record)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing reached the host's socket
    finally:
        server.close()
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "ok", attack  # the cell asserts that every connection failed
    assert_contained(record)


def test_secrets_are_not_readable(tmp_path):
    hidden = FIXTURE / "data" / "hidden"
    record = run_attack(
        tmp_path,
        "read_secrets",
        SECRET_PATHS=[
            "/etc/shadow",
            str(hidden / "points_y.csv"),
            str(hidden / "vectors_y.npy"),
            str(FIXTURE / "exec.yaml"),
            str(REPO / "rubrics" / "hw2.yaml"),
            str(REPO / "reference" / "hw2" / "hw2_reference.ipynb"),
            "/assignment/hidden/points_y.csv",
        ],
        # the interpreter's own directories are bound read-only (the kernel needs them); the
        # repository's code, rubrics, reference and tests, and the grader's home, are not
        SECRET_DIRS=[
            str(hidden),
            str(REPO / "reference"),
            str(REPO / "rubrics"),
            str(REPO / "tests"),
            str(REPO / "grader"),
            "/root/.ssh",
            "/assignment/hidden",
        ],
    )
    require_isolation(record)
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "ok", attack  # the cell asserts that nothing was readable
    assert_contained(record)


def test_fork_bomb_is_limited(tmp_path):
    record = run_attack(tmp_path, "fork_bomb")
    attack = cell(record, ATTACK_CELL)
    if record["isolated"]:
        assert attack["status"] == "error" and attack["error"]["ename"] in ("BlockingIOError", "OSError"), (
            attack
        )
        assert fired(record, "processes"), record["limits_fired"]
        assert record["telemetry"]["kernel_restarts"] == 1  # the leftover children were cleared
    assert_contained(record)


def test_memory_hog_is_stopped(tmp_path):
    record = run_attack(tmp_path, "memory_hog")
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] in ("error", "kernel_died"), attack
    if attack["status"] == "error":
        assert attack["error"]["ename"] == "MemoryError", attack
    assert fired(record, "memory"), record["limits_fired"]
    assert attack["peak_rss_mb"] < 1.5 * LIMITS.memory_mb
    assert_contained(record)


def test_disk_filler_hits_the_file_size_limit(tmp_path):
    record = run_attack(tmp_path, "disk_filler")
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "error", attack
    assert fired(record, "file_size"), record["limits_fired"]
    assert_contained(record)


def test_output_flood_is_capped(tmp_path):
    record = run_attack(tmp_path, "output_flood")
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] in ("output_truncated", "timeout"), attack
    assert attack["output_bytes"] > LIMITS.output_bytes
    assert fired(record, "output_cap")
    executed = (tmp_path / "out" / "executed" / "output_flood.ipynb").stat().st_size
    assert executed < 3 * LIMITS.output_bytes + 50_000
    assert_contained(record)


@pytest.mark.parametrize("name", ["huge_message", "oversized_message", "display_update"])
def test_one_huge_message_is_capped(tmp_path, name):
    record = run_attack(tmp_path, name)
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "output_truncated", attack
    assert fired(record, "output_cap")
    executed = (tmp_path / "out" / "executed" / f"{name}.ipynb").stat().st_size
    assert executed < 3 * LIMITS.output_bytes + 50_000
    assert_contained(record)


def test_infinite_loop_is_interrupted_without_restart(tmp_path):
    limits = Limits(**{**LIMITS.__dict__, "cell_timeout": 4})
    record = run_attack(tmp_path, "infinite_loop", limits=limits)
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "timeout", attack
    assert fired(record, "cell_timeout")[0]["cell"] == ATTACK_CELL
    assert record["telemetry"]["kernel_restarts"] == 0  # the interrupt worked; state kept
    assert_contained(record)


def test_hard_exit_restarts_the_kernel_and_replays(tmp_path):
    record = run_attack(tmp_path, "hard_exit")
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "kernel_died", attack
    assert record["telemetry"]["kernel_restarts"] == 1
    assert cell(record, 0).get("replays") == 1
    assert_contained(record)


def test_sleep_ignoring_sigint_is_stopped_by_restart(tmp_path):
    limits = Limits(**{**LIMITS.__dict__, "cell_timeout": 4})
    record = run_attack(tmp_path, "ignore_interrupt", limits=limits)
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] == "timeout", attack
    assert attack["wall_s"] < 60
    assert record["telemetry"]["kernel_restarts"] == 1
    assert_contained(record)


def test_broken_kernel_messaging_is_restarted_and_replayed(tmp_path):
    record = run_attack(tmp_path, "broken_messaging")
    attack = cell(record, ATTACK_CELL)
    assert attack["status"] in ("kernel_died", "timeout"), attack
    assert record["telemetry"]["kernel_restarts"] == 1
    assert_contained(record)


# The process backend isolates nothing, but its rlimits and the engine's own limits still apply:
# resource attacks must be stopped and contained there too (machines without bubblewrap use it).
PROCESS_BACKEND_CASES = {
    "memory_hog": (("error",), "memory", 0),
    "disk_filler": (("error",), "file_size", 0),
    "output_flood": (("output_truncated", "timeout"), "output_cap", 0),  # a loaded machine may time out first
    "hard_exit": (("kernel_died",), None, 1),
    "ignore_interrupt": (("timeout",), "cell_timeout", 1),
    "broken_messaging": (("kernel_died", "timeout"), None, 1),
}


@pytest.mark.parametrize("name", sorted(PROCESS_BACKEND_CASES))
def test_resource_attacks_are_contained_on_the_process_backend(tmp_path, name):
    status, limit, restarts = PROCESS_BACKEND_CASES[name]
    limits = Limits(**{**LIMITS.__dict__, "cell_timeout": 4})
    record = run_attack(tmp_path, name, limits=limits, backend="process")
    assert record["backend"] == "process" and not record["isolated"]
    assert cell(record, ATTACK_CELL)["status"] in status, cell(record, ATTACK_CELL)
    if limit:
        assert fired(record, limit), record["limits_fired"]
    assert record["telemetry"]["kernel_restarts"] == restarts
    assert_contained(record)
