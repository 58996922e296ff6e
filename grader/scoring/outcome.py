"""The verdict of one item scorer, before points are attached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """``credit`` in [0, 1] of the item's points; ``status`` is derived unless given.

    ``pending`` outcomes (free text for a person, hidden data in a self-check) carry no credit.
    """

    credit: float
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    status: str | None = None

    def resolved_status(self) -> str:
        if self.status is not None:
            return self.status
        if self.credit >= 1.0 - 1e-9:
            return "passed"
        return "partial" if self.credit > 1e-9 else "failed"


def pending(message: str, evidence: dict[str, Any] | None = None) -> Outcome:
    return Outcome(0.0, message, evidence or {}, status="pending")
