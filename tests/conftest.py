"""Fixtures shared across the suite: the hw2 assignment and its data, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def hw2_assignment():
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
