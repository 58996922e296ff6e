"""One test per friction point of issue 12 (a new instructor's own assignment), each showing its fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from grader.assignment import load_assignment
from grader.cli import main
from grader.context import resolve_context
from grader.datasets import DataError, build_data
from grader.intake import collect
from grader.release import current_margins
from grader.rubric import validate_rubric
from grader.scoring import score_item
from grader.scoring.context import ScoreContext
from grader.scoring.withhold import withhold_reference

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"

BUILDER_OK = """
from pathlib import Path

def build(out_dir, source=None):
    (Path(out_dir) / "public").mkdir()
    (Path(out_dir) / "hidden").mkdir()
    (Path(out_dir) / "public" / "train.csv").write_text("a,b\\n1,2\\n")
"""
BUILDER_FAILS = """
from pathlib import Path

def build(out_dir, source=None):
    (Path(out_dir) / "public").mkdir()
    (Path(out_dir) / "public" / "half.csv").write_text("a\\n")
    raise RuntimeError("the source file is truncated")
"""


def folder_assignment(tmp_path: Path, builder_text: str, builder_ref: str = "build_data.py:build") -> Path:
    """A copy of the toy rubric in its own folder, with a data builder file beside it."""
    folder = tmp_path / "myhw"
    folder.mkdir()
    rubric = (TOY / "toy.yaml").read_text().replace("static: {dir: data}", f"builder: {builder_ref}")
    (folder / "rubric.yaml").write_text(rubric)
    (folder / "build_data.py").write_text(builder_text)
    return folder


def test_1_builder_file_beside_the_rubric_needs_no_pythonpath(tmp_path: Path) -> None:
    folder = folder_assignment(tmp_path, BUILDER_OK)
    manifest = build_data(load_assignment(folder), tmp_path / "data")
    assert "public/train.csv" in manifest["files"]
    assert "myhw" not in sys.modules and not any("build_data" == m for m in sys.modules)


def test_1_a_module_builder_that_cannot_be_imported_says_how_to_name_a_file(tmp_path: Path) -> None:
    folder = folder_assignment(tmp_path, BUILDER_OK, builder_ref="build_data:build")
    with pytest.raises(DataError, match=r"build_data\.py:build.*PYTHONPATH"):
        build_data(load_assignment(folder), tmp_path / "data")


def test_2_3_a_builder_may_return_nothing_and_needs_no_grader_helper(tmp_path: Path) -> None:
    folder = folder_assignment(tmp_path, BUILDER_OK)
    assert "import grader" not in BUILDER_OK
    manifest = build_data(load_assignment(folder), tmp_path / "data")
    written = json.loads((tmp_path / "data" / "MANIFEST.json").read_text())
    assert written["files"] == manifest["files"] and written["builder"] == "build_data.py:build"
    assert str(written["builder_version"]).startswith("sha256:")  # editing the builder rebuilds caches


def test_4_a_failed_build_leaves_nothing_half_built(tmp_path: Path) -> None:
    good = folder_assignment(tmp_path, BUILDER_OK)
    out = tmp_path / "data"
    build_data(load_assignment(good), out)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    (good / "build_data.py").write_text(BUILDER_FAILS)
    with pytest.raises(DataError, match="failed: RuntimeError: the source file is truncated"):
        build_data(load_assignment(good), out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir() if "building" in p.name] == []
    fresh = tmp_path / "fresh"
    with pytest.raises(DataError):
        build_data(load_assignment(good), fresh)
    assert not fresh.exists()


def test_5_release_check_without_data_reports_instead_of_a_traceback(tmp_path: Path, monkeypatch) -> None:
    folder = folder_assignment(tmp_path, BUILDER_FAILS)
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["release-check", str(folder)])
    assert result.exit_code == 1
    assert "FAIL data can be prepared" in result.output and "Traceback" not in result.output
    assert "grader data" in result.output and "--data DATA" in result.output
    assert not isinstance(result.exception, DataError)


def test_6_features_variable_is_optional_and_the_label_column_is_left_out() -> None:
    rubric = load_assignment(TOY / "toy.yaml").rubric
    del rubric["models"]["classifier"]["features_variable"]
    validate_rubric(rubric)  # no error
    namespace: dict[str, Any] = {}
    exec((REPO / "grader/engine/kernel/harvest_kernel.py").read_text(), namespace)
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "species": ["a", "a", "b", "b"]})
    model = LogisticRegression().fit(frame[["x"]], frame["species"])
    spec = {"variable": "clf", "label_column": "species"}
    predictions = namespace["_sklearn_predict"](model, frame, spec, namespace["_Budget"](100), {})
    assert predictions == ["a", "a", "b", "b"]


def results_in(tmp_path: Path, rubric: Path) -> Path:
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    document = json.loads((REPO / "tests" / "fixtures" / "results" / "alice.json").read_text())
    document.update(assignment="myhw", rubric=str(rubric))
    (out / "results" / "alice.json").write_text(json.dumps(document))
    return out


def test_7_report_and_manual_find_a_rubric_outside_rubrics_from_the_results(tmp_path: Path) -> None:
    from grader.commands.report import resolve_assignment

    folder = tmp_path / "elsewhere"
    shutil.copytree(TOY, folder)
    text = (folder / "toy.yaml").read_text().replace("assignment: toy", "assignment: myhw")
    (folder / "toy.yaml").write_text(text)
    found = resolve_assignment(None, [{"assignment": "myhw", "rubric": str(folder / "toy.yaml")}])
    assert found is not None and found.rubric_path == (folder / "toy.yaml").resolve()
    out = results_in(tmp_path, folder / "toy.yaml")
    result = CliRunner().invoke(main, ["manual", str(out)])
    assert "rendering without the rubric" not in result.output


def test_8_stale_advice_names_a_command_that_finds_the_rubric(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "hw"
    shutil.copytree(TOY, folder)
    (folder / "toy.yaml").write_text((folder / "toy.yaml").read_text() + "\n# an edit\n")
    monkeypatch.chdir(tmp_path)
    context = resolve_context(load_assignment(folder), folder / "data")
    warning = " ".join(context.warnings())
    assert "`grader reference hw/toy.yaml`" in warning
    assert load_assignment("hw/toy.yaml").name == "toy"  # the advised command's argument works


def test_9_release_check_reports_the_bar_the_rubric_states_now(tmp_path: Path) -> None:
    folder = tmp_path / "hw"
    shutil.copytree(TOY, folder)
    text = (
        (folder / "toy.yaml").read_text().replace("full_at: 0.85, zero_at: 0.6", "full_at: 0.9, zero_at: 0.6")
    )
    (folder / "toy.yaml").write_text(text)
    context = resolve_context(load_assignment(folder), folder / "data")
    (margin,) = current_margins(context)
    assert margin["full_at"] == 0.9


def test_10_same_named_notebooks_in_different_folders_are_different_students(tmp_path: Path) -> None:
    paths = []
    for who in ("a", "b", "c"):
        (tmp_path / who).mkdir()
        shutil.copy(TOY / "toy_template.ipynb", tmp_path / who / "hw1.ipynb")
        paths.append(tmp_path / who / "hw1.ipynb")
    intake = collect(paths, tmp_path / "work", preferred_name="hw1.ipynb")
    assert sorted(s.student for s in intake.submissions) == ["a", "b", "c"]


def test_11_check_leaves_no_folder_behind(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    broken = tmp_path / "toy_template.ipynb"
    broken.write_text("{not json")
    env = {**os.environ, "TMPDIR": str(scratch)}
    done = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(broken), "--assignment", str(TOY), "--fast"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "invalid_notebook" in done.stdout, done.stdout + done.stderr
    assert [p.name for p in scratch.iterdir() if p.name.startswith("grader-check-")] == []


def test_12_check_and_gradescope_do_not_default_to_hw2(tmp_path: Path) -> None:
    lone = tmp_path / "mine.ipynb"
    shutil.copy(TOY / "toy_template.ipynb", lone)
    result = CliRunner().invoke(main, ["check", str(lone)])
    assert result.exit_code == 2 and "pass --assignment" in result.output
    from grader.selfcheck import assignment_for_notebook

    assert assignment_for_notebook(TOY / "toy_template.ipynb").name == "toy"
    env = {k: v for k, v in os.environ.items() if k != "GRADER_ASSIGNMENT"}
    result = CliRunner(env={"GRADER_ASSIGNMENT": None}).invoke(main, ["gradescope"], env=env)
    assert result.exit_code == 2 and "GRADER_ASSIGNMENT" in result.output


def test_13_data_source_help_is_not_about_hw2() -> None:
    text = CliRunner().invoke(main, ["data", "--help"]).output
    assert "MNIST" not in text and "builder" in text


def test_16_a_self_check_withholds_the_reference_values() -> None:
    item = {"id": "c", "kind": "curve_band", "label": "accuracy", "answer": "acc"}
    result = {
        "status": "partial",
        "message": "accuracy at x 1 is 0.5; expected 0.965 ± 0.008",
        "evidence": {
            "values": [0.5, 0.96],
            "x": [1, 2],
            "x_label": "x",
            "expected": {"mean": [0.965, 0.96], "low": [0.957, 0.95], "high": [0.973, 0.97]},
        },
    }
    hidden = withhold_reference(item, result)
    assert "0.965" not in hidden["message"] and "0.008" not in hidden["message"]
    assert "below the band" in hidden["message"] and "expected" not in hidden["evidence"]


def test_16_score_item_withholds_only_in_a_self_check(tmp_path: Path) -> None:
    assignment = load_assignment(TOY / "toy.yaml")
    expected = json.loads((TOY / "expected.json").read_text())
    item = next(i for i in assignment.items if i["id"] == "t1_val_curve")
    run: dict[str, Any] = {
        "status": "completed",
        "harvest": {
            "answers": {
                "val_acc": {"status": "ok", "value": [0.1] * 5},
                "depths": {"status": "ok", "value": [1, 2, 3, 4, 5]},
            }
        },
    }
    mean = f"{expected['items']['t1_val_curve']['observed']['mean'][0]:.3g}"
    for public_only in (False, True):
        ctx = ScoreContext(
            run=run,
            assignment=assignment,
            expected=expected,
            data_dir=TOY / "data",
            profile="default",
            public_only=public_only,
        )  # type: ignore[arg-type]
        message = score_item(item, ctx)["message"]
        assert (mean in message) is not public_only, message


def test_14_15_one_source_per_assignment_and_nothing_hw2_shaped_in_the_package() -> None:
    """`grader assign` builds template and reference from one master (tests/test_authoring_master.py
    checks the toy's with --check); the toy's generator is gone, hw2's data builder left the package,
    and no code in grader/ names hw2 as a value (only usage examples in help and docstrings)."""
    assert (TOY / "toy_master.ipynb").is_file() and not (TOY / "make_notebooks.py").exists()
    assert not (REPO / "grader" / "datasets" / "hw2.py").exists()
    assert (REPO / "reference" / "hw2" / "build_data.py").is_file()
    import re

    literal = re.compile(r"""['"]hw2(\.yaml|\.ipynb)?['"]|datasets\.hw2|rubrics/hw2""")
    named = [
        f"{path.relative_to(REPO)}:{number}"
        for path in (REPO / "grader").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert named == []
