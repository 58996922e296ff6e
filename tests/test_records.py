"""The typed records and the JSON schemas say the same thing, and real documents conform.

The TypedDicts in grader/records.py are what the code is checked against (mypy); the schemas in
grader/schemas/ are what other tools read. A key added to one and not the other fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jsonschema import Draft202012Validator
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.assignment import load_assignment
from grader.engine import run_notebook
from grader.limits import Limits
from grader.records import CellRecord, HarvestRecord, ItemResult, PartResult, ResultDocument, RunRecord

SCHEMAS = Path(__file__).resolve().parents[1] / "grader" / "schemas"
FIXTURE = Path(__file__).parent / "fixtures" / "exec"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def keys(typed: Any) -> tuple[set[str], set[str]]:
    return set(typed.__required_keys__), set(typed.__optional_keys__)


@pytest.mark.parametrize(
    ("typed", "path"),
    [
        (ResultDocument, []),
        (ItemResult, ["items", "items"]),
        (PartResult, ["parts", "items"]),
    ],
)
def test_result_document_matches_its_schema(typed: Any, path: list[str]) -> None:
    node = schema("results.schema.json")
    for step in path:
        node = node["properties"][step] if step in node.get("properties", {}) else node[step]
    required, optional = keys(typed)
    assert required == set(node["required"])
    assert required | optional == set(node["properties"])


@pytest.mark.parametrize(
    ("typed", "where"),
    [
        (RunRecord, lambda s: s),
        (HarvestRecord, lambda s: s["properties"]["harvest"]),
        (CellRecord, lambda s: s["$defs"]["cell"]),
    ],
)
def test_run_record_matches_its_schema(typed: Any, where: Any) -> None:
    node = where(schema("run.schema.json"))
    required, optional = keys(typed)
    assert required == set(node["required"])
    assert required | optional == set(node["properties"])


def test_a_real_run_record_conforms(tmp_path: Path) -> None:
    """One real run through the engine: its record and its file validate against the schema."""
    nb = tmp_path / "nb.ipynb"
    cells = [
        new_markdown_cell("# Part 1"),
        new_code_cell("total = 2 + 3"),
        new_code_cell("1 / 0"),
        new_markdown_cell("**ANSWER why**\nBecause."),
    ]
    nbformat.write(new_notebook(cells=cells), str(nb))
    assignment = load_assignment(FIXTURE / "exec.yaml")
    record = run_notebook(
        nb,
        assignment,
        FIXTURE / "data",
        tmp_path / "out",
        run_id="r1",
        backend="process",
        limits=Limits(cell_timeout=60),
    )
    validator = Draft202012Validator(schema("run.schema.json"))
    on_disk = json.loads((tmp_path / "out" / "run" / "r1.json").read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(on_disk)] == []
    assert [c["status"] for c in record["cells"]] == ["ok", "error"]
