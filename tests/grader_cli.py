"""Run the `grader` command as an instructor does: a subprocess in a folder, no PYTHONPATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def grader_cli(cwd: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """`python -m grader ARGS` in ``cwd`` without PYTHONPATH; fails the test with its output
    unless it exits 0."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def results_by_student(out: Path) -> dict[str, dict[str, Any]]:
    """The result rows of a graded OUT folder, by student."""
    rows = (Path(out) / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {row["student"]: row for row in map(json.loads, rows)}
