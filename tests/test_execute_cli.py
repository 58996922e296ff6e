"""`grader run`: one notebook executed and harvested from the command line, no scoring."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from grader.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "exec"


def invoke(*args: str):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


def common(out: Path) -> list[str]:
    return ["--assignment", str(FIXTURE / "exec.yaml"), "--data", str(FIXTURE / "data"), "--out", str(out)]


def test_invalid_notebook_exits_1_with_a_message(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    result = invoke(str(bad), *common(tmp_path / "out"), "--backend", "process")
    assert result.exit_code == 1
    assert "broken: invalid_notebook" in result.output and "not a JSON notebook" in result.output
    assert json.loads((tmp_path / "out" / "run" / "broken.json").read_text())["status"] == "invalid_notebook"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--env", "NOEQUALS"], "is not KEY=VALUE"),
        (["--timeout", "0"], "must be positive"),
        (["--gpus", ","], "empty GPU list"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, extra, message):
    nb = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), str(nb))
    result = CliRunner().invoke(main, ["run", str(nb), *common(tmp_path / "out"), *extra])
    assert result.exit_code == 2 and message in result.output


def test_unknown_assignment_is_a_usage_error(tmp_path):
    nb = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), str(nb))
    result = CliRunner().invoke(main, ["run", str(nb), "--assignment", "no-such-hw", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown assignment" in result.output


@pytest.mark.slow
def test_run_writes_record_and_executed_notebook(tmp_path):
    nb = tmp_path / "Alice Smith hw.ipynb"
    cells = [new_code_cell("import os\ntotal = int(os.environ['EXTRA'])"), new_code_cell("1/0")]
    nbformat.write(new_notebook(cells=cells), str(nb))
    result = invoke(str(nb), *common(tmp_path / "out"), "--env", "EXTRA=5", "--timeout", "60")
    assert result.exit_code == 0, result.output
    assert "Alice-Smith-hw: completed" in result.output
    assert "cell 1 [-]: error ZeroDivisionError" in result.output
    record = json.loads((tmp_path / "out" / "run" / "Alice-Smith-hw.json").read_text())
    assert record["harvest"]["answers"]["total"] == {"status": "ok", "value": 5}
    assert (tmp_path / "out" / "executed" / "Alice-Smith-hw.ipynb").is_file()
