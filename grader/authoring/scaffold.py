"""`grader new NAME`: a small, complete assignment folder to edit into one's own.

It holds one question of each common kind (a value, a figure, a model graded on hidden rows, a
function called on given inputs, a free-text answer), a data builder that needs nothing but numpy
and pandas, the rubric, and the master notebook. `grader assign` then derives the template and
the reference, calibrates expected.json and release-checks the folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

BUILDER = '''"""Data for {name}: two noisy classes of points, public training rows and hidden test rows.

`grader data` calls build(out_dir, source=None); write public/ (what students get) and hidden/
(inputs and labels that never reach them). Returning nothing is fine: the grader lists the files.
A fixed seed keeps the bytes the same on every build.
"""

from pathlib import Path

import numpy as np
import pandas as pd


def _points(rng, n):
    labels = rng.integers(0, 2, size=n)
    centres = np.where(labels[:, None] == 1, [1.5, 1.0], [-1.0, -0.5])
    points = centres + rng.normal(scale=1.0, size=(n, 2))
    return pd.DataFrame({{"x1": points[:, 0].round(4), "x2": points[:, 1].round(4), "label": labels}})


def build(out_dir, source=None):
    rng = np.random.default_rng(12345)
    out = Path(out_dir)
    (out / "public").mkdir(parents=True, exist_ok=True)
    (out / "hidden").mkdir(parents=True, exist_ok=True)
    _points(rng, 200).to_csv(out / "public" / "train.csv", index=False, lineterminator="\\n")
    test = _points(rng, 100)
    test[["x1", "x2"]].to_csv(out / "hidden" / "test_X.csv", index=False, lineterminator="\\n")
    test[["label"]].to_csv(out / "hidden" / "test_y.csv", index=False, lineterminator="\\n")
    return {{"source": {{"points": "synthetic: two Gaussian classes, seed 12345"}}}}
'''

RUBRIC = """# {name}: the assignment. Paths are relative to this file; docs/AUTHORING.md has the format.
# Edit master.ipynb, then run `grader assign {folder}`: it rewrites the template and the reference,
# drafts the answers: block below, recalibrates expected.json and release-checks the folder.
schema_version: 1
assignment: {name}
title: "{name}"
total_points: 10
master: master.ipynb
template: student/{name}.ipynb
reference: reference/{name}_reference.ipynb
expected: reference/expected.json
data:
  builder: build_data.py:build
profiles:
  default: {{default: true}}

parts:
  - {{id: part1, title: "Explore the data", heading: "Part 1"}}
  - {{id: part2, title: "A classifier", heading: "Part 2"}}

answers:
  class_balance: {{type: number, part: part1}}

inputs:
  test: {{file: hidden/test_X.csv, labels: hidden/test_y.csv}}

models:
  classifier: {{variable: clf, adapter: sklearn_predict, inputs: [test]}}

free_text:
  - {{id: why_model, part: part2, prompt: "Why does this classifier suit the data?"}}

items:
  - id: balance
    part: part1
    kind: value_band
    title: "Fraction of training rows in class 1"
    points: 2
    answer: class_balance
    band: {{abs: 0.001}}
  - id: scatter
    part: part1
    kind: figure
    title: "A scatter plot of the classes"
    points: 1
    min_count: 1
  - id: standardise_function
    part: part1
    kind: function
    title: "standardise(values)"
    points: 2
    function: standardise
    calls:
      - {{args: [[1, 2, 3]]}}
      - {{args: [[10.0, 10.0, 13.0]]}}
      - {{args: [[]], label: "standardise([]) must raise ValueError"}}
  - id: hidden_accuracy
    part: part2
    kind: threshold
    title: "Accuracy on hidden points"
    points: 3
    metric: {{kind: accuracy, model: classifier, input: test}}
    threshold: {{full_at: 0.75, zero_at: 0.5}}
    partial: {{function: linear}}
    percent: true
  - id: why_model_text
    part: part2
    kind: free_text
    title: "Why this classifier"
    points: 2
    text: why_model
"""

INTRO = """# {name}

Fill in every cell marked `# TODO` and every variable that is `None`. The data files are in the
folder named by `ASSIGNMENT_DATA` (the grader sets it); on your own machine put them in `./data`."""

SETUP = """import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

SEED = int(os.environ.get("GRADER_SEED", "0"))  # the grader may run your notebook with other seeds
DATA = Path(os.environ.get("ASSIGNMENT_DATA", "data"))
train = pd.read_csv(DATA / "train.csv")
train.head()"""

PART1 = """# BEGIN TEMPLATE
# class_balance = None  # float: the fraction of training rows whose label is 1
# END TEMPLATE
# BEGIN SOLUTION
class_balance = float(train["label"].mean())
# END SOLUTION"""

FIGURE = """# Scatter x1 against x2, one colour per label.
# BEGIN SOLUTION
for label, rows in train.groupby("label"):
    plt.scatter(rows["x1"], rows["x2"], s=10, label=f"class {label}")
plt.legend()
plt.show()
# END SOLUTION"""

FUNCTION = """def standardise(values):
    \"\"\"The values minus their mean, divided by their standard deviation (a list of floats).
    Raise ValueError for an empty list.\"\"\"
    # BEGIN SOLUTION
    if len(values) == 0:
        raise ValueError("no values")
    array = np.asarray(values, dtype=float)
    spread = array.std() or 1.0
    return ((array - array.mean()) / spread).tolist()
    # END SOLUTION"""

PART2 = """from sklearn.linear_model import LogisticRegression

clf = None  # a fitted classifier: clf.predict(DataFrame with columns x1, x2) returns labels
# BEGIN SOLUTION
clf = LogisticRegression().fit(train[["x1", "x2"]], train["label"])
print(clf.score(train[["x1", "x2"]], train["label"]))
# END SOLUTION"""

ANSWER = """**ANSWER why_model**

The two classes are roughly Gaussian blobs with a similar spread, so a linear boundary separates
them about as well as any: logistic regression fits it quickly and does not overfit."""


def master_notebook(name: str) -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell(INTRO.format(name=name), id="intro"),
        nbformat.v4.new_code_cell(SETUP, id="setup"),
        nbformat.v4.new_markdown_cell("## Part 1: explore the data", id="part1"),
        nbformat.v4.new_code_cell(PART1, id="part1-balance"),
        nbformat.v4.new_code_cell(FIGURE, id="part1-figure"),
        nbformat.v4.new_code_cell(FUNCTION, id="part1-function"),
        nbformat.v4.new_markdown_cell("## Part 2: a classifier", id="part2"),
        nbformat.v4.new_code_cell(PART2, id="part2-model"),
        nbformat.v4.new_markdown_cell(ANSWER, id="part2-answer"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def scaffold(folder: Path) -> list[Path]:
    """Write the new assignment's source files into ``folder`` (which must not exist yet)."""
    name = folder.name
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"{name!r}: an assignment name starts with a letter and uses letters, digits, _ and -"
        )
    if folder.exists():
        raise ValueError(f"{folder} already exists; choose a new name or remove it")
    folder.mkdir(parents=True)
    written = {
        folder / "rubric.yaml": RUBRIC.format(name=name, folder=folder.name),
        folder / "build_data.py": BUILDER.format(name=name),
        folder / "master.ipynb": nbformat.writes(master_notebook(name)) + "\n",
    }
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
    return list(written)
