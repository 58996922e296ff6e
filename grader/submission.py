"""What one submission is, once intake has normalised it, and the one rule for its id.

A submission's id names its files (results/<id>.json, run/<id>.json, feedback/<id>.html,
gradescope/<id>/), so every stage that makes or trusts an id uses ``safe_id`` / ``check_id``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_ID_CHARS = 128
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LEADING = re.compile(r"^[^A-Za-z0-9]+")


class UnsafeId(ValueError):
    """An id that cannot name a file safely; the message quotes it."""


def safe_id(text: str, fallback: str = "submission") -> str:
    """A file-name-safe id made from any text: letters, digits, ``.``, ``_``, ``-``; starting with a
    letter or digit (never empty, never hidden, no path); at most 100 characters, which leaves
    room for the ``-2`` suffixes that keep ids unique within a batch."""
    cleaned = _LEADING.sub("", _UNSAFE.sub("-", text))[:100].rstrip("-.")
    return cleaned or fallback


def check_id(value: object, what: str = "id") -> str:
    """``value`` itself when it is a safe id, else ``UnsafeId`` naming ``what`` it is."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise UnsafeId(
            f"{what} {value!r} is not a safe file name (1-{MAX_ID_CHARS} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit)"
        )
    return value


@dataclass(frozen=True)
class Submission:
    """One notebook to grade.

    ``id`` is unique within a batch and safe as a file name (``safe_id``); ``student`` is the
    person (several submissions of one student get distinct ids); ``notes`` carry intake
    decisions to the report (for instance "3 notebooks found; graded the newest").
    """

    id: str
    student: str
    path: Path
    source: str = ""
    needs_gpu: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)
