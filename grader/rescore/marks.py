"""Manual marks and overrides survive a rescore: a person's decision is not the scorer's.

People's decisions live in the marks store (OUT/marks.sqlite, issue 16); ``keep_manual_marks``
lays them over each freshly scored document exactly as grader/publish.py does, so a rescored
document (and its score diff) already shows every manual mark and override, and the publish
step that follows changes nothing more. A decision whose item is gone stays in the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.marks.overlay import overlay_marks
from grader.marks.store import MarksStore, store_path


def keep_manual_marks(out_dir: Path, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the store's manual marks and overrides for its student applied."""
    if not store_path(Path(out_dir)).exists():
        return document
    decisions = MarksStore.for_out(Path(out_dir), create=False).decisions()
    mine = {key: d for key, d in decisions.items() if key[0] == document.get("id")}
    if not mine:
        return document
    (overlaid,) = overlay_marks([document], mine).results
    return overlaid
