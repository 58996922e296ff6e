"""nbgrader's own documentation example, problem set ``ps1`` of the nbgrader 0.9.6 sdist (fetched
with pip at test time; none of its files are committed): imported with `grader import nbgrader`,
then its two submitted students graded as one assignment of two notebooks (one row each). Every autograded test cell gets the pass or fail that
nbgrader's own autograded copies in the sdist record (1.5 and 3.0 automatic points), and the
hand-graded cells are queued for a person (or failed, when left as nbgrader's placeholder)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pytest
from grader_cli import grader_cli

VERSION = "0.9.6"
GUIDE = f"nbgrader-{VERSION}/nbgrader/docs/source/user_guide/"


def fetch_user_guide(into: Path) -> Path:
    """pip downloads the sdist (its metadata prepared by the dev extra's hatchling); only the user guide is unpacked."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", f"nbgrader=={VERSION}", "--no-binary", ":all:", "--no-deps"]
        + ["--no-build-isolation", "--quiet", "-d", str(into)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, "pip could not fetch nbgrader's sdist:\n" + done.stdout + done.stderr
    with tarfile.open(into / f"nbgrader-{VERSION}.tar.gz") as archive:
        members = [m for m in archive.getmembers() if m.name.startswith(GUIDE)]
        archive.extractall(into, members=members, filter="data")
    return into / GUIDE


def nbgrader_verdicts(notebook: Path) -> dict[str, str]:
    """What nbgrader's autograder recorded: a test cell failed when its output holds an error."""
    cells = nbformat.read(notebook, as_version=4).cells
    return {
        c.metadata["nbgrader"]["grade_id"]: (
            "failed" if any(o.get("output_type") == "error" for o in c.get("outputs", [])) else "passed"
        )
        for c in cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    }


@pytest.mark.slow
def test_ps1_imports_and_grades_as_nbgrader_did(tmp_path: Path) -> None:
    guide = fetch_user_guide(tmp_path / "sdist")
    made = grader_cli(
        tmp_path, "import", "nbgrader", str(guide / "source" / "ps1"), "--out", "ps1", "--seeds", "1"
    )
    assert "problem1: ready to release" in made.stdout and "problem2: ready to release" in made.stdout
    grader_cli(tmp_path, "grade", str(guide / "submitted"), "--assignment", "ps1", "--out", "out")
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert sorted(r["student"] for r in rows) == ["bitdiddle", "hacker"]  # one row per student
    automatic: dict[str, float] = {}
    compared = 0
    for row in rows:
        ours = {i["id"]: i["status"] for i in row["items"]}
        theirs: dict[str, str] = {}
        for problem in ("problem1", "problem2"):
            theirs.update(
                nbgrader_verdicts(guide / "autograded" / row["student"] / "ps1" / f"{problem}.ipynb")
            )
        assert {k: ours[k] for k in theirs} == theirs, row["student"]
        compared += len(theirs)
        manual = {k: v for k, v in ours.items() if k not in theirs}
        assert manual and set(manual.values()) <= {"pending", "failed"}
        assert {p["id"].split("/")[0] for p in row["parts"]} == {
            "problem1",
            "problem2",
        }  # both notebooks' items
        automatic[row["student"]] = float(row["score"])
    assert compared == 8  # problem1's four test cells for each of the two students
    assert automatic == {"bitdiddle": 1.5, "hacker": 3.0}  # nbgrader's autograded/ totals, both notebooks
