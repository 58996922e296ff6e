"""`grader release-check`: the checks an instructor runs before handing an assignment out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.release import check_reference, check_template

TOY = Path(__file__).parent / "assignments" / "toy"


def _release_check(rubric: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "release-check", str(rubric), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_toy_assignment_is_ready_to_release(tmp_path: Path) -> None:
    result = _release_check(TOY / "toy.yaml", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ready to release" in result.stdout
    assert "FAIL" not in result.stdout


@pytest.mark.slow
def test_a_changed_rubric_makes_expected_json_stale(tmp_path: Path) -> None:
    copy = tmp_path / "toy"
    shutil.copytree(TOY, copy)
    rubric = copy / "toy.yaml"
    rubric.write_text(rubric.read_text() + "\n# an edit after calibration\n")
    result = _release_check(rubric, tmp_path / "out")
    assert result.returncode == 1
    assert "FAIL expected.json is current" in result.stdout
    assert "changed since expected.json was calibrated" in result.stdout


def test_reference_check_names_the_items_short_of_full_marks() -> None:
    document = {
        "status": "graded",
        "auto_score": 8,
        "auto_max_score": 10,
        "pending_manual": 2,
        "items": [
            {"id": "curve", "kind": "curve_band", "status": "partial", "message": "2 of 5 points outside"},
            {"id": "essay", "kind": "free_text", "status": "pending", "message": "for a person"},
        ],
    }
    check = check_reference(document)
    assert not check.ok and "curve (partial" in check.detail and "essay" not in check.detail
    document["items"][0]["status"] = "passed"
    assert check_reference(document).ok


def test_template_check_flags_points_errors_and_crashes() -> None:
    good = {
        "status": "graded",
        "auto_score": 0,
        "items": [{"id": "a", "points": 0, "status": "failed", "message": "None"}],
    }
    assert check_template(good).ok
    scoring = {**good, "items": [{"id": "fig", "points": 2, "status": "passed", "message": "a figure"}]}
    assert "scores points: fig" in check_template(scoring).detail
    crashed = {**good, "status": "error", "message": "kernel died"}
    assert not check_template(crashed).ok
