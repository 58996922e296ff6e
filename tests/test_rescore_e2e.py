"""Harvest once, score many, on the toy assignment through the real sandbox.

Grade four submissions (the reference, the untouched template, a forged copy, a broken file),
then edit one threshold and one band in a copy of the rubric and grade again: nothing executes,
the two edited items move exactly as a fresh grading under the edited rubric says, every other
item is identical, and a person's manual mark is kept. Adding an answer makes exactly the
submissions whose harvest ran execute again. `grader rescore` prints the same diff, writes
nothing with --dry-run, and survives SIGKILL. `grader reference --reuse` after a band edit runs
nothing.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from grader.assignment import load_assignment
from grader.batch import grade_batch
from grader.cli import main
from grader.datasets import build_data
from grader.grading import GradeOptions
from grader.manual import merge
from grader.results import iter_jsonl, load_results

pytestmark = pytest.mark.slow

TOY_DIR = Path(__file__).resolve().parent / "assignments" / "toy"
FORGED_PART2 = """from sklearn.linear_model import LogisticRegression
clf_features = ["petal_length", "petal_width"]
clf = make_pipeline(StandardScaler(), LogisticRegression())  # never fitted
val_accuracy = 0.99  # hard-coded"""
THRESHOLD_BEFORE = "threshold: {full_at: 0.85, zero_at: 0.6}"
THRESHOLD_AFTER = "threshold: {full_at: 0.99, zero_at: 0.6}"
VAL_BAND_BEFORE = "    answer: val_acc\n    x: depths\n    x_label: max_depth\n    expect_x: [1, 2, 3, 4, 5]\n    band: {k: 3, abs: 0.04}"
VAL_BAND_AFTER = VAL_BAND_BEFORE.replace("band: {k: 3, abs: 0.04}", "band: {k: 0.5, abs: 0.001}")
EDITED = {"t2_hidden_accuracy", "t1_val_curve"}


def copy_assignment(root: Path) -> Path:
    target = root / "toy"
    shutil.copytree(TOY_DIR, target)
    return target / "toy.yaml"


def edit(rubric: Path, old: str, new: str) -> None:
    text = rubric.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    rubric.write_text(text.replace(old, new), encoding="utf-8")


def options(rubric: Path, out: Path, data: Path) -> GradeOptions:
    return GradeOptions(assignment=load_assignment(rubric), out_dir=out, data_dir=data, write_reports=True)


def docs(out: Path) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in load_results(out)}


def items(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in document["items"]}


def files(out: Path, folder: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / folder).glob("*"))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The four submissions graded once under the original rubric, plus a manual mark."""
    root = tmp_path_factory.mktemp("rescore-e2e")
    rubric = copy_assignment(root)
    data = root / "data"
    build_data(load_assignment(rubric), data)
    subs = root / "subs"
    subs.mkdir()
    shutil.copy(TOY_DIR / "toy_reference.ipynb", subs / "ref.ipynb")
    shutil.copy(TOY_DIR / "toy_template.ipynb", subs / "template.ipynb")
    forged = nbformat.read(TOY_DIR / "toy_reference.ipynb", as_version=4)
    cell = next(c for c in forged.cells if c.cell_type == "code" and "clf_features =" in c.source)
    cell.source = FORGED_PART2
    nbformat.write(forged, subs / "forged.ipynb")
    (subs / "broken.ipynb").write_text("{ not a notebook", encoding="utf-8")
    out = root / "out"
    first = grade_batch([subs], options(rubric, out, data), workers=2, progress=False)
    assert first.graded_now == 4 and first.rescored == 0
    sheet = root / "marks.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "item", "points", "comment"])
        writer.writerow(["ref", "t2_why_model", "1.5", "fine, but why not a tree?"])
    merge(out, sheet, assignment=load_assignment(rubric))
    return {"root": root, "rubric": rubric, "data": data, "subs": subs, "out": out}


def test_a_threshold_and_band_edit_rescores_without_executing(graded: dict[str, Any]) -> None:
    root, data, subs = graded["root"], graded["data"], graded["subs"]
    out = root / "edited-out"
    shutil.copytree(graded["out"], out)
    rubric = root / "edited" / "toy.yaml"
    shutil.copytree(graded["rubric"].parent, rubric.parent)
    edit(rubric, THRESHOLD_BEFORE, THRESHOLD_AFTER)
    edit(rubric, VAL_BAND_BEFORE, VAL_BAND_AFTER)
    before, runs, executed = docs(out), files(out, "run"), files(out, "executed")

    summary = grade_batch([subs], options(rubric, out, data), workers=2, progress=False)

    assert summary.graded_now == 0 and summary.rescored == 4 and summary.skipped == 0
    assert "0 executed, 4 rescored" in summary.describe()
    assert files(out, "run") == runs and files(out, "executed") == executed  # nothing ran
    after = docs(out)
    moved = {
        (sid, item_id)
        for sid in after
        for item_id, item in items(after[sid]).items()
        if item != items(before[sid])[item_id]
    }
    assert {item_id for _, item_id in moved} <= EDITED
    assert {("ref", "t2_hidden_accuracy"), ("ref", "t1_val_curve")} <= moved
    ref = items(after["ref"])
    assert ref["t2_why_model"]["evidence"]["manual"]["points"] == 1.5  # the person's mark is kept
    assert ref["t2_why_model"]["points"] == 1.5 and after["ref"]["pending_manual"] == 0
    assert after["ref"]["score"] == pytest.approx(sum(i["points"] for i in ref.values()))
    accuracy = ref["t2_hidden_accuracy"]["evidence"]["value"]
    assert ref["t2_hidden_accuracy"]["points"] == round(5 * (accuracy - 0.6) / (0.99 - 0.6), 2)

    # As the new rubric says: a fresh grading (executing everything) under the edited rubric agrees.
    fresh_out = root / "fresh-out"
    fresh = grade_batch([subs], options(rubric, fresh_out, data), workers=2, progress=False)
    assert fresh.graded_now == 4
    for sid, document in docs(fresh_out).items():
        for item_id, item in items(document).items():
            if (sid, item_id) != ("ref", "t2_why_model"):  # the mark was merged into `out` only
                assert items(after[sid])[item_id] == item, (sid, item_id)

    again = grade_batch([subs], options(rubric, out, data), workers=2, progress=False)
    assert again.skipped == 4 and again.rescored == 0 and again.graded_now == 0


def test_a_new_answer_executes_exactly_the_runs_that_harvested(graded: dict[str, Any]) -> None:
    root, data, subs = graded["root"], graded["data"], graded["subs"]
    out = root / "answer-out"
    shutil.copytree(graded["out"], out)
    rubric = root / "answer" / "toy.yaml"
    shutil.copytree(graded["rubric"].parent, rubric.parent)
    edit(
        rubric,
        "  val_accuracy: {type: number, minimum: 0, maximum: 1, part: part2}\n",
        "  val_accuracy: {type: number, minimum: 0, maximum: 1, part: part2}\n"
        "  best_depth_again: {type: integer, part: part1}\n",
    )
    dry = CliRunner().invoke(
        main, ["rescore", str(out), "--assignment", str(rubric), "--data", str(data), "--dry-run"]
    )
    assert dry.exit_code == 4, dry.output  # some runs need execution: `grader rescore` says which
    for sid in ("ref", "template", "forged"):
        assert f"{sid}: answer `best_depth_again` is new" in dry.output
    before = files(out, "run")

    summary = grade_batch([subs], options(rubric, out, data), workers=2, progress=False)

    assert summary.graded_now == 3 and summary.rescored == 1  # the broken file harvested nothing
    assert summary.reasons == {
        sid: ["answer `best_depth_again` is new"] for sid in ("ref", "template", "forged")
    }
    assert "answer `best_depth_again` is new: 3 submission(s) (forged, ref, template)" in summary.describe()
    after = files(out, "run")
    assert after["broken.json"] == before["broken.json"]
    assert all(after[f"{sid}.json"] != before[f"{sid}.json"] for sid in ("ref", "template", "forged"))
    stamp = json.loads(after["ref.json"])["execution"]
    assert "best_depth_again" in stamp["plan"]["answers"]
    assert json.loads(after["ref.json"])["harvest"]["answers"]["best_depth_again"]["status"] == "missing"


def test_grader_rescore_prints_the_diff_and_dry_run_writes_nothing(graded: dict[str, Any]) -> None:
    root, data = graded["root"], graded["data"]
    out = root / "cli-out"
    shutil.copytree(graded["out"], out)
    rubric = root / "cli" / "toy.yaml"
    shutil.copytree(graded["rubric"].parent, rubric.parent)
    edit(rubric, THRESHOLD_BEFORE, THRESHOLD_AFTER)
    snapshot = {str(p): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["rescore", str(out), "--assignment", str(rubric), "--data", str(data)]

    dry = CliRunner().invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert {str(p): p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    assert "Would move (1):" in dry.output and "  ref: 21.5 -> 21.2 (-0.3): " in dry.output
    assert "t2_hidden_accuracy 5 -> 4.7 (passed -> partial)" in dry.output

    real = CliRunner().invoke(main, args)
    assert real.exit_code == 0, real.output
    assert "Moved (1):" in real.output and "4 stored run(s): 4 rescored (1 moved, 3 unchanged)" in real.output
    ref = docs(out)["ref"]
    assert items(ref)["t2_hidden_accuracy"]["points"] == 4.7 and ref["score"] == 21.2
    assert "4.7" in (out / "feedback" / "ref.md").read_text(encoding="utf-8")
    assert "21.2" in (out / "grades.csv").read_text(encoding="utf-8")
    again = CliRunner().invoke(main, args)
    assert "No score moved." in again.output


RESCORE = [sys.executable, "-c", "from grader.cli import main; main()", "rescore"]


def test_rescore_killed_mid_way_then_rerun_loses_and_duplicates_nothing(graded: dict[str, Any]) -> None:
    root, data = graded["root"], graded["data"]
    out = root / "kill-out"
    (out / "run").mkdir(parents=True)
    (out / "results").mkdir()
    run = json.loads((graded["out"] / "run" / "ref.json").read_text())
    result = json.loads((graded["out"] / "results" / "ref.json").read_text())
    ids = [f"s{i:03d}" for i in range(240)]
    for sid in ids:  # a class of copies of one real run
        (out / "run" / f"{sid}.json").write_text(json.dumps({**run, "id": sid}))
        (out / "results" / f"{sid}.json").write_text(json.dumps({**result, "id": sid, "student": sid}))
    rubric = root / "kill" / "toy.yaml"
    shutil.copytree(graded["rubric"].parent, rubric.parent)
    edit(rubric, THRESHOLD_BEFORE, THRESHOLD_AFTER)
    args = [*RESCORE, str(out), "--assignment", str(rubric), "--data", str(data), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    jsonl = out / "results.jsonl"
    started = time.time_ns()
    process = subprocess.Popen(args, start_new_session=True, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it once a few results have been rewritten
        written = sum(p.stat().st_mtime_ns > started for p in (out / "results").glob("*.json"))
        if written >= 3:
            break
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    rescored = [sid for sid in ids if docs(out)[sid].get("scoring_key") != result.get("scoring_key")]
    assert 0 < len(rescored) < len(ids), "the kill came too late (or too early) to test anything"
    with jsonl.open("a") as handle:
        handle.write('{"id": "s000", "trunc')  # the worst moment: half a line

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    lines = list(iter_jsonl(jsonl))
    assert sorted(d["id"] for d in lines) == ids  # none lost, none duplicated
    final = docs(out)
    assert len({d["scoring_key"] for d in final.values()}) == 1
    assert {items(d)["t2_hidden_accuracy"]["points"] for d in final.values()} == {4.7}
    assert all((out / "feedback" / f"{sid}.html").is_file() for sid in ids)


def test_reference_reuse_after_a_band_edit_runs_nothing(
    graded: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(tmp_path / "cache"))
    rubric = tmp_path / "toy" / "toy.yaml"
    shutil.copytree(graded["rubric"].parent, rubric.parent)
    data = str(graded["data"])
    runner = CliRunner()
    first = runner.invoke(main, ["reference", str(rubric), "--data", data, "--seeds", "2"])
    assert first.exit_code == 0, first.output
    assert "0 run(s) reused, 3 executed" in first.output
    edit(
        rubric, VAL_BAND_BEFORE, VAL_BAND_BEFORE.replace("band: {k: 3, abs: 0.04}", "band: {k: 4, abs: 0.05}")
    )
    stale = runner.invoke(main, ["reference", str(rubric), "--data", data, "--check"])
    assert stale.exit_code == 1
    reused = runner.invoke(main, ["reference", str(rubric), "--data", data, "--seeds", "2", "--reuse"])
    assert reused.exit_code == 0, reused.output
    assert "3 run(s) reused, 0 executed" in reused.output
    assert runner.invoke(main, ["reference", str(rubric), "--data", data, "--check"]).exit_code == 0
    more = runner.invoke(main, ["reference", str(rubric), "--data", data, "--seeds", "3", "--reuse"])
    assert more.exit_code == 1 and "reference-seed2" in more.output and "no stored run" in more.output

    out = tmp_path / "release"
    check = runner.invoke(main, ["release-check", str(rubric), "--data", data, "--out", str(out)])
    assert check.exit_code == 0, check.output
    stored = json.loads((out / "run" / "release-reference.json").read_text())
    slot = next((tmp_path / "cache" / "toy" / "runs").glob("*/run.json"))
    assert any(
        json.loads(p.read_text())["telemetry"] == stored["telemetry"]
        for p in (tmp_path / "cache" / "toy" / "runs").glob("*/run.json")
    ), f"release-check executed the reference again instead of reusing {slot.parent}"
