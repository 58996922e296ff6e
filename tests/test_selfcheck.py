"""`grader check`: what a student sees before submitting (on the small toy assignment)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.rubric import band_half_width
from grader.scoring import ScoreContext, score_item
from grader.scoring.context import fmt
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


# ---------------------------------------------------------------------------------------------
# a self-check says where a computed result lies, never the reference's numbers or band limits


def _reference_numbers(expected: dict) -> set[str]:
    """Every way the output could quote the toy's reference: means and band limits per point (as
    the scorer formats them) and the validation accuracy the consistency item recomputes."""
    assignment = load_assignment(RUBRIC)
    shown: set[str] = set()
    for item in assignment.items:
        if item["kind"] != "curve_band":
            continue
        observed = expected["items"][item["id"]]["observed"]
        for mean, std in zip(observed["mean"], observed["std"], strict=True):
            width = band_half_width(item["band"], mean, std)
            shown |= {fmt(mean), fmt(mean - width), fmt(mean + width), fmt(width)}
    shown.add(fmt(expected["items"]["t2_val_consistency"]["observed"]["mean"], percent=True))
    return shown


def _off_band_notebook(path: Path) -> Path:
    """The toy reference with one validation point pushed out of its band and a reported
    validation accuracy 5 points below what the classifier gets."""
    notebook = nbformat.read(TOY / "toy_reference.ipynb", as_version=4)
    part1 = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("depths = [1, 2, 3, 4, 5]"))
    notebook.cells.insert(part1 + 1, nbformat.v4.new_code_cell("val_acc = list(val_acc)\nval_acc[0] -= 0.3"))
    part2 = next(i for i, c in enumerate(notebook.cells) if "val_accuracy =" in c.source)
    notebook.cells.insert(part2 + 1, nbformat.v4.new_code_cell("val_accuracy = val_accuracy - 0.05"))
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_self_check_shows_the_band_position_but_no_reference_value(tmp_path: Path) -> None:
    expected = json.loads((TOY / "expected.json").read_text(encoding="utf-8"))
    result = _check(_off_band_notebook(tmp_path / "toy.ipynb"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr  # two items lose points
    output = result.stdout
    curve = next(line for line in output.splitlines() if "t1_val_curve" in line)
    assert "[PART]" in curve and "4 of 5 values lie within the band" in curve
    found = re.search(
        r"at max_depth 1 it is ([\d.]+), ([\d.]+) below the band \(([\d.]+) band half-widths\)", curve
    )
    assert found, curve
    # the distance is right: from the student's value up to the band's lower limit
    observed = expected["items"]["t1_val_curve"]["observed"]
    item = next(i for i in load_assignment(RUBRIC).items if i["id"] == "t1_val_curve")
    width = band_half_width(item["band"], observed["mean"][0], observed["std"][0])
    miss = observed["mean"][0] - width - float(found[1])
    assert abs(float(found[2]) - miss) < 0.006 and abs(float(found[3]) - miss / width) < 0.06
    consistency = next(line for line in output.splitlines() if "t2_val_consistency" in line)
    assert "5 percentage points below the accuracy of clf on the validation flowers" in consistency
    assert "times the tolerance" in consistency
    assert "[PASS] t1_train_curve" in output and "all 5 values lie within the band" in output

    report = next((tmp_path / "out" / "feedback").rglob("*.html")).read_text(encoding="utf-8")
    assert "4 of 5 values lie within the band" in report
    for text in (output, report):
        quoted = {
            n for n in _reference_numbers(expected) if re.search(rf"(?<![\d.]){re.escape(n)}(?!\.?\d)", text)
        }
        assert not quoted, f"reference numbers shown: {quoted}"
        assert "±" not in text and "expected" not in text


def test_self_check_threshold_says_how_far_from_full_marks_not_where_they_start() -> None:
    assignment = load_assignment(RUBRIC)
    item = {
        "id": "t_reported",
        "part": "part2",
        "kind": "threshold",
        "label": "reported validation accuracy",
        "points": 2,
        "metric": {"kind": "answer", "answer": "val_accuracy"},
        "threshold": {"full_at": 0.9, "zero_at": 0.55},
        "percent": True,
    }
    run = {"status": "completed", "harvest": {"answers": {"val_accuracy": {"status": "ok", "value": 0.8}}}}
    messages = {}
    for public_only in (False, True):
        ctx = ScoreContext(
            run=run,  # type: ignore[arg-type]
            assignment=assignment,
            expected=None,
            data_dir=TOY / "data",
            profile="default",
            public_only=public_only,
        )
        scored = score_item(item, ctx)
        messages[public_only] = scored["message"]
        assert scored["status"] == "partial"
    assert "90.0%" in messages[False] and "55.0%" in messages[False]  # the instructor sees the bar
    assert (
        messages[True]
        == "reported validation accuracy is 80.0%, 10 percentage points below the full-marks range"
    )
    ctx.run["harvest"]["answers"]["val_accuracy"]["value"] = 0.95  # type: ignore[index]
    within = score_item(item, ctx)
    assert within["message"].endswith("within the full-marks range") and "full_at" not in within["evidence"]
