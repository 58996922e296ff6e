"""The similarity page end to end: the bundled hw2 examples plus planted copies (tests/similarity_corpus.py)
graded for real with ``grader grade --similarity``, then the ranking, the student-facing outputs and the
page in headless Chromium (Debian's, never a download) are checked.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from similarity_corpus import PLANTED, REFERENCE_VARIANTS, build_corpus

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions" / "hw2"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]

pytestmark = pytest.mark.slow


def _store_reference_run(data: Path, out: Path) -> None:
    """The reference at seed 0 in the run store, as `grader reference` and `release-check` keep it: the
    page leaves out the mistakes the instructor's network makes (two students who ran that code share
    them honestly). Reused when the release check already stored it."""
    from grader.assignment import load_assignment
    from grader.expected import SEED_ENV
    from grader.runstore import RunStore, run_or_reuse

    assignment = load_assignment("hw2")
    assert assignment.reference is not None
    record, _ = run_or_reuse(
        assignment.reference,
        assignment,
        data,
        out,
        run_id="reference-seed0",
        store=RunStore.for_assignment(assignment),
        env={SEED_ENV: "0"},
    )
    assert record.get("status") == "completed", record.get("status")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, hw2_data: Path) -> Path:
    """Examples and corpus graded together in one batch, the similarity page written at its end.
    SIMILARITY_CORPUS_GRADED=DIR reuses a directory graded the same way (the batch takes minutes)."""
    reuse = os.environ.get("SIMILARITY_CORPUS_GRADED")
    if reuse:
        return Path(reuse)
    root = tmp_path_factory.mktemp("similarity-corpus")
    submissions = root / "in"
    submissions.mkdir()
    for notebook in EXAMPLES.glob("*.ipynb"):
        shutil.copy(notebook, submissions / notebook.name)
    build_corpus(submissions)
    out = root / "out"
    _store_reference_run(hw2_data, root / "reference")
    grader = Path(sys.executable).parent / "grader"
    done = subprocess.run(
        [str(grader), "grade", str(submissions), "--assignment", "hw2", "--data", str(hw2_data)]
        + ["--out", str(out), "--workers", "2", "--timeout", "30", "--similarity"],
        capture_output=True,
        text=True,
        timeout=1800,  # 17 hw2 notebooks on 2 cores: about 8 min when quiet, 15 when busy
    )
    assert done.returncode in (0, 3), done.stderr[-3000:]  # 3: some examples fail on purpose
    assert (out / "similarity.html").exists(), done.stderr[-3000:]
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "similarity.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.timeout(3600)  # the fixture grades 17 hw2 notebooks and runs the reference
def test_every_planted_pair_ranks_above_every_independent_pair(graded: Path) -> None:
    from grader.similarity.combine import LOOK_LINE

    rows = _rows(graded)
    by_pair = {frozenset((r["a_student"], r["b_student"])): float(r["score"]) for r in rows}
    by_pair.update({frozenset((r["a"], r["b"])): float(r["score"]) for r in rows})
    planted = [frozenset(p) for p in PLANTED]
    missing = [sorted(p) for p in planted if p not in by_pair]
    assert not missing, f"planted pairs not compared: {missing}; rows: {rows[:3]}"
    planted_scores = [by_pair[p] for p in planted]
    others = [
        float(r["score"])
        for r in rows
        if frozenset((r["a_student"], r["b_student"])) not in planted
        and frozenset((r["a"], r["b"])) not in planted
    ]
    assert min(planted_scores) > max(others, default=0.0), (planted_scores, sorted(others)[-5:])
    assert min(planted_scores) >= LOOK_LINE
    # the independent examples and the reference variants stay under the line
    assert all(score < LOOK_LINE for score in others)
    variants = frozenset(REFERENCE_VARIANTS)
    assert by_pair.get(variants, 0.0) < LOOK_LINE


def test_nothing_of_it_reaches_students_or_the_exports(graded: Path) -> None:
    student_facing = [*graded.glob("feedback/**/*"), *graded.glob("gradescope/**/*")]
    student_facing += [graded / name for name in ("grades.csv", "canvas.csv") if (graded / name).exists()]
    files = [p for p in student_facing if p.is_file()]
    assert files, "grading wrote no student feedback to check"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").lower()
        for marker in ("similarity.html", "similarity.csv", "look at this", "similarity across the class"):
            assert marker not in text, (path, marker)
    wording = (graded / "similarity.html").read_text(encoding="utf-8").lower()
    assert "evidence" in wording and "plagiari" not in wording


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI; scripts/setup installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed; browser check skipped")
    from playwright import sync_api

    with sync_api.sync_playwright() as play:
        instance = play.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.mark.browser
def test_the_page_renders_the_regions_side_by_side(graded: Path, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto((graded / "similarity.html").as_uri())
    page.wait_for_load_state("load")
    assert not problems, problems
    assert page.locator("tr.above").count() >= len(PLANTED)
    region = page.locator(".side.region").first
    region.scroll_into_view_if_needed()
    sides = region.locator("pre.code")
    assert sides.count() == 2
    left, right = sides.nth(0).bounding_box(), sides.nth(1).bounding_box()
    assert left and right and left["width"] > 100 and right["width"] > 100
    assert left["x"] + left["width"] <= right["x"] + 1, (left, right)  # side by side, not stacked
    assert abs(left["y"] - right["y"]) < 40
    assert sides.nth(0).locator("span.hit").count() > 0
    page.close()


def test_the_stored_results_name_every_corpus_notebook(graded: Path) -> None:
    docs = [json.loads(line) for line in (graded / "results.jsonl").read_text().splitlines() if line.strip()]
    assert len(docs) == len(list(EXAMPLES.glob("*.ipynb"))) + len(PLANTED) + len(REFERENCE_VARIANTS)
