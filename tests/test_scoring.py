"""Scoring RunRecords of the toy assignment (tests/assignments/toy): no kernel needed.

The runs are built here as plain dicts in the RunRecord format of docs/ARCHITECTURE.md; the
rubric, the static data, the hidden labels and expected.json are the toy assignment's real files.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from grader.assignment import load_assignment
from grader.datasets import build_data
from grader.scoring import score_run, validate_result

TOY = Path(__file__).resolve().parent / "assignments" / "toy" / "toy.yaml"


def ok(value: Any) -> dict[str, Any]:
    return {"status": "ok", "value": value}


NONE = {"status": "none", "message": "still None"}


@pytest.fixture(scope="module")
def toy():
    return load_assignment(TOY)


@pytest.fixture(scope="module")
def data_dir(toy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy-data")
    build_data(toy, out)
    return out


@pytest.fixture(scope="module")
def expected(toy) -> dict:
    return json.loads(toy.expected_path.read_text(encoding="utf-8"))


def _mean(expected: dict, item: str) -> list[float]:
    return list(expected["items"][item]["observed"]["mean"])


def make_run(
    answers: dict[str, Any],
    predictions: dict[str, Any],
    *,
    figures: int = 1,
    free_text: dict[str, Any] | None = None,
    status: str = "completed",
    message: str = "ran 4 code cells: 4 ok",
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": "alice",
        "notebook": "/submissions/alice/toy.ipynb",
        "assignment": "toy",
        "backend": "bwrap",
        "isolated": True,
        "gpu": None,
        "status": status,
        "message": message,
        "cells": [
            {"index": 1, "cell_type": "code", "part": None, "status": "ok", "wall_s": 1.2, "figures": 0},
            {
                "index": 4,
                "cell_type": "code",
                "part": "part1",
                "status": "ok",
                "wall_s": 0.3,
                "figures": figures,
            },
        ],
        "limits_fired": [],
        "telemetry": {"wall_s": 3.0, "peak_rss_mb": 210.0, "kernel_restarts": 0},
        "harvest": {
            "status": "ok",
            "message": "",
            "answers": answers,
            "predictions": {"classifier": predictions},
            "free_text": free_text
            if free_text is not None
            else {"why_model": ok("Petals separate the classes.")},
            "figures": {"part1": figures} if figures else {},
            "wall_s": 0.2,
        },
    }


@pytest.fixture(scope="module")
def labels(data_dir) -> dict[str, list[str]]:
    return {
        "iris_val": pd.read_csv(data_dir / "public" / "val.csv")["species"].tolist(),
        "iris_test": pd.read_csv(data_dir / "hidden" / "test_y.csv")["species"].tolist(),
    }


@pytest.fixture()
def good_run(expected, labels) -> dict[str, Any]:
    """What the reference returns: curves at the reference means, a model that is right."""
    answers = {
        "depths": ok([1, 2, 3, 4, 5]),
        "train_acc": ok(_mean(expected, "t1_train_curve")),
        "val_acc": ok(_mean(expected, "t1_val_curve")),
        "best_depth": ok(2),
        "clf_features": ok(["petal_length", "petal_width"]),
        "val_accuracy": ok(1.0),
    }
    predictions = {"iris_val": ok(labels["iris_val"]), "iris_test": ok(labels["iris_test"])}
    return make_run(answers, predictions)


def template_run() -> dict[str, Any]:
    names = ["depths", "train_acc", "val_acc", "best_depth", "clf_features", "val_accuracy"]
    return make_run(
        {name: dict(NONE) for name in names},
        {"iris_val": {"status": "none", "message": "clf is still None"}, "iris_test": {"status": "none"}},
        figures=0,
        free_text={"why_model": {"status": "none", "message": "still the template placeholder (unanswered)"}},
    )


def by_id(document: dict) -> dict[str, dict]:
    return {item["id"]: item for item in document["items"]}


def test_reference_like_run_scores_full_automatic_marks(toy, data_dir, expected, good_run) -> None:
    document = score_run(good_run, toy, expected, data_dir)
    assert validate_result(document) == []
    assert document["status"] == "graded"
    assert document["auto_score"] == document["auto_max_score"] == 18
    assert document["pending_manual"] == 2 and document["max_score"] == 20
    assert document["extra_credit"] == 2 and document["score"] == 20
    items = by_id(document)
    assert items["t2_why_model"]["status"] == "pending" and items["t2_why_model"]["points"] == 0
    assert items["t2_why_model"]["evidence"]["answer"] == "Petals separate the classes."
    assert {i["status"] for k, i in items.items() if k != "t2_why_model"} == {"passed"}
    curve = items["t1_val_curve"]["evidence"]
    assert curve["x"] == [1, 2, 3, 4, 5] and curve["x_label"] == "max_depth"
    assert all(
        lo <= v <= hi
        for v, lo, hi in zip(
            curve["values"], curve["expected"]["low"], curve["expected"]["high"], strict=True
        )
    )
    assert items["t1_figure"]["evidence"]["depths"] == [1, 2, 3, 4, 5]
    assert items["t2_hidden_accuracy"]["evidence"] == {"value": 1.0, "full_at": 0.85, "zero_at": 0.6}
    parts = {p["id"]: p for p in document["parts"]}
    assert parts["part1"]["score"] == 10 and parts["part2"]["pending_manual"] == 2


def test_regrading_is_identical(toy, data_dir, expected, good_run) -> None:
    documents = [score_run(copy.deepcopy(good_run), toy, expected, data_dir) for _ in range(3)]
    assert documents[0] == documents[1] == documents[2]


def test_template_scores_zero_with_a_message_per_item(toy, data_dir, expected) -> None:
    document = score_run(template_run(), toy, expected, data_dir)
    assert validate_result(document) == []
    # the unanswered free text waits for a person with a note, never a silent 0
    assert document["auto_score"] == 0 and document["score"] == 0 and document["pending_manual"] == 2
    items = by_id(document)
    assert {i["status"] for k, i in items.items() if k != "t2_why_model"} == {"failed"}
    assert items["t2_why_model"]["status"] == "pending"
    assert items["t2_why_model"]["message"].startswith("not answered: nothing but the template's placeholder")
    assert items["t1_val_curve"]["message"] == "`val_acc` is still None: fill it in Part 1"
    assert items["t2_hidden_accuracy"]["message"] == "`clf` is still None: fill it in Part 2"
    assert "Part 1 has no figure" in items["t1_figure"]["message"]
    assert "**ANSWER why_model**" in items["t2_why_model"]["message"]


def test_forged_numbers_with_a_broken_model_lose_hidden_and_consistency_items(
    toy, data_dir, expected, good_run, labels
) -> None:
    forged = copy.deepcopy(good_run)
    wrong = {"setosa": "virginica", "versicolor": "setosa", "virginica": "versicolor"}
    forged["harvest"]["predictions"]["classifier"] = {
        "iris_val": ok([wrong[s] for s in labels["iris_val"]]),
        "iris_test": {
            "status": "error",
            "message": "NotFittedError: This Pipeline instance is not fitted yet",
        },
    }
    items = by_id(score_run(forged, toy, expected, data_dir))
    hidden, consistency = items["t2_hidden_accuracy"], items["t2_val_consistency"]
    assert hidden["points"] == 0 and hidden["status"] == "failed"
    assert "`clf` could not be run on the hidden input set 'iris_test': NotFittedError" in hidden["message"]
    assert consistency["points"] == 0
    assert "you report a validation accuracy of 100.0%" in consistency["message"]
    assert "is 0.0%: report the number your own model achieves" in consistency["message"]
    assert items["t1_val_curve"]["status"] == "passed"  # hard-coded curves cannot be told apart


def test_hard_coded_accuracy_is_caught_within_tolerance(toy, data_dir, expected, good_run, labels) -> None:
    run = copy.deepcopy(good_run)
    val = labels["iris_val"]
    flipped = ["virginica" if s == "versicolor" else s for s in val]  # 10 of 30 wrong: 66.7%
    run["harvest"]["predictions"]["classifier"]["iris_val"] = ok(flipped)
    items = by_id(score_run(run, toy, expected, data_dir))
    assert items["t2_val_consistency"]["status"] == "failed"
    assert items["t2_val_consistency"]["evidence"]["recomputed"] == pytest.approx(20 / 30)
    run["harvest"]["answers"]["val_accuracy"] = ok(20 / 30)
    assert by_id(score_run(run, toy, expected, data_dir))["t2_val_consistency"]["status"] == "passed"


def test_threshold_ramp_gives_partial_credit(toy, data_dir, expected, good_run, labels) -> None:
    run = copy.deepcopy(good_run)
    test = list(labels["iris_test"])
    wrong = {"setosa": "virginica", "versicolor": "setosa", "virginica": "versicolor"}
    for i in range(7):  # 23 of 30 right = 76.7%: a third of the way from 60% to 85%... and beyond
        test[i] = wrong[test[i]]
    run["harvest"]["predictions"]["classifier"]["iris_test"] = ok(test)
    item = by_id(score_run(run, toy, expected, data_dir))["t2_hidden_accuracy"]
    assert item["status"] == "partial"
    assert item["points"] == pytest.approx(round(5 * (23 / 30 - 0.6) / 0.25, 2))
    assert item["message"].startswith("accuracy of clf on the hidden flowers is 76.7%; full marks at ≥ 85.0%")


def test_curve_scored_point_by_point(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    values = _mean(expected, "t1_val_curve")
    values[3] = values[3] - 0.5  # one point far outside the band
    run["harvest"]["answers"]["val_acc"] = ok(values)
    item = by_id(score_run(run, toy, expected, data_dir))["t1_val_curve"]
    assert item["status"] == "partial" and item["points"] == pytest.approx(3 * 4 / 5)
    assert "validation accuracy of the forest at max_depth 4 is " in item["message"]
    assert "; expected " in item["message"] and " ± " in item["message"]
    assert "4 of 5 points are within the band" in item["message"]


def test_wrong_depths_lose_the_curves_with_a_clear_message(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["harvest"]["answers"]["depths"] = ok([1, 2, 4, 8, 16])
    items = by_id(score_run(run, toy, expected, data_dir))
    assert items["t1_depths"]["points"] == 0
    assert "should be [1, 2, 3, 4, 5]" in items["t1_depths"]["message"]
    assert items["t1_train_curve"]["points"] == 0
    assert "must be measured at max_depth [1, 2, 3, 4, 5]" in items["t1_train_curve"]["message"]


def test_wrong_length_and_wrong_type_are_named(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["harvest"]["answers"]["val_acc"] = ok([0.9, 0.9, 0.9, 0.9])
    run["harvest"]["answers"]["best_depth"] = ok("two")
    run["harvest"]["answers"]["train_acc"] = {
        "status": "refused",
        "message": "type Series is not a plain value",
    }
    items = by_id(score_run(run, toy, expected, data_dir))
    assert items["t1_val_curve"]["message"] == "`val_acc` has 4 items; it should have 5"
    assert items["t1_best_depth"]["message"].startswith("`best_depth` should be an integer")
    assert (
        "`train_acc` could not be read (type Series is not a plain value)"
        in items["t1_train_curve"]["message"]
    )


def test_choice_follows_the_students_own_curve(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["harvest"]["answers"]["val_acc"] = ok([0.5, 0.6, 0.7, 0.8, 0.9])
    run["harvest"]["answers"]["best_depth"] = ok(5)
    item = by_id(score_run(run, toy, expected, data_dir))["t1_best_depth"]
    assert item["status"] == "passed" and "agrees with your own curves" in item["message"]
    run["harvest"]["answers"]["best_depth"] = ok(1)
    item = by_id(score_run(run, toy, expected, data_dir))["t1_best_depth"]
    assert item["status"] == "failed"
    assert "you chose 1, but your own curves point to 5" in item["message"]


def test_self_check_marks_hidden_items_graded_on_submission(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["harvest"]["predictions"]["classifier"]["iris_test"] = {
        "status": "skipped",
        "message": "hidden input set not run in a self-check",
    }
    document = score_run(run, toy, expected, data_dir, public_only=True)
    item = by_id(document)["t2_hidden_accuracy"]
    assert item["status"] == "pending" and item["points"] == 0
    assert item["message"].startswith("graded on submission")
    assert document["pending_on_submission"] == 5 and document["pending_manual"] == 2
    assert by_id(document)["t2_val_consistency"]["status"] == "passed"  # public data is still checked
    assert validate_result(document) == []


def test_dead_kernel_still_scores_what_was_harvested(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["status"] = "kernel_died"
    run["message"] = "the kernel died in cell 6 (memory limit)"
    run["harvest"]["answers"]["val_accuracy"] = {"status": "missing", "message": "harvest did not run"}
    run["harvest"]["predictions"] = {}
    document = score_run(run, toy, expected, data_dir)
    items = by_id(document)
    assert document["status"] == "error"
    assert "did not finish: the kernel died in cell 6" in document["message"]
    assert items["t1_val_curve"]["status"] == "passed"
    assert "could not be read because the notebook did not finish" in items["t2_val_consistency"]["message"]
    assert validate_result(document) == []


def test_a_grader_failure_on_one_item_is_that_items_error(toy, tmp_path, expected, good_run) -> None:
    broken = tmp_path / "data"
    shutil.copytree(data_dir_of(toy, tmp_path), broken)
    (broken / "hidden" / "test_y.csv").unlink()  # the instructor's data is incomplete
    document = score_run(good_run, toy, expected, broken)
    items = by_id(document)
    assert items["t2_hidden_accuracy"]["status"] == "error"
    assert "FileNotFoundError" in items["t2_hidden_accuracy"]["message"]
    assert items["t2_val_consistency"]["status"] == "passed"
    assert document["warnings"] == [
        "the grader could not score t2_hidden_accuracy; the course staff will check"
    ]


def data_dir_of(toy, tmp_path: Path) -> Path:
    out = tmp_path / "built"
    build_data(toy, out)
    return out


def test_without_expected_json_band_items_are_errors_not_failures(toy, data_dir, good_run) -> None:
    items = by_id(score_run(good_run, toy, None, data_dir))
    assert items["t1_val_curve"]["status"] == "error"
    message = items["t1_val_curve"]["message"]  # a rubric outside rubrics/ is named by its path (issue 12)
    assert "run `grader reference " in message and "toy/toy.yaml`" in message, message
    assert items["t2_hidden_accuracy"]["status"] == "passed"  # thresholds need no calibration
    assert items["t1_best_depth"]["status"] == "passed"  # judged on the student's own curve


def test_missing_free_text_cell_waits_for_a_person_and_says_where(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run["harvest"]["free_text"] = {
        "why_model": {"status": "missing", "message": "no '**ANSWER why_model**' cell"}
    }
    document = score_run(run, toy, expected, data_dir)
    item = by_id(document)["t2_why_model"]
    assert item["status"] == "pending" and item["points"] == 0 and document["pending_manual"] == 2
    assert item["evidence"] == {"answer": "", "not_answered": "the notebook has no **ANSWER why_model** cell"}
    assert "**ANSWER why_model**" in item["message"]


def test_unreadable_notebook_says_nothing_ran(toy, data_dir, expected, good_run) -> None:
    run = copy.deepcopy(good_run)
    run.update(status="invalid_notebook", message="not a Jupyter notebook: invalid JSON at line 1")
    run["harvest"] = {"status": "failed", "answers": {}, "predictions": {}, "figures": {}, "free_text": {}}
    run["cells"] = []  # nothing executed
    document = score_run(run, toy, expected, data_dir)
    assert "could not be run: not a Jupyter notebook" in document["message"]
    assert "what it produced was scored" not in document["message"]
    assert document["auto_score"] == 0
    reading_answers = [i for i in document["items"] if i["kind"] not in ("figure", "free_text")]
    assert reading_answers and all("notebook could not be run" in i["message"] for i in reading_answers)
