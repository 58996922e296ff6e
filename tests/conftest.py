"""Fixtures shared across the suite: the hw2 assignment and its data, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def hw2_environment():
    """hw2's kernel environment, built by the real command (`grader env build hw2`) from the
    package index the first time a session needs it on a machine (about 2.5 minutes: CI builds it
    here, once), then found in the cache (``$ML_AUTOGRADER_ENVS``, shared by every test session)."""
    import subprocess
    import sys

    from grader.assignment import load_assignment
    from grader.environment import for_assignment

    done = subprocess.run(
        [sys.executable, "-m", "grader", "env", "build", "hw2"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return for_assignment(load_assignment("hw2"))


@pytest.fixture(scope="session")
def hw2_assignment(hw2_environment):
    """hw2, with its kernel environment built (every test that runs an hw2 notebook needs it)."""
    from grader.assignment import load_assignment

    return load_assignment("hw2")


@pytest.fixture(scope="session")
def hw2_data(tmp_path_factory: pytest.TempPathFactory, hw2_assignment) -> Path:
    """hw2's embedded data, built once for the whole test session (about a second)."""
    from grader.datasets import build_data

    out = tmp_path_factory.mktemp("hw2-data")
    build_data(hw2_assignment, out)
    return out


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the embedded-data cache of this test session out of the user's ~/.cache."""
    os.environ.setdefault("ML_AUTOGRADER_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def examples_on_the_local_pool(tmp_path_factory: pytest.TempPathFactory, hw2_data: Path):
    """The picked hw2 examples graded on the local pool (tests/examples_pool.py), started in the
    background when a test first asks, so it overlaps with that test's own batch."""
    from examples_pool import LocalPoolRun

    run = LocalPoolRun(hw2_data, tmp_path_factory.mktemp("examples-local") / "out")
    yield run
    run.stop()
