"""The two keys of a graded submission: what running it depends on, and what scoring it does.

* The *execution key* (``grader.keys.execution``): notebook bytes, data manifest, kernel
  environment, harvest plan (``grader.keys.plan``), limits, seed. A change runs the notebook again.
* The *scoring key*: the rubric as data (items, points, bands, thresholds, partial credit, and the
  rest), expected.json's bytes, the data profile, and why expected.json is stale if it is. A
  change alone rescores the stored run record, which costs no kernel time.

A result document's ``content_hash`` is the hash of both, so "unchanged" still means one equality.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from grader.keys.execution import ExecutionBasis, differences, execution_key, execution_stamp
from grader.keys.plan import HARVEST_KEYS, HarvestKey, canonical, harvest_plan, plan_fingerprint, plan_gaps

__all__ = [
    "HARVEST_KEYS",
    "ExecutionBasis",
    "HarvestKey",
    "SubmissionKeys",
    "combined_hash",
    "differences",
    "execution_key",
    "execution_stamp",
    "harvest_plan",
    "plan_fingerprint",
    "plan_gaps",
    "scoring_key",
]


def scoring_key(
    rubric: dict[str, Any], expected: bytes | None, profile: str, stale: tuple[str, ...] = ()
) -> str:
    """What scoring a stored run depends on besides the run: the rubric's content (comments and
    formatting aside), expected.json's bytes, the profile and expected.json's staleness (its
    warning is part of every result)."""
    digest = hashlib.sha256(b"scoring\0")
    digest.update(canonical({"rubric": rubric, "profile": profile, "stale": list(stale)}))
    digest.update(b"\0expected\0")
    digest.update(expected if expected is not None else b"<absent>")
    return digest.hexdigest()


def combined_hash(execution: str, scoring: str) -> str:
    """A result's ``content_hash``: equal exactly when both keys are."""
    return hashlib.sha256(f"{execution}\0{scoring}".encode()).hexdigest()


@dataclass(frozen=True)
class SubmissionKeys:
    """One submission's keys under one grading context and set of options."""

    execution: str
    scoring: str
    inputs: dict[str, Any]  # the execution inputs (the plan by its fingerprint)

    @property
    def content_hash(self) -> str:
        return combined_hash(self.execution, self.scoring)
