"""The release check CI runs on hw2: reference full marks, template zero, thresholds reachable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_hw2_is_ready_to_release(tmp_path: Path, hw2_data: Path, hw2_environment) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "release-check",
            "hw2",
            "--data",
            str(hw2_data),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hw2: ready to release" in result.stdout
    for line in (
        "ok   expected.json is current",
        "ok   thresholds cleared by >= 3 seed standard deviations",
        "ok   reference earns full automatic marks: 92/92 automatic points, 8 pending for a person",
        "ok   untouched template earns zero without crashing: 0 automatic points, status graded",
    ):
        assert line in result.stdout
