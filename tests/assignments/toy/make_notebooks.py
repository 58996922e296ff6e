"""Regenerate the toy assignment's template and reference notebooks (committed as .ipynb).

One source for both keeps them in step: the template is the reference with every answer set to
None, the free-text answer replaced by the placeholder, and the modelling code removed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = int(os.environ.get("GRADER_SEED", "0"))
DATA = Path(os.environ.get("ASSIGNMENT_DATA", Path("data") / "public"))
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
train = pd.read_csv(DATA / "train.csv")
val = pd.read_csv(DATA / "val.csv")
X_train, y_train = train[FEATURES], train["species"]
X_val, y_val = val[FEATURES], val["species"]"""

PART1_TEMPLATE = """depths = None  # list[int] of 5: the max_depth values [1, 2, 3, 4, 5]
train_acc = None  # list[float] of 5: training accuracy of RandomForestClassifier(n_estimators=15, max_depth=d, random_state=SEED)
val_acc = None  # list[float] of 5: validation accuracy, one per depth
best_depth = None  # int: the depth with the highest validation accuracy"""

PART1_REFERENCE = """depths = [1, 2, 3, 4, 5]
train_acc, val_acc = [], []
for depth in depths:
    forest = RandomForestClassifier(n_estimators=15, max_depth=depth, random_state=SEED)
    forest.fit(X_train, y_train)
    train_acc.append(float(forest.score(X_train, y_train)))
    val_acc.append(float(forest.score(X_val, y_val)))
best_depth = depths[int(np.argmax(val_acc))]
print(best_depth, val_acc)"""

PLOT_TEMPLATE = """# Plot training and validation accuracy against max_depth here."""

PLOT_REFERENCE = """plt.figure(figsize=(4, 3))
plt.plot(depths, train_acc, marker="o", label="train")
plt.plot(depths, val_acc, marker="o", label="validation")
plt.xlabel("max_depth")
plt.ylabel("accuracy")
plt.legend()
plt.show()"""

PART2_TEMPLATE = """clf_features = None  # list[str]: the columns clf reads
clf = None  # a fitted scikit-learn classifier: clf.predict(df[clf_features]) returns species names
val_accuracy = None  # float: the accuracy of clf on the validation flowers"""

PART2_REFERENCE = """clf_features = ["petal_length", "petal_width"]
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
clf.fit(train[clf_features], y_train)
val_accuracy = float(clf.score(val[clf_features], y_val))
print(val_accuracy)"""

ANSWER_TEMPLATE = "**ANSWER why_model**\n\n_Write your answer here._"
ANSWER_REFERENCE = (
    "**ANSWER why_model**\n\nThe species are almost linearly separable on the petal measurements, "
    "so a scaled logistic regression on those two columns is accurate and hard to overfit."
)


def notebook(reference: bool) -> nbformat.NotebookNode:
    pick = (lambda ref, tpl: ref) if reference else (lambda ref, tpl: tpl)
    cells = [
        nbformat.v4.new_markdown_cell("# Toy assignment: iris\n\nFill in every variable that is `None`."),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_markdown_cell("## Part 1: forest depth"),
        nbformat.v4.new_code_cell(pick(PART1_REFERENCE, PART1_TEMPLATE)),
        nbformat.v4.new_code_cell(pick(PLOT_REFERENCE, PLOT_TEMPLATE)),
        nbformat.v4.new_markdown_cell("## Part 2: a classifier"),
        nbformat.v4.new_code_cell(pick(PART2_REFERENCE, PART2_TEMPLATE)),
        nbformat.v4.new_markdown_cell(pick(ANSWER_REFERENCE, ANSWER_TEMPLATE)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index}"
    return nb


def main() -> None:
    nbformat.write(notebook(reference=True), HERE / "toy_reference.ipynb")
    nbformat.write(notebook(reference=False), HERE / "toy_template.ipynb")


if __name__ == "__main__":
    main()
