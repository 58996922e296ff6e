"""`grader import nbgrader`: an nbgrader source notebook written here (in the style of nbgrader's
documentation problem set: squares, sum of squares, hidden tests, a hand-graded answer and a task)
becomes an assignment folder whose grading gives each autograded test cell the pass or fail that
nbgrader would (the cell raises nothing against the student's code), with the hand-graded cells
queued for a person."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from grader_cli import grader_cli, results_by_student

from grader.authoring.import_nbgrader import nbgrader_sources, read_nbgrader_notebook
from grader.authoring.imported import TestCase as ImportedTest
from grader.authoring.imported import build_rubric, kernel_test_code
from grader.notebook_parts import PLACEHOLDER

SQUARES = '''def squares(n):
    """Compute the squares of numbers from 1 to n."""
    ### BEGIN SOLUTION
    if n < 1:
        raise ValueError("n must be greater than or equal to 1")
    return [i ** 2 for i in range(1, n + 1)]
    ### END SOLUTION'''


def cell(kind: str, text: str, **roles: object) -> nbformat.NotebookNode:
    made = nbformat.v4.new_code_cell(text) if kind == "code" else nbformat.v4.new_markdown_cell(text)
    if roles:
        made.metadata["nbgrader"] = {"schema_version": 3, "locked": False, "solution": False, "grade": False}
        made.metadata["nbgrader"].update(roles)
    return made


def nbgrader_source() -> nbformat.NotebookNode:
    cells = [
        cell("markdown", "# Problem 1\n\nRun every cell before you submit.", grade_id="intro", locked=True),
        cell("markdown", "## Part A (2 points)\n\nWrite `squares(n)`; it raises `ValueError` when n < 1."),
        cell("code", SQUARES, solution=True, grade_id="squares"),
        cell(
            "code",
            '"""Check that squares returns the correct output for several inputs"""\n'
            "from nose.tools import assert_equal\n"
            "assert_equal(squares(1), [1])\n"
            "assert_equal(squares(2), [1, 4])\n"
            "assert_equal(squares(10), [1, 4, 9, 16, 25, 36, 49, 64, 81, 100])",
            grade=True,
            grade_id="correct_squares",
            points=1,
            locked=True,
        ),
        cell(
            "code",
            '"""Check that squares raises an error for invalid inputs"""\n'
            "from nose.tools import assert_raises\n"
            "assert_raises(ValueError, squares, 0)\n"
            "assert_raises(ValueError, squares, -4)",
            grade=True,
            grade_id="squares_invalid_input",
            points=1,
            locked=True,
        ),
        cell("markdown", "## Part B (1 point)\n\nWrite `sum_of_squares(n)` with `squares`."),
        cell(
            "code",
            "def sum_of_squares(n):\n    ### BEGIN SOLUTION\n    return sum(squares(n))\n    ### END SOLUTION",
            solution=True,
            grade_id="sum_of_squares",
        ),
        cell(
            "code",
            '"""Check that sum_of_squares returns the correct answer for various inputs."""\n'
            "assert sum_of_squares(1) == 1\n"
            "assert sum_of_squares(2) == 5\n"
            "### BEGIN HIDDEN TESTS\n"
            "assert sum_of_squares(10) == 385\n"
            "### END HIDDEN TESTS",
            grade=True,
            grade_id="correct_sum_of_squares",
            points=0.5,
            locked=True,
        ),
        cell(
            "code",
            '"""A large n gives an exact integer."""\nresult = sum_of_squares(100)\n'
            "assert isinstance(result, int)\nassert result == 338350",
            grade=True,
            grade_id="sum_of_squares_large",
            points=0.5,
            locked=True,
        ),
        cell("markdown", "## Part C (1 point)\n\nWrite the closed form of the sum of squares."),
        cell(
            "markdown",
            "$\\sum_{i=1}^n i^2 = \\frac{n(n+1)(2n+1)}{6}$",
            solution=True,
            grade=True,
            grade_id="sum_of_squares_equation",
            points=1,
        ),
        cell("markdown", "## Part D (1 point)\n\nHow many of the first six squares are even?"),
        cell(
            "code",
            "### BEGIN SOLUTION\nn_even = len([x for x in squares(6) if x % 2 == 0])\n### END SOLUTION",
            solution=True,
            grade_id="count_even",
        ),
        cell("code", "assert n_even == 3", grade=True, grade_id="n_even_check", points=1, locked=True),
        cell(
            "markdown",
            "## Part E (1 point)\n\nIn one sentence: why does the sum grow like n cubed?",
            task=True,
            grade_id="growth_task",
            points=1,
        ),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_cells_become_items_of_the_right_kind(tmp_path: Path) -> None:
    path = tmp_path / "problem1.ipynb"
    nbformat.write(nbgrader_source(), path)
    imported = read_nbgrader_notebook(path)
    rubric, tests = build_rubric(imported)
    items = {item["id"]: item for item in rubric["items"]}
    assert {i: items[i]["kind"] for i in items} == {
        "correct_squares": "function",
        "squares_invalid_input": "function",
        "correct_sum_of_squares": "function",
        "sum_of_squares_large": "kernel_test",
        "sum_of_squares_equation_answer": "free_text",
        "n_even_check": "answer_check",
        "growth_task_answer": "free_text",
    }
    assert items["correct_squares"]["calls"] == [{"args": [1]}, {"args": [2]}, {"args": [10]}]
    assert items["correct_squares"]["partial"] == {"function": "step"}  # nbgrader: all or nothing
    assert items["squares_invalid_input"]["calls"] == [{"args": [0]}, {"args": [-4]}]
    assert items["correct_sum_of_squares"]["visibility"] == "hidden"
    assert [items[i]["points"] for i in items] == [1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    assert rubric["total_points"] == 6.0
    assert list(tests) == ["tests/sum_of_squares_large.py"]
    master = "\n".join(c.source for c in imported.cells)
    assert "### BEGIN SOLUTION" in master and "HIDDEN TESTS" not in master
    assert "assert_equal" not in master  # tests live in the rubric, not in the student's notebook
    assert "**ANSWER sum_of_squares_equation**" in master and "**ANSWER growth_task**" in master
    assert any("growth_task: task cell" in note for note in imported.notes)
    assert any("correct_sum_of_squares: has hidden tests" in note for note in imported.notes)


def test_nose_helpers_are_stood_in_for() -> None:
    code = "from nose.tools import assert_equal, assert_raises\nassert_equal(f(2), 4)\nassert_raises(ValueError, f, -1)"

    def good(x: int) -> int:
        if x < 0:
            raise ValueError
        return x * x

    exec(kernel_test_code(ImportedTest(name="t", code=code)), {"f": good})
    with pytest.raises(AssertionError):
        exec(kernel_test_code(ImportedTest(name="t", code=code)), {"f": lambda x: x + 1})


def test_a_source_folder_gives_its_notebooks_and_an_empty_one_is_refused(tmp_path: Path) -> None:
    for name in ("problem2.ipynb", "problem1.ipynb"):
        nbformat.write(nbgrader_source(), tmp_path / name)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    nbformat.write(nbgrader_source(), tmp_path / ".ipynb_checkpoints" / "problem1-checkpoint.ipynb")
    assert [p.name for p in nbgrader_sources(tmp_path)] == ["problem1.ipynb", "problem2.ipynb"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .ipynb notebook"):
        nbgrader_sources(tmp_path / "empty")


@pytest.mark.slow
def test_import_then_grade_gives_nbgraders_verdicts(tmp_path: Path) -> None:
    (tmp_path / "source" / "ps1").mkdir(parents=True)
    nbformat.write(nbgrader_source(), tmp_path / "source" / "ps1" / "problem1.ipynb")
    made = grader_cli(tmp_path, "import", "nbgrader", "source/ps1", "--out", "ps1", "--seeds", "1")
    assert "not carried over: growth_task: task cell" in made.stdout
    assert "problem1: ready to release" in made.stdout

    reference = nbformat.read(tmp_path / "ps1" / "reference" / "problem1_reference.ipynb", as_version=4)
    template = nbformat.read(tmp_path / "ps1" / "student" / "problem1.ipynb", as_version=4)
    assert "raise ValueError" not in "\n".join(c.source for c in template.cells)
    subs = tmp_path / "submitted"
    changes = {
        # squares starts at 0 and never raises: every squares test and sum test fails
        "wrong": [
            ("range(1, n + 1)", "range(n)"),
            ('raise ValueError("n must be greater than or equal to 1")', "pass"),
        ],
        # squares never raises: only the invalid-input test fails; the free text is left unanswered
        "lenient": [('raise ValueError("n must be greater than or equal to 1")', "return []")],
    }
    nbformat.write(reference, (subs / "right").mkdir(parents=True) or subs / "right" / "problem1.ipynb")
    for who, edits in changes.items():
        notebook = nbformat.read(tmp_path / "ps1" / "reference" / "problem1_reference.ipynb", as_version=4)
        for old, new in edits:
            hits = [c for c in notebook.cells if old in c.source]
            assert hits, old
            for hit in hits:
                hit.source = hit.source.replace(old, new)
        if who == "lenient":
            for hit in notebook.cells:
                if hit.source.startswith("**ANSWER sum_of_squares_equation"):
                    hit.source = f"**ANSWER sum_of_squares_equation**\n\n{PLACEHOLDER}"
        (subs / who).mkdir()
        nbformat.write(notebook, subs / who / "problem1.ipynb")
    grader_cli(tmp_path, "grade", "submitted", "--assignment", "ps1", "--out", "out")
    results = results_by_student(tmp_path / "out")
    verdicts = {who: {i["id"]: i["status"] for i in doc["items"]} for who, doc in results.items()}
    # what nbgrader's autograder says of these notebooks: a test cell passes when it raises nothing
    assert verdicts["right"] == {
        "correct_squares": "passed",
        "squares_invalid_input": "passed",
        "correct_sum_of_squares": "passed",
        "sum_of_squares_large": "passed",
        "sum_of_squares_equation_answer": "pending",
        "n_even_check": "passed",
        "growth_task_answer": "pending",
    }
    assert verdicts["wrong"] == {
        "correct_squares": "failed",
        "squares_invalid_input": "failed",
        "correct_sum_of_squares": "failed",
        "sum_of_squares_large": "failed",
        "sum_of_squares_equation_answer": "pending",
        "n_even_check": "passed",  # squares(6) from 0 still has three even squares
        "growth_task_answer": "pending",
    }
    assert verdicts["lenient"]["squares_invalid_input"] == "failed"
    # left as the placeholder: not answered, still waiting for a person (never a silent 0)
    assert verdicts["lenient"]["sum_of_squares_equation_answer"] == "pending"
    assert all(
        status == "passed"
        for item, status in verdicts["lenient"].items()
        if item not in ("squares_invalid_input", "sum_of_squares_equation_answer", "growth_task_answer")
    )
    assert results["right"]["pending_manual"] == 2


def test_nbgrader_format_answer_cells_are_read_as_free_text() -> None:
    from grader.free_text import free_text_answers

    def graded(text: str, kind: str = "markdown", **roles: object) -> nbformat.NotebookNode:
        return cell(kind, text, solution=True, grade=True, **roles)

    cells = [
        graded("$n^3$", grade_id="eq", points=1),
        graded("YOUR ANSWER HERE", grade_id="left", points=1),
        graded("# YOUR CODE HERE\nraise NotImplementedError()", "code", grade_id="code_left", points=1),
        cell("markdown", "Plot it.", task=True, grade_id="task", points=1),
    ]
    found = free_text_answers(cells, [{"id": i} for i in ("eq", "left", "code_left", "task")])
    assert found["eq"]["status"] == "ok" and found["eq"]["value"] == "$n^3$"
    assert found["left"]["status"] == "none" and found["code_left"]["status"] == "none"
    assert found["task"]["status"] == "ok"  # a task is graded by a person from the whole notebook
