"""Audit re-runs through the real engine: the student's own training function is run on one
configuration drawn for the notebook, and the reported numbers keep their points only when it
reproduces them.

The assignment is built here: a numpy "training function" (gradient descent on a linear model),
the per-epoch losses of a given configuration, and a learning-rate sweep. Two audits: one of the
given configuration, one of a rate drawn from the student's own sweep.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
import yaml
from hw2_items import PART1_CURVES, PART1_RESTING_ON_CURVES
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.assignment import AssignmentError, load_assignment
from grader.engine import harvest_audits, run_notebook
from grader.keys.plan import harvest_plan, plan_gaps
from grader.limits import Limits
from grader.scoring import score_run, validate_result

RUBRIC = {
    "schema_version": 1,
    "assignment": "audit_toy",
    "title": "Audit re-runs",
    "data": {"static": {"dir": "data"}},
    "profiles": {"default": {"default": True}},
    "parts": [{"id": "part1", "title": "Gradient descent", "heading": "Part 1"}],
    "answers": {
        "given_losses": {"type": "list", "items": "number", "length": 5, "part": "part1"},
        "lr_rates": {"type": "list", "items": "number", "min_length": 2, "part": "part1"},
        "lr_final": {"type": "list", "items": "number", "min_length": 2, "part": "part1"},
    },
    "audits": {
        "given": {
            "part": "part1",
            "function": "train",
            "keep": "Linear and train(model, lr, epochs)",
            "budget_s": 8,
            "steps": [
                {"call": "Linear", "name": "model"},
                {
                    "call": "train",
                    "args": [{"ref": "model"}],
                    "kwargs": {"lr": {"param": "lr"}, "epochs": 5},
                    "returns": ["losses", "final"],
                },
            ],
            "configurations": [
                {
                    "id": "given",
                    "params": {"lr": 0.1},
                    "compare": [
                        {
                            "measure": "losses",
                            "reported": "given_losses",
                            "items": ["given_curve"],
                            "band": {"abs": 0.01},
                            "x_label": "epoch",
                        }
                    ],
                }
            ],
        },
        "sweep": {
            "part": "part1",
            "function": "train",
            "keep": "Linear and train(model, lr, epochs)",
            "budget_s": 8,
            "steps": [
                {"call": "Linear", "name": "model"},
                {
                    "call": "train",
                    "args": [{"ref": "model"}],
                    "kwargs": {"lr": {"param": "lr"}, "epochs": 5},
                    "returns": ["losses", "final"],
                },
            ],
            "configurations": [
                {
                    "id": "rate",
                    "sweep": {"answer": "lr_rates", "param": "lr"},
                    "compare": [
                        {
                            "measure": "final",
                            "reported": "lr_final",
                            "at": "sweep",
                            "items": ["sweep_check"],
                            "band": {"abs": 0.01},
                        }
                    ],
                }
            ],
        },
    },
    "items": [
        {
            "id": "given_curve",
            "part": "part1",
            "kind": "answer_check",
            "title": "Loss per epoch of the given configuration",
            "points": 2,
            "checks": [{"answer": "given_losses", "length": 5, "items": "number", "label": "the losses"}],
        },
        {
            "id": "sweep_check",
            "part": "part1",
            "kind": "answer_check",
            "title": "Learning-rate sweep",
            "points": 3,
            "checks": [
                {"answer": "lr_rates", "min_length": 2, "items": "number", "label": "the rates"},
                {
                    "answer": "lr_final",
                    "same_length_as": "lr_rates",
                    "items": "number",
                    "label": "the final losses",
                },
            ],
        },
    ],
}

SETUP = """import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)"""

TRAIN = '''class Linear:
    def __init__(self):
        self.w = np.zeros(3)


def train(model, lr, epochs):
    """Full-batch gradient descent; (mean squared error per epoch, the last one)."""
    losses = []
    for _ in range(epochs):
        model.w -= lr * 2 * X.T @ (X @ model.w - y) / len(y)
        losses.append(float(np.mean((X @ model.w - y) ** 2)))
    return losses, losses[-1]'''

HONEST = """given_losses, _ = train(Linear(), lr=0.1, epochs=5)
lr_rates = [0.01, 0.03, 0.1, 0.3]
lr_final = [train(Linear(), lr=lr, epochs=5)[1] for lr in lr_rates]"""

TYPED = """given_losses, _ = train(Linear(), lr=0.1, epochs=5)
lr_rates = [0.01, 0.03, 0.1, 0.3]
lr_final = [0.9, 0.5, 0.2, 0.05]  # typed in, never computed"""

SLOW_TRAIN = """import time
class Linear:
    pass
def train(model, lr, epochs):
    while True:
        time.sleep(0.1)"""


def notebook(path: Path, *cells: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell("# Part 1: gradient descent"), *map(new_code_cell, cells)])
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def assignment(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit-toy")
    (root / "data" / "public").mkdir(parents=True)
    (root / "data" / "public" / "README.txt").write_text("no data: the notebook makes its own\n")
    (root / "audits.yaml").write_text(yaml.safe_dump(RUBRIC, sort_keys=False))
    return load_assignment(root / "audits.yaml")


def grade(assignment, nb: Path, run_id: str) -> tuple[dict, dict]:
    data = assignment.rubric_path.parent / "data"
    run = run_notebook(
        nb, assignment, data, nb.parent / "out", run_id=run_id, limits=Limits(harvest_timeout=60)
    )
    assert run["status"] == "completed", run["message"]
    document = score_run(run, assignment, None, data)
    assert validate_result(document) == []
    return run, {item["id"]: item for item in document["items"]}


@pytest.mark.slow
def test_honest_notebook_passes_both_audits(assignment, tmp_path):
    run, items = grade(assignment, notebook(tmp_path / "honest.ipynb", SETUP, TRAIN, HONEST), "honest")
    audits = run["harvest"]["audits"]
    assert audits["given"]["status"] == "ok" and audits["given"]["params"] == {"lr": 0.1}
    assert audits["sweep"]["status"] == "ok" and audits["sweep"]["index"] in range(4)
    for item_id in ("given_curve", "sweep_check"):
        assert items[item_id]["status"] == "passed", items[item_id]["message"]
        assert "audited:" in items[item_id]["message"]
    assert "audited: your train() with lr=" in items["sweep_check"]["message"]


@pytest.mark.slow
def test_typed_in_sweep_loses_its_points_and_shows_both_numbers(assignment, tmp_path):
    run, items = grade(assignment, notebook(tmp_path / "typed.ipynb", SETUP, TRAIN, TYPED), "typed")
    sweep = items["sweep_check"]
    assert sweep["points"] == 0 and sweep["status"] == "failed"
    index = run["harvest"]["audits"]["sweep"]["index"]
    reported = [0.9, 0.5, 0.2, 0.05][index]
    rerun = run["harvest"]["audits"]["sweep"]["measures"]["final"]["value"]
    assert f"lr_final[{index}] does not come from your code" in sweep["message"]
    assert f"reported {reported:.3g}" in sweep["message"] and f"gives {rerun:.3g}" in sweep["message"]
    assert items["given_curve"]["status"] == "passed"  # the given configuration is honest


@pytest.mark.slow
def test_missing_or_stuck_training_function_says_what_to_keep(assignment, tmp_path):
    missing = notebook(tmp_path / "missing.ipynb", SETUP, TRAIN, HONEST, "del train")
    run, items = grade(assignment, missing, "missing")
    assert run["harvest"]["audits"]["given"]["status"] == "missing"
    for item_id in ("given_curve", "sweep_check"):
        message = items[item_id]["message"]
        assert items[item_id]["points"] == 0
        assert "train is not defined" in message
        assert "keep Linear and train(model, lr, epochs) defined when the notebook ends" in message

    stuck = notebook(tmp_path / "stuck.ipynb", SETUP, TRAIN, HONEST, SLOW_TRAIN)
    run, items = grade(assignment, stuck, "stuck")
    assert run["harvest"]["audits"]["given"]["status"] == "timeout"
    assert "did not finish within its 16 s" in items["given_curve"]["message"]
    assert items["given_curve"]["points"] == 0


@pytest.mark.slow
def test_the_drawn_configuration_is_the_notebooks_own_and_stable(assignment, tmp_path):
    nb = notebook(tmp_path / "twice.ipynb", SETUP, TRAIN, HONEST)
    first, _ = grade(assignment, nb, "first")
    second, _ = grade(assignment, nb, "second")
    assert first["harvest"]["audits"]["sweep"]["index"] == second["harvest"]["audits"]["sweep"]["index"]
    key = hashlib.sha256(nb.read_bytes()).hexdigest()
    options = [harvest_audits.Candidate("rate", i, {"lr": lr}) for i, lr in enumerate([0.01, 0.03, 0.1, 0.3])]
    drawn = harvest_audits.draw("sweep", options, key)
    assert drawn is not None and drawn.index == first["harvest"]["audits"]["sweep"]["index"]
    # another notebook may draw another rate: over many keys every rate is drawn
    assert {harvest_audits.draw("sweep", options, str(k)).index for k in range(64)} == {0, 1, 2, 3}  # type: ignore[union-attr]


# -- hw2's own audit: Part 2 of the reference notebook on the embedded data ------------------------

REPO = Path(__file__).resolve().parents[1]
PART2_CELLS = ("setup", "p2-intro", "p2-data", "p2-helpers", "p2-answers", "p2-given", "p2-sweep")
GATED = {
    "given": ["p2_sgd_train_losses", "p2_sgd_val_losses", "p2_sgd_val_error"],
    "sweep": ["p2_lr_sweep"],
}


def hw2_part2(path: Path, extra: str = "") -> Path:
    """The reference's setup and Part 2 up to the sweep (no tuned network: not needed here)."""
    reference = nbformat.read(REPO / "reference" / "hw2" / "hw2_reference.ipynb", as_version=4)
    cells = [c for c in reference.cells if c.get("id") in PART2_CELLS]
    if extra:
        cells.append(new_code_cell(extra))
    nbformat.write(new_notebook(cells=cells), str(path))
    return path


@pytest.fixture(scope="module")
def hw2(tmp_path_factory):
    import json

    from grader.datasets import build_data

    assignment = load_assignment("hw2")
    data = tmp_path_factory.mktemp("hw2-audit-data")
    build_data(assignment, data)
    expected = json.loads((REPO / "reference" / "hw2" / "expected.json").read_text())
    return assignment, data, expected


def grade_hw2(hw2, nb: Path) -> tuple[dict, dict]:
    assignment, data, expected = hw2
    # the grader's own interpreter (torch CPU): no kernel environment to build for this check
    run = run_notebook(nb, assignment, data, nb.parent / "out", run_id=nb.stem, kernel=None)
    assert run["status"] == "completed", run["message"]
    document = score_run(run, assignment, expected, data)
    return run, {item["id"]: item for item in document["items"]}


@pytest.mark.slow
def test_hw2_reference_part2_passes_its_audit_and_typed_numbers_do_not(hw2, tmp_path):
    run, items = grade_hw2(hw2, hw2_part2(tmp_path / "reference.ipynb"))
    audits = {k: v for k, v in run["harvest"]["audits"].items() if k.startswith("p2_training@")}
    # draw: all: the given configuration and each of the reference's five rates
    assert sorted(e["configuration"] for e in audits.values()) == ["given"] + ["sweep"] * 5
    assert all(entry["status"] == "ok" for entry in audits.values()), audits
    for item_id in GATED["given"] + GATED["sweep"]:
        assert items[item_id]["status"] == "passed", items[item_id]["message"]
        assert "audited: your train() with lr=" in items[item_id]["message"]
    assert items["p2_sgd_val_consistency"]["status"] == "passed", items["p2_sgd_val_consistency"]["message"]

    # far from what train() gives at every rate (0.59, 0.34, 0.18, 0.11, 0.08 for the reference)
    typed = "sgd_train_losses = [v - 0.4 for v in sgd_train_losses]\n"
    typed += "sgd_val_losses = [v - 0.4 for v in sgd_val_losses]\nlr_val_errors = [0.05, 0.05, 0.9, 0.5, 0.5]"
    run, items = grade_hw2(hw2, hw2_part2(tmp_path / "typed.ipynb", typed))
    for item_id in ["p2_sgd_train_losses", "p2_sgd_val_losses", "p2_lr_sweep"]:
        assert items[item_id]["points"] == 0, items[item_id]["message"]
        assert "does not come from your code" in items[item_id]["message"]
    assert "that is the configuration the assignment gives" in items["p2_sgd_train_losses"]["message"]
    assert items["p2_sgd_val_error"]["status"] == "passed"  # not typed in: still its own


# -- the rubric key (no kernel) --------------------------------------------------------------------


def write_rubric(tmp_path: Path, rubric: dict) -> Path:
    (tmp_path / "data" / "public").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "audits.yaml"
    path.write_text(yaml.safe_dump(rubric, sort_keys=False))
    return path


def test_an_audit_naming_what_nothing_defines_is_refused_with_the_place(tmp_path):
    import copy

    rubric = copy.deepcopy(RUBRIC)
    sweep = rubric["audits"]["sweep"]
    sweep["steps"][1]["args"] = [{"ref": "modle"}]
    sweep["configurations"][0]["compare"][0]["reported"] = "lr_finals"
    sweep["configurations"][0]["compare"][0]["items"] = ["sweep_chek"]
    with pytest.raises(AssignmentError) as caught:
        load_assignment(write_rubric(tmp_path, rubric))
    message = str(caught.value)
    assert "audits entry 'sweep': steps[1] uses 'modle', which no earlier step makes" in message
    assert "field 'reported' names 'lr_finals', which 'answers' does not define" in message
    assert "names item 'sweep_chek', which 'items' does not define" in message


def test_a_run_harvested_before_the_audits_must_run_again(tmp_path):
    rubric = load_assignment(write_rubric(tmp_path, RUBRIC)).rubric
    before = harvest_plan({k: v for k, v in rubric.items() if k != "audits"})
    gaps = plan_gaps(before, harvest_plan(rubric))
    assert gaps == ["the rubric now asks the harvest for audits: `given`, `sweep`"]


def audit_kernel() -> dict:
    """The kernel side as the harvest sends it (harvest_kernel.py, then audit_kernel.py), in-process."""
    namespace: dict = {"__name__": "audit_kernel_test"}
    source = harvest_audits.kernel_source() + "\n\n" + harvest_audits.AUDIT_SOURCE_PATH.read_text()
    exec(compile(source, "<audit-kernel>", "exec"), namespace)
    return namespace


def test_kernel_side_says_what_went_wrong_and_leaves_the_namespace_as_it_was():
    import sys

    run_audit = audit_kernel()["run_audit"]
    audit = {
        "id": "a",
        "params": {"lr": 0.1},
        "measures": ["losses"],
        "steps": [
            {"call": "Linear", "name": "model"},
            {
                "call": "train",
                "args": [{"ref": "model"}],
                "kwargs": {"lr": {"param": "lr"}},
                "returns": ["losses", "final"],
            },
        ],
    }

    def honest(model, lr):
        namespace["leftover"] = model  # a rebinding the audit must undo
        return [1.0, lr], lr

    def boom(model, lr):
        raise ValueError("no data")

    cases = {
        "honest": (honest, {"status": "ok", "measures": {"losses": {"status": "ok", "value": [1.0, 0.1]}}}),
        "three": (lambda m, lr: [1, 2, 3], "train returned 3 values; expected 2 (losses, final)"),
        "single": (lambda m, lr: 0.5, "train returned a float; expected 2 values (losses, final)"),
        "raises": (boom, "train(...) raised ValueError: no data"),
        "exits": (lambda m, lr: sys.exit(3), "train(...) raised SystemExit: 3"),
        "not callable": (5, "train is a int, not a function or class"),
        "none": (None, "train is still None"),
    }
    for label, (train, want) in cases.items():
        namespace = {"Linear": type("Linear", (), {}), "train": train}
        before = dict(namespace)
        got = run_audit(namespace, audit, 1000, 100_000)
        if isinstance(want, dict):
            assert got == want, label
        else:
            assert got["message"] == want, (label, got)
        assert namespace == before, label
    del namespace["train"]
    assert run_audit(namespace, audit, 1000, 100_000) == {
        "status": "missing",
        "message": "train is not defined",
    }


# -- hw2 Part 1: refits of whole curves (draw: all) ------------------------------------------------

PART1_CELLS = ("setup", "p1-intro", "p1-data", "p1-helpers", "p1-answers", "p1-fit", "p1-questions")


def hw2_part1(path: Path, extra: str = "", replace: dict[str, str] | None = None) -> Path:
    reference = nbformat.read(REPO / "reference" / "hw2" / "hw2_reference.ipynb", as_version=4)
    cells = [c for c in reference.cells if c.get("id") in PART1_CELLS]
    for cell in cells:
        for old, new in (replace or {}).items():
            cell.source = cell.source.replace(old, new)
    if extra:
        cells.append(new_code_cell(extra))
    nbformat.write(new_notebook(cells=cells), str(path))
    return path


@pytest.mark.slow
def test_hw2_part1_curves_are_refitted_and_typed_in_curves_lose_what_rests_on_them(hw2, tmp_path):
    run, items = grade_hw2(hw2, hw2_part1(tmp_path / "honest.ipynb"))
    refits = {k: v for k, v in run["harvest"]["audits"].items() if k.startswith("p1_")}
    assert len(refits) == 15 and {v["status"] for v in refits.values()} == {"ok"}, refits
    for item_id in PART1_CURVES + PART1_RESTING_ON_CURVES:
        assert items[item_id]["status"] == "passed", (item_id, items[item_id]["message"])
    assert "audited: your make_tree() with depth=" in items["p1_dt_val_curve"]["message"]

    # the reference's own curves rounded to two decimals: close, but not what its seeded code gives
    rounded = "\n".join(
        f"{n} = [round(v, 2) for v in {n}]"
        for n in (
            "dt_train_rmse",
            "dt_val_rmse",
            "rf_train_rmse",
            "rf_val_rmse",
            "gb_train_rmse",
            "gb_val_rmse",
        )
    )
    run, items = grade_hw2(hw2, hw2_part1(tmp_path / "typed.ipynb", rounded))
    for item_id in PART1_CURVES + PART1_RESTING_ON_CURVES:
        assert items[item_id]["points"] == 0, (item_id, items[item_id]["message"])
    message = items["p1_dt_val_curve"]["message"]
    assert (
        "dt_val_rmse[0] does not come from your code" in message
        and "make_tree() with depth=1 gives" in message
    )

    # an unseeded forest: its numbers differ from any refit by seed noise only, within the seed spread
    unseeded = {"random_state=SEED, n_jobs=1": "random_state=None, n_jobs=1"}
    run, items = grade_hw2(hw2, hw2_part1(tmp_path / "unseeded.ipynb", replace=unseeded))
    assert items["p1_rf_val_curve"]["status"] == "passed", items["p1_rf_val_curve"]["message"]
    assert items["p1_rf_train_curve"]["status"] == "passed", items["p1_rf_train_curve"]["message"]
