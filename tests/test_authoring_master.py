"""The master-notebook splitter behind `grader assign` (no kernel needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.authoring.master import MasterError, serialise, split_code, split_markdown, split_master
from grader.notebook_parts import PLACEHOLDER

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"


def test_solution_block_becomes_todo_stub_and_stays_in_reference() -> None:
    source = "x = 1\n# BEGIN SOLUTION\ny = x + 1\n# END SOLUTION\nprint(x)"
    template, reference, targets = split_code(source)
    assert template == "x = 1\n# TODO: your code here\nprint(x)"
    assert reference == "x = 1\ny = x + 1\nprint(x)"
    assert targets == []


def test_indented_solution_block_keeps_valid_python() -> None:
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x * 2\n    ### END SOLUTION"
    template, reference, _ = split_code(source)
    compile(template, "<template>", "exec")
    assert template == "def f(x):\n    ...  # TODO: your code here"
    assert reference == "def f(x):\n    return x * 2"


def test_template_block_gives_the_exact_student_text() -> None:
    source = "# BEGIN TEMPLATE\n# depths = None  # list[int]\n#\n# # TODO: fit\n# END TEMPLATE\n# BEGIN SOLUTION\ndepths = [1, 2]\n# END SOLUTION"
    template, reference, _ = split_code(source)
    assert template == "depths = None  # list[int]\n\n# TODO: fit"
    assert reference == "depths = [1, 2]"


def test_solution_line_marker_sets_answer_to_none_with_comment() -> None:
    source = (
        'best = 3  # SOLUTION: int: the best depth\nname = "x"  # SOLUTION\n    model.fit(X, y)  # SOLUTION'
    )
    template, reference, targets = split_code(source)
    assert template.splitlines() == [
        "best = None  # int: the best depth",
        "name = None  # TODO",
        "    ...  # TODO",
    ]
    assert reference.splitlines() == ["best = 3", 'name = "x"', "    model.fit(X, y)"]
    assert targets == ["best", "name"]


def test_unbalanced_markers_name_the_problem() -> None:
    with pytest.raises(MasterError, match="never closed"):
        split_code("# BEGIN SOLUTION\nx = 1")
    with pytest.raises(MasterError, match="not open"):
        split_code("x = 1\n# END SOLUTION")
    with pytest.raises(MasterError, match="must start with '# '"):
        split_code("# BEGIN TEMPLATE\nx = None\n# END TEMPLATE")


def test_answer_cell_gets_the_placeholder() -> None:
    template, reference = split_markdown("**ANSWER why**\n\nBecause trees.")
    assert template == f"**ANSWER why**\n\n{PLACEHOLDER}"
    assert reference == "**ANSWER why**\n\nBecause trees."


def test_cells_for_one_side_only_and_config_cell() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_raw_cell("# grader config\nrubric: rubric.yaml"),
            nbformat.v4.new_code_cell('import os\nSEED = int(os.environ.get("GRADER_SEED", "0"))'),
            nbformat.v4.new_code_cell("# REFERENCE ONLY\nassert SEED >= 0"),
            nbformat.v4.new_markdown_cell("<!-- TEMPLATE ONLY -->\nGood luck!"),
            nbformat.v4.new_code_cell("check()", metadata={"tags": ["reference-only", "keep"]}),
        ]
    )
    split = split_master(nb)
    assert split.config == {"rubric": "rubric.yaml"}
    template = [c.source for c in split.template.cells]
    reference = [c.source for c in split.reference.cells]
    assert template == ['import os\nSEED = int(os.environ.get("GRADER_SEED", "0"))', "Good luck!"]
    assert reference == [
        'import os\nSEED = int(os.environ.get("GRADER_SEED", "0"))',
        "assert SEED >= 0",
        "check()",
    ]
    assert split.reference.cells[2].metadata == {"tags": ["keep"]}


def test_outputs_are_cleared() -> None:
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.outputs = [nbformat.v4.new_output("stream", text="1\n")]
    cell.execution_count = 3
    split = split_master(nbformat.v4.new_notebook(cells=[cell]))
    for side in (split.template, split.reference):
        assert side.cells[0].outputs == [] and side.cells[0].execution_count is None
    assert serialise(split.template).endswith("}\n")


def test_assign_check_passes_for_the_toy_and_fails_after_a_master_edit(tmp_path: Path) -> None:
    grader = [sys.executable, "-m", "grader"]
    ok = subprocess.run(
        [*grader, "assign", "--check", str(TOY / "toy_master.ipynb")], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    copy = tmp_path / "toy"
    subprocess.run(["cp", "-r", str(TOY), str(copy)], check=True)
    master = nbformat.read(copy / "toy_master.ipynb", as_version=4)
    master.cells[0].source += "\n\nA new line."
    nbformat.write(master, copy / "toy_master.ipynb")
    drifted = subprocess.run([*grader, "assign", "--check", str(copy)], capture_output=True, text=True)
    assert drifted.returncode == 1
    assert "toy_template.ipynb differs from its master" in drifted.stdout
    assert "toy_reference.ipynb differs from its master" in drifted.stdout
    rebuilt = subprocess.run(
        [*grader, "assign", "--no-run", str(copy / "toy_master.ipynb")], capture_output=True, text=True
    )
    assert rebuilt.returncode == 0, rebuilt.stdout
    assert "A new line." in (copy / "toy_template.ipynb").read_text()
    again = subprocess.run([*grader, "assign", "--check", str(copy)], capture_output=True, text=True)
    assert again.returncode == 0, again.stdout


def test_assign_takes_a_bare_name_and_says_which_names_it_knows() -> None:
    """`grader assign hw2 --check` works like `grader release-check hw2`; an unknown name is an
    error that lists the known ones (not a usage error about a missing path)."""
    from click.testing import CliRunner

    from grader.cli import main

    known = CliRunner().invoke(main, ["assign", "hw2", "--check"])
    assert known.exit_code == 0 and "hw2: template and reference match the master" in known.output
    unknown = CliRunner().invoke(main, ["assign", "no-such-hw", "--check"])
    assert unknown.exit_code == 2
    assert "unknown assignment 'no-such-hw'" in unknown.output and "hw2" in unknown.output
