"""The rubric schema, its error messages, and the declared partial-credit functions."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from grader.assignment import AssignmentError, load_assignment
from grader.rubric import band_credit, band_half_width, ramp_credit, total_points, validate_rubric

REPO = Path(__file__).resolve().parents[1]
HW2 = REPO / "rubrics" / "hw2.yaml"


@pytest.fixture()
def hw2() -> dict:
    return yaml.safe_load(HW2.read_text(encoding="utf-8"))


def _item(rubric: dict, item_id: str) -> dict:
    return next(item for item in rubric["items"] if item["id"] == item_id)


def _error(rubric: dict) -> str:
    with pytest.raises(AssignmentError) as caught:
        validate_rubric(rubric, source="hw2.yaml")
    return str(caught.value)


def test_hw2_rubric_validates_and_adds_up() -> None:
    assignment = load_assignment("hw2")
    points = total_points(assignment.rubric)
    assert points == {"automatic": 92.0, "manual": 8.0, "total": 100.0, "extra_credit": 10.0}
    assert assignment.rubric["total_points"] == points["total"]
    by_part: dict[str, float] = {}
    for item in assignment.items:
        by_part[item["part"]] = by_part.get(item["part"], 0) + item["points"]
    assert by_part == {"part1": 40, "part2": 35, "part3": 25, "stretch": 10}
    assert _item(assignment.rubric, "p1_plot")["points"] == 10
    analysis = ["p1_dt_best_depth", "p1_rf_best_depth", "p1_gb_best_depth", "p1_boosting_prefers"]
    analysis += ["p1_least_overfit", "p1_lowest_bias", "p1_why_boosting"]
    assert sum(_item(assignment.rubric, i)["points"] for i in analysis) == 20
    assert all(i.get("extra_credit") for i in assignment.items if i["part"] == "stretch")


def test_malformed_field_names_item_and_field(hw2: dict) -> None:
    _item(hw2, "p1_dt_val_curve")["band"]["k"] = -1
    message = _error(hw2)
    assert "item 'p1_dt_val_curve'" in message
    assert "field 'band.k'" in message
    assert "-1 is less than the minimum of 0" in message


def test_misspelt_field_and_missing_field_are_named(hw2: dict) -> None:
    item = _item(hw2, "p2_tuned_test_error")
    item["treshold"] = item.pop("threshold")
    message = _error(hw2)
    assert "item 'p2_tuned_test_error'" in message
    assert "field 'threshold' is required but missing" in message
    assert "field 'treshold' is not allowed in a threshold item" in message


def test_unknown_kind_lists_the_kinds(hw2: dict) -> None:
    _item(hw2, "p1_plot")["kind"] = "picture"
    message = _error(hw2)
    assert "item 'p1_plot'" in message and "field 'kind' is \"picture\"" in message
    assert "figure" in message and "free_text" in message


def test_reference_to_undefined_answer_model_or_part(hw2: dict) -> None:
    _item(hw2, "p1_dt_val_curve")["answer"] = "dt_val_rmsee"
    _item(hw2, "p3_best_model")["metric"]["model"] = "penguin_classifier"
    _item(hw2, "p1_plot")["part"] = "part9"
    message = _error(hw2)
    assert "item 'p1_dt_val_curve'" in message and "'dt_val_rmsee'" in message and "'answers'" in message
    assert "field 'metric.model' names 'penguin_classifier'" in message
    assert "item 'p1_plot'" in message and "field 'part' is 'part9'" in message


def test_model_must_run_on_the_input_a_metric_names(hw2: dict) -> None:
    _item(hw2, "p3_gentoo_rule")["metric"]["input"] = "mnist_test"
    message = _error(hw2)
    assert "item 'p3_gentoo_rule'" in message
    assert "model 'gentoo_rule' is not run on input 'mnist_test'" in message


def test_points_must_add_up_to_the_declared_total(hw2: dict) -> None:
    _item(hw2, "p1_plot")["points"] = 9
    assert "items that are not extra credit add up to 99" in _error(hw2)


def test_duplicate_ids_and_equal_ramp_ends_are_errors(hw2: dict) -> None:
    hw2["items"].append(copy.deepcopy(_item(hw2, "p1_depths")))
    hw2["total_points"] = 101
    _item(hw2, "p3_gentoo_rule")["threshold"]["zero_at"] = 0.97
    message = _error(hw2)
    assert "'p1_depths' is used by an earlier item" in message
    assert "full_at and zero_at are both 0.97" in message


def test_hidden_labels_must_live_under_public_or_hidden(hw2: dict) -> None:
    hw2["inputs"]["mnist_test"]["labels"] = "/etc/passwd"
    message = _error(hw2)
    assert "inputs entry 'mnist_test'" in message and "field 'labels'" in message


def test_not_a_mapping() -> None:
    with pytest.raises(AssignmentError, match="a rubric is a mapping"):
        validate_rubric(["items"], source="x.yaml")


def test_ramp_credit_both_directions() -> None:
    # lower is better (an error rate): full at 6.5%, nothing at 15%
    assert ramp_credit(0.05, 0.065, 0.15) == 1.0
    assert ramp_credit(0.15, 0.065, 0.15) == 0.0
    assert ramp_credit(0.1075, 0.065, 0.15) == pytest.approx(0.5)
    # higher is better (an accuracy)
    assert ramp_credit(0.98, 0.97, 0.85) == 1.0
    assert ramp_credit(0.91, 0.97, 0.85) == pytest.approx(0.5)
    assert ramp_credit(0.5, 0.97, 0.85) == 0.0
    assert ramp_credit(0.96, 0.97, 0.85, "step") == 0.0
    assert ramp_credit(float("nan"), 0.97, 0.85) == 0.0
    with pytest.raises(ValueError, match="unknown partial-credit function"):
        ramp_credit(0.9, 0.97, 0.85, "cubic")


def test_band_credit_and_half_width() -> None:
    assert band_half_width({"k": 3, "abs": 0.05}, mean=2.9, std=0.1) == pytest.approx(0.3)
    assert band_half_width({"k": 3, "abs": 0.05}, mean=2.9, std=0.0) == pytest.approx(0.05)
    assert band_half_width({"k": 3, "rel": 0.1}, mean=2.9, std=0.0) == pytest.approx(0.29)
    linear = {"function": "linear", "zero_at": 2}
    assert band_credit(0.2, 0.3, linear) == 1.0
    assert band_credit(-0.45, 0.3, linear) == pytest.approx(0.5)
    assert band_credit(0.6, 0.3, linear) == 0.0
    assert band_credit(0.31, 0.3, None) == 0.0
