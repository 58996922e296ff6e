"""`grader grade` end to end with the real grade_one on the toy assignment: the local pool and a
Dask LocalCluster give the same scores; a rerun skips everything; bad inputs become rows."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.batch import EXIT_OK, EXIT_USAGE
from grader.datasets import build_data

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("batch-e2e")
    data = root / "data"
    build_data(load_assignment(TOY / "toy.yaml"), data)
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(TOY / "toy_reference.ipynb", subs / "alice.ipynb")
    shutil.copy(TOY / "toy_template.ipynb", subs / "bob.ipynb")
    (subs / "carol.ipynb").write_text("{oops", encoding="utf-8")
    (subs / "dave.ipynb").write_bytes(b'{"cells": [], "nbformat": 4, "metadata": ' + b"[" * 100_000)
    return {"root": root, "data": data, "subs": subs}


def grader(*args: str | Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "grader", *map(str, args)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def rows(out: Path) -> dict[str, dict]:
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    docs = [json.loads(line) for line in lines]
    assert len(docs) == len({d["id"] for d in docs}), "duplicated rows"
    return {d["id"]: d for d in docs}


def test_local_pool_then_rerun_then_dask_agree(batch: dict[str, Path]) -> None:
    common = ["--assignment", TOY / "toy.yaml", "--data", batch["data"], "--workers", "2"]
    local_out = batch["root"] / "local"
    first = grader("grade", batch["subs"], *common, "--out", local_out)
    assert first.returncode == EXIT_OK, first.stderr
    local = rows(local_out)
    assert (
        local["alice"]["status"] == "graded"
        and local["alice"]["auto_score"] == local["alice"]["auto_max_score"]
    )
    assert local["bob"]["status"] == "graded" and local["bob"]["score"] == 0
    assert (
        local["carol"]["status"] == "invalid_notebook" and "not a JSON notebook" in local["carol"]["message"]
    )
    assert local["dave"]["status"] == "invalid_notebook"  # 100,000 nested brackets: a row, not a crash
    for doc in local.values():
        assert doc["content_hash"] and (local_out / "results" / f"{doc['id']}.json").is_file()
    assert (local_out / "feedback" / "alice.html").is_file() and (local_out / "summary.html").is_file()
    with (local_out / "grades.csv").open(newline="") as handle:
        assert {row["id"] for row in csv.DictReader(handle)} >= {"alice", "bob"}

    again = grader("grade", batch["subs"], *common, "--out", local_out)
    assert again.returncode == EXIT_OK, again.stderr
    assert "0 executed, 0 rescored from stored runs, 4 unchanged" in again.stderr
    assert rows(local_out) == local  # nothing rewritten

    dask_out = batch["root"] / "dask"
    on_dask = grader("grade", batch["subs"], *common, "--executor", "dask", "--out", dask_out)
    assert on_dask.returncode == EXIT_OK, on_dask.stderr
    dask = rows(dask_out)
    assert {k: (d["status"], d["score"]) for k, d in dask.items()} == {
        k: (d["status"], d["score"]) for k, d in local.items()
    }
    for key in ("alice", "bob"):
        assert [(i["id"], i["points"]) for i in dask[key]["items"]] == [
            (i["id"], i["points"]) for i in local[key]["items"]
        ]


def test_usage_errors_exit_2(batch: dict[str, Path]) -> None:
    out = batch["root"] / "usage"
    unknown = grader("grade", batch["subs"], "--assignment", "no-such-assignment", "--out", out)
    assert unknown.returncode == EXIT_USAGE and "unknown assignment" in unknown.stderr
    missing = grader("grade", batch["root"] / "nope", "--assignment", TOY / "toy.yaml", "--out", out)
    assert missing.returncode == EXIT_USAGE
    gpu = grader(
        "grade", batch["subs"], "--assignment", TOY / "toy.yaml", "--data", batch["data"],
        "--out", out, "--gpu-notebooks", "*",
    )  # fmt: skip
    assert gpu.returncode == EXIT_USAGE and "need a GPU" in gpu.stderr
    both = grader(
        "grade", batch["subs"], "--assignment", TOY / "toy.yaml", "--out", out, "--slurm", "--scheduler", "x"
    )
    assert both.returncode == EXIT_USAGE
