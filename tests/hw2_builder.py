"""hw2's data builder, which lives in hw2's folder (reference/hw2/build_data.py), not in grader/.

Loaded the way the grader loads a builder file (by its path), so tests can call its functions."""

from __future__ import annotations

from pathlib import Path

from grader.datasets import _load_file_module

BUILDER_FILE = Path(__file__).resolve().parents[1] / "reference" / "hw2" / "build_data.py"
hw2 = _load_file_module(BUILDER_FILE, "build_data.py:build")
