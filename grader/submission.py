"""What one submission is, once intake has normalised it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    """One notebook to grade.

    ``id`` is unique within a batch and safe as a file name; ``student`` is the person (several
    submissions of one student get distinct ids); ``notes`` carry intake decisions to the report
    (for instance "3 notebooks found; graded the newest").
    """

    id: str
    student: str
    path: Path
    source: str = ""
    needs_gpu: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
