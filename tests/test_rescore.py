"""Execution and scoring keys, harvest-plan gaps, reuse decisions, kept marks, diffs: no kernel.

The end-to-end behaviour (grade, edit the rubric, grade again: nothing runs) is in
tests/test_rescore_e2e.py and tests/test_rescore_hw2.py; these pin the rules themselves.
"""

from __future__ import annotations

import copy
import filecmp
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from grader.keys import SubmissionKeys, differences, execution_key, harvest_plan, plan_gaps, scoring_key
from grader.keys import plan as plan_module
from grader.keys.execution import ExecutionBasis
from grader.keys.plan import HarvestKey
from grader.limits import Limits
from grader.publish import publish
from grader.rescore.diff import compare
from grader.rescore.many import slim
from grader.rescore.marks import keep_manual_marks
from grader.reuse import EXECUTE, RESCORE, SKIP, first_look, run_reasons

FIXTURES = Path(__file__).parent / "fixtures" / "results"

RUBRIC: dict[str, Any] = {
    "assignment": "keys",
    "parts": [
        {"id": "p1", "title": "One", "heading": "Part 1"},
        {"id": "p2", "title": "Two", "heading": "Part 2"},
    ],
    "answers": {
        "acc": {"type": "number", "minimum": 0, "maximum": 1, "part": "p1"},
        "depth": {"type": "integer"},
    },
    "inputs": {"test": {"file": "hidden/X.csv", "labels": "hidden/y.csv"}},
    "models": {"clf": {"variable": "clf", "adapter": "sklearn_predict", "inputs": ["test"]}},
    "free_text": [{"id": "why", "part": "p2", "prompt": "Why?"}],
    "items": [
        {
            "id": "t",
            "part": "p1",
            "kind": "threshold",
            "points": 5,
            "threshold": {"full_at": 0.9, "zero_at": 0.5},
        }
    ],
}


def edited(**changes: Any) -> dict[str, Any]:
    rubric = copy.deepcopy(RUBRIC)
    for path, value in changes.items():
        node = rubric
        keys = path.split("__")
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return rubric


def gaps(new: dict[str, Any], *, kernel: bool = True) -> list[str]:
    return plan_gaps(harvest_plan(RUBRIC), harvest_plan(new), kernel=kernel)


# ------------------------------------------------------------------------------- the harvest plan
def test_scoring_edits_leave_the_plan_alone() -> None:
    plan = harvest_plan(RUBRIC)
    for rubric in (
        edited(items__0__threshold={"full_at": 0.8, "zero_at": 0.5}),
        edited(items__0__points=7),
        edited(answers__acc={"type": "number", "part": "p1"}),  # a declared type is checked when scoring
        edited(parts__0__title="Renamed"),
        edited(free_text__0__prompt="Why, really?"),
        edited(title="A new title"),
    ):
        assert harvest_plan(rubric) == plan
        assert gaps(rubric) == []


def test_what_the_harvest_must_run_again_for_is_named() -> None:
    assert gaps(edited(answers__extra={"type": "number"})) == ["answer `extra` is new"]
    assert gaps(edited(models__clf__adapter="row_predicate")) == ["model `clf` changed (adapter)"]
    assert gaps(edited(inputs__test__file="hidden/X2.csv")) == ["input set `test` changed (file)"]
    assert gaps(edited(free_text=[*RUBRIC["free_text"], {"id": "how", "part": "p2"}])) == [
        "free-text answer `how` is new"
    ]
    assert gaps(edited(parts__1__heading="Section 2")) == ["part `p2` changed (heading)"]


def test_removals_need_no_run_except_for_parts_which_split_the_notebook() -> None:
    assert gaps(edited(answers__depth=None)) == []
    assert gaps(edited(models=None, inputs=None)) == []
    assert gaps(edited(parts=RUBRIC["parts"][:1])) == ["part `p2` was removed"]


def test_without_a_kernel_harvest_only_notebook_keys_count() -> None:
    rubric = edited(answers__extra={"type": "number"}, free_text=[{"id": "how", "part": "p2"}])
    assert gaps(rubric, kernel=False) == ["free-text answer `how` is new"]


def test_a_harvest_key_declared_later_is_picked_up_generically(monkeypatch: pytest.MonkeyPatch) -> None:
    """A future harvest feature (refits, audits, figure summaries) adds its key in one place."""
    rubric = edited(refits={"forest_depths": {"model": "clf", "grid": [1, 2, 4]}})
    assert harvest_plan(rubric) == harvest_plan(RUBRIC)  # not declared: not part of the plan
    monkeypatch.setattr(
        plan_module, "HARVEST_KEYS", (*plan_module.HARVEST_KEYS, HarvestKey("refits", "refit"))
    )
    assert "refits" in harvest_plan(rubric)
    assert gaps(rubric) == ["the rubric now asks the harvest for refits: `forest_depths`"]
    wider = edited(refits={"forest_depths": {"model": "clf", "grid": [1, 2, 4, 8]}})
    assert plan_gaps(harvest_plan(rubric), harvest_plan(wider)) == ["refit `forest_depths` changed (grid)"]


# ------------------------------------------------------------------------------- the two keys
def test_execution_differences_are_said_in_words() -> None:
    basis = ExecutionBasis(data="d1", environment=None, plan=harvest_plan(RUBRIC))
    before = basis.inputs("nb1", limits=Limits(), env={"GRADER_SEED": "0"}, public_only=False)
    assert differences(before, dict(before)) == []
    after = basis.inputs("nb2", limits=Limits(cell_timeout=60), env={"GRADER_SEED": "1"}, public_only=False)
    assert differences(before, after) == [
        "the notebook changed",
        "the limits changed: cell_timeout 600.0 -> 60",
        "the seed changed (GRADER_SEED 0 -> 1)",
    ]
    moved = replace(basis, data="d2", environment="env-hash")
    assert differences(
        before, moved.inputs("nb1", limits=Limits(), env={"GRADER_SEED": "0"}, public_only=False)
    ) == [
        "the data changed (its MANIFEST.json)",
        "the kernel environment changed",
    ]
    assert execution_key(before) != execution_key(after)


def test_scoring_key_ignores_comments_and_follows_expected_and_staleness() -> None:
    base = scoring_key(RUBRIC, b"{}", "default")
    assert scoring_key(copy.deepcopy(RUBRIC), b"{}", "default") == base
    assert scoring_key(edited(items__0__points=6), b"{}", "default") != base
    assert scoring_key(RUBRIC, b'{"items": {}}', "default") != base
    assert scoring_key(RUBRIC, b"{}", "full") != base
    assert scoring_key(RUBRIC, b"{}", "default", ("the rubric changed",)) != base


# ------------------------------------------------------------------------------- reuse decisions
def stamped_run(rubric: dict[str, Any], **fields: Any) -> dict[str, Any]:
    basis = ExecutionBasis(data="d1", environment=None, plan=harvest_plan(rubric))
    inputs = basis.inputs("nb", limits=Limits(), env=None, public_only=False)
    run = {"status": "completed", "harvest": {"status": "ok", "message": ""}, **fields}
    run["execution"] = {"key": execution_key(inputs), "inputs": inputs, "plan": basis.plan}
    return run


def current(rubric: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    basis = ExecutionBasis(data="d1", environment=None, plan=harvest_plan(rubric))
    return basis.inputs("nb", limits=Limits(), env=None, public_only=False), basis.plan


def test_a_run_is_rescored_only_for_a_plan_it_covers() -> None:
    run = stamped_run(RUBRIC)
    assert run_reasons(run, *current(edited(items__0__points=9))) == []
    assert run_reasons(run, *current(edited(answers__depth=None))) == []
    assert run_reasons(run, *current(edited(answers__extra={"type": "number"}))) == ["answer `extra` is new"]
    assert run_reasons(None, *current(RUBRIC)) == ["no stored run record"]
    legacy = {k: v for k, v in run.items() if k != "execution"}
    assert run_reasons(legacy, *current(RUBRIC)) == [
        "its run record predates execution keys (made by an older grader)"
    ]


def test_runs_that_harvested_nothing_need_no_run_for_a_new_answer() -> None:
    new = current(edited(answers__extra={"type": "number"}, free_text=[{"id": "how"}]))
    invalid = stamped_run(RUBRIC, status="invalid_notebook", harvest={"message": "not run: invalid notebook"})
    assert run_reasons(invalid, *new) == []
    dead = stamped_run(
        RUBRIC,
        status="timeout",
        harvest={"message": "not run: the kernel was not available after the notebook"},
    )
    assert run_reasons(dead, *new) == ["free-text answer `how` is new"]  # read from the notebook file


def test_first_look_skips_rescores_or_executes(tmp_path: Path) -> None:
    keys = SubmissionKeys(execution="e", scoring="s", inputs={})
    assert first_look(None, keys, tmp_path, "a", force=False).action == EXECUTE
    stored = {"status": "graded", "content_hash": keys.content_hash}
    assert first_look(stored, keys, tmp_path, "a", force=False).action == SKIP
    assert first_look(stored, keys, tmp_path, "a", force=True).reasons == ("--force",)
    changed = replace(keys, scoring="s2")
    assert first_look(stored, changed, tmp_path, "a", force=False).reasons == ("no stored run record",)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "a.json").write_text("{}")
    assert first_look(stored, changed, tmp_path, "a", force=False).action == RESCORE
    failed = {**stored, "status": "error"}
    assert first_look(failed, keys, tmp_path, "a", force=False).reasons == (
        "its last grading ended with status error",
    )


# ------------------------------------------------------------------------------- marks and diffs
def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def test_manual_marks_and_overrides_in_the_store_survive_a_rescore(tmp_path: Path) -> None:
    from grader.marks.store import MarksStore, NewDecision

    store = MarksStore.for_out(tmp_path)
    store.save(NewDecision("alice", "p1_why_boosting", "manual", 4, comment="good"), marker="Ann")
    fresh = fixture("alice")
    item = next(i for i in fresh["items"] if i["id"] == "p2_val_error")
    store.save(
        NewDecision("alice", "p2_val_error", "override", 1.0, reason="rounding", baseline=item["points"]),
        marker="Ann",
    )
    kept = keep_manual_marks(tmp_path, copy.deepcopy(fresh))
    by_id = {i["id"]: i for i in kept["items"]}
    assert by_id["p1_why_boosting"]["points"] == 4
    assert by_id["p1_why_boosting"]["evidence"]["manual"]["marker"] == "Ann"
    assert by_id["p2_val_error"]["points"] == 1.0
    assert "override" in by_id["p2_val_error"]["evidence"]
    assert kept["score"] != fresh["score"]
    assert keep_manual_marks(tmp_path, fixture("bob")) == fixture("bob")  # others untouched


def test_diff_names_who_moved_by_how_much_on_which_items() -> None:
    before = fixture("alice")
    after = copy.deepcopy(before)
    item = next(i for i in after["items"] if i["id"] == "p2_val_error")
    item["points"], item["status"] = item["max_points"], "passed"
    after["score"] = round(
        before["score"]
        + item["max_points"]
        - next(i for i in before["items"] if i["id"] == "p2_val_error")["points"],
        2,
    )
    move = compare(before, after)
    assert move.moved and [m.item for m in move.items] == ["p2_val_error"]
    assert move.describe().startswith(f"alice: {before['score']:g} -> {after['score']:g} (+")
    assert "p2_val_error" in move.describe() and "(partial -> passed)" in move.describe()
    assert not compare(before, copy.deepcopy(before)).moved


def test_the_class_outputs_are_the_same_from_slim_documents(tmp_path: Path) -> None:
    """Publishing from documents without curves and clean cells (flat memory) changes nothing."""
    results = [fixture(p.stem) for p in sorted(FIXTURES.glob("*.json"))]
    full, light = tmp_path / "full", tmp_path / "slim"
    from grader.marks.store import MarksStore, NewDecision

    marks = tmp_path / "marks"  # a manual mark, laid over as a rescore lays it (before publishing)
    marks.mkdir()
    MarksStore.for_out(marks).save(
        NewDecision(results[0]["id"], "p1_why_boosting", "manual", 4), marker="Ann"
    )
    results[0] = keep_manual_marks(marks, results[0])
    publish(results, full, feedback=False)
    publish([slim(r) for r in results], light, feedback=False)
    compared = filecmp.dircmp(full, light)
    assert sorted(compared.left_list) == sorted(compared.right_list)
    for name in ("summary.html", "grades.csv", "canvas.csv"):
        assert (full / name).read_bytes() == (light / name).read_bytes(), name
    for path in (full / "gradescope").rglob("*.json"):
        assert path.read_bytes() == (light / path.relative_to(full)).read_bytes()
    shutil.rmtree(full)
