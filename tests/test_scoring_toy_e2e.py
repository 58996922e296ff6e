"""The toy assignment through the real sandbox: calibrate, then grade the reference, the untouched
template and a forged copy. Proves a second assignment is graded with no change to grader code."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.calibration import calibrate
from grader.datasets import build_data
from grader.engine import run_notebook
from grader.expected import check_current
from grader.scoring import score_run, validate_result

pytestmark = pytest.mark.slow

TOY = Path(__file__).resolve().parent / "assignments" / "toy" / "toy.yaml"

FORGED_PART2 = """from sklearn.linear_model import LogisticRegression
clf_features = ["petal_length", "petal_width"]
clf = make_pipeline(StandardScaler(), LogisticRegression())  # never fitted
val_accuracy = 0.99  # hard-coded"""


@pytest.fixture(scope="module")
def toy():
    return load_assignment(TOY)


@pytest.fixture(scope="module")
def workspace(toy, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("toy-e2e")
    data = root / "data"
    build_data(toy, data)
    expected = calibrate(toy, 2, data_dir=data, out=root / "expected.json", work_dir=root / "calibration")
    return {"root": root, "data": data, "expected": expected}


def grade(toy, workspace, notebook: Path, run_id: str) -> dict:
    run = run_notebook(notebook, toy, workspace["data"], workspace["root"] / "out", run_id=run_id)
    document = score_run(run, toy, workspace["expected"], workspace["data"])
    assert validate_result(document) == []
    return document


def test_calibration_writes_current_expected_json(toy, workspace) -> None:
    written = json.loads((workspace["root"] / "expected.json").read_text())
    assert written == workspace["expected"]
    assert check_current(toy, written, workspace["data"]) == []
    assert [run["status"] for run in written["runs"]] == ["completed", "completed"]
    assert written["template"] == {
        "status": "completed",
        "figures": {"part1": 0, "part2": 0},
        "figure_cells": {"part1": [], "part2": []},  # the cells that draw them, by content: none
    }
    assert written["items"]["t2_hidden_accuracy"]["threshold"]["cleared"]


def test_reference_full_marks_identical_on_regrade(toy, workspace) -> None:
    documents = [grade(toy, workspace, toy.reference, f"reference-{i}") for i in range(3)]
    scores = [[(i["id"], i["points"], i["status"]) for i in d["items"]] for d in documents]
    assert scores[0] == scores[1] == scores[2]
    document = documents[0]
    assert document["status"] == "graded"
    assert document["auto_score"] == document["auto_max_score"] == 18
    assert document["pending_manual"] == 2 and document["extra_credit"] == 2


def test_untouched_template_scores_zero(toy, workspace) -> None:
    document = grade(toy, workspace, toy.template, "template")
    assert document["score"] == 0 and document["status"] == "graded"
    assert all(item["message"] for item in document["items"])
    assert {i["status"] for i in document["items"] if i["kind"] != "free_text"} == {"failed"}
    # the placeholder left under **ANSWER why_model**: not answered, waiting for a person
    essay = next(i for i in document["items"] if i["kind"] == "free_text")
    assert essay["status"] == "pending" and essay["message"].startswith("not answered")


def test_forged_copy_loses_hidden_and_consistency_items(toy, workspace) -> None:
    notebook = nbformat.read(toy.reference, as_version=4)
    part2 = next(c for c in notebook.cells if c.cell_type == "code" and "clf_features =" in c.source)
    part2.source = FORGED_PART2
    path = workspace["root"] / "forged.ipynb"
    nbformat.write(notebook, path)
    items = {i["id"]: i for i in grade(toy, workspace, path, "forged")["items"]}
    assert items["t2_hidden_accuracy"]["points"] == 0
    assert "could not be run on the hidden input set 'iris_test'" in items["t2_hidden_accuracy"]["message"]
    assert items["t2_val_consistency"]["points"] == 0
    assert items["t1_val_curve"]["status"] == "passed"


PANDAS_PART1 = """depths = np.array([1, 2, 3, 4, 5])
rows = []
for depth in depths:
    forest = RandomForestClassifier(n_estimators=15, max_depth=int(depth), random_state=SEED)
    forest.fit(X_train, y_train)
    rows.append({"depth": depth, "train": forest.score(X_train, y_train), "val": forest.score(X_val, y_val)})
results = pd.DataFrame(rows)
train_acc, val_acc = results["train"], results["val"]  # pandas Series
best_depth = results.loc[results["val"].idxmax(), "depth"]  # a numpy int64
print(results)"""
PANDAS_PART2 = """X_chosen = train[["petal_length", "petal_width"]]
clf_features = X_chosen.columns  # a pandas Index
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
clf.fit(X_chosen, y_train)
val_accuracy = np.float64(clf.score(val[clf_features], y_val))
print(val_accuracy)"""


def test_honest_work_in_numpy_and_pandas_forms_earns_what_plain_lists_earn(toy, workspace) -> None:
    notebook = nbformat.read(toy.reference, as_version=4)
    part1 = next(c for c in notebook.cells if c.cell_type == "code" and c.source.startswith("depths ="))
    part1.source = PANDAS_PART1
    part2 = next(c for c in notebook.cells if c.cell_type == "code" and "clf_features =" in c.source)
    part2.source = PANDAS_PART2
    path = workspace["root"] / "pandas_forms.ipynb"
    nbformat.write(notebook, path)
    document = grade(toy, workspace, path, "pandas-forms")
    reference = grade(toy, workspace, toy.reference, "reference-plain")
    assert [(i["id"], i["points"]) for i in document["items"]] == [
        (i["id"], i["points"]) for i in reference["items"]
    ]
    assert document["auto_score"] == document["auto_max_score"]
