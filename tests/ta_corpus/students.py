"""The labelled corpus: hw2 submissions written the way students of an applied-ML course fill in
the template, each built from the template by replacing cells (as ``examples/make_examples.py``
does). What a careful TA gives each of them, item by item, is in ``verdicts.yaml`` beside this file,
written before the grader ever ran on them.

Most students leave the stretch goal undone: it is the slowest part of hw2 to execute, and the
examples already cover it; one student does it.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "examples"))

from make_examples import (  # noqa: E402
    FEATURE_PAIR_OK,
    P1_FIT_LOOP,
    P1_QUESTIONS_COMPUTED,
    P2_GIVEN,
    P2_SWEEP,
    P3_MODELS,
    P3_SCATTER,
    P3_TREE,
    STUDENTS,
    WHY_BOOSTING_OK,
    Student,
    _s,
)

# A tuned network most students reach: Adam on a wider MLP with dropout, through the given train().
P2_TUNED_PLAIN = _s(
    """
torch.manual_seed(SEED)
mnist_model = MLP(hidden=(512, 256), dropout=0.2)
tuned_train_losses, tuned_val_losses = train(
    mnist_model, torch.optim.Adam(mnist_model.parameters(), lr=1e-3), epochs=12, batch_size=64
)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]
plot_losses(tuned_train_losses, tuned_val_losses, "Adam, 512-256, dropout 0.2")
print(f"tuned validation error: {tuned_val_error:.2%}")
"""
)

SETUP = _s(
    """
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

SEED = int(os.environ.get("GRADER_SEED", "0"))
DATA_DIR = Path(os.environ.get("ASSIGNMENT_DATA", "data"))
np.random.seed(SEED)
torch.manual_seed(SEED)
torch.set_num_threads(1)
"""
)

BASE_CELLS = {
    "p1-fit": P1_FIT_LOOP,
    "p1-questions": P1_QUESTIONS_COMPUTED,
    "p2-given": P2_GIVEN,
    "p2-sweep": P2_SWEEP,
    "p2-tuned": P2_TUNED_PLAIN,
    "p3-scatter": P3_SCATTER,
    "p3-tree": P3_TREE,
    "p3-models": P3_MODELS,
}
BASE_ANSWERS = {"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK}


def student(
    sid: str,
    summary: str,
    *,
    cells: dict[str, str] | None = None,
    answers: dict[str, str] | None = None,
    extra: dict[str, list[tuple[str, str]]] | None = None,
    drop_answers: tuple[str, ...] = (),
) -> Student:
    """The complete, honest submission with this student's own cells in place of the base ones."""
    merged_answers = {k: v for k, v in {**BASE_ANSWERS, **(answers or {})}.items() if k not in drop_answers}
    return Student(
        id=sid,
        summary=summary,
        cells={**BASE_CELLS, **(cells or {})},
        answers=merged_answers,
        extra=extra or {},
    )


def _example(sid: str) -> Student:
    return next(s for s in STUDENTS if s.id == sid)


CORPUS: list[Student] = [
    student("honest_lists", "complete and honest, plain Python lists and floats"),
    # ---------------------------------------------------------------- honest work in other forms
    student(
        "numpy_forms",
        "everything kept in numpy: curves as arrays, best depths and model names picked by indexing arrays",
        cells={
            "p1-fit": _s(
                """
depths = np.array([1, 2, 4, 8, 16])
scores = np.zeros((3, 2, len(depths)))  # model x (train, val) x depth
makers = [make_tree, make_forest, make_boosting]
for i, make in enumerate(makers):
    for j, depth in enumerate(depths):
        model = make(int(depth)).fit(X_temp_train, y_temp_train)
        scores[i, 0, j] = np.sqrt(np.mean((model.predict(X_temp_train) - y_temp_train.to_numpy()) ** 2))
        scores[i, 1, j] = np.sqrt(np.mean((model.predict(X_temp_val) - y_temp_val.to_numpy()) ** 2))
dt_train_rmse, dt_val_rmse = scores[0]
rf_train_rmse, rf_val_rmse = scores[1]
gb_train_rmse, gb_val_rmse = scores[2]
for i, name in enumerate(["Decision tree", "Random forest", "Gradient boosting"]):
    plot_rmse_vs_depth(depths, scores[i, 0], scores[i, 1], name)
"""
            ),
            "p1-questions": _s(
                """
dt_best_depth = depths[np.argmin(dt_val_rmse)]
rf_best_depth = depths[np.argmin(rf_val_rmse)]
gb_best_depth = depths[np.argmin(gb_val_rmse)]
boosting_prefers = np.where(gb_best_depth <= 4, "smaller", "larger")[()]
names = np.array(["decision_tree", "random_forest", "gradient_boosting"])
least_overfit_model = names[np.argmin(scores[:, 1, -1] - scores[:, 1].min(axis=1))]
lowest_bias_model = names[np.argmin(scores[:, 0].mean(axis=1))]
print(type(dt_best_depth), type(least_overfit_model), least_overfit_model, lowest_bias_model)
"""
            ),
            "p2-sweep": _s(
                """
lr_rates = np.array([0.001, 0.01, 0.1, 0.5])
lr_val_errors = np.zeros(len(lr_rates))
for k, lr in enumerate(lr_rates):
    torch.manual_seed(SEED)
    net = MLP()
    train(net, torch.optim.SGD(net.parameters(), lr=float(lr)), epochs=10, batch_size=256)
    lr_val_errors[k] = evaluate(net, X_mnist_val, y_mnist_val)[1]
plt.semilogx(lr_rates, lr_val_errors, "o-")
plt.xlabel("learning rate")
plt.ylabel("validation error")
plt.show()
"""
            ),
        },
    ),
    student(
        "pandas_forms",
        "a results DataFrame: curves are its columns (Series), depths its index, the model's features X.columns",
        cells={
            "p1-fit": _s(
                """
records = []
for depth in [1, 2, 4, 8, 16]:
    for name, make in [("dt", make_tree), ("rf", make_forest), ("gb", make_boosting)]:
        model = make(depth).fit(X_temp_train, y_temp_train)
        records.append({"depth": depth, "model": name, "split": "train", "rmse": rmse(y_temp_train, model.predict(X_temp_train))})
        records.append({"depth": depth, "model": name, "split": "val", "rmse": rmse(y_temp_val, model.predict(X_temp_val))})
results = pd.DataFrame(records).pivot_table(index="depth", columns=["model", "split"], values="rmse")
depths = results.index
dt_train_rmse, dt_val_rmse = results[("dt", "train")], results[("dt", "val")]
rf_train_rmse, rf_val_rmse = results[("rf", "train")], results[("rf", "val")]
gb_train_rmse, gb_val_rmse = results[("gb", "train")], results[("gb", "val")]
for short, title in [("dt", "Decision tree"), ("rf", "Random forest"), ("gb", "Gradient boosting")]:
    plot_rmse_vs_depth(list(depths), results[(short, "train")], results[(short, "val")], title)
results.round(3)
"""
            ),
            "p1-questions": _s(
                """
dt_best_depth = dt_val_rmse.idxmin()
rf_best_depth = rf_val_rmse.idxmin()
gb_best_depth = gb_val_rmse.idxmin()
boosting_prefers = "smaller" if gb_best_depth <= 4 else "larger"
val = pd.DataFrame({"decision_tree": dt_val_rmse, "random_forest": rf_val_rmse, "gradient_boosting": gb_val_rmse})
train_ = pd.DataFrame({"decision_tree": dt_train_rmse, "random_forest": rf_train_rmse, "gradient_boosting": gb_train_rmse})
least_overfit_model = (val.iloc[-1] - val.min()).idxmin()
lowest_bias_model = train_.mean().idxmin()
"""
            ),
            "p3-models": P3_MODELS.replace(
                "penguin_model_features = PENGUIN_FEATURES", "penguin_model_features = X_penguins.columns"
            ),
        },
    ),
    student(
        "tensor_forms",
        "PyTorch habits: error rates left as 0-d tensors, depths a tuple",
        cells={
            "p1-fit": P1_FIT_LOOP.replace("depths = [1, 2, 4, 8, 16]", "depths = (1, 2, 4, 8, 16)"),
            "p2-given": _s(
                """
torch.manual_seed(SEED)
sgd_model = MLP()
sgd_train_losses, sgd_val_losses = train(sgd_model, torch.optim.SGD(sgd_model.parameters(), lr=0.01), epochs=10, batch_size=256)
with torch.no_grad():
    sgd_val_error = (sgd_model(X_mnist_val).argmax(dim=1) != y_mnist_val).float().mean()
plot_losses(sgd_train_losses, sgd_val_losses, "SGD lr=0.01")
sgd_val_error
"""
            ),
            "p2-tuned": P2_TUNED_PLAIN.replace(
                "tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]",
                "mnist_model.eval()\nwith torch.no_grad():\n"
                "    tuned_val_error = (mnist_model(X_mnist_val).argmax(1) != y_mnist_val).float().mean()",
            ),
        },
    ),
    student(
        "own_estimators",
        "builds the scikit-learn estimators in the loop itself (same settings as the factories) and uses sklearn's RMSE",
        cells={
            "p1-fit": _s(
                """
from sklearn.metrics import mean_squared_error

depths = [1, 2, 4, 8, 16]
curves = {key: [] for key in ["dt_tr", "dt_va", "rf_tr", "rf_va", "gb_tr", "gb_va"]}
for d in depths:
    estimators = {
        "dt": DecisionTreeRegressor(max_depth=d, random_state=SEED),
        "rf": RandomForestRegressor(n_estimators=100, max_depth=d, random_state=SEED, n_jobs=1),
        "gb": GradientBoostingRegressor(n_estimators=100, max_depth=d, random_state=SEED),
    }
    for key, est in estimators.items():
        est.fit(X_temp_train, y_temp_train)
        curves[key + "_tr"].append(mean_squared_error(y_temp_train, est.predict(X_temp_train)) ** 0.5)
        curves[key + "_va"].append(mean_squared_error(y_temp_val, est.predict(X_temp_val)) ** 0.5)
dt_train_rmse, dt_val_rmse = curves["dt_tr"], curves["dt_va"]
rf_train_rmse, rf_val_rmse = curves["rf_tr"], curves["rf_va"]
gb_train_rmse, gb_val_rmse = curves["gb_tr"], curves["gb_va"]
plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rmse, "Decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "Random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "Gradient boosting")
"""
            )
        },
    ),
    student(
        "seed_42",
        "changed SEED to 42 at the top (the grader's seed is not used); everything else honest",
        cells={
            "setup": SETUP.replace(
                'SEED = int(os.environ.get("GRADER_SEED", "0"))', "SEED = 42  # my lucky number"
            )
        },
    ),
    student(
        "unseeded_forest",
        "removed random_state from make_forest (and n_jobs): the forest differs on every run",
        cells={
            "p1-helpers": _s(
                """
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor


def rmse(y_true, y_pred):
    return float(np.sqrt(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2)))


def make_tree(depth):
    return DecisionTreeRegressor(max_depth=depth, random_state=SEED)


def make_forest(depth):
    return RandomForestRegressor(n_estimators=100, max_depth=depth)


def make_boosting(depth):
    return GradientBoostingRegressor(n_estimators=100, max_depth=depth, random_state=SEED)


def plot_rmse_vs_depth(depths, train_rmse, val_rmse, title):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(depths, train_rmse, "o-", label="train")
    ax.plot(depths, val_rmse, "s-", label="validation")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("max_depth")
    ax.set_ylabel("RMSE")
    ax.set_title(title)
    ax.legend()
    plt.show()
"""
            )
        },
    ),
    student(
        "unseeded_torch",
        "seeds nothing in torch (the setup's seeding lines deleted too): the given run and the sweep start "
        "from new random weights on every run; the tuned network is seeded",
        cells={
            "setup": SETUP.replace("np.random.seed(SEED)\ntorch.manual_seed(SEED)\n", ""),
            "p2-given": P2_GIVEN.replace("torch.manual_seed(SEED)\n", ""),
            "p2-sweep": P2_SWEEP.replace("    torch.manual_seed(SEED)\n", ""),
        },
    ),
    student(
        "cnn_tuned",
        "tuned network is a small CNN that reshapes the flat pixels itself",
        cells={
            "p2-tuned": _s(
                """
class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


torch.manual_seed(SEED)
mnist_model = SmallCNN()
tuned_train_losses, tuned_val_losses = train(mnist_model, torch.optim.Adam(mnist_model.parameters(), lr=1e-3), epochs=6, batch_size=64)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]
plot_losses(tuned_train_losses, tuned_val_losses, "small CNN")
print(tuned_val_error)
"""
            )
        },
    ),
    student(
        "percent_reported",
        "reports the tuned network's validation error in percent (5.3 for 5.3%)",
        cells={
            "p2-tuned": P2_TUNED_PLAIN.replace(
                "tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]",
                "tuned_val_error = 100 * evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]  # in %",
            ).replace(
                'print(f"tuned validation error: {tuned_val_error:.2%}")',
                'print(f"tuned validation error: {tuned_val_error:.2f}%")',
            )
        },
    ),
    student(
        "gentoo_rule_series",
        "Gentoo rules return pandas Series and a plain list; features given as a tuple",
        cells={
            "p3-tree": P3_TREE.replace(
                'return (df["flipper_length_mm"] > 206.5).to_numpy()',
                'return df["flipper_length_mm"] > 206.5',
            )
            .replace(
                'return (df["body_mass_g"] / df["bill_depth_mm"] > 280).to_numpy()',
                'return [m / d > 280 for m, d in zip(df["body_mass_g"], df["bill_depth_mm"])]',
            )
            .replace(
                'gentoo_rule_features = ["flipper_length_mm"]',
                'gentoo_rule_features = ("flipper_length_mm",)',
            )
            .replace(
                "gentoo_rule_accuracy = float(np.mean(gentoo_rule(penguins) == is_gentoo))",
                "gentoo_rule_accuracy = float(np.mean(gentoo_rule(penguins).to_numpy() == is_gentoo))",
            )
            .replace(
                "np.mean(gentoo_rule_2(penguins) == is_gentoo)",
                "np.mean(np.array(gentoo_rule_2(penguins)) == is_gentoo)",
            )
        },
    ),
    student(
        "numeric_features_model",
        "penguin_model uses only the four measurements (a scaled logistic regression)",
        cells={
            "p3-models": _s(
                """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

numeric = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
penguin_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
best_cv_accuracy = cv_accuracy(penguin_model, X_penguins[numeric], y_penguins)
penguin_model.fit(X_penguins[numeric], y_penguins)
penguin_model_features = numeric
best_model_name = "logistic regression on the measurements"
print(best_cv_accuracy)
"""
            )
        },
    ),
    # ---------------------------------------------------------------- partial work
    student(
        "no_sweep",
        "skipped the learning-rate sweep (cell left as the template)",
        cells={"p2-sweep": "# TODO (ran out of time)"},
    ),
    student(
        "part2_untouched",
        "did not do Part 2 at all",
        cells={"p2-given": "# TODO", "p2-sweep": "# TODO", "p2-tuned": "# TODO"},
    ),
    student(
        "part3_scatter_only",
        "Part 3: only the scatter plots; tree, rules and models not done",
        cells={"p3-tree": "# TODO", "p3-models": "# TODO"},
    ),
    student(
        "three_rates",
        "swept only three learning rates",
        cells={
            "p2-sweep": P2_SWEEP.replace("lr_rates = [0.001, 0.01, 0.1, 0.5]", "lr_rates = [0.01, 0.1, 0.5]")
        },
    ),
    # ---------------------------------------------------------------- weaker results
    student(
        "tuned_sgd",
        "'tuned' network is SGD with lr 0.1 for 10 epochs (about 12% error)",
        cells={
            "p2-tuned": _s(
                """
torch.manual_seed(SEED)
mnist_model = MLP()
tuned_train_losses, tuned_val_losses = train(mnist_model, torch.optim.SGD(mnist_model.parameters(), lr=0.1), epochs=10, batch_size=256)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]
plot_losses(tuned_train_losses, tuned_val_losses, "SGD lr 0.1")
"""
            )
        },
    ),
    student(
        "tuned_one_epoch",
        "tuned network trained for a single epoch (about 20% error)",
        cells={
            "p2-tuned": _s(
                """
torch.manual_seed(SEED)
mnist_model = MLP()
tuned_train_losses, tuned_val_losses = train(mnist_model, torch.optim.Adam(mnist_model.parameters(), lr=1e-3), epochs=1, batch_size=256)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]
plot_losses(tuned_train_losses, tuned_val_losses, "Adam, 1 epoch")
"""
            )
        },
    ),
    student(
        "weak_gentoo_rule",
        "first Gentoo rule on bill depth alone (about 91% on new penguins)",
        cells={
            "p3-tree": P3_TREE.replace(
                'return (df["flipper_length_mm"] > 206.5).to_numpy()',
                'return (df["bill_depth_mm"] < 16.0).to_numpy()',
            )
            .replace(
                'gentoo_rule_features = ["flipper_length_mm"]', 'gentoo_rule_features = ["bill_depth_mm"]'
            )
            .replace(
                'return (df["body_mass_g"] / df["bill_depth_mm"] > 280).to_numpy()',
                'return (df["flipper_length_mm"] > 206.5).to_numpy()',
            )
            .replace(
                'gentoo_rule_2_features = ["body_mass_g", "bill_depth_mm"]',
                'gentoo_rule_2_features = ["flipper_length_mm"]',
            )
        },
    ),
    student(
        "shallow_tree_model",
        "picks a depth-2 decision tree as penguin_model (about 94% on new penguins)",
        cells={
            "p3-models": _s(
                """
tree2 = DecisionTreeClassifier(max_depth=2, random_state=SEED)
best_cv_accuracy = cv_accuracy(tree2, X_penguins, y_penguins)
penguin_model = tree2.fit(X_penguins, y_penguins)
penguin_model_features = PENGUIN_FEATURES
best_model_name = "decision tree (depth 2)"
print(best_cv_accuracy)
"""
            )
        },
    ),
    # ---------------------------------------------------------------- mistakes
    student(
        "unfitted_penguin_model",
        "penguin_model is the best model from the dict, never fitted (cross_val_score fits clones)",
        cells={
            "p3-models": P3_MODELS.replace(
                "penguin_model = models[best_model_name].fit(X_penguins, y_penguins)",
                "penguin_model = models[best_model_name]",
            )
        },
    ),
    student(
        "accuracy_for_error",
        "reports the tuned network's validation accuracy where its error rate is asked",
        cells={
            "p2-tuned": P2_TUNED_PLAIN.replace(
                "tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]",
                "tuned_val_error = 1 - evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]  # accuracy",
            )
        },
    ),
    student(
        "tree_cell_crash",
        "the penguin tree cell crashes (KeyError: a misspelled column) before any Part 3 rule is set",
        cells={
            "p3-tree": P3_TREE.replace(
                "tree.fit(X_penguins, y_penguins)",
                'tree.fit(penguins[["flipper_length", "bill_depth_mm"]], y_penguins)',
            )
        },
    ),
    student(
        "no_part1_plot",
        "computed every curve but drew no plot in Part 1",
        cells={"p1-fit": P1_FIT_LOOP.split("\n\nplot_rmse_vs_depth")[0]},
    ),
    student(
        "validation_plot_only",
        "one Part 1 plot with the three validation curves only",
        cells={
            "p1-fit": P1_FIT_LOOP.split("\n\nplot_rmse_vs_depth")[0]
            + "\n\n"
            + _s(
                """
plt.figure(figsize=(5, 3.5))
plt.plot(depths, dt_val_rmse, "o-", label="decision tree")
plt.plot(depths, rf_val_rmse, "o-", label="random forest")
plt.plot(depths, gb_val_rmse, "o-", label="gradient boosting")
plt.xscale("log", base=2)
plt.xlabel("max_depth")
plt.ylabel("validation RMSE")
plt.legend()
plt.show()
"""
            )
        },
    ),
    student(
        "no_loss_plots",
        "trained everything in Part 2 but plotted no loss curves",
        cells={
            "p2-given": P2_GIVEN.replace(
                'plot_losses(sgd_train_losses, sgd_val_losses, "Given configuration: SGD lr=0.01, batch 256")\n',
                "",
            ),
            "p2-sweep": P2_SWEEP.split("\n\nplt.figure(figsize=(5, 3.5))\nfor lr")[0]
            + "\n\n"
            + _s(
                """
plt.semilogx(lr_rates, lr_val_errors, "o-")
plt.xlabel("learning rate")
plt.ylabel("validation error after 10 epochs")
plt.show()
"""
            ),
            "p2-tuned": P2_TUNED_PLAIN.replace(
                'plot_losses(tuned_train_losses, tuned_val_losses, "Adam, 512-256, dropout 0.2")\n', ""
            ),
        },
    ),
    # ---------------------------------------------------------------- numbers the code does not produce
    student(
        "typed_forest",
        "the forest was slow: its curves typed in from a friend, the tree and boosting computed",
        cells={
            "p1-fit": _s(
                """
depths = [1, 2, 4, 8, 16]
dt_train_rmse, dt_val_rmse, gb_train_rmse, gb_val_rmse = [], [], [], []
for depth in depths:
    for make, tr, va in [(make_tree, dt_train_rmse, dt_val_rmse), (make_boosting, gb_train_rmse, gb_val_rmse)]:
        model = make(depth).fit(X_temp_train, y_temp_train)
        tr.append(rmse(y_temp_train, model.predict(X_temp_train)))
        va.append(rmse(y_temp_val, model.predict(X_temp_val)))
# the forest takes forever on my laptop, these are from my friend's notebook
rf_train_rmse = [4.06, 3.05, 2.38, 1.39, 1.01]
rf_val_rmse = [4.30, 3.19, 2.83, 2.87, 2.88]
plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rmse, "Decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "Random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "Gradient boosting")
"""
            )
        },
    ),
    student(
        "typed_sweep",
        "the learning-rate sweep typed in (it 'took too long'), plotted; everything else computed",
        cells={
            "p2-sweep": _s(
                """
# sweep results (from my earlier run)
lr_rates = [0.001, 0.01, 0.1, 0.5]
lr_val_errors = [0.31, 0.12, 0.05, 0.04]
plt.semilogx(lr_rates, lr_val_errors, "o-")
plt.xlabel("learning rate")
plt.ylabel("validation error")
plt.show()
"""
            )
        },
    ),
    student(
        "copied_sgd_error",
        "trains the given configuration but reports a classmate's final validation error",
        cells={
            "p2-given": P2_GIVEN.replace(
                "sgd_val_error = evaluate(sgd_model, X_mnist_val, y_mnist_val)[1]",
                "sgd_val_error = 0.12  # from Sam",
            )
        },
    ),
    student(
        "typed_cv_accuracy",
        "reports a cross-validated accuracy it did not compute (0.95) for a model whose CV accuracy is about 0.99",
        cells={
            "p3-models": P3_MODELS.replace(
                "best_cv_accuracy = scores[best_model_name]", "best_cv_accuracy = 0.95  # roughly"
            )
        },
    ),
    # ---------------------------------------------------------------- free text in other places
    student(
        "answers_below",
        "wrote both free-text answers in new markdown cells below the ANSWER cells, placeholder left",
        drop_answers=("p1_why_boosting", "p3_feature_pair"),
        extra={
            "answer-p1_why_boosting": [("markdown", WHY_BOOSTING_OK)],
            "answer-p3_feature_pair": [("markdown", FEATURE_PAIR_OK)],
        },
    ),
    student(
        "no_free_text",
        "left both free-text answers as the placeholder",
        drop_answers=("p1_why_boosting", "p3_feature_pair"),
    ),
    # ---------------------------------------------------------------- the stretch goal
    student(
        "stretch_done",
        "complete, with the stretch goal done",
        cells={"stretch-fit": _example("ada_lovelace").cells["stretch-fit"]},
        extra={"stretch-fit": _example("ada_lovelace").extra["stretch-fit"]},
    ),
]
