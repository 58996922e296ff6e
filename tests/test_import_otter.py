"""`grader import otter`: an otter-format master notebook written here becomes an assignment folder
whose grading gives every test the verdict otter's own test would (function items, answer checks,
in-kernel tests), with the manually graded question queued for a person."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from grader_cli import grader_cli, results_by_student

from grader.authoring.import_otter import prompt_to_template, read_otter_master
from grader.authoring.imported import build_rubric, kernel_test_code


def raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def code(text: str, output: str | None = None) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(text)
    if output is not None:
        cell.outputs = [
            nbformat.v4.new_output("execute_result", data={"text/plain": output}, execution_count=1)
        ]
    return cell


def otter_master() -> nbformat.NotebookNode:
    md = nbformat.v4.new_markdown_cell
    cells = [
        raw("# ASSIGNMENT CONFIG\nname: otterhw\nrequirements: requirements.txt"),
        md("# Otter homework"),
        code("import math"),
        raw("# BEGIN QUESTION\nname: q1\npoints: 3"),
        md("## Question 1\n\nWrite `square`."),
        code(
            'def square(x):\n    """ # BEGIN PROMPT\n    # your code here\n    """ # END PROMPT\n    return x ** 2  # SOLUTION'
        ),
        raw("# BEGIN TESTS"),
        code("square(2) == 4", "True"),
        code('""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\nsquare(-3) == 9', "True"),
        code("square(1.5)", "2.25"),
        raw("# END TESTS"),
        raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q2\npoints: 1"),
        md("## Question 2"),
        code("x = 2  # SOLUTION"),
        raw("# BEGIN TESTS"),
        code("x == 2", "True"),
        raw("# END TESTS"),
        raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q3\npoints: 2"),
        md("## Question 3"),
        code('names = ["a", "b", "c"]  # SOLUTION'),
        raw("# BEGIN TESTS"),
        code('assert len(names) == 3 and names[0] == "a"'),
        code("sorted(names)", "['a', 'b', 'c']"),
        raw("# END TESTS"),
        raw("# END QUESTION"),
        raw("# BEGIN QUESTION\nname: q4\nmanual: true\npoints: 2"),
        md("## Question 4\n\nWhy do squares grow fast?"),
        raw("# BEGIN SOLUTION"),
        md("Because each step multiplies."),
        raw("# END SOLUTION"),
        raw("# END QUESTION"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def test_tests_are_classified_and_carried_over(tmp_path: Path) -> None:
    path = tmp_path / "master.ipynb"
    nbformat.write(otter_master(), path)
    imported = read_otter_master(path)
    assert imported.name == "otterhw"
    assert any("requirements" in note for note in imported.notes)
    kinds = {t.name: t.kind for q in imported.questions for t in q.tests}
    assert kinds == {
        "q1_1": "function",
        "q1_2": "function",
        "q1_3": "function",
        "q2_1": "answer",
        "q3_1": "kernel_test",
        "q3_2": "kernel_test",
    }
    rubric, tests = build_rubric(imported)
    items = {i["id"]: i for i in rubric["items"]}
    assert items["q1_2"]["visibility"] == "hidden" and items["q1_1"]["points"] == 1
    assert items["q1_3"]["calls"] == [{"args": [1.5]}]
    assert items["q2_1"]["checks"] == [{"answer": "x", "equals": 2}]
    assert items["q4_answer"]["kind"] == "free_text" and items["q4_answer"]["points"] == 2
    assert "assert __grader_seen == \"['a', 'b', 'c']\"" in tests["tests/q3_2.py"]
    assert rubric["total_points"] == 8


def test_prompt_blocks_become_template_blocks() -> None:
    text = 'def f():\n    """ # BEGIN PROMPT\n    # write it\n    """ # END PROMPT\n    return 1  # SOLUTION'
    assert prompt_to_template(text).splitlines()[1:4] == [
        "    # BEGIN TEMPLATE",
        "    # # write it",
        "    # END TEMPLATE",
    ]


def test_kernel_test_code_checks_the_recorded_output() -> None:
    from grader.authoring.imported import TestCase

    source = kernel_test_code(TestCase(name="t", code="y = 1\ny + 1", output="2"))
    namespace: dict[str, object] = {}
    exec(source, namespace)
    with pytest.raises(AssertionError, match="printed 3, expected 2"):
        exec(kernel_test_code(TestCase(name="t", code="y = 2\ny + 1", output="2")), {})


@pytest.mark.slow
def test_import_then_grade_gives_otters_verdicts(tmp_path: Path) -> None:
    nbformat.write(otter_master(), tmp_path / "otter_master.ipynb")
    made = grader_cli(tmp_path, "import", "otter", "otter_master.ipynb", "--out", "hw", "--seeds", "1")
    assert "not carried over: assignment settings not carried over: requirements" in made.stdout
    assert "otterhw: ready to release" in made.stdout

    reference = nbformat.read(tmp_path / "hw" / "reference" / "otterhw_reference.ipynb", as_version=4)
    subs = tmp_path / "submitted"
    (subs / "good").mkdir(parents=True)
    (subs / "bad").mkdir()
    nbformat.write(reference, subs / "good" / "otterhw.ipynb")
    for cell in reference.cells:
        cell.source = (
            cell.source.replace("return x ** 2", "return x * 2")
            .replace("x = 2", "x = 3")
            .replace('["a", "b", "c"]', '["c", "b", "a"]')
            .replace("Because each step multiplies.", "_Write your answer here._")
        )
    nbformat.write(reference, subs / "bad" / "otterhw.ipynb")
    grader_cli(tmp_path, "grade", "submitted", "--assignment", "hw", "--out", "out")
    results = results_by_student(tmp_path / "out")
    verdicts = {who: {i["id"]: i["status"] for i in doc["items"]} for who, doc in results.items()}
    # what otter's own tests say of these two notebooks
    assert verdicts["good"] == {
        "q1_1": "passed",
        "q1_2": "passed",
        "q1_3": "passed",
        "q2_1": "passed",
        "q3_1": "passed",
        "q3_2": "passed",
        "q4_answer": "pending",
    }
    assert verdicts["bad"] == {
        "q1_1": "passed",
        "q1_2": "failed",
        "q1_3": "failed",
        "q2_1": "failed",
        "q3_1": "failed",
        "q3_2": "passed",
        "q4_answer": "pending",  # the placeholder: not answered, left to a person as otter does
    }
    kernel_item = next(i for i in results["bad"]["items"] if i["id"] == "q3_1")
    assert "in-kernel test" in kernel_item["message"]
    assert results["good"]["pending_manual"] == 2
