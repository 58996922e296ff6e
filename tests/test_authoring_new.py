"""Done-when of issue 12: `grader new`, edits only inside the new folder, then release-check and
grading pass with no PYTHONPATH and no change to grader/ (real kernels: slow)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

GRADER = [sys.executable, "-m", "grader"]


def grader(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([*GRADER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_new_assignment_edited_in_its_folder_releases_and_grades(tmp_path: Path) -> None:
    made = grader("new", "demo", "--no-run", cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    folder = tmp_path / "demo"
    assert sorted(p.name for p in folder.iterdir()) == [
        "build_data.py",
        "master.ipynb",
        "reference",
        "rubric.yaml",
        "student",
    ]

    # the instructor's edits, all inside demo/: a prose change, a harder bar, one more function call
    master = nbformat.read(folder / "master.ipynb", as_version=4)
    master.cells[0].source += "\n\nDue Friday."
    nbformat.write(master, folder / "master.ipynb")
    rubric = (folder / "rubric.yaml").read_text()
    rubric = rubric.replace("full_at: 0.75", "full_at: 0.8").replace(
        "      - {args: [[10.0, 10.0, 13.0]]}", "      - {args: [[10.0, 10.0, 13.0]]}\n      - {args: [[5]]}"
    )
    (folder / "rubric.yaml").write_text(rubric)

    assigned = grader("assign", "demo", "--seeds", "2", cwd=tmp_path)
    assert assigned.returncode == 0, assigned.stdout + assigned.stderr
    assert "demo: ready to release" in assigned.stdout
    assert "Due Friday." in (folder / "student" / "demo.ipynb").read_text()
    released = grader("release-check", "demo", cwd=tmp_path)
    assert released.returncode == 0, released.stdout
    assert "0.8" in released.stdout  # the bar as edited

    submissions = tmp_path / "submissions"
    (submissions / "ada").mkdir(parents=True)
    (submissions / "bob").mkdir()
    shutil.copy(folder / "reference" / "demo_reference.ipynb", submissions / "ada" / "demo.ipynb")
    shutil.copy(folder / "student" / "demo.ipynb", submissions / "bob" / "demo.ipynb")
    graded = grader("grade", "submissions", "--assignment", "demo", "--out", "out", cwd=tmp_path)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    results = {
        doc["student"]: doc
        for doc in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())
    }
    assert results["ada"]["auto_score"] == results["ada"]["auto_max_score"] == 8
    assert results["bob"]["auto_score"] == 0
    assert results["ada"]["rubric"] == str((folder / "rubric.yaml").resolve())
    function_item = next(i for i in results["ada"]["items"] if i["kind"] == "function")
    assert function_item["status"] == "passed", function_item

    # later commands find the rubric from the results, from any directory
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    reported = grader("report", str(tmp_path / "out"), cwd=elsewhere)
    assert reported.returncode == 0 and "without the rubric" not in reported.stderr, reported.stderr
    exported = grader("manual", str(tmp_path / "out"), cwd=elsewhere)
    assert exported.returncode == 0, exported.stderr
    assert not (Path(__file__).resolve().parents[1] / "demo").exists()
