"""Function items: the student's calls against the master's, scored outside the sandbox (no kernel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grader.assignment import Assignment
from grader.calibration import summarise_runs
from grader.rubric import validate_rubric
from grader.scoring import score_run
from grader.scoring.functions import same_value

RUBRIC: dict[str, Any] = {
    "schema_version": 1,
    "assignment": "fn",
    "parts": [{"id": "p1", "title": "Functions"}],
    "items": [
        {
            "id": "sq",
            "part": "p1",
            "kind": "function",
            "points": 3,
            "function": "squares",
            "calls": [{"args": [3]}, {"args": [0]}, {"args": [-1], "label": "squares(-1) raises"}],
        },
        {
            "id": "sq_hidden",
            "part": "p1",
            "kind": "function",
            "points": 1,
            "visibility": "hidden",
            "function": "squares",
            "calls": [{"args": [2]}],
        },
    ],
}


def returned(value: Any) -> dict[str, Any]:
    return {"status": "returned", "value": value}


def raised(name: str, *bases: str) -> dict[str, Any]:
    return {"status": "raised", "exception": name, "bases": [name, *bases], "message": "x"}


def run(functions: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": "s",
        "notebook": "s.ipynb",
        "assignment": "fn",
        "status": "completed",
        "message": "",
        "cells": [],
        "limits_fired": [],
        "telemetry": {"wall_s": 1.0, "peak_rss_mb": 1.0, "kernel_restarts": 0},
        "harvest": {
            "status": "ok",
            "message": "",
            "answers": {},
            "predictions": {},
            "free_text": {},
            "figures": {},
            "wall_s": 0.1,
            "functions": functions,
        },
    }


MASTER = {
    "sq": {"status": "ok", "calls": [returned([0, 1, 4]), returned([]), raised("ValueError", "Exception")]},
    "sq_hidden": {"status": "ok", "calls": [returned([0, 1])]},
}


@pytest.fixture()
def assignment(tmp_path: Path) -> Assignment:
    validate_rubric(RUBRIC)
    (tmp_path / "rubric.yaml").write_text("schema_version: 1\n")
    return Assignment("fn", tmp_path / "rubric.yaml", RUBRIC, None, None, None, tmp_path)


@pytest.fixture()
def expected(assignment: Assignment, tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "MANIFEST.json").write_text('{"files": {}}')
    return summarise_runs(assignment, [(0, run(MASTER)), (1, run(MASTER))], tmp_path)


def test_calibration_stores_the_masters_outcomes(expected: dict[str, Any]) -> None:
    observed = expected["items"]["sq"]["observed"]
    assert observed["calls"][0] == {"status": "returned", "value": [0, 1, 4]}
    assert observed["calls"][2]["exception"] == "ValueError"
    assert observed["varies"] is False and observed["n"] == 2


def test_matching_calls_earn_full_marks_and_a_subclass_exception_counts(
    assignment: Assignment, expected: dict[str, Any], tmp_path: Path
) -> None:
    student = {
        "sq": {
            "status": "ok",
            "calls": [returned([0, 1, 4.0000000001]), returned([]), raised("MyError", "ValueError")],
        },
        "sq_hidden": {"status": "ok", "calls": [returned([0, 1])]},
    }
    document = score_run(run(student), assignment, expected, tmp_path)
    items = {i["id"]: i for i in document["items"]}
    assert items["sq"]["points"] == 3 and items["sq"]["status"] == "passed"
    assert items["sq_hidden"]["points"] == 1


def test_wrong_calls_cost_their_share_and_name_the_call(
    assignment: Assignment, expected: dict[str, Any], tmp_path: Path
) -> None:
    student = {
        "sq": {"status": "ok", "calls": [returned([0, 1, 5]), returned([]), returned([])]},
        "sq_hidden": {"status": "ok", "calls": [returned([9])]},
    }
    items = {i["id"]: i for i in score_run(run(student), assignment, expected, tmp_path)["items"]}
    assert items["sq"]["points"] == 1.0
    assert "squares(3) returned [0, 1, 5], expected it to return [0, 1, 4]" in items["sq"]["message"]
    assert "squares(-1) raises returned []" in items["sq"]["message"]
    assert items["sq_hidden"]["points"] == 0
    assert "[9]" not in items["sq_hidden"]["message"] and "hidden" in items["sq_hidden"]["message"]


def test_missing_function_says_so(assignment: Assignment, expected: dict[str, Any], tmp_path: Path) -> None:
    student = {"sq": {"status": "missing", "message": "x"}, "sq_hidden": {"status": "none", "message": "x"}}
    items = {i["id"]: i for i in score_run(run(student), assignment, expected, tmp_path)["items"]}
    assert "`squares` is not defined" in items["sq"]["message"]
    assert "still None" in items["sq_hidden"]["message"]


def test_same_value_tolerance_and_types() -> None:
    tol = {"abs": 1e-9, "rel": 1e-6}
    assert same_value([1.0, {"a": 2}], [1.0000001, {"a": 2}], tol)
    assert not same_value(True, 1, tol)
    assert not same_value("1", 1, tol)
    assert not same_value([1, 2], [1, 2, 3], tol)


def test_kernel_side_calls_with_fresh_arguments_and_records_exceptions() -> None:
    from grader.engine.harvest_calls import CALLS_SOURCE_PATH
    from grader.engine.harvest_plan import kernel_source

    namespace: dict[str, Any] = {"__name__": "__grader_harvest__"}
    exec(compile(kernel_source() + "\n\n" + CALLS_SOURCE_PATH.read_text(), "<harvest>", "exec"), namespace)

    def appender(values: list[int]) -> list[int]:
        values.append(1)  # mutates its argument: the next call must still get a fresh copy
        if len(values) > 3:
            raise KeyError("too long")
        return values

    user_ns = {"appender": appender, "number": 3}
    config = {
        "max_items": 1000,
        "functions": [
            {
                "item": "a",
                "function": "appender",
                "calls": [{"args": [[0]]}, {"args": [[0]]}, {"args": [[0, 0, 0]]}],
            },
            {"item": "b", "function": "number", "calls": [{"args": []}]},
            {"item": "c", "function": "absent", "calls": [{"args": []}]},
        ],
    }
    result = namespace["harvest_functions"](user_ns, config)["functions"]
    assert result["a"]["calls"][0] == {"status": "returned", "value": [0, 1]}
    assert result["a"]["calls"][1] == {"status": "returned", "value": [0, 1]}
    assert result["a"]["calls"][2]["exception"] == "KeyError"
    assert "LookupError" in result["a"]["calls"][2]["bases"]
    assert result["b"]["status"] == "refused" and result["c"]["status"] == "missing"
