"""People's decisions about grades: the marks store (``OUT/marks.sqlite``) and its overlay on results.

``grader manual``, ``grader review`` and ``grader regrades`` write decisions into the store;
``grader.publish.publish`` lays them over the result documents through ``apply_store``
before anything is rendered or exported.
"""

from __future__ import annotations

from grader.marks.overlay import Overlaid, apply_store, is_manual, overlay_marks, refresh_message
from grader.marks.store import (
    AuditEntry,
    ConflictError,
    Decision,
    MarksStore,
    NewDecision,
    Regrade,
    StoreError,
    store_path,
)

__all__ = [
    "AuditEntry",
    "ConflictError",
    "Decision",
    "MarksStore",
    "NewDecision",
    "Overlaid",
    "Regrade",
    "StoreError",
    "apply_store",
    "is_manual",
    "overlay_marks",
    "refresh_message",
    "store_path",
]
