"""An assignment spanning two notebooks, written here: each student submits the set, intake
matches the files by name, each notebook runs in its own sandboxed kernel, and the results, the
feedback and grades.csv hold one row per student with both notebooks' items; a student missing
one notebook gets a row that says so, with the other notebook still graded. Manual marks are
made on the merged rows and survive a rerun; Gradescope's autograder entry grades a set too."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from jsonschema import Draft202012Validator

from grader.assignment import AssignmentError, load_assignment
from grader.notebook_set import members

SCHEMAS = Path(__file__).resolve().parents[1] / "grader" / "schemas"


def one_notebook(folder: Path, name: str, item: str, points: int, test: str, essay: bool = False) -> None:
    """A one-notebook assignment: one in-kernel test item (and a free-text answer when ``essay``),
    an empty static data folder."""
    (folder / "tests").mkdir(parents=True)
    (folder / "data" / "public").mkdir(parents=True)
    (folder / "tests" / f"{item}.py").write_text(test + "\n")
    (folder / "rubric.yaml").write_text(
        f"schema_version: 1\nassignment: {name}\ndata: {{static: {{dir: data}}}}\n"
        "parts: [{id: p, title: Part}]\n"
        + ("free_text: [{id: why, part: p, prompt: Why?}]\n" if essay else "")
        + f"items:\n  - {{id: {item}, part: p, kind: kernel_test, points: {points}, test: tests/{item}.py}}\n"
        + ("  - {id: why_answer, part: p, kind: free_text, points: 1, text: why}\n" if essay else "")
    )


def make_set(root: Path) -> Path:
    one_notebook(root / "first", "first", "x_is_two", 1, "assert x == 2")
    one_notebook(root / "second", "second", "y_is_three", 2, "assert y == 3", essay=True)
    (root / "rubric.yaml").write_text(
        "schema_version: 1\nassignment: pair\ntitle: Two notebooks\nnotebooks:\n"
        "  - {name: first, rubric: first/rubric.yaml}\n  - {name: second, rubric: second/rubric.yaml}\n"
    )
    return root


def submit(path: Path, source: str, answer: str | None = None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    if answer is not None:
        notebook.cells.append(nbformat.v4.new_markdown_cell(f"**ANSWER why**\n\n{answer}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)


def test_a_set_rubric_names_its_notebooks_and_item_ids_must_not_collide(tmp_path: Path) -> None:
    assignment = load_assignment(make_set(tmp_path / "pair"))
    assert [(m.name, m.assignment.name, m.file_name) for m in members(assignment)] == [
        ("first", "first", "first.ipynb"),
        ("second", "second", "second.ipynb"),
    ]
    (tmp_path / "pair" / "second" / "tests" / "x_is_two.py").write_text("assert y == 3\n")
    rubric = (tmp_path / "pair" / "second" / "rubric.yaml").read_text()
    (tmp_path / "pair" / "second" / "rubric.yaml").write_text(rubric.replace("y_is_three", "x_is_two"))
    with pytest.raises(AssignmentError, match="item id 'x_is_two' is used by notebooks 'first' and 'second'"):
        members(load_assignment(tmp_path / "pair"))
    (tmp_path / "bad.yaml").write_text("schema_version: 1\nassignment: bad\nnotebooks: [{name: first}]\n")
    with pytest.raises(AssignmentError, match="rubric"):
        load_assignment(tmp_path / "bad.yaml")
    (tmp_path / "none.yaml").write_text("schema_version: 1\nassignment: none\n")
    with pytest.raises(AssignmentError, match="parts"):
        load_assignment(tmp_path / "none.yaml")


def test_two_notebooks_one_row_per_student_and_a_missing_notebook_said(tmp_path: Path) -> None:
    make_set(tmp_path / "pair")
    subs = tmp_path / "submitted"
    submit(subs / "ann" / "first.ipynb", "x = 2")
    submit(subs / "ann" / "second.ipynb", "y = 3", answer="because")
    submit(subs / "bob" / "First.ipynb", "x = 5")  # names match without case; second.ipynb is missing
    submit(subs / "bob" / "scratch.ipynb", "z = 1")
    submit(tmp_path / "carl" / "first.ipynb", "x = 2")  # one student's zip holding the set
    submit(tmp_path / "carl" / "second.ipynb", "y = 0")
    with zipfile.ZipFile(tmp_path / "carl.zip", "w") as archive:
        for name in ("first.ipynb", "second.ipynb"):
            archive.write(tmp_path / "carl" / name, name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    graded = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            "submitted",
            "carl.zip",
            "--assignment",
            "pair",
            "--out",
            "out",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert graded.returncode == 0, graded.stdout + graded.stderr
    out = tmp_path / "out"
    rows = {r["student"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert sorted(rows) == ["ann", "bob", "carl"]
    validator = Draft202012Validator(json.loads((SCHEMAS / "results.schema.json").read_text()))
    for row in rows.values():
        assert not list(validator.iter_errors(row)), row["student"]
        assert row["assignment"] == "pair" and row["max_score"] == 4.0
    ann, bob = rows["ann"], rows["bob"]
    assert {i["id"]: i["status"] for i in ann["items"]} == {
        "x_is_two": "passed",
        "y_is_three": "passed",
        "why_answer": "pending",
    }
    assert (ann["status"], ann["score"], ann["pending_manual"]) == ("graded", 3.0, 1.0)
    assert {i["id"]: i["status"] for i in bob["items"]} == {
        "x_is_two": "failed",
        "y_is_three": "failed",
        "why_answer": "failed",
    }
    assert bob["status"] == "graded" and bob["score"] == 0.0
    assert "second.ipynb was not submitted" in bob["message"]
    missing = next(i for i in bob["items"] if i["id"] == "y_is_three")
    assert "second.ipynb was not submitted" in missing["message"] and missing["max_points"] == 2.0
    tested = next(i for i in bob["items"] if i["id"] == "x_is_two")  # first.ipynb ran and its test failed
    assert "not submitted" not in tested["message"]
    assert any("scratch.ipynb" in note for note in bob["notes"])
    carl = rows["carl"]
    assert {i["id"]: i["status"] for i in carl["items"]} == {
        "x_is_two": "passed",
        "y_is_three": "failed",
        "why_answer": "pending",  # no answer cell: "not answered", left to a person
    }
    assert (carl["status"], carl["score"]) == ("graded", 1.0)
    # each notebook ran in its own kernel, graded as its own batch
    assert (out / "notebooks" / "first" / "results.jsonl").read_text().count("\n") == 3
    assert (out / "notebooks" / "second" / "results.jsonl").read_text().count("\n") == 2
    with (out / "grades.csv").open() as handle:
        grades = {r["student"]: r for r in csv.DictReader(handle)}
    assert sorted(grades) == ["ann", "bob", "carl"]
    assert (grades["ann"]["total"], grades["bob"]["total"]) == ("3.0", "0.0")
    assert "second.ipynb was not submitted" in (out / "feedback" / "bob.html").read_text()
    assert sorted(p.name for p in (out / "feedback").glob("*.html")) == ["ann.html", "bob.html", "carl.html"]
    # a person marks the free text on the merged rows; the mark survives a rerun
    grader = [sys.executable, "-m", "grader", "manual", "out"]
    sheet = subprocess.run(grader, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert sheet.returncode == 0, sheet.stdout + sheet.stderr
    with (out / "manual" / "marks.csv").open(newline="") as handle:
        marks = list(csv.DictReader(handle))
    assert [(m["student"], m["item"], m["answer"]) for m in marks] == [
        ("ann", "why_answer", "because"),
        ("carl", "why_answer", "(not answered: the notebook has no **ANSWER why** cell)"),
    ]
    marks = marks[:1]  # the person marks ann's answer now, carl's later
    marks[0].update(points="1", comment="good")
    with (out / "manual" / "marks.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(marks[0]))
        writer.writeheader()
        writer.writerows(marks)
    merged = subprocess.run(
        [*grader, "--merge", "out/manual/marks.csv"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert merged.returncode == 0, merged.stdout + merged.stderr
    again = subprocess.run(graded.args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 executed, 0 rescored from stored runs, 3 unchanged (skipped)" in again.stderr  # all unchanged
    assert (out / "results.jsonl").read_text().count("\n") == 3
    with (out / "grades.csv").open() as handle:
        assert {r["student"]: r["total"] for r in csv.DictReader(handle)} == {
            "ann": "4.0",
            "bob": "0.0",
            "carl": "1.0",
        }


def test_gradescope_autograder_grades_the_set_into_one_results_json(tmp_path: Path) -> None:
    make_set(tmp_path / "pair")
    submit(tmp_path / "submission" / "First.ipynb", "x = 2")  # second.ipynb missing
    (tmp_path / "meta.json").write_text(json.dumps({"users": [{"sid": "s123", "name": "Dee"}]}))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "gradescope",
            "--assignment",
            "pair",
            "--submission-dir",
            "submission",
        ]
        + ["--results", "results.json", "--metadata", "meta.json", "--work-dir", "work"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((tmp_path / "results.json").read_text())
    assert (document["score"], document["extra_data"]["max_score"]) == (1.0, 4.0)
    assert document["extra_data"]["id"] == "s123"
    assert [(t["name"], t["score"], t["max_score"]) for t in document["tests"]] == [
        ("first: Part: x_is_two", 1.0, 1.0),
        ("second: Part: y_is_three", 0.0, 2.0),
        ("second: Part: why_answer", 0.0, 1.0),
    ]
    assert "second.ipynb was not submitted" in document["output"]
