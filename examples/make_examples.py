#!/usr/bin/env python3
"""Generate the example hw2 submissions in ``examples/submissions/hw2/`` from the student template.

Each example is the template notebook (``student_template/hw2/hw2.ipynb``) with the cells a student
of that kind would have written: cells are replaced by template cell id, and a few students insert
cells of their own. The notebooks are written without outputs, as students hand them in after
*Restart & Run All* minus the outputs (the grader executes them anyway).

Run ``.venv/bin/python examples/make_examples.py`` after the template changes;
``--check`` exits 1 when the committed notebooks differ from what this script writes.
``EXPECTED.md`` beside the notebooks says what each one should score.
"""

from __future__ import annotations

import argparse
import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hw2" / "hw2.ipynb"
OUT_DIR = REPO / "examples" / "submissions" / "hw2"


@dataclass(frozen=True)
class Student:
    """One example submission: what it is, and the cells that differ from the template."""

    id: str
    summary: str
    cells: dict[str, str] = field(default_factory=dict)  # template cell id -> the student's source
    answers: dict[str, str] = field(default_factory=dict)  # free-text id -> the student's prose
    extra: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # after id -> [(kind, source)]


def _s(text: str) -> str:
    return text.strip("\n")


# --------------------------------------------------------------------------- shared student cells
# Parts that several students wrote the same way are still each student's own code below; these few
# are the common "did it correctly" versions reused by students whose point is a fault elsewhere.

P1_FIT_LOOP = _s(
    """
depths = [1, 2, 4, 8, 16]
dt_train_rmse, dt_val_rmse = [], []
rf_train_rmse, rf_val_rmse = [], []
gb_train_rmse, gb_val_rmse = [], []

for depth in depths:
    for make, train_list, val_list in [
        (make_tree, dt_train_rmse, dt_val_rmse),
        (make_forest, rf_train_rmse, rf_val_rmse),
        (make_boosting, gb_train_rmse, gb_val_rmse),
    ]:
        model = make(depth)
        model.fit(X_temp_train, y_temp_train)
        train_list.append(rmse(y_temp_train, model.predict(X_temp_train)))
        val_list.append(rmse(y_temp_val, model.predict(X_temp_val)))
    print(f"depth {depth:2d} | tree {dt_val_rmse[-1]:.2f} | forest {rf_val_rmse[-1]:.2f} | boosting {gb_val_rmse[-1]:.2f}")

plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rmse, "Decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "Random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "Gradient boosting")
"""
)

P1_QUESTIONS_COMPUTED = _s(
    """
# Answer variables for the Part 1 questions.
dt_best_depth = depths[int(np.argmin(dt_val_rmse))]
rf_best_depth = depths[int(np.argmin(rf_val_rmse))]
gb_best_depth = depths[int(np.argmin(gb_val_rmse))]
boosting_prefers = "smaller" if gb_best_depth <= 4 else "larger"

# overfitting = how much the validation error goes up again at depth 16 compared to the best depth
overfit = {
    "decision_tree": dt_val_rmse[-1] - min(dt_val_rmse),
    "random_forest": rf_val_rmse[-1] - min(rf_val_rmse),
    "gradient_boosting": gb_val_rmse[-1] - min(gb_val_rmse),
}
least_overfit_model = min(overfit, key=overfit.get)
# bias = how well the model can fit the training data (mean training RMSE over the depths)
bias = {
    "decision_tree": np.mean(dt_train_rmse),
    "random_forest": np.mean(rf_train_rmse),
    "gradient_boosting": np.mean(gb_train_rmse),
}
lowest_bias_model = min(bias, key=bias.get)
print(dt_best_depth, rf_best_depth, gb_best_depth, boosting_prefers, least_overfit_model, lowest_bias_model)
"""
)

P2_GIVEN = _s(
    """
torch.manual_seed(SEED)
sgd_model = MLP()
sgd_optimizer = torch.optim.SGD(sgd_model.parameters(), lr=0.01)
sgd_train_losses, sgd_val_losses = train(sgd_model, sgd_optimizer, epochs=10, batch_size=256)
sgd_val_error = evaluate(sgd_model, X_mnist_val, y_mnist_val)[1]
plot_losses(sgd_train_losses, sgd_val_losses, "Given configuration: SGD lr=0.01, batch 256")
print("final validation error:", round(sgd_val_error, 4))
"""
)

P2_SWEEP = _s(
    """
lr_rates = [0.001, 0.01, 0.1, 0.5]
lr_val_errors = []
sweep_val_losses = {}
for lr in lr_rates:
    torch.manual_seed(SEED)
    net = MLP()
    _, val_losses = train(net, torch.optim.SGD(net.parameters(), lr=lr), epochs=10, batch_size=256)
    sweep_val_losses[lr] = val_losses
    lr_val_errors.append(evaluate(net, X_mnist_val, y_mnist_val)[1])
    print(f"lr={lr}: validation error {lr_val_errors[-1]:.3f}")

plt.figure(figsize=(5, 3.5))
for lr, losses in sweep_val_losses.items():
    plt.plot(range(1, 11), losses, label=f"lr={lr}")
plt.xlabel("epoch")
plt.ylabel("validation loss")
plt.legend()
plt.title("Validation loss for different learning rates")
plt.show()

plt.figure(figsize=(5, 3.5))
plt.semilogx(lr_rates, lr_val_errors, "o-")
plt.xlabel("learning rate")
plt.ylabel("validation error after 10 epochs")
plt.show()
"""
)

P2_TUNED = _s(
    """
# Adam + a wider network + dropout, and random 1-pixel shifts of each batch (more data for free):
# without the shifts the validation error stalled around 5%.
def shifted(batch, generator):
    dx, dy = torch.randint(-1, 2, (2,), generator=generator).tolist()
    return torch.roll(batch.reshape(-1, 28, 28), shifts=(dy, dx), dims=(1, 2)).reshape(-1, 784)


torch.manual_seed(SEED)
mnist_model = MLP(hidden=(512, 256), dropout=0.2)
adam = torch.optim.Adam(mnist_model.parameters(), lr=1e-3)
epochs = 20
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(adam, T_max=epochs)
gen = torch.Generator().manual_seed(SEED)
tuned_train_losses, tuned_val_losses = [], []
for epoch in range(epochs):
    mnist_model.train()
    order = torch.randperm(len(X_mnist_train), generator=gen)
    losses = []
    for start in range(0, len(order), 64):
        idx = order[start : start + 64]
        adam.zero_grad()
        loss = F.cross_entropy(mnist_model(shifted(X_mnist_train[idx], gen)), y_mnist_train[idx])
        loss.backward()
        adam.step()
        losses.append(loss.item())
    schedule.step()
    tuned_train_losses.append(float(np.mean(losses)))
    tuned_val_losses.append(evaluate(mnist_model, X_mnist_val, y_mnist_val)[0])

tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]  # evaluate() switches to eval mode
plot_losses(tuned_train_losses, tuned_val_losses, "Tuned: Adam, 512-256, dropout 0.2, shifts")
print(f"tuned validation error: {tuned_val_error:.2%}")
"""
)

P3_SCATTER = _s(
    """
fig, axes = plt.subplots(2, 2, figsize=(10, 8))
scatter_by_species(penguins, "bill_length_mm", "bill_depth_mm", ax=axes[0, 0])
scatter_by_species(penguins, "bill_length_mm", "flipper_length_mm", ax=axes[0, 1])
scatter_by_species(penguins, "flipper_length_mm", "body_mass_g", ax=axes[1, 0])
scatter_by_species(penguins, "bill_depth_mm", "body_mass_g", ax=axes[1, 1])
plt.tight_layout()
plt.show()

# bill length vs bill depth gives three separate clouds
scatter_features = ["bill_length_mm", "bill_depth_mm"]
"""
)

P3_TREE = _s(
    """
from sklearn.tree import DecisionTreeClassifier, export_text

tree = DecisionTreeClassifier(max_depth=3, random_state=SEED)
tree.fit(X_penguins, y_penguins)
penguin_tree_text = export_text(tree, feature_names=PENGUIN_FEATURES)
print(penguin_tree_text)

# the root split of the tree: flipper_length_mm > 206.5 is (almost) only Gentoo
def gentoo_rule(df):
    return (df["flipper_length_mm"] > 206.5).to_numpy()


gentoo_rule_features = ["flipper_length_mm"]
is_gentoo = (y_penguins == "Gentoo").to_numpy()
gentoo_rule_accuracy = float(np.mean(gentoo_rule(penguins) == is_gentoo))


# second rule without the flippers: Gentoos are heavy but have shallow bills
def gentoo_rule_2(df):
    return (df["body_mass_g"] / df["bill_depth_mm"] > 280).to_numpy()


gentoo_rule_2_features = ["body_mass_g", "bill_depth_mm"]
print("rule 1 accuracy:", gentoo_rule_accuracy)
print("rule 2 accuracy:", np.mean(gentoo_rule_2(penguins) == is_gentoo))
"""
)

P3_MODELS = _s(
    """
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

models = {
    "decision tree": DecisionTreeClassifier(max_depth=4, random_state=SEED),
    "random forest": RandomForestClassifier(n_estimators=100, random_state=SEED),
    "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "SVM (RBF)": make_pipeline(StandardScaler(), SVC()),
}
scores = {}
for name, model in models.items():
    scores[name] = cv_accuracy(model, X_penguins, y_penguins)
    print(f"{name:20s} {scores[name]:.4f}")

best_model_name = max(scores, key=scores.get)
best_cv_accuracy = scores[best_model_name]
penguin_model_features = PENGUIN_FEATURES
penguin_model = models[best_model_name].fit(X_penguins, y_penguins)
print("best:", best_model_name, best_cv_accuracy)
"""
)

WHY_BOOSTING_OK = _s(
    """
Boosting fits each new tree to the residuals of the trees before it, so every tree only has to be a
weak learner. Shallow trees have high bias but low variance and the sum of many of them brings the bias
down bit by bit. Deep trees already fit the training data (and its noise) on their own, so boosting with
depth 8 or 16 overfits: the training RMSE goes to about zero while the validation RMSE goes up.
"""
)

FEATURE_PAIR_OK = _s(
    """
In the scatter plots bill length vs bill depth is the only pair where all three species form separate
groups: Adelie have short and deep bills, Chinstrap long and deep, Gentoo long and shallow. Flipper
length and body mass only separate Gentoo from the others.
"""
)


# --------------------------------------------------------------------------------- the students
STUDENTS: list[Student] = [
    # 1 ------------------------------------------------------------------------------------------
    Student(
        id="ada_lovelace",
        summary="complete and strong, stretch goal included",
        cells={
            "p1-fit": _s(
                """
depths = [1, 2, 4, 8, 16]
models = {"decision_tree": make_tree, "random_forest": make_forest, "gradient_boosting": make_boosting}
results = {name: {"train": [], "val": []} for name in models}

for name, make in models.items():
    for depth in depths:
        model = make(depth).fit(X_temp_train, y_temp_train)
        results[name]["train"].append(rmse(y_temp_train, model.predict(X_temp_train)))
        results[name]["val"].append(rmse(y_temp_val, model.predict(X_temp_val)))

dt_train_rmse, dt_val_rmse = results["decision_tree"]["train"], results["decision_tree"]["val"]
rf_train_rmse, rf_val_rmse = results["random_forest"]["train"], results["random_forest"]["val"]
gb_train_rmse, gb_val_rmse = results["gradient_boosting"]["train"], results["gradient_boosting"]["val"]

for name in models:
    plot_rmse_vs_depth(depths, results[name]["train"], results[name]["val"], name.replace("_", " ").title())

pd.DataFrame({(name, split): results[name][split] for name in models for split in ("train", "val")}, index=depths).round(3)
"""
            ),
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": P2_GIVEN,
            "p2-sweep": _s(
                """
lr_rates = [0.003, 0.01, 0.03, 0.1, 0.3]
lr_val_errors = []
fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(11, 3.5))
for lr in lr_rates:
    torch.manual_seed(SEED)
    net = MLP()
    train_losses, val_losses = train(net, torch.optim.SGD(net.parameters(), lr=lr), epochs=10, batch_size=256)
    lr_val_errors.append(evaluate(net, X_mnist_val, y_mnist_val)[1])
    ax_loss.plot(range(1, 11), val_losses, "o-", ms=3, label=f"lr = {lr}")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("validation loss")
ax_loss.legend()
ax_err.plot(lr_rates, lr_val_errors, "o-")
ax_err.set_xscale("log")
ax_err.set_xlabel("learning rate")
ax_err.set_ylabel("validation error")
plt.show()

# the same data as a table
pd.Series(lr_val_errors, index=lr_rates, name="validation error").round(3)
"""
            ),
            "p2-tuned": _s(
                """
# Tried: Adam 1e-3 with (128, 64) -> ~9%; (512, 256) + dropout 0.2 -> ~5%, stuck there.
# What helped most: shifting every mini-batch by up to one pixel (data augmentation) + cosine decay.
def augment(x, generator):
    \"\"\"Roll a batch of flattened digits by a random (dy, dx) in {-1, 0, 1}^2.\"\"\"
    dy, dx = torch.randint(-1, 2, (2,), generator=generator).tolist()
    return torch.roll(x.view(-1, 28, 28), shifts=(dy, dx), dims=(1, 2)).reshape(-1, 784)


torch.manual_seed(SEED)
mnist_model = MLP(hidden=(512, 256), dropout=0.2)
optimizer = torch.optim.AdamW(mnist_model.parameters(), lr=1e-3, weight_decay=1e-4)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)
rng = torch.Generator().manual_seed(SEED)
tuned_train_losses, tuned_val_losses = [], []
for epoch in range(20):
    mnist_model.train()
    permutation = torch.randperm(len(X_mnist_train), generator=rng)
    running = 0.0
    for i in range(0, len(permutation), 64):
        batch = permutation[i : i + 64]
        optimizer.zero_grad()
        loss = F.cross_entropy(mnist_model(augment(X_mnist_train[batch], rng)), y_mnist_train[batch])
        loss.backward()
        optimizer.step()
        running += loss.item() * len(batch)
    scheduler.step()
    tuned_train_losses.append(running / len(permutation))
    tuned_val_losses.append(evaluate(mnist_model, X_mnist_val, y_mnist_val)[0])

tuned_val_loss, tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)  # leaves eval mode on
plot_losses(tuned_train_losses, tuned_val_losses, "Tuned MLP (AdamW, 512-256, dropout 0.2, shifts)")
print(f"validation loss {tuned_val_loss:.3f}, validation error {tuned_val_error:.3%}")
"""
            ),
            "p3-scatter": _s(
                """
import itertools

measurements = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
pairs = list(itertools.combinations(measurements, 2))
fig, axes = plt.subplots(2, 3, figsize=(15, 8))
for ax, (x, y) in zip(axes.ravel(), pairs):
    scatter_by_species(penguins, x, y, ax=ax)
plt.tight_layout()
plt.show()

scatter_features = ["bill_length_mm", "bill_depth_mm"]
"""
            ),
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
            "stretch-fit": _s(
                """
def fit_image(n_freqs, steps=400, hidden=128):
    \"\"\"Full-batch Adam fit of pixel position -> colour; returns the (H, W, 3) reconstruction.\"\"\"
    torch.manual_seed(SEED)
    inputs = positional_encoding(pixel_coords, n_freqs)
    net = nn.Sequential(
        nn.Linear(inputs.shape[1], hidden), nn.ReLU(),
        nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, 3), nn.Sigmoid(),
    )
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for step in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(net(inputs), pixel_colours)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return net(inputs).reshape(height, width, 3).numpy()


# raw (x, y) first; 400 steps is plenty, it plateaus early
raw_image = fit_image(0)
raw_psnr = psnr(raw_image, image)
print(f"raw coordinates: {raw_psnr:.2f} dB")
"""
            ),
        },
        extra={
            "stretch-fit": [
                (
                    "code",
                    _s(
                        """
# positional encoding: 6 frequencies gave a sharper picture than 4 for me
pe_image = fit_image(6)
pe_psnr = psnr(pe_image, image)

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, img, title in [(axes[0], image, "original"), (axes[1], raw_image, f"raw {raw_psnr:.1f} dB"), (axes[2], pe_image, f"PE {pe_psnr:.1f} dB")]:
    ax.imshow(img)
    ax.set_title(title)
    ax.axis("off")
plt.show()
"""
                    ),
                )
            ]
        },
        answers={
            "p1_why_boosting": _s(
                """
Boosting builds the model additively: every new tree is fitted to the residuals of the current
ensemble, so each tree only needs to be a *weak learner*. Shallow trees (depth 1-4) have high bias and
low variance, and adding 100 of them lowers the bias step by step without much variance. With deep
trees (8 or 16) the very first trees already interpolate the training set (train RMSE ~ 0), so the
following trees only fit noise and the validation RMSE gets worse. That is why gradient boosting is
best at depth 2 here, while the random forest (which averages deep, low-bias trees to cut variance)
is best with deep trees.
"""
            ),
            "p3_feature_pair": _s(
                """
I chose **bill length vs. bill depth**: it is the only pair where the three species form three
separate clusters (Adelie: short, deep bills; Chinstrap: long, deep bills; Gentoo: long, shallow bills).
The size features (flipper length, body mass) separate Gentoo very well but Adelie and Chinstrap
overlap completely, because those two species are about the same size.
"""
            ),
        },
    ),
    # 2 ------------------------------------------------------------------------------------------
    Student(
        id="grace_hopper",
        summary="complete but weaker: small tuned network, a weaker second Gentoo rule, no stretch",
        cells={
            "p1-fit": _s(
                """
depths = [1, 2, 4, 8, 16]
rows = []
for d in depths:
    row = {"depth": d}
    for short, make in (("dt", make_tree), ("rf", make_forest), ("gb", make_boosting)):
        m = make(d)
        m.fit(X_temp_train, y_temp_train)
        row[short + "_train"] = rmse(y_temp_train, m.predict(X_temp_train))
        row[short + "_val"] = rmse(y_temp_val, m.predict(X_temp_val))
    rows.append(row)
table = pd.DataFrame(rows).set_index("depth")

dt_train_rmse = table["dt_train"].tolist()
dt_val_rmse = table["dt_val"].tolist()
rf_train_rmse = table["rf_train"].tolist()
rf_val_rmse = table["rf_val"].tolist()
gb_train_rmse = table["gb_train"].tolist()
gb_val_rmse = table["gb_val"].tolist()

plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rmse, "decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "gradient boosting")
table.round(2)
"""
            ),
            "p1-questions": _s(
                """
# Answer variables for the Part 1 questions.
dt_best_depth = int(table["dt_val"].idxmin())
rf_best_depth = int(table["rf_val"].idxmin())
gb_best_depth = int(table["gb_val"].idxmin())
boosting_prefers = "smaller"  # best boosting depth is 2
least_overfit_model = "random_forest"  # its validation curve stays flat for deep trees
lowest_bias_model = "gradient_boosting"  # lowest training error on average
print(dt_best_depth, rf_best_depth, gb_best_depth)
"""
            ),
            "p2-given": _s(
                """
model = MLP()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
sgd_train_losses, sgd_val_losses = train(model, opt, epochs=10, batch_size=256)
sgd_val_error = evaluate(model, X_mnist_val, y_mnist_val)[1]
sgd_model = model
plot_losses(sgd_train_losses, sgd_val_losses, "SGD")
sgd_val_error
"""
            ),
            "p2-sweep": P2_SWEEP,
            "p2-tuned": _s(
                """
# Adam is much faster than SGD. Kept the network small so it trains quickly.
mnist_model = MLP(hidden=(64,))
opt = torch.optim.Adam(mnist_model.parameters(), lr=1e-3)
tuned_train_losses, tuned_val_losses = train(mnist_model, opt, epochs=5, batch_size=128)
tuned_val_error = evaluate(mnist_model, X_mnist_val, y_mnist_val)[1]
plot_losses(tuned_train_losses, tuned_val_losses, "Adam")
print("validation error", tuned_val_error)
"""
            ),
            "p3-scatter": _s(
                """
scatter_by_species(penguins, "flipper_length_mm", "body_mass_g")
plt.show()
scatter_by_species(penguins, "bill_length_mm", "flipper_length_mm")
plt.show()
scatter_features = ["bill_length_mm", "flipper_length_mm"]
"""
            ),
            "p3-tree": _s(
                """
from sklearn.tree import DecisionTreeClassifier, export_text

clf = DecisionTreeClassifier(max_depth=2, random_state=SEED).fit(X_penguins, y_penguins)
penguin_tree_text = export_text(clf, feature_names=PENGUIN_FEATURES)
print(penguin_tree_text)

gentoo_rule_features = ["flipper_length_mm"]
gentoo_rule = lambda df: df["flipper_length_mm"] > 206.5  # noqa: E731
gentoo_rule_accuracy = ((gentoo_rule(penguins)) == (y_penguins == "Gentoo")).mean()

# rule 2: Gentoos have the thinnest bills
gentoo_rule_2_features = ["bill_depth_mm"]
gentoo_rule_2 = lambda df: df["bill_depth_mm"] < 16.0  # noqa: E731
print(gentoo_rule_accuracy, ((gentoo_rule_2(penguins)) == (y_penguins == "Gentoo")).mean())
"""
            ),
            "p3-models": _s(
                """
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

tree_acc = cv_accuracy(DecisionTreeClassifier(random_state=SEED), X_penguins, y_penguins)
forest_acc = cv_accuracy(RandomForestClassifier(random_state=SEED), X_penguins, y_penguins)
knn_acc = cv_accuracy(KNeighborsClassifier(), X_penguins, y_penguins)
print("tree", tree_acc, "forest", forest_acc, "knn", knn_acc)

# the random forest is the best of the three
best_model_name = "random forest"
best_cv_accuracy = forest_acc
penguin_model_features = list(X_penguins.columns)
penguin_model = RandomForestClassifier(random_state=SEED).fit(X_penguins, y_penguins)
"""
            ),
        },
        answers={
            "p1_why_boosting": _s(
                """
Boosting works best with small trees because every tree corrects the mistakes of the previous ones.
Big trees overfit.
"""
            ),
            "p3_feature_pair": _s(
                """
Bill length and flipper length, because the species are mostly separated in that plot (Gentoo has long
flippers and Adelie short bills).
"""
            ),
        },
    ),
    # 3 ------------------------------------------------------------------------------------------
    Student(
        id="alan_turing",
        summary="partial: Parts 1 and 3 done, Part 2 and the stretch left as in the template",
        cells={
            "p1-fit": P1_FIT_LOOP,
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK},
    ),
    # 4 ------------------------------------------------------------------------------------------
    Student(
        id="edsger_dijkstra",
        summary="the given SGD configuration trained with lr 0.1 instead of 0.01; the rest is fine",
        cells={
            "p1-fit": P1_FIT_LOOP,
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": _s(
                """
# NOTE: with lr=0.01 the loss hardly moves in 10 epochs, so I used 0.1 -- much better curves.
torch.manual_seed(SEED)
given = MLP()
sgd_train_losses, sgd_val_losses = train(given, torch.optim.SGD(given.parameters(), lr=0.1), epochs=10, batch_size=256)
sgd_val_error = evaluate(given, X_mnist_val, y_mnist_val)[1]
sgd_model = given
plot_losses(sgd_train_losses, sgd_val_losses, "SGD, batch 256")
print(f"validation error: {sgd_val_error:.3f}")
"""
            ),
            "p2-sweep": P2_SWEEP,
            "p2-tuned": P2_TUNED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK},
    ),
    # 5 ------------------------------------------------------------------------------------------
    Student(
        id="claude_shannon",
        summary="overfit trees: curves right, best depths read off the training RMSE, wrong conclusions",
        cells={
            "p1-fit": _s(
                """
depths = [1, 2, 4, 8, 16]


def train_val_rmse(make):
    train_scores, val_scores = [], []
    for d in depths:
        reg = make(d).fit(X_temp_train, y_temp_train)
        train_scores.append(rmse(y_temp_train, reg.predict(X_temp_train)))
        val_scores.append(rmse(y_temp_val, reg.predict(X_temp_val)))
    return train_scores, val_scores


dt_train_rmse, dt_val_rmse = train_val_rmse(make_tree)
rf_train_rmse, rf_val_rmse = train_val_rmse(make_forest)
gb_train_rmse, gb_val_rmse = train_val_rmse(make_boosting)

fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True)
for ax, (title, tr, va) in zip(axes, [("tree", dt_train_rmse, dt_val_rmse), ("forest", rf_train_rmse, rf_val_rmse), ("boosting", gb_train_rmse, gb_val_rmse)]):
    ax.plot(depths, tr, "o-", label="train")
    ax.plot(depths, va, "o-", label="val")
    ax.set_title(title)
    ax.set_xlabel("max_depth")
    ax.legend()
axes[0].set_ylabel("RMSE")
plt.show()
"""
            ),
            "p1-questions": _s(
                """
# Answer variables for the Part 1 questions.
# the best depth is the one where the model fits the data best
dt_best_depth = depths[int(np.argmin(dt_train_rmse))]
rf_best_depth = depths[int(np.argmin(rf_train_rmse))]
gb_best_depth = depths[int(np.argmin(gb_train_rmse))]
boosting_prefers = "larger"  # deeper trees -> lower error
least_overfit_model = "decision_tree"  # one tree is the simplest model, an ensemble has many more parameters
lowest_bias_model = "random_forest"  # averaging many trees removes the bias of the single trees
print(dt_best_depth, rf_best_depth, gb_best_depth)
"""
            ),
            "p2-given": P2_GIVEN,
            "p2-sweep": P2_SWEEP,
            "p2-tuned": P2_TUNED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        answers={
            "p1_why_boosting": _s(
                """
Boosted trees prefer larger trees: a deeper tree can represent more complicated functions, so every
step of boosting removes more of the error and the training RMSE goes down to 0 at depth 16.
"""
            ),
            "p3_feature_pair": FEATURE_PAIR_OK,
        },
    ),
    # 6 ------------------------------------------------------------------------------------------
    Student(
        id="barbara_liskov",
        summary="missing answers: a misspelled variable, answers left None, no second rule, one text unanswered",
        cells={
            "p1-fit": _s(
                """
depths = [1, 2, 4, 8, 16]
dt_train_rmse, dt_val_rsme = [], []
rf_train_rmse, rf_val_rmse = [], []
gb_train_rmse, gb_val_rmse = [], []
for depth in depths:
    dt = make_tree(depth).fit(X_temp_train, y_temp_train)
    dt_train_rmse.append(rmse(y_temp_train, dt.predict(X_temp_train)))
    dt_val_rsme.append(rmse(y_temp_val, dt.predict(X_temp_val)))
    rf = make_forest(depth).fit(X_temp_train, y_temp_train)
    rf_train_rmse.append(rmse(y_temp_train, rf.predict(X_temp_train)))
    rf_val_rmse.append(rmse(y_temp_val, rf.predict(X_temp_val)))
    gb = make_boosting(depth).fit(X_temp_train, y_temp_train)
    gb_train_rmse.append(rmse(y_temp_train, gb.predict(X_temp_train)))
    gb_val_rmse.append(rmse(y_temp_val, gb.predict(X_temp_val)))

plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rsme, "Decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "Random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "Gradient boosting")
"""
            ),
            "p1-questions": _s(
                """
# Answer variables for the Part 1 questions.
dt_best_depth = 4
rf_best_depth = 16
gb_best_depth = None  # TODO
boosting_prefers = "smaller"
least_overfit_model = None  # not sure
lowest_bias_model = "gradient_boosting"

# TODO: answer from your results above.
"""
            ),
            "p2-given": P2_GIVEN,
            "p2-sweep": P2_SWEEP,
            "p2-tuned": _s(
                """
torch.manual_seed(SEED)
mnist_model = MLP(hidden=(256, 128))
tuned_train_losses, tuned_val_losses = train(mnist_model, torch.optim.Adam(mnist_model.parameters(), lr=1e-3), epochs=12, batch_size=64)
plot_losses(tuned_train_losses, tuned_val_losses, "Adam (256, 128)")
print("tuned validation error:", evaluate(mnist_model, X_mnist_val, y_mnist_val)[1])
"""
            ),
            "p3-scatter": P3_SCATTER,
            "p3-tree": _s(
                """
from sklearn.tree import DecisionTreeClassifier, export_text

tree = DecisionTreeClassifier(max_depth=3, random_state=SEED).fit(X_penguins, y_penguins)
penguin_tree_text = export_text(tree, feature_names=PENGUIN_FEATURES)
print(penguin_tree_text)


def gentoo_rule(df):
    return df["flipper_length_mm"].to_numpy() > 206.5


gentoo_rule_features = ["flipper_length_mm"]
gentoo_rule_accuracy = np.mean(gentoo_rule(penguins) == (y_penguins == "Gentoo").to_numpy())
print(gentoo_rule_accuracy)
# TODO second rule
"""
            ),
            "p3-models": _s(
                """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

penguin_model_features = PENGUIN_FEATURES
penguin_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
print("CV accuracy:", cv_accuracy(penguin_model, X_penguins, y_penguins))
penguin_model.fit(X_penguins, y_penguins)
best_model_name = "logistic regression"
"""
            ),
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK},
    ),
    # 7 ------------------------------------------------------------------------------------------
    Student(
        id="john_mccarthy",
        summary="a crashing cell: shape error in Part 2's given configuration; Parts 1 and 3 done",
        cells={
            "p1-fit": P1_FIT_LOOP,
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": _s(
                """
# my own training loop, so I can see the images while training
images = X_mnist_train.reshape(-1, 28, 28)
model = MLP()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
sgd_train_losses_run, sgd_val_losses_run = [], []
for epoch in range(10):
    model.train()
    epoch_losses = []
    for start in range(0, len(images), 256):
        xb, yb = images[start : start + 256], y_mnist_train[start : start + 256]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        epoch_losses.append(loss.item())
    sgd_train_losses_run.append(np.mean(epoch_losses))
    sgd_val_losses_run.append(evaluate(model, X_mnist_val, y_mnist_val)[0])
sgd_train_losses, sgd_val_losses = sgd_train_losses_run, sgd_val_losses_run
sgd_val_error = evaluate(model, X_mnist_val, y_mnist_val)[1]
plot_losses(sgd_train_losses, sgd_val_losses, "SGD lr 0.01")
"""
            ),
            "p2-tuned": P2_TUNED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK},
    ),
    # 8 ------------------------------------------------------------------------------------------
    Student(
        id="donald_knuth",
        summary="an infinite loop: a hand-written threshold search in Part 3 never terminates",
        cells={
            "p1-fit": P1_FIT_LOOP,
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": P2_GIVEN,
            "p2-sweep": P2_SWEEP,
            "p2-tuned": P2_TUNED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        extra={
            "p3-tree": [
                (
                    "code",
                    _s(
                        """
# Can a better flipper threshold make the rule perfect? Walk the threshold up until it is.
threshold = 190.0
while True:
    accuracy = np.mean((penguins["flipper_length_mm"] > threshold).to_numpy() == is_gentoo)
    if accuracy == 1.0:
        break
    threshold += 0.5
print("perfect threshold:", threshold)
"""
                    ),
                )
            ]
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK},
    ),
    # 9 ------------------------------------------------------------------------------------------
    Student(
        id="frank_rosenblatt",
        summary="hard-coded numbers: metrics typed in, the MNIST model untrained, the penguin model weak",
        cells={
            "p1-fit": P1_FIT_LOOP,
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": _s(
                """
# training is slow on my laptop -- numbers from my run yesterday
sgd_train_losses = [1.95, 1.21, 0.83, 0.64, 0.55, 0.49, 0.45, 0.42, 0.40, 0.38]
sgd_val_losses = [1.52, 0.98, 0.74, 0.61, 0.54, 0.50, 0.47, 0.45, 0.43, 0.42]
sgd_val_error = 0.118
plot_losses(sgd_train_losses, sgd_val_losses, "SGD lr=0.01")
"""
            ),
            "p2-sweep": _s(
                """
lr_rates = [0.001, 0.01, 0.1, 1.0]
lr_val_errors = [0.41, 0.118, 0.062, 0.9]
plt.semilogx(lr_rates, lr_val_errors, "o-")
plt.xlabel("learning rate")
plt.ylabel("validation error")
plt.show()
"""
            ),
            "p2-tuned": _s(
                """
mnist_model = MLP(hidden=(512, 256), dropout=0.2)
mnist_model.eval()
# Adam lr=1e-3, 30 epochs
tuned_train_losses = [0.42, 0.19, 0.13, 0.10, 0.08, 0.06, 0.05, 0.04, 0.035, 0.03]
tuned_val_losses = [0.25, 0.17, 0.13, 0.11, 0.10, 0.09, 0.085, 0.08, 0.08, 0.078]
tuned_val_error = 0.021
plot_losses(tuned_train_losses, tuned_val_losses, "Adam")
"""
            ),
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": _s(
                """
from sklearn.tree import DecisionTreeClassifier

# SVM with scaling was best (99.4%)
penguin_model_features = ["body_mass_g"]
penguin_model = DecisionTreeClassifier(max_depth=1).fit(X_penguins[penguin_model_features], y_penguins)
best_model_name = "SVM"
best_cv_accuracy = 0.994
"""
            ),
        },
        answers={
            "p1_why_boosting": "Smaller trees are weak learners, boosting combines weak learners.",
            "p3_feature_pair": "Bill length and bill depth separate the species best.",
        },
    ),
    # 10 -----------------------------------------------------------------------------------------
    Student(
        id="margaret_hamilton",
        summary="Part 1 typed in: a friend's curves rounded to two decimals, plotted, nothing fitted; "
        "Parts 2 and 3 computed",
        cells={
            "p1-fit": _s(
                """
# I copied the RMSE table from my study group's spreadsheet (rounded to 2 decimals)
depths = [1, 2, 4, 8, 16]
dt_train_rmse = [4.19, 3.21, 2.57, 1.34, 0.09]
dt_val_rmse = [4.42, 3.31, 3.06, 3.63, 3.92]
rf_train_rmse = [4.06, 3.05, 2.38, 1.39, 1.01]
rf_val_rmse = [4.3, 3.19, 2.83, 2.87, 2.88]
gb_train_rmse = [2.5, 2.22, 1.33, 0.05, 0.0]
gb_val_rmse = [2.84, 2.83, 2.87, 3.11, 3.79]

plot_rmse_vs_depth(depths, dt_train_rmse, dt_val_rmse, "Decision tree")
plot_rmse_vs_depth(depths, rf_train_rmse, rf_val_rmse, "Random forest")
plot_rmse_vs_depth(depths, gb_train_rmse, gb_val_rmse, "Gradient boosting")
"""
            ),
            "p1-questions": P1_QUESTIONS_COMPUTED,
            "p2-given": P2_GIVEN,
            "p2-sweep": P2_SWEEP,
            "p2-tuned": P2_TUNED,
            "p3-scatter": P3_SCATTER,
            "p3-tree": P3_TREE,
            "p3-models": P3_MODELS,
        },
        answers={"p1_why_boosting": WHY_BOOSTING_OK, "p3_feature_pair": FEATURE_PAIR_OK},
    ),
]


# --------------------------------------------------------------------------------- the generator
def render(student: Student, template: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's notebook: the template's cells with the student's edits and insertions."""
    by_id = {cell.get("id"): cell for cell in template.cells}
    for cell_id in [*student.cells, *student.extra, *(f"answer-{a}" for a in student.answers)]:
        if cell_id not in by_id:
            raise KeyError(f"{student.id}: the template has no cell {cell_id!r}")
    cells = []
    for cell in template.cells:
        new = copy.deepcopy(cell)
        cell_id = cell.get("id")
        if cell_id in student.cells:
            new.source = student.cells[cell_id]
        answer_id = cell_id.removeprefix("answer-") if cell_id.startswith("answer-") else None
        if answer_id in student.answers:
            new.source = f"**ANSWER {answer_id}**\n\n{student.answers[answer_id].strip()}"
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        cells.append(new)
        for n, (kind, source) in enumerate(student.extra.get(cell_id, []), start=1):
            make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
            cells.append(make(source, id=f"{cell_id}-own{n}"))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(template.metadata))
    nbformat.validate(notebook)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the notebooks on disk are out of date"
    )
    args = parser.parse_args(argv)
    template = nbformat.read(TEMPLATE, as_version=4)
    stale = []
    for student in STUDENTS:
        path = OUT_DIR / f"{student.id}.ipynb"
        text = nbformat.writes(render(student, template)) + "\n"
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(REPO).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}: {student.summary}")
    if args.check:
        expected = {f"{s.id}.ipynb" for s in STUDENTS}
        extra = sorted(p.name for p in OUT_DIR.glob("*.ipynb") if p.name not in expected)
        stale += [f"{OUT_DIR.relative_to(REPO).as_posix()}/{name} (not generated)" for name in extra]
    if stale:
        print("out of date (run examples/make_examples.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
