"""Manual marks: the marking sheet, an all-or-nothing merge, re-rendered reports and exports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.manual import ManualMarkError, merge, pending_rows, write_pending_csv
from grader.results import iter_jsonl, load_results, rebuild_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "results"


@pytest.fixture(scope="module")
def rendered_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A grading output directory holding the fixture results, rendered once by `grader report`."""
    base = tmp_path_factory.mktemp("out")
    (base / "results").mkdir()
    for path in FIXTURES.glob("*.json"):
        shutil.copy(path, base / "results" / path.name)
    rebuild_jsonl(base)
    result = CliRunner().invoke(main, ["report", str(base)])
    assert result.exit_code == 0, result.output
    return base


@pytest.fixture()
def out(rendered_out: Path, tmp_path: Path) -> Path:
    """A private copy of the rendered output directory for one test."""
    return Path(shutil.copytree(rendered_out, tmp_path / "out"))


def sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["student", "item", "max_points", "answer", "points", "comment"]
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({"max_points": "", "answer": "", **row})
    return path


def snapshot(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != ".results.lock"
    }


def doc(out: Path, rid: str) -> dict:
    return json.loads((out / "results" / f"{rid}.json").read_text(encoding="utf-8"))


def test_sheet_lists_pending_answers_only(out: Path) -> None:
    rows = pending_rows(load_results(out))
    assert [(r["student"], r["item"], r["max_points"]) for r in rows] == [
        ("alice", "p1_why_boosting", 20),
        ("bob", "p1_why_boosting", 20),
        ("dave", "p1_why_boosting", 20),
    ]
    assert rows[0]["answer"].startswith("Each tree corrects the residuals")


def test_manual_command_writes_the_sheet_with_safe_cells(out: Path) -> None:
    result = CliRunner().invoke(main, ["manual", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 answers to mark" in result.output
    with (out / "manual" / "marks.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "student",
        "item",
        "part",
        "title",
        "max_points",
        "answer",
        "found",  # where the answer was read from, when not only the ANSWER cell
        "guidance",
        "points",
        "comment",
    ]
    assert rows[1]["answer"].startswith("'=HYPERLINK")  # a formula in a student's answer stays text
    assert "\n" in rows[0]["answer"]  # multi-line answers survive the round trip


def test_merge_moves_items_from_pending_and_rerenders_everything(out: Path) -> None:
    marks = sheet(
        out / "filled.csv",
        [
            {"student": "alice", "item": "p1_why_boosting", "points": "15", "comment": "Good; mention bias."},
            {"student": "bob", "item": "p1_why_boosting", "points": "0", "comment": ""},
            {"student": "dave", "item": "p1_why_boosting", "points": "", "comment": "later"},
        ],
    )
    summary = merge(out, marks)
    assert (summary.merged, summary.blank, summary.students) == (2, 1, ["alice", "bob"])

    alice = doc(out, "alice")
    item = next(i for i in alice["items"] if i["id"] == "p1_why_boosting")
    assert (item["status"], item["points"], item["message"]) == ("partial", 15.0, "Good; mention bias.")
    assert item["evidence"]["manual"]["points"] == 15.0 and item["evidence"]["answer"].startswith("Each tree")
    assert (alice["score"], alice["pending_manual"], alice["auto_score"]) == (88.9, 0.0, 73.9)
    assert alice["message"] == "all cells ran"  # not the scorer's summary format: left alone
    part1 = alice["parts"][0]
    assert (part1["score"], part1["pending_manual"]) == (24.4, 0.0)
    bob = doc(out, "bob")
    assert next(i for i in bob["items"] if i["id"] == "p1_why_boosting")["status"] == "failed"
    assert (bob["score"], bob["pending_manual"]) == (1.5, 0.0)
    dave = doc(out, "dave")
    assert dave["pending_manual"] == 20 and dave["score"] == 42.5

    # results.jsonl rebuilt from the merged documents
    assert {d["id"]: d["score"] for d in iter_jsonl(out / "results.jsonl")}["alice"] == 88.9
    # reports and exports re-rendered, all in agreement
    html = (out / "feedback" / "alice.html").read_text(encoding="utf-8")
    assert 'data-score="88.9"' in html and "Good; mention bias." in html
    grades = {r["id"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline=""))}
    assert float(grades["alice"]["total"]) == 88.9 and float(grades["alice"]["pending_manual"]) == 0
    gs = json.loads((out / "gradescope" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert gs["score"] == 88.9
    marked = [t for t in gs["tests"] if t["name"].endswith("prefer shallow trees?")][0]
    assert (marked["score"], marked["max_score"]) == (15.0, 20.0) and "mention bias" in marked["output"]
    from test_exports import agreement

    agreement(out, load_results(out))


def test_remarking_replaces_the_earlier_mark(out: Path) -> None:
    merge(
        out,
        sheet(
            out / "a.csv", [{"student": "alice", "item": "p1_why_boosting", "points": "15", "comment": "x"}]
        ),
    )
    rows = pending_rows(load_results(out), include_marked=True)
    assert [(r["student"], r["points"]) for r in rows if r["student"] == "alice"] == [("alice", 15.0)]
    merge(
        out,
        sheet(
            out / "b.csv", [{"student": "alice", "item": "p1_why_boosting", "points": "20", "comment": "y"}]
        ),
    )
    alice = doc(out, "alice")
    assert (alice["score"], alice["pending_manual"]) == (93.9, 0.0)
    assert next(i for i in alice["items"] if i["id"] == "p1_why_boosting")["status"] == "passed"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"student": "alice", "item": "p1_why_boosting", "points": "21"},
            r"row 3 .*points 21 outside 0\.\.20",
        ),
        ({"student": "alice", "item": "p1_why_boosting", "points": "-1"}, r"row 3 .*outside"),
        (
            {"student": "zed", "item": "p1_why_boosting", "points": "3"},
            r"row 3 \(student 'zed'.*unknown student",
        ),
        ({"student": "alice", "item": "p9_nope", "points": "3"}, r"row 3 .*unknown item"),
        ({"student": "alice", "item": "p2_val_error", "points": "3"}, r"row 3 .*scored automatically"),
        (
            {"student": "alice", "item": "p1_why_boosting", "points": "ten"},
            r"row 3: points 'ten' is not a number",
        ),
        ({"student": "alice", "item": "p1_why_boosting", "points": "nan"}, r"row 3: .*not a finite number"),
        (
            {"student": "bob", "item": "p1_why_boosting", "points": "2"},
            r"row 3 .*marked twice \(also in row 2\)",
        ),
    ],
)
def test_invalid_marks_name_the_row_and_change_nothing(out: Path, row: dict[str, str], message: str) -> None:
    good = {"student": "bob", "item": "p1_why_boosting", "points": "5", "comment": "ok"}
    marks = sheet(out / "filled.csv", [good, {"comment": "", **row}])
    before = snapshot(out)
    with pytest.raises(ManualMarkError, match=message):
        merge(out, marks)
    assert snapshot(out) == before


def test_merge_command_reports_errors_and_success(out: Path) -> None:
    bad = sheet(
        out / "bad.csv", [{"student": "alice", "item": "p1_why_boosting", "points": "99", "comment": ""}]
    )
    result = CliRunner().invoke(main, ["manual", str(out), "--merge", str(bad)])
    assert result.exit_code == 1
    assert "row 2" in result.output and "nothing was changed" in result.output
    good = sheet(
        out / "good.csv", [{"student": "alice", "item": "p1_why_boosting", "points": "10", "comment": ""}]
    )
    result = CliRunner().invoke(main, ["manual", str(out), "--merge", str(good)])
    assert result.exit_code == 0, result.output
    assert "merged 1 marks for 1 submissions" in result.output
    assert doc(out, "alice")["score"] == 83.9


def test_sheet_without_required_columns_is_refused(out: Path) -> None:
    path = out / "x.csv"
    path.write_text("student,item\nalice,p1_why_boosting\n", encoding="utf-8")
    with pytest.raises(ManualMarkError, match="lacks column\\(s\\) points, comment"):
        merge(out, path)


def test_write_pending_csv_round_trips_through_merge(out: Path) -> None:
    target = out / "sheet.csv"
    assert write_pending_csv(load_results(out), target) == 3
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    for row in rows:
        row["points"], row["comment"] = "5", "fine"
    with target.open("w", encoding="utf-8-sig", newline="") as handle:  # as a spreadsheet saves it
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert merge(out, target).merged == 3
    assert all(d["pending_manual"] == 0 for d in load_results(out))


def test_refresh_message_updates_the_scorers_summary() -> None:
    from grader.manual import refresh_message

    doc = {
        "score": 88.9,
        "pending_manual": 0,
        "message": "73.9 of 100 points (including 4 extra credit; 20 points of written answers await a person)",
    }
    assert refresh_message(doc) == "88.9 of 100 points (including 4 extra credit; written answers marked)"
    doc["pending_manual"] = 5
    assert refresh_message(doc).endswith("; 5 points of written answers await a person)")
