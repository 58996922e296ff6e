"""hw2 through the real sandbox: a copy of the reference whose models are broken while its reported
numbers are hard-coded to good values loses the hidden-data and consistency items, and only those.
(The reference's full marks and the template's zero are `grader release-check hw2`'s job.)"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.datasets import build_data
from grader.engine import run_notebook
from grader.expected import check_current
from grader.scoring import score_run, validate_result

pytestmark = pytest.mark.slow

FORGERY = """# forged: broken models, hard-coded good numbers
from sklearn.dummy import DummyClassifier
mnist_model = MLP(hidden=(512, 256))  # never trained
tuned_val_error = 0.02
penguin_model = DummyClassifier(strategy="most_frequent").fit(X_penguins[penguin_model_features], y_penguins)
best_cv_accuracy = 0.999
gentoo_rule = lambda df: np.zeros(len(df), dtype=bool)
gentoo_rule_2 = lambda df: np.ones(len(df), dtype=bool)
gentoo_rule_accuracy = 1.0"""

HIDDEN_AND_CONSISTENCY = {
    "p2_tuned_test_error",
    "p2_tuned_val_consistency",
    "p3_gentoo_rule",
    "p3_gentoo_rule_2",
    "p3_best_model",
    "p3_cv_consistency",
}


def test_forged_reference_loses_hidden_and_consistency_items(tmp_path: Path, hw2_environment) -> None:
    hw2 = load_assignment("hw2")
    data = tmp_path / "data"
    build_data(hw2, data)
    expected = json.loads(hw2.expected_path.read_text(encoding="utf-8"))
    assert check_current(hw2, expected, data) == []

    notebook = nbformat.read(hw2.reference, as_version=4)
    stretch = next(
        i
        for i, c in enumerate(notebook.cells)
        if c.cell_type == "markdown" and c.source.startswith("## Stretch")
    )
    notebook.cells.insert(stretch, nbformat.v4.new_code_cell(FORGERY))
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    forged = tmp_path / "forged.ipynb"
    nbformat.write(notebook, forged)

    run = run_notebook(forged, hw2, data, tmp_path / "out", run_id="forged")
    assert run["status"] == "completed", run["message"]
    document = score_run(run, hw2, expected, data)
    assert validate_result(document) == []
    items = {item["id"]: item for item in document["items"]}
    lost = {k for k, item in items.items() if item["status"] not in ("passed", "pending")}
    assert lost == HIDDEN_AND_CONSISTENCY
    assert all(items[k]["points"] == 0 for k in lost)
    assert "report the number your own model achieves" in items["p2_tuned_val_consistency"]["message"]
    assert document["auto_score"] == 92 - 34
