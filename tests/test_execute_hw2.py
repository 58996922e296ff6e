"""hw2's reference and template notebooks in the sandbox give the same answers as plain execution.

Plain execution is stock nbclient with a stock kernel of hw2's environment (no sandbox, no limits), read with the
same in-kernel harvest code (``benchmarks/bench_sandbox.plain_execute``). The sandboxed run is
``run_notebook`` with the best backend here: bwrap in CI, process where bubblewrap cannot run.
These run whole notebooks (minutes for the reference).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from grader.engine import run_notebook
from grader.limits import Limits
from grader.sandbox import available_backends

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sandbox", REPO / "benchmarks" / "bench_sandbox.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("which", ["template", "reference"])
def test_hw2_answers_in_the_sandbox_match_plain_execution(
    tmp_path, hw2_assignment, hw2_environment, hw2_data, which
):
    notebook = hw2_assignment.template if which == "template" else hw2_assignment.reference
    assert notebook is not None and notebook.is_file(), f"{which} notebook missing: {notebook}"
    limits = Limits(cell_timeout=1200, notebook_timeout=3600)
    record = run_notebook(notebook, hw2_assignment, hw2_data, tmp_path / "out", run_id=which, limits=limits)
    assert record["status"] == "completed", record["message"]
    if "bwrap" in available_backends():
        assert record["backend"] == "bwrap" and record["isolated"]

    harvest = record["harvest"]
    names = list(hw2_assignment.answers)
    if which == "reference":
        assert all(c["status"] == "ok" for c in record["cells"]), [
            c for c in record["cells"] if c["status"] != "ok"
        ]
        assert harvest["status"] == "ok", harvest["message"]
        assert {n: a["status"] for n, a in harvest["answers"].items()} == dict.fromkeys(names, "ok")
        for model, per_input in harvest["predictions"].items():
            assert {i: p["status"] for i, p in per_input.items()} == dict.fromkeys(per_input, "ok"), model
        assert {a["status"] for a in harvest["free_text"].values()} == {"ok"}
        assert set(harvest["figures"]) >= {p["id"] for p in hw2_assignment.parts}
    else:
        assert {a["status"] for a in harvest["answers"].values()} <= {"none", "missing"}
        assert {a["status"] for a in harvest["free_text"].values()} == {"none"}

    # plain execution with the same interpreter and packages: hw2's environment
    _, plain = _bench().plain_execute(notebook, hw2_data, names, python=str(hw2_environment.python))
    differ = _bench().same_answers(plain, harvest["answers"])
    assert differ == [], f"answers differ between plain and sandboxed runs: {differ}"
