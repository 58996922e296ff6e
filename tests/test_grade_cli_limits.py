"""`grader grade`'s limit options reach the Limits of every run: --harvest-timeout,
--max-processes, --file-size-mb, --disk-mb (beside --timeout, --notebook-timeout, --memory-mb)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

import grader.batch
from grader.cli import main
from grader.limits import Limits

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "exec"


class _Summary:
    exit_code = 0

    def describe(self) -> str:
        return "0 graded"


def _notebook(path: Path, code: str) -> Path:
    nbformat.write(new_notebook(cells=[new_code_cell(code)]), str(path))
    return path


def _grade_args(nb: Path, out: Path) -> list[str]:
    return ["grade", str(nb), "--assignment", str(FIXTURE / "exec.yaml"), "--data", str(FIXTURE / "data")] + [
        "--out",
        str(out),
    ]


def test_limit_options_reach_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_grade_batch(paths, options, **kwargs):
        seen["limits"] = options.limits
        return _Summary()

    monkeypatch.setattr(grader.batch, "grade_batch", fake_grade_batch)
    nb = _notebook(tmp_path / "nb.ipynb", "x = 1")
    extra = ["--harvest-timeout", "33", "--max-processes", "40", "--file-size-mb", "7", "--disk-mb", "48"]
    result = CliRunner().invoke(main, [*_grade_args(nb, tmp_path / "out"), *extra, "--memory-mb", "2048"])
    assert result.exit_code == 0, result.output
    limits = seen["limits"]
    assert (limits.harvest_timeout, limits.max_processes, limits.file_size_mb, limits.disk_mb) == (
        33.0,
        40,
        7,
        48,
    )
    assert limits.memory_mb == 2048


def test_defaults_are_the_limits_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(
        grader.batch, "grade_batch", lambda paths, options, **kw: seen.update(o=options) or _Summary()
    )
    nb = _notebook(tmp_path / "nb.ipynb", "x = 1")
    result = CliRunner().invoke(main, _grade_args(nb, tmp_path / "out"))
    assert result.exit_code == 0, result.output
    got, default = seen["o"].limits, Limits()
    for name in ("harvest_timeout", "max_processes", "file_size_mb", "disk_mb", "memory_mb"):
        assert getattr(got, name) == getattr(default, name), name


@pytest.mark.parametrize(
    "extra",
    [["--harvest-timeout", "0"], ["--max-processes", "0"], ["--file-size-mb", "0"], ["--disk-mb", "0"]],
)
def test_non_positive_limits_are_usage_errors(tmp_path: Path, extra: list[str]) -> None:
    nb = _notebook(tmp_path / "nb.ipynb", "x = 1")
    result = CliRunner().invoke(main, [*_grade_args(nb, tmp_path / "out"), *extra])
    assert result.exit_code == 2, result.output


PROBE = """
import os, resource
print("FSIZE", resource.getrlimit(resource.RLIMIT_FSIZE)[0] >> 20)
st = os.statvfs(os.environ["HOME"])
print("HOME_MB", st.f_blocks * st.f_frsize >> 20)
"""


@pytest.mark.slow
@pytest.mark.sandbox
def test_grade_runs_the_notebook_under_the_given_limits(tmp_path: Path) -> None:
    """The real command, in a subprocess: the kernel sees RLIMIT_FSIZE and, with bwrap as root,
    a working directory of --disk-mb."""
    nb = _notebook(tmp_path / "probe.ipynb", PROBE)
    out = tmp_path / "out"
    cmd = [str(REPO / ".venv" / "bin" / "grader"), *_grade_args(nb, out), "--no-reports", "--no-progress"]
    cmd += ["--file-size-mb", "7", "--disk-mb", "48", "--timeout", "60", "--harvest-timeout", "30"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode in (0, 3), r.stderr[-3000:]
    executed = nbformat.read(str(out / "executed" / "probe.ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "FSIZE 7\n" in text, text
    row = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    if row.get("backend") == "bwrap" and os.geteuid() == 0:
        assert "HOME_MB 48\n" in text, text
