"""Free-text answers are found where a student puts them, and every one reaches a person.

Unit tests read cells built here; the end-to-end test grades toy notebooks through the real
sandbox and reads the marking sheet (`grader manual`) and the marking app's queue.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from grader_cli import grader_cli, results_by_student
from nbformat.v4 import new_code_cell, new_markdown_cell
from starlette.testclient import TestClient

from grader.assignment import load_assignment
from grader.free_text import assignment_template_text, free_text_answers, template_text
from grader.manual import pending_rows
from grader.notebook_parts import PLACEHOLDER
from grader.review.app import create_app
from grader.review.model import ReviewData

TOY = Path(__file__).resolve().parent / "assignments" / "toy"
WANTED = [{"id": "why"}]
HEAD = "**ANSWER why**"
TOKEN = "test-token-0123456789"


def answers(*cells: object, template: list[object] | None = None) -> dict:
    found = free_text_answers(list(cells), WANTED, template_text(template) if template else None)
    return dict(found["why"])


def test_answer_written_in_a_new_cell_below_the_answer_cell() -> None:
    found = answers(
        new_markdown_cell(f"{HEAD}\n\n{PLACEHOLDER}"),
        new_markdown_cell("Shallow trees are weak learners; boosting adds many of them."),
        new_code_cell("x = 1"),
    )
    assert found["status"] == "ok"
    assert found["value"] == "Shallow trees are weak learners; boosting adds many of them."
    assert found["cell"] == 0 and found["cells"] == [1]
    assert "1 markdown cell below the ANSWER cell" in found["message"]


def test_answer_written_in_the_answer_cell() -> None:
    found = answers(new_markdown_cell(f"{HEAD}\n\nBecause deep trees overfit the residuals."))
    assert found["status"] == "ok" and found["value"] == "Because deep trees overfit the residuals."
    assert found["cells"] == [0] and "message" not in found


def test_placeholder_left_in_the_cell_is_removed_from_the_answer() -> None:
    found = answers(new_markdown_cell(f"{HEAD}\n\n{PLACEHOLDER}\n\nBecause deep trees overfit."))
    assert found["value"] == "Because deep trees overfit."


def test_placeholder_only_is_not_answered() -> None:
    found = answers(
        new_markdown_cell(f"{HEAD}\n\n{PLACEHOLDER}"),
        new_markdown_cell(""),  # an empty cell the student added and left
        new_markdown_cell("## Part 2"),
    )
    assert found["status"] == "none" and found["cell"] == 0


def test_several_cells_are_joined_in_order() -> None:
    found = answers(
        new_markdown_cell(f"{HEAD}\nFirst, the bias."),
        new_markdown_cell("Second, the variance."),
        new_markdown_cell(PLACEHOLDER),
        new_markdown_cell("Third, the learning rate."),
    )
    assert found["value"] == "First, the bias.\n\nSecond, the variance.\n\nThird, the learning rate."
    assert found["cells"] == [0, 1, 3]
    assert "the ANSWER cell and 2 markdown cells below" in found["message"]


@pytest.mark.parametrize(
    "stop",
    [
        new_markdown_cell("## Part 2: networks\nNow train a network."),
        new_markdown_cell("# Appendix"),
        new_code_cell("# my notes on the answer\nresult = 3"),
        new_markdown_cell("**ANSWER other**\nNot this one."),
    ],
    ids=["heading", "top-heading", "code", "next-answer"],
)
def test_the_answer_stops_at_a_heading_a_code_cell_or_the_next_answer(stop: object) -> None:
    found = answers(
        new_markdown_cell(f"{HEAD}\n\n{PLACEHOLDER}"),
        new_markdown_cell("Mine."),
        stop,
        new_markdown_cell("Not part of the answer."),
    )
    assert found["value"] == "Mine." and found["cells"] == [1]


def test_the_templates_own_placeholder_and_instructions_are_not_an_answer() -> None:
    """A template may use its own placeholder text, and may follow the ANSWER cell with an
    instruction cell: neither is the student's answer, and the instruction ends the answer."""
    own = "_Two or three sentences: what limits the tree size?_"
    instruction = "Now look at the learning rate below."
    template = [new_markdown_cell(f"{HEAD}\n\n{own}"), new_markdown_cell(instruction)]
    left = answers(new_markdown_cell(f"{HEAD}\n\n{own}"), new_markdown_cell(instruction), template=template)
    assert left["status"] == "none"
    below = answers(
        new_markdown_cell(f"{HEAD}\n\n{own}"),
        new_markdown_cell("Overfitting of the residuals."),
        new_markdown_cell(instruction),
        new_markdown_cell("Not part of the answer."),
        template=template,
    )
    assert below["value"] == "Overfitting of the residuals."


def test_rubric_and_nbgrader_placeholders_are_removed() -> None:
    cells = [new_markdown_cell(f"{HEAD}\n\nExplain here.\n\nYOUR ANSWER HERE")]
    assert (
        free_text_answers(cells, [{"id": "why", "placeholder": "Explain here."}])["why"]["status"] == "none"
    )


def test_the_first_answered_cell_counts_when_there_are_two() -> None:
    found = answers(
        new_markdown_cell(f"{HEAD}\n\n{PLACEHOLDER}"),
        new_code_cell("pass"),
        new_markdown_cell(f"{HEAD}\n\nThe real answer."),
    )
    assert found["value"] == "The real answer." and found["cell"] == 2


def test_toy_template_text_holds_its_placeholder() -> None:
    text = assignment_template_text(load_assignment(TOY / "toy.yaml"))
    assert text.placeholders == {"why_model": (PLACEHOLDER,)}


# ---------------------------------------------------------------------------------------------
# end to end: toy notebooks graded through the sandbox, then the marking sheet and queue

ANSWER_BELOW = "Petal length and width separate the species, so a linear model is enough."


def _submission(root: Path, student: str, answer_cells: list[str]) -> None:
    notebook = nbformat.read(TOY / "toy_reference.ipynb", as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if c.source.startswith("**ANSWER why_model**"))
    notebook.cells[index].source = f"**ANSWER why_model**\n\n{PLACEHOLDER}"
    notebook.cells[index + 1 : index + 1] = [new_markdown_cell(text) for text in answer_cells]
    (root / student).mkdir(parents=True)
    nbformat.write(notebook, root / student / "toy_reference.ipynb")


@pytest.mark.slow
def test_graded_answers_below_the_cell_and_unanswered_ones_reach_the_marker(tmp_path: Path) -> None:
    shutil.copytree(TOY, tmp_path / "toy")
    rubric = str(tmp_path / "toy" / "toy.yaml")
    _submission(tmp_path / "submitted", "below", [ANSWER_BELOW])
    _submission(tmp_path / "submitted", "blank", [])
    grader_cli(tmp_path, "grade", "submitted", "--assignment", rubric, "--out", "out")

    results = results_by_student(tmp_path / "out")
    items = {who: {i["id"]: i for i in doc["items"]} for who, doc in results.items()}
    assert items["below"]["t2_why_model"]["status"] == "pending"
    assert items["below"]["t2_why_model"]["evidence"]["answer"] == ANSWER_BELOW
    # nothing written: still pending for a person with the note, never a silent failed 0
    blank = items["blank"]["t2_why_model"]
    assert blank["status"] == "pending" and blank["message"].startswith("not answered")
    assert results["blank"]["pending_manual"] == 2

    grader_cli(tmp_path, "manual", "out")
    with (tmp_path / "out" / "manual" / "marks.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"below", "blank"}
    assert rows["below"]["answer"] == ANSWER_BELOW
    assert "below the ANSWER cell" in rows["below"]["found"]
    assert rows["blank"]["answer"].startswith("(not answered: nothing but the template's placeholder")

    # the marking app queues both, neither marked yet, and shows what was found
    slots = ReviewData(tmp_path / "out").slots("t2_why_model")
    assert {(s.student, s.marked) for s in slots} == {("below", False), ("blank", False)}
    app = create_app(tmp_path / "out", token=TOKEN, assignment=load_assignment(rubric), publish_on_exit=False)
    browser = TestClient(app, base_url="http://127.0.0.1:8765")
    page = browser.get(f"/mark/t2_why_model/below?token={TOKEN}").text
    assert ANSWER_BELOW in page and "Found: read from 1 markdown cell below the ANSWER cell" in page
    page = browser.get("/mark/t2_why_model/blank").text
    assert "Not answered: nothing but the template&#39;s placeholder" in page


def test_marking_sheet_lists_an_unanswered_item_with_its_note() -> None:
    item = {
        "id": "t2_why_model",
        "part": "part2",
        "title": "Why this classifier",
        "kind": "free_text",
        "status": "pending",
        "points": 0,
        "max_points": 2,
        "evidence": {"answer": "", "not_answered": "the notebook has no **ANSWER why_model** cell"},
    }
    rows = pending_rows([{"id": "carol", "items": [item]}])
    assert [(r["student"], r["answer"]) for r in rows] == [
        ("carol", "(not answered: the notebook has no **ANSWER why_model** cell)")
    ]
