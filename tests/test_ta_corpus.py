"""The labelled corpus: the grader gives every item of 33 realistic hw2 submissions the verdict a
careful TA gave it, and three gradings give identical scores.

tests/ta_corpus/ holds the submissions (built from students.py by build.py) and verdicts.yaml, the
TA's verdict per item, committed before the grader ever ran on them. A verdict is ``full``,
``partial``, ``none`` or ``pending`` (left for a person): the category of the points, since a TA
cannot know a partial-credit figure to the hundredth before the notebook runs.

The corpus is graded three times by the real ``grader grade`` in hw2's kernel environment: once,
then twice more with ``--force``, which executes every notebook again (several of them train
unseeded models, so a verdict that hangs on run-to-run noise would show).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from grader_cli import grader_cli

from grader.results import load_results

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "ta_corpus"
NOTEBOOKS = CORPUS / "hw2"
VERDICTS: dict[str, Any] = yaml.safe_load((CORPUS / "verdicts.yaml").read_text(encoding="utf-8"))
GRADINGS = 3
CELL_TIMEOUT_S = "300"  # generous: the machine's cores are shared with the rest of the suite


def verdict_of(item: dict[str, Any]) -> str:
    """What the grader gave an item, in the TA's words."""
    if item["status"] == "pending":
        return "pending"
    if item["points"] >= item["max_points"]:
        return "full"
    return "none" if item["points"] <= 0 else "partial"


def wanted(student: str) -> dict[str, str]:
    return {**VERDICTS["base"], **(VERDICTS["students"][student]["differs"] or {})}


@pytest.fixture(scope="module")
def gradings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, dict[str, Any]]]:
    """The corpus's result documents by student, from each of the three gradings."""
    out = tmp_path_factory.mktemp("ta-corpus") / "out"
    runs = []
    for n in range(GRADINGS):
        grader_cli(
            REPO,
            "grade",
            str(NOTEBOOKS),
            "--assignment",
            "hw2",
            "--out",
            str(out),
            "--workers",
            "2",
            "--timeout",
            CELL_TIMEOUT_S,
            "--no-reports",
            "--no-progress",
            *(["--force"] if n else []),
            timeout=2400,
        )
        runs.append({doc["id"]: doc for doc in load_results(out)})
    return runs


def test_the_notebooks_are_built_from_students_py() -> None:
    # loaded by path: tests/feedback_corpus has a build.py of its own, also imported as `build`
    spec = importlib.util.spec_from_file_location("ta_corpus_build", CORPUS / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.main(["--check"]) == 0


def test_every_rubric_item_has_a_verdict_for_every_student() -> None:
    rubric = yaml.safe_load((REPO / "rubrics" / "hw2.yaml").read_text(encoding="utf-8"))
    items = [item["id"] for item in rubric["items"]]
    assert sorted(VERDICTS["base"]) == sorted(items)
    assert sorted(VERDICTS["students"]) == sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert len(VERDICTS["students"]) >= 30
    for student, entry in VERDICTS["students"].items():
        for item, verdict in (entry["differs"] or {}).items():
            assert item in items, (student, item)
            assert verdict in ("full", "partial", "none", "pending"), (student, item, verdict)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_grader_agrees_with_the_ta_on_every_item(gradings: list[dict[str, dict[str, Any]]]) -> None:
    first = gradings[0]
    assert sorted(first) == sorted(VERDICTS["students"])
    disagreements = []
    for student, doc in sorted(first.items()):
        assert doc["status"] == "graded", (student, doc["message"])
        given = {item["id"]: item for item in doc["items"]}
        for item_id, verdict in wanted(student).items():
            got = verdict_of(given[item_id])
            if got != verdict:
                disagreements.append(
                    f"{student} {item_id}: TA {verdict}, grader {got}: {given[item_id]['message']}"
                )
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_three_gradings_give_identical_scores(gradings: list[dict[str, dict[str, Any]]]) -> None:
    def scores(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {
            student: (doc["score"], [(i["id"], i["status"], i["points"]) for i in doc["items"]])
            for student, doc in docs.items()
        }

    first = scores(gradings[0])
    for again in gradings[1:]:
        assert scores(again) == first
