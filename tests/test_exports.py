"""grades.csv, canvas.csv and Gradescope results.json, and their agreement with the reports."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest

from grader.exports import (
    ExportError,
    gradescope_document,
    spreadsheet_safe,
    write_all,
    write_canvas_csv,
    write_grades_csv,
)
from grader.report import render_student, render_summary
from grader.report.format import fmt_points, points

FIXTURES = Path(__file__).parent / "fixtures" / "results"

# Gradescope's documented results.json shape (gradescope-autograders.readthedocs.io, "specs").
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_output_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "test_name_format": {"enum": ["text", "html", "simple_format", "md", "ansi"]},
        "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "stdout_visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "score", "max_score", "output", "visibility"],
                "properties": {
                    "name": {"type": "string"},
                    "number": {"type": "string"},
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "output": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": ["visible", "hidden", "after_due_date", "after_published"]},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


def load_fixtures() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_grades_csv_has_a_row_per_student_with_part_totals(tmp_path: Path) -> None:
    docs = load_fixtures()
    rows = read_csv(write_grades_csv(docs, tmp_path / "grades.csv"))
    assert [r["id"] for r in rows] == ["alice", "bob", "carol", "dave", "erin"]
    assert list(rows[0])[:7] == [
        "id",
        "student",
        "status",
        "total",
        "max_score",
        "pending_manual",
        "extra_credit",
    ]
    assert list(rows[0])[7:] == ["part1", "part2", "part3", "stretch", "message"]
    alice = rows[0]
    assert (alice["status"], float(alice["total"]), float(alice["max_score"])) == ("graded", 73.9, 100.0)
    assert float(alice["pending_manual"]) == 20 and float(alice["extra_credit"]) == 4
    assert [float(alice[p]) for p in ("part1", "part2", "part3", "stretch")] == [9.4, 27.5, 33.0, 4.0]
    assert rows[1]["status"] == "timeout" and rows[2]["status"] == "error"
    # the per-part totals add up to the total for every student
    for row in rows:
        assert sum(float(row[p] or 0) for p in ("part1", "part2", "part3", "stretch")) == pytest.approx(
            float(row["total"])
        )


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path: Path) -> None:
    doc = load_fixtures()[0]
    doc["student"] = '=HYPERLINK("http://evil","x")'
    doc["message"] = "+1 and -2"
    rows = read_csv(write_grades_csv([doc], tmp_path / "grades.csv"))
    assert rows[0]["student"].startswith("'=") and rows[0]["message"].startswith("'+")
    assert spreadsheet_safe(-3.5) == -3.5 and spreadsheet_safe("@x") == "'@x"


def test_canvas_csv_layout_and_grader_faults_left_blank(tmp_path: Path) -> None:
    docs = load_fixtures()
    assert write_canvas_csv(docs, tmp_path / "canvas.csv", column="Homework 2 (4711)") == []
    with (tmp_path / "canvas.csv").open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 2 (4711)"]
    assert table[1][0].strip() == "Points Possible" and float(table[1][5]) == 100
    by_student = {row[3]: row[5] for row in table[2:]}
    assert float(by_student["alice"]) == 73.9 and float(by_student["bob"]) == 1.5
    assert by_student["carol"] == ""  # the grader failed: no zero posted to the gradebook
    assert float(by_student["erin"]) == 0  # not a notebook: the student's fault, a real 0


def test_canvas_csv_matches_a_roster(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Homework 2 (4711)\n"
        "    Points Possible,,,,,100\n"
        '"Liddell, Alice",101,S-1,alice,Lab A,\n'
        '"Smith, Bob",102,S-2,bob,Lab B,\n',
        encoding="utf-8",
    )
    unmatched = write_canvas_csv(
        load_fixtures(), tmp_path / "canvas.csv", roster=roster, column="Homework 2 (4711)"
    )
    assert unmatched == ["carol", "Dave <b>O'Brien</b>", "erin"]
    rows = read_csv(tmp_path / "canvas.csv")
    assert [(r["Student"], r["ID"], r["Section"], r["Homework 2 (4711)"]) for r in rows[1:]] == [
        ("Liddell, Alice", "101", "Lab A", "73.9"),
        ("Smith, Bob", "102", "Lab B", "1.5"),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,score\nalice,3\n", encoding="utf-8")
    with pytest.raises(ExportError, match="not a Canvas gradebook export"):
        write_canvas_csv(load_fixtures(), tmp_path / "c2.csv", roster=bad)


def test_gradescope_document_follows_the_format_and_adds_up() -> None:
    for doc in load_fixtures():
        gs = gradescope_document(doc)
        jsonschema.validate(gs, GRADESCOPE_SCHEMA)
        assert gs["score"] == points(doc["score"])
        assert len([t for t in gs["tests"] if "notebook" not in t["tags"]]) == len(doc["items"])
        assert sum(t["score"] for t in gs["tests"]) == pytest.approx(gs["score"])
    alice = gradescope_document(load_fixtures()[0])
    tests = {t["name"]: t for t in alice["tests"]}
    pending = tests["Temperature regression with trees: Why do boosted trees prefer shallow trees?"]
    assert (pending["score"], pending["max_score"]) == (0.0, 0.0) and "Marked by hand" in pending["output"]
    hidden_test = tests["MNIST with a PyTorch MLP: Tuned MLP hidden test error"]
    assert hidden_test["visibility"] == "after_due_date" and hidden_test["number"] == "2.3"
    assert alice["execution_time"] == 41 and "20 points of free-text answers" in alice["output"]
    dave = gradescope_document(load_fixtures()[3])
    assert [t["visibility"] for t in dave["tests"] if "hidden test" in t["name"]] == ["hidden"]


def test_write_all_writes_every_export(tmp_path: Path) -> None:
    written = write_all(load_fixtures(), tmp_path)
    assert written["grades"] == tmp_path / "grades.csv" and (tmp_path / "canvas.csv").is_file()
    assert sorted(p.parent.name for p in written["gradescope"]) == ["alice", "bob", "carol", "dave", "erin"]
    assert {p.parent.parent for p in written["gradescope"]} == {tmp_path / "gradescope"}
    assert all(
        p.name == "results.json" and json.loads(p.read_text())["tests"] is not None
        for p in written["gradescope"]
    )


class Scores(HTMLParser):
    """The scores a report page shows: its total and its parts (data-score attributes)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.total: str | None = None
        self.parts: dict[str, str] = {}
        self.rows: dict[str, str] = {}
        self._row: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-id" in a:
            self._row = a["data-id"]
        if "data-score" in a:
            if "data-part" in a:
                self.parts[a["data-part"]] = a["data-score"]
            elif "total" in a.get("class", ""):
                self.total = a["data-score"]
            elif self._row is not None:
                self.rows[self._row] = a["data-score"]


def agreement(out: Path, docs: list[dict]) -> None:
    """grades.csv, gradescope results.json, feedback HTML and summary HTML show the same scores."""
    grades = {r["id"]: r for r in read_csv(out / "grades.csv")}
    summary = Scores((out / "summary.html").read_text(encoding="utf-8")).rows
    assert set(grades) == set(summary) == {d["id"] for d in docs}
    for doc in docs:
        rid = doc["id"]
        page = Scores((out / "feedback" / f"{rid}.html").read_text(encoding="utf-8"))
        gs = json.loads((out / "gradescope" / rid / "results.json").read_text(encoding="utf-8"))
        md = (out / "feedback" / f"{rid}.md").read_text(encoding="utf-8")
        shown = {fmt_points(float(grades[rid]["total"])), fmt_points(gs["score"]), page.total, summary[rid]}
        assert shown == {fmt_points(doc["score"])}, rid
        assert f"**Score: {page.total} /" in md
        for part_id, score in page.parts.items():
            assert fmt_points(float(grades[rid][part_id] or 0)) == score, (rid, part_id)


def test_csv_gradescope_and_reports_agree_on_every_score(tmp_path: Path) -> None:
    docs = load_fixtures()
    # a score with more decimals than any report prints must still agree everywhere
    docs[0]["score"] = 73.8999999
    docs[0]["parts"][0]["score"] = 9.39999
    for doc in docs:
        render_student(doc, tmp_path)
    render_summary(docs, tmp_path)
    write_all(docs, tmp_path)
    agreement(tmp_path, docs)


# ---- `grader gradescope`: the package as a Gradescope autograder ----------------------------

TOY = Path(__file__).parent / "assignments" / "toy"


def gradescope_args(tmp_path: Path, submission: Path) -> list[str]:
    return [
        "gradescope",
        "--assignment",
        str(TOY / "toy.yaml"),
        "--submission-dir",
        str(submission),
        "--results",
        str(tmp_path / "results" / "results.json"),
        "--metadata",
        str(tmp_path / "submission_metadata.json"),
        "--work-dir",
        str(tmp_path / "work"),
        "--data",
        str(TOY / "data"),
    ]


def test_gradescope_picks_the_notebook_and_the_student(tmp_path: Path) -> None:
    import os

    from grader.commands.gradescope import find_notebook, student_from_metadata

    sub = tmp_path / "sub"
    (sub / ".ipynb_checkpoints").mkdir(parents=True)
    (sub / ".ipynb_checkpoints" / "toy-checkpoint.ipynb").write_text("{}")
    (sub / "scratch.ipynb").write_text("{}")
    (sub / "toy.ipynb").write_text("{}")
    os.utime(sub / "toy.ipynb", (1, 1))  # older, but named like the template
    chosen, notes = find_notebook(sub, "toy.ipynb")
    assert chosen == sub / "toy.ipynb" and "not graded: scratch.ipynb" in notes[0]
    assert find_notebook(tmp_path / "sub" / ".ipynb_checkpoints", None)[0] is not None
    assert find_notebook(tmp_path, "x.ipynb")[0] == sub / "scratch.ipynb"  # no template name: newest

    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({"users": [{"email": "ada@uni.edu", "name": "Ada", "sid": ""}]}))
    assert student_from_metadata(meta) == "ada"
    meta.write_text("not json")
    assert student_from_metadata(meta) == "student" and student_from_metadata(None) == "student"


def test_gradescope_without_a_notebook_explains_in_results_json(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "hw.py").write_text("print(1)")
    result = CliRunner().invoke(main, gradescope_args(tmp_path, tmp_path / "submission"))
    assert result.exit_code == 0, result.output
    gs = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(gs, GRADESCOPE_SCHEMA)
    assert (
        gs["score"] == 0
        and "no .ipynb notebook" in gs["output"]
        and gs["extra_data"]["status"] == "invalid_notebook"
    )


@pytest.mark.slow
def test_gradescope_grades_a_real_notebook_with_grade_one(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(TOY / "toy_reference.ipynb", submission / "toy.ipynb")
    (tmp_path / "submission_metadata.json").write_text(
        json.dumps({"id": 7, "users": [{"email": "ada@uni.edu", "name": "Ada L", "sid": "S123"}]})
    )
    result = CliRunner().invoke(main, gradescope_args(tmp_path, submission))
    assert result.exit_code == 0, result.output
    gs = json.loads((tmp_path / "results" / "results.json").read_text())
    jsonschema.validate(gs, GRADESCOPE_SCHEMA)
    stored = json.loads((tmp_path / "work" / "results" / "S123.json").read_text())
    assert stored["status"] == "graded" and stored["student"] == "S123"
    # the reference earns every automatic point; its free-text answer waits for a person
    assert stored["pending_manual"] == 2 and gs["extra_data"]["pending_manual"] == 2
    full = stored["max_score"] - stored["pending_manual"] + stored["extra_credit"]
    assert gs["score"] == points(stored["score"]) == points(full)
    assert {t["name"].split(": ", 1)[1] for t in gs["tests"]} == {i["title"] for i in stored["items"]}
    assert [t["status"] for t in gs["tests"] if "status" in t] == ["passed"] * (len(gs["tests"]) - 1)
    html = (tmp_path / "work" / "feedback" / "S123.html").read_text(encoding="utf-8")
    assert f'data-score="{fmt_points(gs["score"])}"' in html
