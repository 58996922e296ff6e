"""Rubric validation (placeholder until the scoring issue lands the full JSON schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def validate_rubric(rubric: Any, source: Path | str = "<rubric>") -> None:
    """Raise grader.assignment.AssignmentError naming the item and field that are wrong."""
    from grader.assignment import AssignmentError

    if not isinstance(rubric, dict) or "assignment" not in rubric:
        raise AssignmentError(f"{source}: a rubric is a mapping with at least an 'assignment' key")
