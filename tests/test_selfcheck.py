"""`grader check`: what a student sees before submitting (on the small toy assignment)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.selfcheck import restrict_to_parts, summarise

TOY = Path(__file__).parent / "assignments" / "toy"
RUBRIC = TOY / "toy.yaml"


def _check(notebook: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "check", str(notebook), "--assignment", str(RUBRIC), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_reference_passes_and_hidden_items_wait_for_submission(tmp_path: Path) -> None:
    result = _check(TOY / "toy_reference.ipynb", "--out", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[FAIL]" not in result.stdout
    # the hidden-data threshold is not graded on public data: pending, never failed
    assert "graded on submission" in result.stdout
    assert (tmp_path / "feedback").is_dir()


@pytest.mark.slow
def test_template_fails_with_a_line_per_item_to_fix(tmp_path: Path) -> None:
    result = _check(TOY / "toy_template.ipynb", "--fast", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "[FAIL] t1_depths" in result.stdout
    assert "is still None" in result.stdout
    assert not (tmp_path / "feedback").exists()  # --fast skips the report


def test_restrict_to_parts_keeps_setup_and_the_chosen_part(tmp_path: Path) -> None:
    assignment = load_assignment(RUBRIC)
    out = restrict_to_parts(TOY / "toy_reference.ipynb", assignment, ["part1"], tmp_path / "nb.ipynb")
    sources = "\n".join(c.source for c in nbformat.read(str(out), as_version=4).cells)
    full = "\n".join(c.source for c in nbformat.read(str(TOY / "toy_reference.ipynb"), as_version=4).cells)
    assert "## Part 1" in sources and "## Part 2" not in sources
    assert full.splitlines()[0] in sources  # the preamble survives
    with pytest.raises(ValueError, match="unknown part"):
        restrict_to_parts(TOY / "toy_reference.ipynb", assignment, ["part9"], tmp_path / "x.ipynb")


def test_summary_counts_pending_items_as_not_failed() -> None:
    document = {
        "student": "ada",
        "status": "graded",
        "auto_score": 3,
        "auto_max_score": 5,
        "items": [
            {"id": "a", "part": "p1", "status": "passed", "points": 3, "max_points": 3, "message": "ok"},
            {
                "id": "b",
                "part": "p2",
                "status": "pending",
                "points": 0,
                "max_points": 2,
                "message": "graded on submission",
            },
        ],
    }
    text, failed = summarise(document)
    assert not failed and "[TODO] b" in text
    document["items"][0]["status"] = "partial"
    assert summarise(document)[1] is True
    assert summarise(document, parts=["p2"])[1] is False
