"""The similarity test corpus: planted copies of the bundled hw2 examples, altered as copiers alter.

Each copy is built from an example notebook in ``examples/submissions/hw2`` (or, for the partial
copy, from the template plus Parts 1 and 3 written here) by the edits copiers make: renamed
variables, changed or removed comments, reordered cells, rounded numbers, a changed seed with the
same code, a copy of only Part 2. Two variants of the hw2 reference solution (other seeds, same
code) are the natural-variation control: the instructor's code is excluded from code similarity,
and their results differ only as seeds make them differ.

``build_corpus(out_dir)`` writes the notebooks and returns what it wrote; ``PLANTED`` lists the
pairs that must rank above every other pair.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions" / "hw2"
TEMPLATE = REPO / "student_template" / "hw2" / "hw2.ipynb"
REFERENCE = REPO / "reference" / "hw2" / "hw2_reference.ipynb"

# (copy id, source id): every planted pair
PLANTED: list[tuple[str, str]] = [
    ("ada_renamed", "ada_lovelace"),
    ("frank_reordered", "frank_rosenblatt"),
    ("claude_reseeded", "claude_shannon"),
    ("barbara_rounded", "barbara_liskov"),
    ("linus_part2_from_grace", "grace_hopper"),
    ("edsger_renamed", "edsger_dijkstra"),
]
REFERENCE_VARIANTS = ["reference_seed1", "reference_seed2"]


# --------------------------------------------------------------------------- source edits
def rename(source: str, names: dict[str, str]) -> str:
    """Rename identifiers as a careful find-and-replace would: not attributes after a dot, and not
    keyword arguments of calls (``f(hidden=3)`` keeps ``hidden``; a ``def``'s parameters are renamed)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    significant = [t for t in tokens if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)]
    edits: list[tuple[int, int, int, str]] = []
    brackets: list[bool] = []  # per open bracket: is it a def's parameter list?
    for i, tok in enumerate(significant):
        before = significant[i - 1] if i else None
        after = significant[i + 1] if i + 1 < len(significant) else None
        if tok.string in "([{" and tok.type == tokenize.OP:
            is_def = before is not None and i >= 2 and significant[i - 2].string == "def"
            brackets.append(is_def)
        elif tok.string in ")]}" and tok.type == tokenize.OP and brackets:
            brackets.pop()
        if tok.type != tokenize.NAME or tok.string not in names:
            continue
        if before is not None and before.string == ".":
            continue
        keyword_argument = after is not None and after.string == "=" and brackets and not brackets[-1]
        if keyword_argument:
            continue
        edits.append((tok.start[0], tok.start[1], tok.end[1], names[tok.string]))
    lines = source.splitlines(keepends=True)
    for row, start, end, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    return "".join(lines)


def recomment(source: str, note: str) -> str:
    """Drop every comment (whole-line and trailing) and put the copier's own note on top."""
    lines = source.splitlines()
    comment_rows: dict[int, int] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comment_rows[tok.start[0]] = tok.start[1]
    out = []
    for row, line in enumerate(lines, start=1):
        if row in comment_rows:
            line = line[: comment_rows[row]].rstrip()
            if not line:
                continue
        out.append(line)
    return f"# {note}\n" + "\n".join(out)


def _load(student: str) -> nbformat.NotebookNode:
    return nbformat.read(EXAMPLES / f"{student}.ipynb", as_version=4)


def _cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def _edit(notebook: nbformat.NotebookNode, cell_id: str, change: Callable[[str], str]) -> None:
    cell = _cell(notebook, cell_id)
    cell.source = change(cell.source)


def _answer(notebook: nbformat.NotebookNode, answer_id: str, text: str) -> None:
    _cell(notebook, f"answer-{answer_id}").source = f"**ANSWER {answer_id}**\n\n{text}"


# --------------------------------------------------------------------------- the copies
def ada_renamed() -> nbformat.NotebookNode:
    """Every variable of her own renamed, comments rewritten, her written answers lightly edited."""
    nb = _load("ada_lovelace")
    names = {
        "models": "regressors",
        "results": "scores",
        "name": "key",
        "make": "factory",
        "depth": "d",
        "model": "fitted",
        "split": "which",
        "net": "network",
        "ax_loss": "left",
        "ax_err": "right",
        "augment": "jitter",
        "dy": "shift_y",
        "dx": "shift_x",
        "optimizer": "opt",
        "scheduler": "sched",
        "rng": "random_source",
        "permutation": "perm",
        "running": "total_loss",
        "batch": "rows",
        "measurements": "columns",
        "pairs": "combos",
        "fit_image": "reconstruct",
        "n_freqs": "frequencies",
        "inputs": "features",
        "img": "picture",
    }
    for cell in nb.cells:
        if (
            cell.cell_type == "code"
            and "-own" in cell.get("id", "")
            or cell.get("id")
            in {
                "p1-fit",
                "p2-sweep",
                "p2-tuned",
                "p3-scatter",
                "stretch-fit",
            }
        ):
            cell.source = recomment(rename(cell.source, names), "my solution")
    why = _cell(nb, "answer-p1_why_boosting").source.split("\n", 2)[2]
    _answer(
        nb,
        "p1_why_boosting",
        why.replace("Boosting builds the model additively", "Gradient boosting builds its model additively")
        .replace("weak learner", "weak model")
        .replace("That is why", "This is why"),
    )
    pair = _cell(nb, "answer-p3_feature_pair").source.split("\n", 2)[2]
    _answer(nb, "p3_feature_pair", pair.replace("I chose", "My choice is").replace("completely", "a lot"))
    return nb


def frank_reordered() -> nbformat.NotebookNode:
    """Independent cells moved (the sweep before the given run, the tree before the scatter plots)."""
    nb = _load("frank_rosenblatt")
    order = [c.get("id") for c in nb.cells]
    for first, second in (("p2-given", "p2-sweep"), ("p3-scatter", "p3-tree")):
        i, j = order.index(first), order.index(second)
        nb.cells[i], nb.cells[j] = nb.cells[j], nb.cells[i]
        order[i], order[j] = order[j], order[i]
    for cell_id in ("p2-given", "p2-tuned", "p3-tree", "p3-models", "p3-scatter"):
        _edit(nb, cell_id, lambda s: recomment(s, "done"))
    _answer(
        nb, "p1_why_boosting", "Boosting adds many small trees, each fixing what the last ones got wrong."
    )
    _answer(nb, "p3_feature_pair", "These two columns give three clearly separated groups in the plot.")
    return nb


def claude_reseeded() -> nbformat.NotebookNode:
    """The same code with another seed, so every trained number differs from the source's."""
    nb = _load("claude_shannon")
    _edit(
        nb,
        "setup",
        lambda s: s.replace('os.environ.get("GRADER_SEED", "0")', 'os.environ.get("GRADER_SEED", "7")'),
    )
    return nb


def barbara_rounded() -> nbformat.NotebookNode:
    """Her code with a few renames, and every reported list of numbers rounded to three decimals."""
    nb = _load("barbara_liskov")
    _edit(nb, "p1-fit", lambda s: rename(s, {"dt": "tree_model", "rf": "forest_model", "gb": "boost_model"}))
    _edit(
        nb,
        "p1-fit",
        lambda s: (
            s
            + "\nrf_train_rmse = [round(v, 3) for v in rf_train_rmse]"
            + "\nrf_val_rmse = [round(v, 3) for v in rf_val_rmse]"
            + "\ngb_train_rmse = [round(v, 3) for v in gb_train_rmse]"
            + "\ngb_val_rmse = [round(v, 3) for v in gb_val_rmse]"
        ),
    )
    _edit(
        nb,
        "p2-given",
        lambda s: (
            rename(s, {"sgd_model": "net", "sgd_optimizer": "opt"})
            + "\nsgd_train_losses = [round(v, 3) for v in sgd_train_losses]"
            + "\nsgd_val_losses = [round(v, 3) for v in sgd_val_losses]"
            + "\nsgd_val_error = round(sgd_val_error, 3)"
        ),
    )
    _edit(
        nb,
        "p2-tuned",
        lambda s: (
            s
            + "\ntuned_train_losses = [round(v, 3) for v in tuned_train_losses]"
            + "\ntuned_val_losses = [round(v, 3) for v in tuned_val_losses]"
        ),
    )
    _edit(nb, "p3-tree", lambda s: recomment(rename(s, {"tree": "clf"}), "part 3"))
    return nb


PART1_OWN = """
depths = [1, 2, 4, 8, 16]
curves = {"dt": ([], []), "rf": ([], []), "gb": ([], [])}
builders = [("dt", make_tree), ("rf", make_forest), ("gb", make_boosting)]
for key, builder in builders:
    for max_depth in depths:
        estimator = builder(max_depth)
        estimator.fit(X_temp_train, y_temp_train)
        curves[key][0].append(rmse(y_temp_train, estimator.predict(X_temp_train)))
        curves[key][1].append(rmse(y_temp_val, estimator.predict(X_temp_val)))
    plot_rmse_vs_depth(depths, curves[key][0], curves[key][1], key.upper())
(dt_train_rmse, dt_val_rmse), (rf_train_rmse, rf_val_rmse), (gb_train_rmse, gb_val_rmse) = curves.values()
"""

PART1_QUESTIONS_OWN = """
lowest = {key: depths[val.index(min(val))] for key, (_, val) in curves.items()}
dt_best_depth, rf_best_depth, gb_best_depth = lowest["dt"], lowest["rf"], lowest["gb"]
boosting_prefers = "smaller" if gb_best_depth < 8 else "larger"
gap_at_16 = {"decision_tree": dt_val_rmse[4] - min(dt_val_rmse), "random_forest": rf_val_rmse[4] - min(rf_val_rmse),
             "gradient_boosting": gb_val_rmse[4] - min(gb_val_rmse)}
least_overfit_model = sorted(gap_at_16, key=lambda k: gap_at_16[k])[0]
avg_train = {"decision_tree": sum(dt_train_rmse) / 5, "random_forest": sum(rf_train_rmse) / 5,
             "gradient_boosting": sum(gb_train_rmse) / 5}
lowest_bias_model = sorted(avg_train, key=lambda k: avg_train[k])[0]
"""

PART3_OWN = {
    "p3-scatter": """
for first, second in [("bill_length_mm", "bill_depth_mm"), ("body_mass_g", "flipper_length_mm")]:
    scatter_by_species(penguins, first, second)
    plt.show()
scatter_features = ["bill_length_mm", "bill_depth_mm"]
""",
    "p3-tree": """
from sklearn.tree import DecisionTreeClassifier, export_text

small_tree = DecisionTreeClassifier(max_depth=2, random_state=SEED)
small_tree.fit(X_penguins, y_penguins)
penguin_tree_text = export_text(small_tree, feature_names=list(X_penguins.columns))
print(penguin_tree_text)
truth = y_penguins.eq("Gentoo").values
gentoo_rule = lambda frame: frame["flipper_length_mm"].values > 206  # noqa: E731
gentoo_rule_features = ["flipper_length_mm"]
gentoo_rule_accuracy = float((gentoo_rule(penguins) == truth).mean())
gentoo_rule_2 = lambda frame: frame["bill_depth_mm"].values < 15.5  # noqa: E731
gentoo_rule_2_features = ["bill_depth_mm"]
""",
    "p3-models": """
from sklearn.svm import SVC
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import Pipeline

svm = Pipeline([("scale", StandardScaler()), ("svc", SVC(C=3.0))])
best_cv_accuracy = cv_accuracy(svm, X_penguins, y_penguins)
best_model_name = "SVC with scaling"
penguin_model_features = list(X_penguins.columns)
penguin_model = svm.fit(X_penguins, y_penguins)
""",
}


def linus_part2_from_grace() -> nbformat.NotebookNode:
    """A student of their own for Parts 1 and 3 whose Part 2 is grace_hopper's, comments changed."""
    nb = nbformat.read(TEMPLATE, as_version=4)
    grace = _load("grace_hopper")
    _cell(nb, "p1-fit").source = PART1_OWN.strip()
    _cell(nb, "p1-questions").source = PART1_QUESTIONS_OWN.strip()
    for cell_id, source in PART3_OWN.items():
        _cell(nb, cell_id).source = source.strip()
    for cell_id in ("p2-given", "p2-sweep", "p2-tuned"):
        _cell(nb, cell_id).source = recomment(_cell(grace, cell_id).source, "part 2")
    _answer(
        nb,
        "p1_why_boosting",
        "Each stage of boosting should stay a weak learner; deep stages memorise noise.",
    )
    _answer(
        nb, "p3_feature_pair", "Bill length and bill depth: Adelie, Chinstrap and Gentoo sit apart there."
    )
    return nb


def edsger_renamed() -> nbformat.NotebookNode:
    """His own cell (the given run with lr 0.1) renamed; the rest as he wrote it."""
    nb = _load("edsger_dijkstra")
    _edit(nb, "p2-given", lambda s: recomment(rename(s, {"given": "baseline"}), "lr 0.1 works better"))
    return nb


def reference_variant(seed: int) -> nbformat.NotebookNode:
    """The reference solution run with another model seed (the same code)."""
    nb = nbformat.read(REFERENCE, as_version=4)
    _edit(
        nb,
        "setup",
        lambda s: s.replace('os.environ.get("GRADER_SEED", "0")', f'os.environ.get("GRADER_SEED", "{seed}")'),
    )
    return nb


BUILDERS: dict[str, Callable[[], nbformat.NotebookNode]] = {
    "ada_renamed": ada_renamed,
    "frank_reordered": frank_reordered,
    "claude_reseeded": claude_reseeded,
    "barbara_rounded": barbara_rounded,
    "linus_part2_from_grace": linus_part2_from_grace,
    "edsger_renamed": edsger_renamed,
    "reference_seed1": lambda: reference_variant(1),
    "reference_seed2": lambda: reference_variant(2),
}


def build_corpus(out_dir: Path) -> list[Path]:
    """Write every planted copy and reference variant as ``out_dir/<id>.ipynb``; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in BUILDERS.items():
        notebook = build()
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        path = out_dir / f"{name}.ipynb"
        nbformat.write(notebook, path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    import sys

    for written in build_corpus(Path(sys.argv[1])):
        print(written)
