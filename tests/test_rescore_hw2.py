"""Harvest once, score many, on hw2 itself: two of the example submissions graded in the real
sandbox, then one threshold and one band edited in a copy of the rubric and graded again.

Nothing executes (run records and executed notebooks are byte-identical), the two edited items
move as the new rubric says, and every other item is identical. Slow: two hw2 notebooks.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader.assignment import load_assignment
from grader.batch import grade_batch
from grader.cli import main
from grader.grading import GradeOptions
from grader.limits import Limits
from grader.results import load_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions" / "hw2"
STUDENTS = ("alan_turing", "grace_hopper")  # Part 2 left as in the template; a weak tuned network
THRESHOLD = (
    "p2_tuned_test_error",
    "threshold: {full_at: 0.08, zero_at: 0.15}",
    "threshold: {full_at: 0.11, zero_at: 0.15}",
)
BAND = ("p1_dt_val_curve", "band: {k: 3, abs: 0.05, rel: 0.03}", "band: {k: 0.1, abs: 0.001, rel: 0.0}")


def rubric_copy(target: Path, edits: list[tuple[str, str, str]]) -> Path:
    """rubrics/hw2.yaml with its paths made absolute and each named item's line edited."""
    text = (REPO / "rubrics" / "hw2.yaml").read_text(encoding="utf-8").replace("../", f"{REPO}/")
    for item, old, new in edits:
        start = text.index(f"- id: {item}\n")
        at = text.index(old, start)
        text = text[:at] + new + text[at + len(old) :]
    target.write_text(text, encoding="utf-8")
    return target


def grade(rubric: Path, subs: Path, out: Path, data: Path) -> Any:
    options = GradeOptions(
        assignment=load_assignment(rubric), out_dir=out, data_dir=data, limits=Limits(cell_timeout=120)
    )
    return grade_batch([subs], options, workers=2, progress=False)


def snapshot(out: Path, folder: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / folder).glob("*"))}


def test_hw2_threshold_and_band_edit_rescores_without_executing(tmp_path: Path, hw2_data: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in STUDENTS:
        shutil.copy(EXAMPLES / f"{name}.ipynb", subs / f"{name}.ipynb")
    out = tmp_path / "out"
    first = grade(rubric_copy(tmp_path / "hw2.yaml", []), subs, out, hw2_data)
    assert first.graded_now == 2
    before = {d["id"]: d for d in load_results(out)}
    runs, executed = snapshot(out, "run"), snapshot(out, "executed")

    (tmp_path / "edited").mkdir()
    edited = rubric_copy(tmp_path / "edited" / "hw2.yaml", [THRESHOLD, BAND])
    second = grade(edited, subs, out, hw2_data)

    assert second.graded_now == 0 and second.rescored == 2, second.describe()
    assert snapshot(out, "run") == runs and snapshot(out, "executed") == executed
    after = {d["id"]: d for d in load_results(out)}
    for sid in STUDENTS:
        old = {i["id"]: i for i in before[sid]["items"]}
        new = {i["id"]: i for i in after[sid]["items"]}
        assert sorted(new) == sorted(old)
        changed = {i for i in new if new[i] != old[i]}
        assert changed <= {"p2_tuned_test_error", "p1_dt_val_curve"}, (sid, changed)
    grace = {i["id"]: i for i in after["grace_hopper"]["items"]}
    error = grace["p2_tuned_test_error"]["evidence"]["value"]
    assert error <= 0.11  # her 10% error now earns full marks, as the edited threshold says
    assert grace["p2_tuned_test_error"]["points"] == 12 and grace["p2_tuned_test_error"]["status"] == "passed"
    old_grace = {i["id"]: i for i in before["grace_hopper"]["items"]}
    assert old_grace["p2_tuned_test_error"]["points"] < 12
    for sid in STUDENTS:  # a band of 0.001 RMSE: nobody's curve stays inside everywhere
        curve = {i["id"]: i for i in after[sid]["items"]}["p1_dt_val_curve"]
        assert curve["points"] < {i["id"]: i for i in before[sid]["items"]}["p1_dt_val_curve"]["points"]
    alan = {i["id"]: i for i in after["alan_turing"]["items"]}
    assert (
        alan["p2_tuned_test_error"]
        == {i["id"]: i for i in before["alan_turing"]["items"]}["p2_tuned_test_error"]
    )
    delta = after["grace_hopper"]["score"] - before["grace_hopper"]["score"]
    moved = sum(
        grace[i]["points"] - old_grace[i]["points"] for i in ("p2_tuned_test_error", "p1_dt_val_curve")
    )
    assert delta == pytest.approx(moved, abs=0.011)

    again = CliRunner().invoke(
        main, ["rescore", str(out), "--assignment", str(edited), "--data", str(hw2_data), "--dry-run"]
    )
    assert again.exit_code == 0, again.output
    assert "No score moved." in again.output
