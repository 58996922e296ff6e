"""The bundled hw2 examples the distributed tests grade, and their grades on the local pool.

The SLURM test and the no-shared-file-system tests grade the same two examples and compare
with the local pool item by item; the local pool's run (``LocalPoolRun``, the session fixture
``examples_on_the_local_pool`` in conftest.py) is shared between them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from grader.results import load_results

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions" / "hw2"
# Two of the quickest bundled examples with different partial credit (57 and 70.3 points).
PICKED = ("frank_rosenblatt", "barbara_liskov")
CELL_TIMEOUT_S = "300"  # generous: several graders share this machine's cores during these tests


def picked_notebooks() -> list[Path]:
    return [EXAMPLES / f"{name}.ipynb" for name in PICKED]


class LocalPoolRun:
    """`grader grade` of the picked examples on the local pool, running in the background until
    ``docs`` is called."""

    def __init__(self, data: Path, out: Path) -> None:
        self.out = out
        self._process = subprocess.Popen(
            [sys.executable, "-m", "grader", "grade", *map(str, picked_notebooks()), "--assignment", "hw2"]
            + ["--data", str(data), "--out", str(out), "--workers", "2", "--timeout", CELL_TIMEOUT_S]
            + ["--no-progress"],
            cwd=out.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._docs: dict[str, dict[str, Any]] | None = None

    def docs(self) -> dict[str, dict[str, Any]]:
        """The result documents by id (waits for the run; fails the test if it failed)."""
        if self._docs is None:
            output, _ = self._process.communicate(timeout=900)
            assert self._process.returncode == 0, output
            self._docs = {doc["id"]: doc for doc in load_results(self.out)}
        return self._docs

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def item_outcomes(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What must be equal item by item wherever a submission was graded."""
    return [(i["id"], i["status"], i["points"], i["max_points"]) for i in doc["items"]]


def assert_same_grades(docs: dict[str, dict[str, Any]], reference: dict[str, dict[str, Any]]) -> None:
    """The same submissions, statuses, scores and items as on the local pool."""
    assert sorted(docs) == sorted(reference)
    for name, doc in docs.items():
        assert doc["status"] == reference[name]["status"] == "graded", (name, doc["message"])
        assert doc["score"] == reference[name]["score"], name
        assert item_outcomes(doc) == item_outcomes(reference[name]), name
