"""The hw2 rubric scored end to end on built RunRecords (no kernel).

A small synthetic data directory holds exactly the files the scorer reads outside the sandbox
(hidden labels, the validation labels, the image); expected.json is summarised from three
reference-like runs with seed noise, exactly as ``grader reference`` does from real runs.
"""

from __future__ import annotations

import base64
import copy
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from grader.assignment import load_assignment
from grader.calibration import summarise_runs
from grader.datasets.files import write_csv, write_npy, write_npz
from grader.datasets.manifest import make_manifest, write_manifest
from grader.scoring import score_run, validate_result

SPECIES = np.array(["Adelie", "Chinstrap", "Gentoo"])


def ok(value: Any) -> dict[str, Any]:
    return {"status": "ok", "value": value}


@pytest.fixture(scope="module")
def hw2():
    return load_assignment("hw2")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Any]:
    """A data directory with the files scoring reads, and the true labels for building runs."""
    root = tmp_path_factory.mktemp("hw2-data")
    rng = np.random.default_rng(3)
    mnist_val_y = rng.integers(0, 10, 50)
    mnist_test_y = rng.integers(0, 10, 60)
    penguins_test = SPECIES[rng.integers(0, 3, 20)]
    image = rng.random((64, 64, 3)).astype(np.float32)
    write_npz(root / "public" / "mnist_val.npz", X=np.zeros((50, 784), np.float32), y=mnist_val_y)
    write_npy(np.zeros((60, 784), np.float32), root / "hidden" / "mnist_test_X.npy")
    write_npy(mnist_test_y, root / "hidden" / "mnist_test_y.npy")
    write_csv(pd.DataFrame({"species": penguins_test}), root / "hidden" / "penguins_test_y.csv")
    write_csv(pd.DataFrame({"flipper_length_mm": np.arange(20)}), root / "hidden" / "penguins_test_X.csv")
    write_csv(pd.DataFrame({"species": SPECIES}), root / "public" / "penguins_train.csv")
    write_npy(image, root / "public" / "image.npy")
    write_manifest(root, {**make_manifest(root), "profile": "embedded"})
    return {
        "dir": root,
        "mnist_val_y": mnist_val_y.tolist(),
        "mnist_test_y": mnist_test_y.tolist(),
        "penguins_test": penguins_test.tolist(),
        "image": image,
    }


def wrong_at(labels: list, count: int, options: list) -> list:
    """The labels with the first ``count`` replaced by a different option (so exactly that many errors)."""
    out = list(labels)
    for i in range(count):
        out[i] = next(o for o in options if o != out[i])
    return out


def plot_cell(index: int, part: str, series: list[tuple[list, list]]) -> dict[str, Any]:
    """A code cell that displayed one figure with these (x, y) lines."""
    lines = [
        {"label": "", "n": len(x), "x": [float(v) for v in x], "y": [float(v) for v in y]} for x, y in series
    ]
    axes = {"title": "", "xlabel": "", "ylabel": "", "xscale": "linear", "yscale": "linear", "legend": []}
    axes |= {"counts": {"lines": len(lines)}, "lines": lines, "scatters": [], "bars": []}
    return {
        "index": index,
        "cell_type": "code",
        "part": part,
        "status": "ok",
        "wall_s": 0.1,
        "peak_rss_mb": 1.0,
        "figures": 1,
        "output_bytes": 0,
        "code_cell": index + 1,
        "plots": [{"suptitle": "", "axes": [axes]}],
    }


def reference_run(world: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """What the hw2 reference returns, with a little seed noise on the trained numbers."""
    d = 0.02 * (seed - 1)
    curves = {
        "dt": ([5.0, 4.2, 3.3, 1.5, 0.1], [4.4, 3.5, 3.06, 3.4, 3.9]),
        "rf": ([4.8, 3.9, 2.9, 1.6, 1.0], [4.3, 3.3, 2.9, 2.85, 2.86]),
        "gb": ([3.0, 2.3, 1.5, 0.2, 0.0], [2.95, 2.83, 2.9, 3.3, 3.5]),
    }
    answers: dict[str, Any] = {"depths": ok([1, 2, 4, 8, 16])}
    for name, (train, val) in curves.items():
        answers[f"{name}_train_rmse"] = ok([round(v + d, 4) for v in train])
        answers[f"{name}_val_rmse"] = ok([round(v + d, 4) for v in val])
    rng = np.random.default_rng(seed)
    image = world["image"].astype(np.float64)
    pe_image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1)
    raw_image = np.clip(image + rng.normal(0, 0.15, image.shape), 0, 1)
    pe_psnr = 10 * math.log10(1 / float(np.mean((pe_image - image) ** 2)))
    answers.update(
        dt_best_depth=ok(4),
        rf_best_depth=ok(8),
        gb_best_depth=ok(2),
        boosting_prefers=ok("smaller"),
        least_overfit_model=ok("random_forest"),
        lowest_bias_model=ok("gradient_boosting"),
        sgd_train_losses=ok([2.3 - 0.1 * i + d for i in range(10)]),
        sgd_val_losses=ok([2.25 - 0.1 * i + d for i in range(10)]),
        sgd_val_error=ok((18 + seed) / 50),  # what sgd_model gets wrong on the 50 validation digits
        lr_rates=ok([0.003, 0.01, 0.03, 0.1, 0.3]),
        lr_val_errors=ok([0.6, 0.37, 0.15, 0.09, 0.08]),
        tuned_train_losses=ok([0.5, 0.2, 0.1]),
        tuned_val_losses=ok([0.3, 0.2, 0.18]),
        tuned_val_error=ok(2 / 50),
        scatter_features=ok(["bill_length_mm", "bill_depth_mm"]),
        penguin_tree_text=ok(
            "|--- flipper_length_mm <= 206.50\n|   |--- class: Adelie\n|--- flipper_length_mm >  206.50\n|   |--- class: Gentoo\n"
        ),
        gentoo_rule_features=ok(["flipper_length_mm"]),
        gentoo_rule_accuracy=ok(0.976),
        gentoo_rule_2_features=ok(["body_mass_g", "bill_depth_mm"]),
        penguin_model_features=ok(["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]),
        best_model_name=ok("logistic regression"),
        best_cv_accuracy=ok(0.9925),
        pe_image=ok(pe_image.tolist()),
        raw_image=ok(raw_image.tolist()),
        pe_psnr=ok(pe_psnr),
        raw_psnr=ok(12.0),
    )
    digits = list(range(10))
    penguins = world["penguins_test"]
    gentoo = [s == "Gentoo" for s in penguins]
    predictions = {
        "mnist_tuned": {
            "mnist_val": ok(wrong_at(world["mnist_val_y"], 2, digits)),
            "mnist_test": ok(wrong_at(world["mnist_test_y"], 2, digits)),  # 3.3% error
        },
        "mnist_given": {"mnist_val": ok(wrong_at(world["mnist_val_y"], 18 + seed, digits))},
        "gentoo_rule": {"penguins_test": ok(gentoo)},
        "gentoo_rule_2": {"penguins_test": ok(gentoo)},
        "penguin_clf": {"penguins_test": ok(list(penguins))},
        "penguin_cv": {"penguins_train": ok(0.9925)},
    }
    value = {name: entry["value"] for name, entry in answers.items()}
    epochs = list(range(1, 11))
    plots = [  # what the reference's figures show (grader.engine.figures), one cell each
        ("part1", [(value["depths"], value[f"{m}_{s}_rmse"]) for s in ("train", "val")])
        for m in ("dt", "rf", "gb")
    ] + [
        ("part2", [(epochs, value["sgd_train_losses"]), (epochs, value["sgd_val_losses"])]),
        ("part2", [(value["lr_rates"], value["lr_val_errors"])]),
    ]
    return {
        "schema_version": 1,
        "id": f"reference-seed{seed}",
        "notebook": "/reference/hw2/hw2_reference.ipynb",
        "status": "completed",
        "message": "ran 20 code cells: 20 ok",
        "backend": "bwrap",
        "isolated": True,
        "cells": [plot_cell(index, part, series) for index, (part, series) in enumerate(plots)],
        "limits_fired": [],
        "telemetry": {"wall_s": 180.0},
        "harvest": {
            "status": "ok",
            "answers": answers,
            "predictions": predictions,
            "free_text": {"p1_why_boosting": ok("Weak learners."), "p3_feature_pair": ok("Bills separate.")},
            "figures": {"part1": 3, "part2": 4, "part3": 2, "stretch": 2},
        },
    }


def template_run(hw2) -> dict[str, Any]:
    none = {"status": "none", "message": "still None"}
    return {
        "schema_version": 1,
        "id": "template",
        "notebook": "/student_template/hw2/hw2.ipynb",
        "status": "completed",
        "message": "ran 20 code cells: 20 ok",
        # the template's helper cells that draw (matched by content at scoring, so only a notebook
        # that kept them has them discounted)
        "cells": [
            {"index": index, "part": part, "status": "ok", "figures": 1, "source_sha256": f"template-{part}"}
            for index, part in enumerate(("part2", "part3", "stretch"))
        ],
        "limits_fired": [],
        "telemetry": {},
        "harvest": {
            "status": "ok",
            "answers": {name: dict(none) for name in hw2.answers},
            "predictions": {
                model: {input_name: dict(none) for input_name in spec["inputs"]}
                for model, spec in hw2.models.items()
            },
            "free_text": {t["id"]: {"status": "none", "message": "placeholder"} for t in hw2.free_text},
            "figures": {"part2": 1, "part3": 1, "stretch": 1},  # the template's helper cells draw these
        },
    }


@pytest.fixture(scope="module")
def expected(hw2, world) -> dict[str, Any]:
    runs = [(seed, reference_run(world, seed)) for seed in range(3)]
    return summarise_runs(hw2, runs, world["dir"], template_run=template_run(hw2))


def by_id(document: dict) -> dict[str, dict]:
    return {item["id"]: item for item in document["items"]}


def test_reference_scores_full_automatic_marks_three_times(hw2, world, expected) -> None:
    documents = [score_run(reference_run(world, 0), hw2, expected, world["dir"]) for _ in range(3)]
    assert documents[0] == documents[1] == documents[2]
    document = documents[0]
    assert validate_result(document) == []
    problems = {i["id"]: i["message"] for i in document["items"] if i["status"] not in ("passed", "pending")}
    assert problems == {}
    assert document["auto_score"] == document["auto_max_score"] == 92
    assert document["pending_manual"] == 8 and document["extra_credit"] == 10
    assert document["score"] == 102 and document["max_score"] == 100
    assert [p["score"] for p in document["parts"]] == [35, 35, 22, 10]


def test_template_scores_zero_without_errors(hw2, world, expected) -> None:
    document = score_run(template_run(hw2), hw2, expected, world["dir"])
    assert validate_result(document) == []
    # the unanswered free text (8 points) waits for a person with the note "not answered"
    assert document["score"] == 0 and document["auto_score"] == 0 and document["pending_manual"] == 8
    items = by_id(document)
    assert {i["status"] for i in items.values() if i["kind"] != "free_text"} == {"failed"}
    assert {i["status"] for i in items.values() if i["kind"] == "free_text"} == {"pending"}
    assert items["p1_dt_val_curve"]["message"] == "`dt_val_rmse` is still None: fill it in Part 1"
    assert items["p2_tuned_test_error"]["message"] == "`mnist_model` is still None: fill it in Part 2"
    assert items["p3_gentoo_rule"]["message"] == "`gentoo_rule` is still None: fill it in Part 3"
    assert items["p2_loss_figure"]["message"].startswith("Part 2: what a plot shows is checked against")
    assert "none of them holds numbers" in items["p2_loss_figure"]["message"]


def test_forged_numbers_with_broken_models_lose_hidden_and_consistency_items(hw2, world, expected) -> None:
    forged = reference_run(world, 0)
    predictions = forged["harvest"]["predictions"]
    predictions["mnist_tuned"] = {
        "mnist_val": ok([0] * 50),  # an untrained network: one class for everything
        "mnist_test": ok([0] * 60),
    }
    predictions["gentoo_rule"] = {"penguins_test": {"status": "error", "message": "KeyError: 'flipper'"}}
    predictions["gentoo_rule_2"] = {"penguins_test": ok([True] * 20)}
    predictions["penguin_clf"] = {
        "penguins_test": {"status": "error", "message": "NotFittedError: not fitted"}
    }
    predictions["penguin_cv"] = {"penguins_train": ok(0.44)}
    items = by_id(score_run(forged, hw2, expected, world["dir"]))
    lost = ["p2_tuned_test_error", "p2_tuned_val_consistency", "p3_gentoo_rule", "p3_gentoo_rule_2"]
    lost += ["p3_best_model", "p3_cv_consistency"]
    assert {k: items[k]["points"] for k in lost} == dict.fromkeys(lost, 0)
    assert "report the number your own model achieves" in items["p2_tuned_val_consistency"]["message"]
    assert "you report a 5-fold cross-validation accuracy of 99.2%" in items["p3_cv_consistency"]["message"]
    kept = ["p1_dt_val_curve", "p1_plot", "p2_sgd_val_error", "p1_least_overfit", "x_pe_psnr"]
    assert {k: items[k]["status"] for k in kept} == dict.fromkeys(kept, "passed")


def test_full_profile_uses_its_own_bar(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    run["harvest"]["predictions"]["mnist_tuned"]["mnist_test"] = ok(
        wrong_at(world["mnist_test_y"], 3, list(range(10)))
    )
    embedded = by_id(score_run(run, hw2, expected, world["dir"]))["p2_tuned_test_error"]
    full = by_id(score_run(run, hw2, expected, world["dir"], profile="full"))["p2_tuned_test_error"]
    assert embedded["status"] == "passed" and embedded["evidence"]["value"] == pytest.approx(0.05)
    assert full["status"] == "partial" and full["evidence"]["full_at"] == 0.025
    assert full["points"] == pytest.approx(round(12 * (0.06 - 0.05) / (0.06 - 0.025), 2))
    assert "full marks at ≤ 2.5%, none at ≥ 6.0%" in full["message"]
    band = by_id(score_run(run, hw2, expected, world["dir"], profile="full"))["p2_sgd_val_error"]
    assert band["status"] == "error"  # embedded bands say nothing about full MNIST
    assert "calibrated on the 'embedded' data, not 'full'" in band["message"]


def test_each_profile_has_its_own_expected_file(hw2) -> None:
    from grader.expected import expected_path_for

    assert expected_path_for(hw2, "embedded") == hw2.expected_path
    assert expected_path_for(hw2, None) == hw2.expected_path
    assert expected_path_for(hw2, "full") == hw2.expected_path.with_name("expected.full.json")


def test_positional_encoding_evidence_holds_both_images(hw2, world, expected) -> None:
    item = by_id(score_run(reference_run(world, 0), hw2, expected, world["dir"]))["x_pe_psnr"]
    evidence = item["evidence"]
    assert evidence["psnr_db"] == pytest.approx(evidence["value"]) and evidence["psnr_db"] > 30
    for key in ("image_png", "original_png"):
        assert base64.b64decode(evidence[key]).startswith(b"\x89PNG")


def test_choices_accept_answers_tied_within_noise(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    rf_val = [4.3, 3.3, 2.9, 2.85, 2.86]  # depths 8 and 16 differ by 0.01: a tie
    run["harvest"]["answers"]["rf_val_rmse"] = ok(rf_val)
    run["harvest"]["answers"]["rf_best_depth"] = ok(16)
    item = by_id(score_run(run, hw2, expected, world["dir"]))["p1_rf_best_depth"]
    assert item["status"] == "passed" and "(tied within noise with 8)" in item["message"]
    run["harvest"]["answers"]["rf_best_depth"] = ok(1)
    item = by_id(score_run(run, hw2, expected, world["dir"]))["p1_rf_best_depth"]
    assert item["status"] == "failed" and "your own curves point to 16 or 8" in item["message"]
    run["harvest"]["answers"]["least_overfit_model"] = ok("decision_tree")
    item = by_id(score_run(run, hw2, expected, world["dir"]))["p1_least_overfit"]
    assert item["status"] == "failed" and "random_forest" in item["message"]


def test_self_check_leaves_hidden_items_for_submission(hw2, world, expected) -> None:
    run = copy.deepcopy(reference_run(world, 0))
    skipped = {"status": "skipped", "message": "hidden input set not run in a self-check"}
    run["harvest"]["predictions"]["mnist_tuned"]["mnist_test"] = dict(skipped)
    for model in ("gentoo_rule", "gentoo_rule_2", "penguin_clf"):
        run["harvest"]["predictions"][model]["penguins_test"] = dict(skipped)
    document = score_run(run, hw2, expected, world["dir"], public_only=True)
    items = by_id(document)
    hidden = ["p2_tuned_test_error", "p3_gentoo_rule", "p3_gentoo_rule_2", "p3_best_model"]
    assert {k: items[k]["status"] for k in hidden} == dict.fromkeys(hidden, "pending")
    assert document["pending_on_submission"] == 12 + 6 + 2 + 5
    assert items["p2_tuned_val_consistency"]["status"] == "passed"
    assert document["auto_score"] == 92 - 25


def test_declared_checks_give_partial_credit_and_name_the_problem(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    answers = run["harvest"]["answers"]
    answers["lr_rates"] = ok([0.01, 0.1, 1.0])
    answers["lr_val_errors"] = ok([0.4, 0.1, 0.9])
    answers["gentoo_rule_2_features"] = ok(["flipper_length_mm", "body_mass_g"])
    answers["penguin_tree_text"] = ok("DecisionTreeClassifier(max_depth=3)")
    items = by_id(score_run(run, hw2, expected, world["dir"]))
    sweep = items["p2_lr_sweep"]
    assert sweep["status"] == "partial" and sweep["points"] == pytest.approx(3 * 3 / 4)
    assert sweep["message"] == "the learning rates swept (`lr_rates`) should have at least 4 items; it has 3"
    disjoint = items["p3_rule2_disjoint"]
    assert disjoint["points"] == 0
    assert "shares flipper_length_mm with `gentoo_rule_features`; use other features" in disjoint["message"]
    tree = items["p3_tree_printed"]
    assert tree["points"] == 0 and "does not look right" in tree["message"]


def test_image_of_the_wrong_shape_is_named(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    run["harvest"]["answers"]["pe_image"] = ok([[[0.5, 0.5, 0.5]] * 32] * 32)
    items = by_id(score_run(run, hw2, expected, world["dir"]))
    assert items["x_pe_psnr"]["points"] == 0
    assert items["x_pe_psnr"]["message"] == (
        "`pe_image` should be an array of shape (64, 64, 3); got shape (32, 32, 3)"
    )
    assert items["x_pe_psnr_consistency"]["status"] == "failed"
    assert items["x_pe_beats_raw"]["status"] == "failed"


def test_a_rate_reported_in_percent_is_the_same_number(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    run["harvest"]["answers"]["tuned_val_error"] = ok(100 * 2 / 50)  # 4.0 (%) for an error rate of 0.04
    item = by_id(score_run(run, hw2, expected, world["dir"]))["p2_tuned_val_consistency"]
    assert item["status"] == "passed", item["message"]
    assert "you report a validation error of 4.0%" in item["message"]
    run["harvest"]["answers"]["tuned_val_error"] = ok(140.0)  # not a percentage either
    item = by_id(score_run(run, hw2, expected, world["dir"]))["p2_tuned_val_consistency"]
    assert item["points"] == 0 and "it should lie between 0 and 1" in item["message"]


def test_a_number_its_own_model_contradicts_loses_its_band_item_too(hw2, world, expected) -> None:
    run = reference_run(world, 0)
    honest = by_id(score_run(run, hw2, expected, world["dir"]))
    assert honest["p2_sgd_val_error"]["status"] == "passed"
    run["harvest"]["answers"]["sgd_val_error"] = ok(honest["p2_sgd_val_error"]["evidence"]["value"] + 0.04)
    items = by_id(score_run(run, hw2, expected, world["dir"]))
    assert items["p2_sgd_val_consistency"]["points"] == 0
    band = items["p2_sgd_val_error"]
    assert band["points"] == 0 and band["status"] == "failed"
    assert band["message"].startswith(
        "`sgd_val_error` is not what your own model gives (you report a validation"
    )
    assert "Without that, it earns nothing as a computed result" in band["message"]
    # without a model to recompute it from, nothing contradicts the number: the band judges it
    del run["harvest"]["predictions"]["mnist_given"]
    assert by_id(score_run(run, hw2, expected, world["dir"]))["p2_sgd_val_error"]["points"] > 0
