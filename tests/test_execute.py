"""run_notebook end to end through the real sandbox (bwrap where it works, else process).

The fast tests need no kernel (invalid notebooks, bad arguments). The slow ones run small
notebooks built here against the tiny assignment in tests/fixtures/exec/.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.assignment import load_assignment
from grader.engine import load_notebook, run_notebook
from grader.limits import Limits

FIXTURE = Path(__file__).parent / "fixtures" / "exec"
DATA = FIXTURE / "data"

GOOD_CELLS = [
    new_code_cell("import os\nimport numpy as np\nimport pandas as pd\nDATA = os.environ['ASSIGNMENT_DATA']"),
    new_markdown_cell("# Part 1: numbers"),
    new_code_cell(
        "total = 42\nvalues = [0.5, np.float32(1.5)]\nlabel = os.environ.get('GRADER_SEED', 'unset') + "
        "'/' + os.environ['OMP_NUM_THREADS']\ngrid = np.arange(6).reshape(2, 3)\n"
        "class Sneaky(float):\n    def __eq__(self, other):\n        return True\nweird = Sneaky(1.0)"
    ),
    new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"),
    new_markdown_cell("**ANSWER why**\nBecause shallow trees have low variance."),
    new_markdown_cell("## Part 2: models"),
    new_code_cell(
        "from sklearn.linear_model import LogisticRegression\nimport torch\n"
        "train = pd.read_csv(DATA + '/points_train.csv')\nclf_features = ['a', 'b']\n"
        "clf = LogisticRegression().fit(train[clf_features], train['y'])\n"
        "rule = lambda df: (df['a'] + df['b']) > 0\n"
        "torch.manual_seed(0)\nnet = torch.nn.Linear(4, 4)"
    ),
]


def write(tmp_path: Path, cells: list, name: str = "nb.ipynb", metadata: dict | None = None) -> Path:
    path = tmp_path / name
    nbformat.write(new_notebook(cells=cells, metadata=metadata or {}), str(path))
    return path


@pytest.fixture(scope="module")
def assignment():
    return load_assignment(FIXTURE / "exec.yaml")


# -- no kernel needed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json at all", "not a JSON notebook"),
        (b"\x89PNG\r\n\x1a\n", "not a JSON notebook"),
        (b"[1, 2, 3]", "not a Jupyter notebook"),
        (
            json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(),
            "nbformat 3",
        ),
        (
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {}}).encode(),
            "has no cells",
        ),
        (
            json.dumps(
                {"nbformat": 4, "nbformat_minor": 5, "cells": [{"cell_type": "bogus"}], "metadata": {}}
            ).encode(),
            "not a valid nbformat 4 notebook",
        ),
    ],
)
def test_invalid_notebooks_give_a_record_not_an_exception(tmp_path, assignment, content, reason):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    record = run_notebook(path, assignment, DATA, tmp_path / "out", run_id="bad", backend="process")
    assert record["status"] == "invalid_notebook"
    assert reason in record["message"]
    assert json.loads((tmp_path / "out" / "run" / "bad.json").read_text())["status"] == "invalid_notebook"


def test_bad_run_id_is_a_caller_error(tmp_path, assignment):
    with pytest.raises(ValueError, match="run_id"):
        run_notebook(write(tmp_path, GOOD_CELLS), assignment, DATA, tmp_path / "out", run_id="../escape")


def test_saved_outputs_are_cleared_before_running(tmp_path):
    cell = new_code_cell("x = 1", outputs=[new_output("display_data", data={"image/png": "iVBOR"})])
    nb = load_notebook(write(tmp_path, [cell]))
    assert nb.cells[0].outputs == []


# -- whole runs ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_good_notebook_runs_and_is_harvested(tmp_path, assignment):
    notebook = write(
        tmp_path, GOOD_CELLS, metadata={"kernelspec": {"name": "evil-kernel", "display_name": "x"}}
    )
    before = set(Path(tempfile.gettempdir()).glob("grader-run-good-*"))
    record = run_notebook(
        notebook,
        assignment,
        DATA,
        tmp_path / "out",
        run_id="good",
        env={"GRADER_SEED": "7"},
        limits=Limits(cell_timeout=120),
    )
    assert record["status"] == "completed", record["message"]
    assert [c["status"] for c in record["cells"]] == ["ok"] * 4
    for c in record["cells"]:
        assert c["wall_s"] >= 0 and c["peak_rss_mb"] > 0
    assert record["cells"][2]["figures"] == 1 and record["cells"][2]["part"] == "part1"
    assert record["telemetry"]["peak_rss_mb"] >= max(c["peak_rss_mb"] for c in record["cells"])

    harvest = record["harvest"]
    assert harvest["status"] == "ok", harvest["message"]
    answers = harvest["answers"]
    assert answers["total"] == {"status": "ok", "value": 42}
    assert answers["values"] == {"status": "ok", "value": [0.5, 1.5]}
    assert answers["label"] == {"status": "ok", "value": "7/1"}  # GRADER_SEED passed, threads capped
    assert answers["grid"] == {"status": "ok", "value": [[0, 1, 2], [3, 4, 5]]}
    assert answers["weird"]["status"] == "refused" and "Sneaky" in answers["weird"]["message"]

    hidden_x = (DATA / "hidden" / "points_X.csv").read_text().splitlines()[1:]
    predictions = harvest["predictions"]
    truth = [float(a) + float(b) > 0 for a, b in (row.split(",") for row in hidden_x)]
    assert predictions["rule"]["pts_hidden"] == {"status": "ok", "value": truth}
    assert len(predictions["clf"]["pts_hidden"]["value"]) == len(hidden_x)
    assert set(predictions["clf"]["pts_public"]["value"]) <= {"pos", "neg"}
    assert len(predictions["net"]["vec_hidden"]["value"]) == 30
    assert 0.5 < predictions["cv"]["pts_train"]["value"] <= 1.0
    assert harvest["free_text"]["why"]["value"] == "Because shallow trees have low variance."
    assert harvest["figures"] == {"part1": 1}

    executed = nbformat.read(tmp_path / "out" / "executed" / "good.ipynb", as_version=4)
    assert executed.cells[3].outputs and executed.cells[3].outputs[0]["output_type"] == "display_data"
    on_disk = json.loads((tmp_path / "out" / "run" / "good.json").read_text())
    assert on_disk["harvest"]["answers"] == answers
    assert record["executed_notebook"] == "executed/good.ipynb"
    assert set(Path(tempfile.gettempdir()).glob("grader-run-good-*")) == before  # work dir removed


@pytest.mark.slow
def test_public_only_skips_hidden_inputs(tmp_path, assignment):
    record = run_notebook(
        write(tmp_path, GOOD_CELLS),
        assignment,
        DATA,
        tmp_path / "out",
        run_id="pub",
        public_only=True,
        limits=Limits(cell_timeout=120),
    )
    predictions = record["harvest"]["predictions"]
    assert predictions["clf"]["pts_public"]["status"] == "ok"
    assert predictions["clf"]["pts_hidden"]["status"] == "skipped"
    assert predictions["net"]["vec_hidden"]["status"] == "skipped"


@pytest.mark.slow
def test_watchdog_stops_the_notebook_and_skips_the_rest(tmp_path, assignment):
    cells = [new_code_cell("total = 1"), *[new_code_cell("import time\ntime.sleep(3)") for _ in range(6)]]
    limits = Limits(cell_timeout=30, notebook_timeout=5)
    record = run_notebook(
        write(tmp_path, cells), assignment, DATA, tmp_path / "out", run_id="wd", limits=limits
    )
    assert record["status"] == "timeout"
    statuses = [c["status"] for c in record["cells"]]
    assert statuses[0] == "ok" and "timeout" in statuses and statuses[-1] == "skipped"
    stopped = [f for f in record["limits_fired"] if f["limit"] == "notebook_timeout"]
    assert len(stopped) == 1
    assert next(c for c in record["cells"] if c["index"] == stopped[0]["cell"])["status"] == "timeout"
    assert record["telemetry"]["wall_s"] < 30
    assert record["harvest"]["answers"] == {} and record["harvest"]["status"] == "failed"


@pytest.mark.slow
def test_kernel_that_keeps_dying_is_given_up_after_the_restart_budget(tmp_path, assignment):
    cells = [new_code_cell("import os\nos._exit(3)") for _ in range(5)] + [new_code_cell("total = 1")]
    record = run_notebook(write(tmp_path, cells), assignment, DATA, tmp_path / "out", run_id="dies")
    assert record["status"] == "kernel_died"
    statuses = [c["status"] for c in record["cells"]]
    assert statuses == ["kernel_died"] * 4 + ["skipped", "skipped"]
    assert record["telemetry"]["kernel_restarts"] == 3


@pytest.mark.slow
def test_harvest_limits_fire_and_the_rest_is_kept(tmp_path, assignment):
    cells = [
        new_code_cell(
            "import signal, time\nimport numpy as np\ntotal = 5\ngrid = np.zeros((300, 300))\n"
            "class Stuck:\n    def predict(self, df):\n        signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "        time.sleep(600)\nclf = Stuck()\nclf_features = ['a', 'b']"
        )
    ]
    limits = Limits(cell_timeout=60, harvest_timeout=8, answer_bytes=40_000)
    record = run_notebook(
        write(tmp_path, cells), assignment, DATA, tmp_path / "out", run_id="hv", limits=limits
    )
    harvest = record["harvest"]
    assert harvest["answers"]["total"] == {"status": "ok", "value": 5}
    assert (
        harvest["answers"]["grid"]["status"] == "refused"
        and "too large" in harvest["answers"]["grid"]["message"]
    )
    assert harvest["status"] == "partial"
    assert harvest["predictions"]["clf"]["pts_public"]["status"] == "error"
    assert any(f["limit"] == "harvest_timeout" for f in record["limits_fired"])
    assert harvest["wall_s"] < 40


@pytest.mark.slow
def test_kernel_dying_during_the_harvest_is_reported_as_such(tmp_path, assignment):
    watcher = (
        "import os, threading, time\ntotal = 3\n"
        "values = [0.5] * 400_000  # slow to convert: the watcher wins the race with the harvest\n"
        "def watch():\n    while True:\n"
        "        if any(n.startswith('.grader-harvest') for n in os.listdir(os.environ['HOME'])):\n"
        "            os._exit(0)\n        time.sleep(0.005)\n"
        "threading.Thread(target=watch, daemon=True).start()"
    )
    record = run_notebook(
        write(tmp_path, [new_code_cell(watcher)]), assignment, DATA, tmp_path / "out", run_id="hd"
    )
    harvest = record["harvest"]
    assert harvest["status"] == "failed"
    assert harvest["answers"] == {}  # not "missing": that would tell the student it is undefined
    assert "died" in harvest["message"] or "not running" in harvest["message"]
