"""hw2's student template and reference notebook: structure, and what executing them gives."""

from __future__ import annotations

import json
import re
import resource
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "student_template" / "hw2" / "hw2.ipynb"
REFERENCE = REPO / "reference" / "hw2" / "hw2_reference.ipynb"
HEADINGS = ["## Part 1:", "## Part 2:", "## Part 3:", "## Stretch:"]
FREE_TEXT = ["p1_why_boosting", "p3_feature_pair"]
ANSWERS = [
    # Part 1
    "depths", "dt_train_rmse", "dt_val_rmse", "rf_train_rmse", "rf_val_rmse", "gb_train_rmse",
    "gb_val_rmse", "dt_best_depth", "rf_best_depth", "gb_best_depth", "boosting_prefers",
    "least_overfit_model", "lowest_bias_model",
    # Part 2
    "sgd_train_losses", "sgd_val_losses", "sgd_val_error", "sgd_model", "lr_rates", "lr_val_errors", "mnist_model",
    "tuned_train_losses", "tuned_val_losses", "tuned_val_error",
    # Part 3
    "scatter_features", "penguin_tree_text", "gentoo_rule", "gentoo_rule_features",
    "gentoo_rule_accuracy", "gentoo_rule_2", "gentoo_rule_2_features", "penguin_model",
    "penguin_model_features", "best_model_name", "best_cv_accuracy",
    # Stretch
    "pe_image", "raw_image", "pe_psnr", "raw_psnr",
]  # fmt: skip


MASTER = REPO / "reference" / "hw2" / "hw2_master.ipynb"
IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL"}  # where the import differs from the package


# --- structure (fast) ----------------------------------------------------------------------------
# `grader assign hw2 --check` (the template and the reference are what the master derives) runs in
# tests/test_wine.py::test_assign_check_passes with the toy and wine assignments.


def test_intro_lists_the_packages_of_the_grading_environment() -> None:
    """Students read the packages they may import in the intro; the list must be the one the
    grader builds (rubrics/hw2.yaml `environment:`), so an edit to either shows here."""
    from grader.assignment import load_assignment
    from grader.environment.spec import assignment_spec, for_students

    spec = assignment_spec(load_assignment("hw2"))
    assert spec is not None
    listed = []
    for requirement in for_students(spec.requirements):
        name = requirement.split("=")[0].split(">")[0].split("<")[0]
        shown = requirement.replace("==", " ")
        listed.append(f"{shown} (`import {IMPORT_NAMES[name]}`)" if name in IMPORT_NAMES else shown)
    paragraph = (
        f"**Packages.** When it is graded, this notebook runs with Python {spec.python} and these packages "
        f"(and what they depend on): {', '.join(listed)}. Nothing else can be imported"
    )
    for path in (MASTER, TEMPLATE, REFERENCE):
        intro = nbformat.read(path, as_version=4).cells[0].source
        assert paragraph in intro, f"{path.name}: edit the intro's **Packages.** paragraph in {MASTER.name}"


def test_the_master_marks_every_answered_cell_with_solution_markers() -> None:
    """The master is edited by hand: every cell is in both notebooks (no REFERENCE ONLY / TEMPLATE
    ONLY copies), and each code cell that differs holds its solution in a SOLUTION block or line."""
    master = nbformat.read(MASTER, as_version=4).cells
    assert [c.id for c in master] == [c.id for c in nbformat.read(TEMPLATE, as_version=4).cells]
    for cell in master:
        assert "ONLY" not in cell.source.splitlines()[0], cell.id
    solutions = [c.id for c in master if c.cell_type == "code" and "# BEGIN SOLUTION" in c.source]
    assert len(solutions) >= 9, solutions


def test_parts_open_with_their_headings_in_order() -> None:
    for path in (TEMPLATE, REFERENCE):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name == "python3"
        found = [
            h for c in notebook.cells if c.cell_type == "markdown" for h in HEADINGS if c.source.startswith(h)
        ]
        assert found == HEADINGS, path.name


def test_every_answer_is_declared_none_with_a_type_comment() -> None:
    source = "\n".join(c.source for c in nbformat.read(TEMPLATE, as_version=4).cells if c.cell_type == "code")
    for name in ANSWERS:
        declarations = re.findall(rf"^{name} = None  # (.+)$", source, flags=re.MULTILINE)
        assert len(declarations) == 1, f"{name} must be declared once as `{name} = None  # <type>`"
        assert len(declarations[0]) > 10, f"{name}: the comment must give its type and shape"


def test_template_and_reference_differ_only_in_answered_todos() -> None:
    template = nbformat.read(TEMPLATE, as_version=4).cells
    reference = nbformat.read(REFERENCE, as_version=4).cells
    assert [c.id for c in template] == [c.id for c in reference]
    changed = [(t, r) for t, r in zip(template, reference, strict=True) if t.source != r.source]
    assert len(changed) >= 10
    for t, r in changed:
        if t.cell_type == "code":
            assert "# TODO" in t.source and "# TODO" not in r.source, t.id
        else:
            assert t.source.endswith("_Write your answer here._"), t.id
            assert t.source.splitlines()[0] == r.source.splitlines()[0], t.id
    answered = {t.source.splitlines()[0] for t, _ in changed if t.cell_type == "markdown"}
    assert answered == {f"**ANSWER {i}**" for i in FREE_TEXT}


def test_seed_threads_and_data_directory() -> None:
    setup = nbformat.read(TEMPLATE, as_version=4).cells[1].source
    assert 'SEED = int(os.environ.get("GRADER_SEED", "0"))' in setup
    assert "torch.set_num_threads(1)" in setup
    assert 'Path(os.environ.get("ASSIGNMENT_DATA", "data"))' in setup


# --- execution (slow) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hw2_builder import hw2

    out = tmp_path_factory.mktemp("hw2-data")
    hw2.build(out)
    return out


def execute(path: Path, probe: str, workdir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """Run a notebook with plain nbclient (kernel python3 of this venv) plus a probe cell.

    The probe writes ``probe.json`` in the working directory; returns (notebook, probe result,
    wall seconds, CPU seconds of the kernel).
    """
    from nbclient import NotebookClient

    monkeypatch.setenv("ASSIGNMENT_DATA", str(data_dir / "public"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("GRADER_SEED", raising=False)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(probe))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    NotebookClient(
        notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(workdir)}}
    ).execute()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return notebook, json.loads((workdir / "probe.json").read_text()), wall, cpu


def figures_per_part(notebook: nbformat.NotebookNode) -> dict[str, int]:
    counts, part = {}, None
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            part = next((h for h in HEADINGS if cell.source.startswith(h)), part)
        elif part is not None:
            images = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
            counts[part] = counts.get(part, 0) + images
    return counts


@pytest.mark.slow
def test_untouched_template_runs_with_every_answer_none(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = f"""
import json
json.dump({{name: (name in globals(), globals().get(name) is None) for name in {ANSWERS!r}}}, open("probe.json", "w"))
"""
    _, result, wall, cpu = execute(TEMPLATE, probe, tmp_path, data_dir, monkeypatch)
    print(f"template: wall {wall:.1f} s, kernel CPU {cpu:.1f} s")
    assert result == {name: [True, True] for name in ANSWERS}


REFERENCE_PROBE = """
import json, numpy as np, pandas as pd, torch
hidden = Path({hidden!r})
plain = {{}}
for name in {answers!r}:
    value = globals()[name]
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (str, int, float, list, bool)):
        plain[name] = value
penguins_test = pd.read_csv(hidden / "penguins_test_X.csv")
with torch.no_grad():
    predict = lambda X: mnist_model(torch.from_numpy(X)).argmax(dim=1).tolist()
    plain["_mnist_val_pred"] = predict(np.load(DATA_DIR / "mnist_val.npz")["X"])
    plain["_mnist_test_pred"] = predict(np.load(hidden / "mnist_test_X.npy"))
plain["_mnist_is_module"] = isinstance(mnist_model, torch.nn.Module)
plain["_rule_train"] = np.asarray(gentoo_rule(penguins), dtype=bool).tolist()
plain["_rule_test"] = np.asarray(gentoo_rule(penguins_test), dtype=bool).tolist()
plain["_rule2_test"] = np.asarray(gentoo_rule_2(penguins_test), dtype=bool).tolist()
plain["_model_test"] = [str(s) for s in penguin_model.predict(penguins_test[penguin_model_features])]
json.dump(plain, open("probe.json", "w"))
"""


@pytest.mark.slow
def test_reference_reaches_the_targets(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = REFERENCE_PROBE.format(hidden=str(data_dir / "hidden"), answers=ANSWERS)
    notebook, got, wall, cpu = execute(REFERENCE, probe, tmp_path, data_dir, monkeypatch)
    print(f"reference: wall {wall:.1f} s, kernel CPU {cpu:.1f} s")
    assert not [
        name
        for name in ANSWERS
        if name not in got
        and name not in ("mnist_model", "sgd_model", "gentoo_rule", "gentoo_rule_2", "penguin_model")
    ]

    # Part 1: five depths, three models; the best validation RMSE near 2.83 (boosting, shallow)
    assert got["depths"] == [1, 2, 4, 8, 16]
    curves = {m: (got[f"{m}_train_rmse"], got[f"{m}_val_rmse"]) for m in ("dt", "rf", "gb")}
    assert all(len(train) == len(val) == 5 for train, val in curves.values())
    best = min(min(val) for _, val in curves.values())
    assert 2.7 <= best <= 2.95, best
    for m in curves:
        assert got[f"{m}_best_depth"] == got["depths"][int(np.argmin(curves[m][1]))]
    assert got["gb_best_depth"] <= 4 and got["boosting_prefers"] == "smaller"
    assert curves["dt"][0][-1] < 0.5 < curves["dt"][1][-1] - min(curves["dt"][1])  # the deep tree overfits
    assert got["least_overfit_model"] == "random_forest" and got["lowest_bias_model"] == "gradient_boosting"

    # Part 2: the given configuration, a sweep of at least four rates, a tuned net <= 6.5% error
    val_y = np.load(data_dir / "public" / "mnist_val.npz")["y"]
    test_y = np.load(data_dir / "hidden" / "mnist_test_y.npy")
    assert len(got["sgd_train_losses"]) == len(got["sgd_val_losses"]) == 10
    assert got["sgd_train_losses"][-1] < got["sgd_train_losses"][0]
    assert 0.0 < got["sgd_val_error"] < 0.9
    assert len(set(got["lr_rates"])) >= 4 and len(got["lr_val_errors"]) == len(got["lr_rates"])
    assert got["_mnist_is_module"]
    val_error = float(np.mean(np.asarray(got["_mnist_val_pred"]) != val_y))
    assert abs(val_error - got["tuned_val_error"]) < 1e-9  # the reported error is the model's
    assert got["tuned_val_error"] <= 0.065, got["tuned_val_error"]
    assert len(got["tuned_train_losses"]) == len(got["tuned_val_losses"]) >= 5
    test_error = float(np.mean(np.asarray(got["_mnist_test_pred"]) != test_y))
    assert test_error <= 0.08, test_error

    # Part 3: a printed tree, two Gentoo rules on disjoint features, CV accuracy >= 99%
    train = pd.read_csv(data_dir / "public" / "penguins_train.csv")
    test_species = pd.read_csv(data_dir / "hidden" / "penguins_test_y.csv")["species"].to_numpy()
    assert len(got["scatter_features"]) == 2 and set(got["scatter_features"]) <= set(train.columns)
    assert "|--- " in got["penguin_tree_text"] and "class: Gentoo" in got["penguin_tree_text"]
    rule_train_accuracy = float(np.mean(np.asarray(got["_rule_train"]) == (train["species"] == "Gentoo")))
    assert rule_train_accuracy == pytest.approx(got["gentoo_rule_accuracy"]) and rule_train_accuracy >= 0.97
    assert float(np.mean(np.asarray(got["_rule_test"]) == (test_species == "Gentoo"))) >= 0.95
    assert float(np.mean(np.asarray(got["_rule2_test"]) == (test_species == "Gentoo"))) >= 0.95
    assert not set(got["gentoo_rule_features"]) & set(got["gentoo_rule_2_features"])
    assert got["best_cv_accuracy"] >= 0.99 and isinstance(got["best_model_name"], str)
    assert float(np.mean(np.asarray(got["_model_test"]) == test_species)) >= 0.97

    # Stretch: positional encoding >= 30 dB, raw coordinates clearly lower; PSNR as reported
    image = np.load(data_dir / "public" / "image.npy").astype(np.float64)
    for kind in ("pe", "raw"):
        picture = np.asarray(got[f"{kind}_image"])
        assert picture.shape == (64, 64, 3) and 0.0 <= picture.min() and picture.max() <= 1.0
        psnr = 10 * np.log10(1.0 / np.mean((picture - image) ** 2))
        assert psnr == pytest.approx(got[f"{kind}_psnr"], abs=0.01)
    assert got["pe_psnr"] >= 30.0 and got["raw_psnr"] <= got["pe_psnr"] - 8.0

    figures = figures_per_part(notebook)
    assert figures["## Part 1:"] >= 3 and figures["## Part 2:"] >= 3, figures
    assert figures["## Part 3:"] >= 2 and figures["## Stretch:"] >= 2, figures
    print(
        f"best val RMSE {best:.3f}; SGD val error {got['sgd_val_error']:.3f}; tuned val error "
        f"{got['tuned_val_error']:.3f} (hidden test {test_error:.3f}); Gentoo rule {rule_train_accuracy:.3f}; "
        f"best CV {got['best_cv_accuracy']:.4f} ({got['best_model_name']}); PSNR PE {got['pe_psnr']:.1f} dB, "
        f"raw {got['raw_psnr']:.1f} dB"
    )
