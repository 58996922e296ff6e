"""grade_one tells the course staff when the metrics students are scored against are missing or stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.grading import GradeOptions, grade_one
from grader.submission import Submission

TOY = Path(__file__).parent / "assignments" / "toy"


def _grade_template(rubric: Path, out: Path) -> dict:
    assignment = load_assignment(rubric)
    options = GradeOptions(assignment=assignment, out_dir=out, write_reports=False)
    template = assignment.template
    return grade_one(Submission(id="t", student="t", path=template), options)


@pytest.mark.slow
def test_stale_and_missing_expected_json_are_named(tmp_path: Path) -> None:
    copy = tmp_path / "toy"
    shutil.copytree(TOY, copy)
    current = _grade_template(copy / "toy.yaml", tmp_path / "current")
    assert not [w for w in current["warnings"] if "expected.json" in w]

    rubric = copy / "toy.yaml"
    rubric.write_text(rubric.read_text() + "\n# edited after calibration\n")
    stale = _grade_template(rubric, tmp_path / "stale")
    assert any("expected.json is stale" in w and "toy.yaml changed" in w for w in stale["warnings"])

    (copy / "expected.json").unlink()
    missing = _grade_template(rubric, tmp_path / "missing")
    # a rubric outside rubrics/ is named by its path, so the advice is a command that works (issue 12)
    assert any(
        "expected.json is missing" in w and "grader reference " in w and "toy/toy.yaml`" in w
        for w in missing["warnings"]
    ), missing["warnings"]
