#!/usr/bin/env python3
"""Generate hw2's student template and reference notebooks from one source.

Why one source: the template and the reference must share every cell except the answered TODOs,
so a fix to the data loading or a helper reaches both. Run ``python scripts/build_notebooks.py``
after editing; ``--check`` exits 1 when the committed notebooks differ from this file (tests use it).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment import load_assignment
from grader.environment.spec import assignment_spec, for_students
from grader.notebook_parts import PLACEHOLDER  # the grader reads free-text answers against it

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hw2" / "hw2.ipynb"
REFERENCE = REPO / "reference" / "hw2" / "hw2_reference.ipynb"
IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL"}  # where the import differs from the package


def packages_paragraph() -> str:
    """The intro's list of the packages the notebook is graded with, from the rubric's
    ``environment:`` block (so the list students read is the environment the grader builds)."""
    spec = assignment_spec(load_assignment("hw2"))
    if spec is None:
        return ""
    listed = []
    for requirement in for_students(spec.requirements):
        name = requirement.split("=")[0].split(">")[0].split("<")[0]
        shown = requirement.replace("==", " ")
        listed.append(f"{shown} (`import {IMPORT_NAMES[name]}`)" if name in IMPORT_NAMES else shown)
    return (
        f"**Packages.** When it is graded, this notebook runs with Python {spec.python} and these packages "
        f"(and what they depend on): {', '.join(listed)}. Nothing else can be imported, and nothing can be "
        "installed: the grading sandbox has no internet, so `!pip install` cells fail, and data comes from "
        "`ASSIGNMENT_DATA`, never from a download."
    )


@dataclass(frozen=True)
class Cell:
    """One notebook cell; ``answer`` (reference only) replaces ``source`` in the reference."""

    id: str
    kind: str  # "markdown" | "code"
    source: str
    answer: str | None = None


def md(cell_id: str, text: str, answer: str | None = None) -> Cell:
    return Cell(cell_id, "markdown", text.strip("\n"), None if answer is None else answer.strip("\n"))


def code(cell_id: str, text: str, answer: str | None = None) -> Cell:
    return Cell(cell_id, "code", text.strip("\n"), None if answer is None else answer.strip("\n"))


def free_text(answer_id: str, reference_text: str) -> Cell:
    """A free-text answer cell: the grader reads the text after the ``**ANSWER id**`` line."""
    head = f"**ANSWER {answer_id}**\n\n"
    return md(f"answer-{answer_id}", head + PLACEHOLDER, head + reference_text.strip())


CELLS: list[Cell] = [
    md(
        "intro",
        """
# Homework 2: trees, neural networks and penguins

Fill in every cell marked `# TODO`. The grader reads the **answer variables** declared in each part
(they start as `None`; keep their names, types and shapes as the comments say) and the markdown
cells that start with `**ANSWER ...**` (replace the placeholder text below that line).

The data files are in the directory named by the environment variable `ASSIGNMENT_DATA`
(the grader sets it); on your own machine put them in `./data` beside this notebook.
Run the whole notebook top to bottom before you submit (*Kernel > Restart & Run All*).

"""
        + packages_paragraph(),
    ),
    code(
        "setup",
        """
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

SEED = int(os.environ.get("GRADER_SEED", "0"))  # the grader may run your notebook with other seeds
DATA_DIR = Path(os.environ.get("ASSIGNMENT_DATA", "data"))
np.random.seed(SEED)
torch.manual_seed(SEED)
torch.set_num_threads(1)  # small networks run faster on one thread than on shared cores
print("data:", DATA_DIR.resolve(), "| seed:", SEED)
""",
    ),
    # ---------------------------------------------------------------------------------- Part 1
    md(
        "p1-intro",
        """
## Part 1: Temperature regression with trees

Predict tomorrow's maximum temperature in Seattle from the previous five days' readings
(`temp_max`, `temp_min`, `precipitation`, `wind`; `lag1` is the day before the target day).
Training targets are 2012-2013, validation targets 2014. Fit a decision tree, a random forest and
gradient boosting at each `max_depth` in `[1, 2, 4, 8, 16]` and record train and validation RMSE.
""",
    ),
    code(
        "p1-data",
        """
temperature_train = pd.read_csv(DATA_DIR / "temperature_train.csv")
temperature_val = pd.read_csv(DATA_DIR / "temperature_val.csv")
TEMP_FEATURES = [c for c in temperature_train.columns if "_lag" in c]
X_temp_train, y_temp_train = temperature_train[TEMP_FEATURES], temperature_train["temp_max_next"]
X_temp_val, y_temp_val = temperature_val[TEMP_FEATURES], temperature_val["temp_max_next"]
print(X_temp_train.shape, X_temp_val.shape)
temperature_train.head()
""",
    ),
    code(
        "p1-helpers",
        """
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor


def rmse(y_true, y_pred):
    \"\"\"Root mean squared error.\"\"\"
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def make_tree(depth):
    return DecisionTreeRegressor(max_depth=depth, random_state=SEED)


def make_forest(depth):
    return RandomForestRegressor(n_estimators=100, max_depth=depth, random_state=SEED, n_jobs=1)


def make_boosting(depth):
    return GradientBoostingRegressor(n_estimators=100, max_depth=depth, random_state=SEED)


def plot_rmse_vs_depth(depths, train_rmse, val_rmse, title):
    \"\"\"Train and validation RMSE against max_depth (log scale: depths double).\"\"\"
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(depths, train_rmse, "o-", label="train")
    ax.plot(depths, val_rmse, "s-", label="validation")
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(d) for d in depths])
    ax.set_xlabel("max_depth")
    ax.set_ylabel("RMSE (°C)")
    ax.set_title(title)
    ax.legend()
    plt.show()
""",
    ),
    code(
        "p1-answers",
        """
# Answer variables for Part 1 (keep the names; the grader reads them).
depths = None  # list[int] of 5: the max_depth values, [1, 2, 4, 8, 16]
dt_train_rmse = None  # list[float] of 5: decision tree train RMSE, one per depth
dt_val_rmse = None  # list[float] of 5: decision tree validation RMSE, one per depth
rf_train_rmse = None  # list[float] of 5: random forest train RMSE
rf_val_rmse = None  # list[float] of 5: random forest validation RMSE
gb_train_rmse = None  # list[float] of 5: gradient boosting train RMSE
gb_val_rmse = None  # list[float] of 5: gradient boosting validation RMSE
""",
    ),
    code(
        "p1-fit",
        """
# TODO: for each depth, fit make_tree(depth), make_forest(depth) and make_boosting(depth) on the
# training rows; fill the six RMSE lists above; then draw one plot per model with
# plot_rmse_vs_depth(depths, <train list>, <validation list>, "<model name>").
""",
        """
depths = [1, 2, 4, 8, 16]
curves = {}
models = {"decision_tree": make_tree, "random_forest": make_forest, "gradient_boosting": make_boosting}
for name, make in models.items():
    train_scores, val_scores = [], []
    for depth in depths:
        model = make(depth).fit(X_temp_train, y_temp_train)
        train_scores.append(rmse(y_temp_train, model.predict(X_temp_train)))
        val_scores.append(rmse(y_temp_val, model.predict(X_temp_val)))
    curves[name] = (train_scores, val_scores)
    plot_rmse_vs_depth(depths, train_scores, val_scores, name.replace("_", " "))
dt_train_rmse, dt_val_rmse = curves["decision_tree"]
rf_train_rmse, rf_val_rmse = curves["random_forest"]
gb_train_rmse, gb_val_rmse = curves["gradient_boosting"]
table = {f"{m} {part}": v for m, (tr, va) in curves.items() for part, v in (("train", tr), ("val", va))}
pd.DataFrame(table, index=depths).round(2)
""",
    ),
    code(
        "p1-questions",
        """
# Answer variables for the Part 1 questions.
dt_best_depth = None  # int: the depth with the lowest validation RMSE for the decision tree
rf_best_depth = None  # int: the same for the random forest
gb_best_depth = None  # int: the same for gradient boosting
boosting_prefers = None  # str: "smaller" or "larger" -- which trees does boosting do best with?
least_overfit_model = None  # str: "decision_tree", "random_forest" or "gradient_boosting"
lowest_bias_model = None  # str: "decision_tree", "random_forest" or "gradient_boosting"

# TODO: answer from your results above.
""",
        """
# Answer variables for the Part 1 questions.
best = {name: depths[int(np.argmin(val))] for name, (_, val) in curves.items()}
dt_best_depth = best["decision_tree"]
rf_best_depth = best["random_forest"]
gb_best_depth = best["gradient_boosting"]
# boosting's best depth is among the shallow ones when it is at most the median depth
boosting_prefers = "smaller" if gb_best_depth <= int(np.median(depths)) else "larger"
# overfitting: how far validation RMSE rises from its best as the trees grow to depth 16
rise = {name: val[-1] - min(val) for name, (_, val) in curves.items()}
least_overfit_model = min(rise, key=rise.get)
# bias: how low the training error goes, averaged over the depths
train_mean = {name: float(np.mean(train)) for name, (train, _) in curves.items()}
lowest_bias_model = min(train_mean, key=train_mean.get)
print(best, "| boosting prefers", boosting_prefers)
print("least overfit:", least_overfit_model, "| lowest bias:", lowest_bias_model)
""",
    ),
    free_text(
        "p1_why_boosting",
        """
Boosting adds trees one after another, each fitting the residual errors of the sum so far, so the
ensemble's capacity grows with the number of trees rather than with each tree's size. Shallow trees
(weak learners with high bias and low variance) let it reduce bias step by step; deep trees fit the
training noise almost at once (train RMSE near 0 from depth 8 on), and later trees have nothing left
but noise to fit, so validation RMSE rises. Here boosting is best at depth 2.
""",
    ),
    # ---------------------------------------------------------------------------------- Part 2
    md(
        "p2-intro",
        """
## Part 2: MNIST with a PyTorch MLP

Images are flattened to 784 float32 pixels in [0, 1]; labels are the digits 0-9.
First train the given network with the given configuration (SGD, learning rate 0.01, batch size
256, 10 epochs), recording the training and validation loss after every epoch. Then sweep the
learning rate (at least four values), and finally tune a network (Adam, wider layers) to a low
validation error. `mnist_model` must take a float32 tensor of shape (N, 784) and return logits (N, 10).
""",
    ),
    code(
        "p2-data",
        """
import torch.nn as nn
import torch.nn.functional as F

mnist_train = np.load(DATA_DIR / "mnist_train.npz")
mnist_val = np.load(DATA_DIR / "mnist_val.npz")
X_mnist_train, y_mnist_train = torch.from_numpy(mnist_train["X"]), torch.from_numpy(mnist_train["y"])
X_mnist_val, y_mnist_val = torch.from_numpy(mnist_val["X"]), torch.from_numpy(mnist_val["y"])
print(X_mnist_train.shape, X_mnist_train.dtype, X_mnist_val.shape)

fig, axes = plt.subplots(1, 8, figsize=(8, 1.3))
for ax, image, label in zip(axes, X_mnist_train[:8], y_mnist_train[:8]):
    ax.imshow(image.reshape(28, 28), cmap="gray")
    ax.set_title(int(label))
    ax.axis("off")
plt.show()
""",
    ),
    code(
        "p2-helpers",
        """
class MLP(nn.Module):
    \"\"\"A fully connected network: 784 pixels -> hidden layers with ReLU -> 10 logits.

    The default is the given network of Part 2: one hidden layer of 128 units.
    \"\"\"

    def __init__(self, hidden=(128,), dropout=0.0):
        super().__init__()
        layers, width = [], 784
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 10))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def evaluate(model, X, y):
    \"\"\"(mean cross-entropy loss, error rate) of a model on a whole data set.\"\"\"
    model.eval()
    with torch.no_grad():
        logits = model(X)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(dim=1) != y).float().mean())


def train(model, optimizer, epochs, batch_size, seed=SEED):
    \"\"\"Mini-batch training; returns per-epoch (train losses, validation losses).

    The train loss of an epoch is the mean of its mini-batch losses; the validation loss is
    measured after the epoch.
    \"\"\"
    generator = torch.Generator().manual_seed(seed)
    train_losses, val_losses = [], []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(X_mnist_train), generator=generator)
        batch_losses = []
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X_mnist_train[batch]), y_mnist_train[batch])
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.item())
        train_losses.append(float(np.mean(batch_losses)))
        val_losses.append(evaluate(model, X_mnist_val, y_mnist_val)[0])
    return train_losses, val_losses


def plot_losses(train_losses, val_losses, title):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = range(1, len(train_losses) + 1)
    ax.plot(epochs, train_losses, "o-", label="train")
    ax.plot(epochs, val_losses, "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.legend()
    plt.show()
""",
    ),
    code(
        "p2-answers",
        """
# Answer variables for Part 2 (keep the names; the grader reads them).
sgd_train_losses = None  # list[float] of 10: train loss per epoch, given config (SGD lr 0.01, batch 256)
sgd_val_losses = None  # list[float] of 10: validation loss per epoch, same run
sgd_val_error = None  # float in [0, 1]: final validation error rate of that run
sgd_model = None  # torch.nn.Module: the network of that run, after its 10 epochs
lr_rates = None  # list[float], at least 4: the learning rates of your sweep
lr_val_errors = None  # list[float], same length: final validation error rate for each rate
mnist_model = None  # torch.nn.Module: your tuned network; float32 (N, 784) in [0, 1] -> logits (N, 10)
tuned_train_losses = None  # list[float]: train loss per epoch of the tuned network
tuned_val_losses = None  # list[float]: validation loss per epoch of the tuned network
tuned_val_error = None  # float in [0, 1]: final validation error rate of the tuned network
""",
    ),
    code(
        "p2-given",
        """
# TODO: train MLP() with torch.optim.SGD(model.parameters(), lr=0.01), batch size 256, 10 epochs
# (use train(...)); fill sgd_train_losses, sgd_val_losses, sgd_val_error and sgd_model; plot the losses.
# Keep SEED, MLP, train and evaluate defined: the grader re-runs train() on one configuration to check.
""",
        """
torch.manual_seed(SEED)
model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
sgd_train_losses, sgd_val_losses = train(model, optimizer, epochs=10, batch_size=256)
sgd_val_error = evaluate(model, X_mnist_val, y_mnist_val)[1]
sgd_model = model
plot_losses(sgd_train_losses, sgd_val_losses, "SGD, lr 0.01, batch 256")
print(f"validation error {sgd_val_error:.3f}")
""",
    ),
    code(
        "p2-sweep",
        """
# TODO: repeat the given configuration for at least four learning rates; fill lr_rates and
# lr_val_errors; plot the validation loss curves and the final validation error against the rate.
""",
        """
lr_rates = [0.003, 0.01, 0.03, 0.1, 0.3]
lr_val_errors, sweep_curves = [], {}
for lr in lr_rates:
    torch.manual_seed(SEED)
    model = MLP()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    sweep_curves[lr] = train(model, optimizer, epochs=10, batch_size=256)
    lr_val_errors.append(evaluate(model, X_mnist_val, y_mnist_val)[1])

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for lr, (_, val_losses) in sweep_curves.items():
    ax1.plot(range(1, 11), val_losses, "o-", label=f"lr {lr}")
ax1.set_xlabel("epoch")
ax1.set_ylabel("validation loss")
ax1.legend()
ax2.plot(lr_rates, lr_val_errors, "o-")
ax2.set_xscale("log")
ax2.set_xlabel("learning rate (SGD)")
ax2.set_ylabel("final validation error")
plt.show()
print({lr: round(error, 3) for lr, error in zip(lr_rates, lr_val_errors)})
""",
    ),
    code(
        "p2-tuned",
        """
# TODO: tune a network (try Adam, wider layers, dropout, more epochs, smaller batches) for a low
# validation error; assign it to mnist_model (in eval mode) and fill tuned_train_losses,
# tuned_val_losses and tuned_val_error; plot its losses.
""",
        """
torch.manual_seed(SEED)
mnist_model = MLP(hidden=(512, 256), dropout=0.2)
optimizer = torch.optim.AdamW(mnist_model.parameters(), lr=1e-3, weight_decay=1e-4)
tuned_train_losses, tuned_val_losses = train(mnist_model, optimizer, epochs=20, batch_size=64)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]  # evaluate() leaves it in eval mode
plot_losses(tuned_train_losses, tuned_val_losses, "tuned: Adam, 512-256, dropout 0.2")
print(f"validation error {tuned_val_error:.3f}")
""",
    ),
    # ---------------------------------------------------------------------------------- Part 3
    md(
        "p3-intro",
        """
## Part 3: Palmer penguins

Each row is a penguin: four measurements, its island and sex (one-hot columns), and its `species`
(Adelie, Chinstrap or Gentoo). Explore with scatter plots, fit a decision tree and read rules off
it, and find the model with the best 5-fold cross-validated accuracy.
""",
    ),
    code(
        "p3-data",
        """
penguins = pd.read_csv(DATA_DIR / "penguins_train.csv")
PENGUIN_FEATURES = [c for c in penguins.columns if c != "species"]
X_penguins, y_penguins = penguins[PENGUIN_FEATURES], penguins["species"]
print(PENGUIN_FEATURES)
print(y_penguins.value_counts().to_dict())


def scatter_by_species(df, x, y, ax=None):
    \"\"\"Scatter two columns, one colour per species.\"\"\"
    if ax is None:
        ax = plt.subplots(figsize=(5, 4))[1]
    for species, rows in df.groupby("species"):
        ax.scatter(rows[x], rows[y], s=12, label=species)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend()
    return ax


scatter_by_species(penguins, "bill_length_mm", "bill_depth_mm")  # an example
plt.show()
""",
    ),
    code(
        "p3-helpers",
        """
from sklearn.model_selection import StratifiedKFold, cross_val_score


def cv_accuracy(model, X, y, folds=5):
    \"\"\"Mean accuracy over stratified, shuffled k-fold cross-validation.\"\"\"
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    return float(cross_val_score(model, X, y, cv=splitter, scoring="accuracy").mean())
""",
    ),
    code(
        "p3-answers",
        """
# Answer variables for Part 3 (keep the names; the grader reads them).
scatter_features = None  # list[str] of 2: the pair of columns that best separates the species
penguin_tree_text = None  # str: sklearn.tree.export_text of your fitted decision tree (print it too)
gentoo_rule = None  # function(df) -> boolean array of len(df), True = Gentoo; df has the columns above
gentoo_rule_features = None  # list[str]: the columns gentoo_rule reads
gentoo_rule_accuracy = None  # float in [0, 1]: its accuracy on the training rows above
gentoo_rule_2 = None  # function(df) -> boolean array: a second Gentoo rule ...
gentoo_rule_2_features = None  # list[str]: ... reading none of gentoo_rule_features
penguin_model = None  # fitted sklearn estimator/pipeline: .predict(df[penguin_model_features]) -> species
penguin_model_features = None  # list[str]: the columns penguin_model takes
best_model_name = None  # str: which model that is
best_cv_accuracy = None  # float in [0, 1]: its 5-fold cross-validated accuracy (cv_accuracy)
""",
    ),
    code(
        "p3-scatter",
        """
# TODO: draw scatter plots of several pairs of measurements (scatter_by_species) and set
# scatter_features to the pair that best separates the three species.
""",
        """
pairs = [("bill_length_mm", "bill_depth_mm"), ("bill_length_mm", "flipper_length_mm"),
         ("flipper_length_mm", "body_mass_g"), ("bill_depth_mm", "body_mass_g")]
fig, axes = plt.subplots(1, len(pairs), figsize=(18, 4))
for ax, (x, y) in zip(axes, pairs):
    scatter_by_species(penguins, x, y, ax=ax)
plt.show()
# score each pair by how well a small tree on just those two columns separates the species
from sklearn.tree import DecisionTreeClassifier

pair_scores = {
    pair: cv_accuracy(DecisionTreeClassifier(max_depth=3, random_state=SEED), penguins[list(pair)], y_penguins)
    for pair in pairs
}
scatter_features = list(max(pair_scores, key=pair_scores.get))
print({f"{a} / {b}": round(s, 3) for (a, b), s in pair_scores.items()}, "->", scatter_features)
""",
    ),
    free_text(
        "p3_feature_pair",
        """
Bill length against bill depth (or flipper length) separates all three species: Adelie penguins have
short bills, Chinstraps long and deep bills, Gentoos long and shallow bills with long flippers. Pairs
of size measurements (flipper length and body mass) only split Gentoo from the other two, because
Adelie and Chinstrap penguins are about the same size.
""",
    ),
    code(
        "p3-tree",
        """
# TODO: fit a DecisionTreeClassifier (small max_depth, random_state=SEED) on PENGUIN_FEATURES,
# set penguin_tree_text = sklearn.tree.export_text(tree, feature_names=PENGUIN_FEATURES) and print it.
# Read a rule that separates Gentoo from the others off it: set gentoo_rule, gentoo_rule_features
# and gentoo_rule_accuracy; then a second rule on other columns (gentoo_rule_2, gentoo_rule_2_features).
""",
        """
from sklearn.tree import DecisionTreeClassifier, export_text

penguin_tree = DecisionTreeClassifier(max_depth=3, random_state=SEED).fit(X_penguins, y_penguins)
penguin_tree_text = export_text(penguin_tree, feature_names=PENGUIN_FEATURES)
print(penguin_tree_text)

is_gentoo = (y_penguins == "Gentoo").to_numpy()


def threshold_rule(values, target):
    \"\"\"(threshold, above) of the one-split tree that best separates target on one column.\"\"\"
    column = np.asarray(values, dtype=float).reshape(-1, 1)
    stump = DecisionTreeClassifier(max_depth=1, random_state=SEED).fit(column, target)
    threshold = float(stump.tree_.threshold[0])
    above = bool(target[column.ravel() > threshold].mean() > 0.5)
    return threshold, above


# Rule 1: long flippers (the tree's first Gentoo split)
flipper_cut, flipper_above = threshold_rule(penguins["flipper_length_mm"], is_gentoo)
gentoo_rule_features = ["flipper_length_mm"]


def gentoo_rule(df):
    longer = np.asarray(df["flipper_length_mm"], dtype=float) > flipper_cut
    return longer if flipper_above else ~longer


# Rule 2: heavy for the depth of the bill (Gentoos are big penguins with shallow bills)
mass_per_depth = penguins["body_mass_g"] / penguins["bill_depth_mm"]
ratio_cut, ratio_above = threshold_rule(mass_per_depth, is_gentoo)
gentoo_rule_2_features = ["body_mass_g", "bill_depth_mm"]


def gentoo_rule_2(df):
    ratio = np.asarray(df["body_mass_g"], dtype=float) / np.asarray(df["bill_depth_mm"], dtype=float)
    return ratio > ratio_cut if ratio_above else ratio <= ratio_cut


gentoo_rule_accuracy = float(np.mean(gentoo_rule(penguins) == is_gentoo))
gentoo_rule_2_accuracy = float(np.mean(gentoo_rule_2(penguins) == is_gentoo))
print(f"rule 1: flipper_length_mm > {flipper_cut:.1f}: accuracy {gentoo_rule_accuracy:.3f}")
print(f"rule 2: body_mass_g / bill_depth_mm > {ratio_cut:.1f}: accuracy {gentoo_rule_2_accuracy:.3f}")
""",
    ),
    code(
        "p3-models",
        """
# TODO: compare models by cv_accuracy(model, X, y) (e.g. a decision tree, a random forest, logistic
# regression and an SVM, scaled where the model needs it); fit the best on all training rows and set
# penguin_model, penguin_model_features, best_model_name and best_cv_accuracy.
""",
        """
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

candidates = {
    "decision tree": DecisionTreeClassifier(max_depth=4, random_state=SEED),
    "random forest": RandomForestClassifier(n_estimators=200, random_state=SEED, n_jobs=1),
    "logistic regression (scaled)": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "RBF SVC (scaled)": make_pipeline(StandardScaler(), SVC(kernel="rbf", C=1.0, random_state=SEED)),
    "5-NN (scaled)": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
}
cv_scores = {name: cv_accuracy(model, X_penguins, y_penguins) for name, model in candidates.items()}
best_model_name = max(cv_scores, key=cv_scores.get)
best_cv_accuracy = cv_scores[best_model_name]
penguin_model_features = list(PENGUIN_FEATURES)
penguin_model = candidates[best_model_name].fit(X_penguins[penguin_model_features], y_penguins)
print({name: round(score, 4) for name, score in cv_scores.items()}, "->", best_model_name)
""",
    ),
    # ---------------------------------------------------------------------------------- Stretch
    md(
        "stretch-intro",
        """
## Stretch: positional encoding

Fit an MLP that maps a pixel's (x, y) position to its RGB colour, once on the raw coordinates and
once on a sinusoidal positional encoding of them, and compare the reconstructions by PSNR.
""",
    ),
    code(
        "stretch-data",
        """
image = np.load(DATA_DIR / "image.npy")  # (64, 64, 3) float32 in [0, 1]
height, width = image.shape[:2]
ys, xs = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
pixel_coords = torch.tensor(np.stack([xs, ys], axis=-1).reshape(-1, 2), dtype=torch.float32)  # (H*W, 2)
pixel_colours = torch.from_numpy(image.reshape(-1, 3))  # (H*W, 3)


def positional_encoding(coords, n_freqs):
    \"\"\"[coords, sin(2^k pi coords), cos(2^k pi coords)] for k < n_freqs; n_freqs=0 gives raw coords.\"\"\"
    if n_freqs == 0:
        return coords
    angles = coords[..., None] * (2.0 ** torch.arange(n_freqs)) * torch.pi  # (N, 2, n_freqs)
    return torch.cat([coords, torch.sin(angles).flatten(1), torch.cos(angles).flatten(1)], dim=1)


def psnr(a, b):
    \"\"\"Peak signal-to-noise ratio in dB of two images in [0, 1].\"\"\"
    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf")


plt.imshow(image)
plt.axis("off")
plt.show()
""",
    ),
    code(
        "stretch-answers",
        """
# Answer variables for the stretch goal.
pe_image = None  # numpy array (64, 64, 3) in [0, 1]: reconstruction with positional encoding
raw_image = None  # numpy array (64, 64, 3) in [0, 1]: reconstruction from raw (x, y)
pe_psnr = None  # float (dB): psnr(pe_image, image)
raw_psnr = None  # float (dB): psnr(raw_image, image)
""",
    ),
    code(
        "stretch-fit",
        """
# TODO: train an MLP (e.g. 3 hidden layers of 128, ReLU, sigmoid output, Adam lr 1e-3, full-batch,
# 1,000 steps) on positional_encoding(pixel_coords, 0) and on positional_encoding(pixel_coords, 6);
# set raw_image, pe_image (reshaped to (64, 64, 3)), raw_psnr and pe_psnr; show both images.
""",
        """
def fit_image(n_freqs, steps=1000, hidden=128):
    \"\"\"Full-batch fit of coordinates -> colour; returns the reconstruction as (H, W, 3).\"\"\"
    torch.manual_seed(SEED)
    inputs = positional_encoding(pixel_coords, n_freqs)
    net = nn.Sequential(
        nn.Linear(inputs.shape[1], hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, 3), nn.Sigmoid(),
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        F.mse_loss(net(inputs), pixel_colours).backward()
        optimizer.step()
    with torch.no_grad():
        return net(inputs).clamp(0, 1).reshape(height, width, 3).numpy()


raw_image = fit_image(0)
pe_image = fit_image(6)
raw_psnr, pe_psnr = psnr(raw_image, image), psnr(pe_image, image)
fig, axes = plt.subplots(1, 3, figsize=(9, 3))
titles = ["original", f"raw (x, y): {raw_psnr:.1f} dB", f"6 frequencies: {pe_psnr:.1f} dB"]
for ax, picture, title in zip(axes, [image, raw_image, pe_image], titles):
    ax.imshow(picture)
    ax.set_title(title)
    ax.axis("off")
plt.show()
""",
    ),
]


def render(reference: bool) -> nbformat.NotebookNode:
    """The template (``reference=False``) or the reference notebook."""
    cells = []
    for cell in CELLS:
        text = cell.answer if reference and cell.answer is not None else cell.source
        make = nbformat.v4.new_markdown_cell if cell.kind == "markdown" else nbformat.v4.new_code_cell
        cells.append(make(text, id=cell.id))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    nbformat.validate(notebook)
    return notebook


def serialise(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the notebooks on disk are out of date"
    )
    args = parser.parse_args(argv)
    stale = []
    for path, reference in ((TEMPLATE, False), (REFERENCE, True)):
        text = serialise(render(reference))
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(REPO).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("out of date (run scripts/build_notebooks.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
