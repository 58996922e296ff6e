"""Calibration summaries, threshold margins and the stale-expected.json check."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from grader.assignment import load_assignment
from grader.calibration import CalibrationError, summarise_runs
from grader.datasets import build_data
from grader.expected import check_current, release_margins, summarise, threshold_margin

TOY_DIR = Path(__file__).resolve().parent / "assignments" / "toy"


def ok(value):
    return {"status": "ok", "value": value}


@pytest.fixture(scope="module")
def toy():
    return load_assignment(TOY_DIR / "toy.yaml")


@pytest.fixture(scope="module")
def data_dir(toy, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy-data")
    build_data(toy, out)
    return out


def reference_run(data_dir: Path, val_acc: list[float], figures: int = 1) -> dict:
    val = pd.read_csv(data_dir / "public" / "val.csv")["species"].tolist()
    test = pd.read_csv(data_dir / "hidden" / "test_y.csv")["species"].tolist()
    return {
        "status": "completed",
        "message": "ok",
        "cells": [],
        "telemetry": {"wall_s": 2.5},
        "backend": "bwrap",
        "harvest": {
            "answers": {
                "depths": ok([1, 2, 3, 4, 5]),
                "train_acc": ok([0.95, 0.97, 0.98, 0.99, 1.0]),
                "val_acc": ok(val_acc),
                "best_depth": ok(2),
                "clf_features": ok(["petal_length", "petal_width"]),
                "val_accuracy": ok(1.0),
            },
            "predictions": {"classifier": {"iris_val": ok(val), "iris_test": ok(test)}},
            "free_text": {"why_model": ok("because")},
            "figures": {"part1": figures},
        },
    }


def test_summarise_numbers_curves_and_candidates() -> None:
    number = summarise([1.0, 2.0, 3.0])
    assert number["mean"] == 2.0 and number["std"] == pytest.approx(1.0)  # sample standard deviation
    assert (number["min"], number["max"], number["n"], number["values"]) == (1.0, 3.0, 3, [1.0, 2.0, 3.0])
    assert summarise([5.0])["std"] == 0.0
    curve = summarise([[1.0, 4.0], [3.0, 4.0]])
    assert curve["mean"] == [2.0, 4.0] and curve["std"][1] == 0.0 and curve["n"] == 2
    choice = summarise([{"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 2.0}])
    assert choice["a"]["mean"] == 2.0 and choice["b"]["std"] == 0.0
    with pytest.raises(ValueError, match="different lengths"):
        summarise([[1.0], [1.0, 2.0]])


def test_threshold_margin_in_both_directions() -> None:
    error_item = {
        "threshold": {"full_at": 0.065, "zero_at": 0.15},
        "profiles": {"full": {"full_at": 0.025, "zero_at": 0.06}},
    }
    observed = summarise([0.050, 0.052, 0.054])
    embedded = threshold_margin(error_item, observed, "embedded")
    assert embedded["margin"] == pytest.approx(0.013) and embedded["cleared"]
    assert embedded["margin_in_std"] == pytest.approx(0.013 / 0.002)
    full = threshold_margin(error_item, observed, "full")
    assert full["full_at"] == 0.025 and not full["cleared"] and full["margin"] < 0
    accuracy_item = {"threshold": {"full_at": 0.97, "zero_at": 0.85}}
    close = threshold_margin(accuracy_item, summarise([0.975, 0.99, 0.98]), "embedded")
    assert close["margin"] == pytest.approx(0.98166667 - 0.97) and not close["cleared"]  # < 3 sd of 0.0076


def test_summarise_runs_measures_noise_over_seeds(toy, data_dir) -> None:
    runs = [
        (0, reference_run(data_dir, [0.90, 0.96, 0.96, 0.96, 0.96])),
        (1, reference_run(data_dir, [0.92, 1.00, 0.96, 0.96, 0.96])),
        (2, reference_run(data_dir, [0.94, 0.94, 0.96, 0.96, 0.96])),
    ]
    expected = summarise_runs(toy, runs, data_dir)
    curve = expected["items"]["t1_val_curve"]["observed"]
    assert curve["mean"][0] == pytest.approx(0.92) and curve["std"][0] == pytest.approx(0.02)
    assert curve["std"][2] == 0.0
    assert expected["items"]["t1_best_depth"]["observed"]["2"]["mean"] == pytest.approx(0.9666, abs=1e-3)
    assert "t2_why_model" not in expected["items"]  # free text has nothing to calibrate
    margin = expected["items"]["t2_hidden_accuracy"]["threshold"]
    assert margin["reference_mean"] == 1.0 and margin["cleared"]
    assert [m["item"] for m in release_margins(expected)] == ["t2_hidden_accuracy"]
    prov = expected["provenance"]
    assert prov["seeds"] == [0, 1, 2] and prov["rubric_sha256"] == toy.rubric_sha256()
    assert set(prov["data_files"]) == {
        "public/train.csv",
        "public/val.csv",
        "hidden/test_X.csv",
        "hidden/test_y.csv",
    }
    assert {"numpy", "scikit-learn", "torch", "python"} <= set(prov["libraries"])
    assert check_current(toy, expected, data_dir) == []


def test_a_reference_that_does_not_answer_is_named(toy, data_dir) -> None:
    broken = reference_run(data_dir, [0.9] * 5)
    broken["harvest"]["answers"]["val_accuracy"] = {"status": "none", "message": "still None"}
    crashed = reference_run(data_dir, [0.9] * 5)
    crashed["status"], crashed["message"] = "timeout", "cell 4 ran past 600 s"
    with pytest.raises(CalibrationError) as caught:
        summarise_runs(toy, [(0, reference_run(data_dir, [0.9] * 5)), (1, broken), (2, crashed)], data_dir)
    text = str(caught.value)
    assert "seed 1: item t2_val_consistency: `val_accuracy` is still None" in text
    assert "seed 2: the reference run ended with timeout: cell 4 ran past 600 s" in text


def test_stale_expected_names_what_changed(toy, data_dir, tmp_path) -> None:
    expected = summarise_runs(toy, [(0, reference_run(data_dir, [0.9] * 5))], data_dir)
    changed_data = tmp_path / "data"
    shutil.copytree(data_dir, changed_data)
    labels = changed_data / "hidden" / "test_y.csv"
    labels.write_text(labels.read_text().replace("setosa", "virginica", 1))
    build_manifest = json.loads((changed_data / "MANIFEST.json").read_text())
    from grader.datasets.manifest import make_manifest, write_manifest

    write_manifest(changed_data, {**make_manifest(changed_data), "profile": build_manifest["profile"]})
    assert check_current(toy, expected, changed_data) == [
        f"data file hidden/test_y.csv changed since calibration ({expected['provenance']['created_at']})"
    ]
    rubric_copy = tmp_path / "toy"
    shutil.copytree(TOY_DIR, rubric_copy, ignore=shutil.ignore_patterns("expected.json"))
    text = (rubric_copy / "toy.yaml").read_text().replace("full_at: 0.85", "full_at: 0.9")
    (rubric_copy / "toy.yaml").write_text(text)
    reasons = check_current(load_assignment(rubric_copy / "toy.yaml"), expected, data_dir)
    assert reasons == [
        f"the rubric toy.yaml changed since expected.json was calibrated ({expected['provenance']['created_at']})"
    ]
    partial = copy.deepcopy(expected)
    del partial["items"]["t1_val_curve"]
    partial["profile"] = "full"
    reasons = check_current(toy, partial, data_dir)
    assert "item t1_val_curve has no calibrated values" in reasons
    assert "expected.json was calibrated on profile 'full'; the data is 'default'" in reasons


def test_committed_toy_expected_is_current(toy, data_dir) -> None:
    expected = json.loads(toy.expected_path.read_text(encoding="utf-8"))
    assert check_current(toy, expected, data_dir) == []
    assert expected["provenance"]["seeds"] == [0, 1, 2]
    assert all(run["status"] == "completed" for run in expected["runs"])


def test_reference_command_check_and_reuse(toy, data_dir, tmp_path) -> None:
    from click.testing import CliRunner

    from grader.commands.reference import reference

    runner = CliRunner()
    current = runner.invoke(reference, [str(TOY_DIR / "toy.yaml"), "--data", str(data_dir), "--check"])
    assert current.exit_code == 0 and "is current" in current.output

    kept = tmp_path / "kept" / "run"
    kept.mkdir(parents=True)
    for seed, first in enumerate([0.90, 0.94]):
        (kept / f"reference-seed{seed}.json").write_text(
            json.dumps(reference_run(data_dir, [first] + [0.96] * 4))
        )
    out = tmp_path / "expected.json"
    args = [
        str(TOY_DIR / "toy.yaml"),
        "--data",
        str(data_dir),
        "--reuse",
        str(kept.parent),
        "--out",
        str(out),
    ]
    reused = runner.invoke(reference, args)
    assert reused.exit_code == 0, reused.output
    assert "t2_hidden_accuracy: reference 1 ± 0, full marks at 0.85" in reused.output
    written = json.loads(out.read_text())
    assert written["provenance"]["seeds"] == [0, 1]
    assert written["provenance"]["runs_reused_from"] == str(kept.parent.resolve())
    assert written["items"]["t1_val_curve"]["observed"]["mean"][0] == pytest.approx(0.92)

    stale = copy.deepcopy(written)
    stale["provenance"]["rubric_sha256"] = "0" * 64
    out.write_text(json.dumps(stale))
    checked = runner.invoke(
        reference, [str(TOY_DIR / "toy.yaml"), "--data", str(data_dir), "--out", str(out), "--check"]
    )
    assert checked.exit_code == 1
    assert "stale: the rubric toy.yaml changed since expected.json was calibrated" in checked.output
