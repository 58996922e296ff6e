"""What the marking app knows about a graded folder: results, the marks store, the rubric.

Pages read result documents on every request (cached by file modification time, so a rescore or
a ``grader report`` in another terminal shows up at once) and the store's decisions (small, read
fresh). Saves are checked here against the result documents before they reach the store, so a
marker cannot mark an automatic item as free text, override a free-text answer, or give points
outside the item's range.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.marks.overlay import evidence_of, is_manual, num, overlay_marks, saved_version
from grader.marks.store import Decision, MarksStore, NewDecision
from grader.review.notebook import NotebookView, load_notebook

if TYPE_CHECKING:
    from grader.assignment import Assignment

MAX_COMMENT = 5_000
MAX_REASON = 2_000


class ReviewError(ValueError):
    """A save the app refuses before it reaches the store; the message is shown to the marker."""


@dataclass(frozen=True)
class Slot:
    """One answer in a marking queue: a student's free-text item and whether it is marked."""

    student: str
    item: str
    marked: bool
    points: float | None


@dataclass(frozen=True)
class QueueSummary:
    item: str
    title: str
    part: str
    max_points: float
    total: int
    marked: int


def find_item(doc: dict[str, Any] | None, item_id: str) -> dict[str, Any] | None:
    items = doc.get("items") if isinstance(doc, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("id") == item_id:
            return item
    return None


def _scored(item: dict[str, Any]) -> dict[str, Any]:
    """The scorer's verdict on an item (undoing any overlay saved in the document)."""
    scored = evidence_of(item).get("scored")
    return scored if isinstance(scored, dict) else item


def _points(value: Any, max_points: float, *, allow_none: bool) -> float | None:
    if value is None or value == "":
        if allow_none:
            return None
        raise ReviewError("enter the points")
    try:
        points = float(value)
    except (TypeError, ValueError):
        raise ReviewError(f"points {value!r} is not a number") from None
    if not math.isfinite(points) or points < 0 or points > max_points:
        raise ReviewError(f"points must be between 0 and {max_points:g}")
    return points


class ReviewData:
    """One graded folder as the marking app sees it."""

    def __init__(self, out_dir: Path, *, assignment: Assignment | None = None) -> None:
        self.out_dir = Path(out_dir)
        self.assignment = assignment
        self.store = MarksStore.for_out(self.out_dir)
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    # ------------------------------------------------------------------ reading

    def documents(self) -> dict[str, dict[str, Any]]:
        """Result documents by id, as saved (re-read only when a file changed)."""
        folder = self.out_dir / "results"
        with self._lock:
            seen: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except FileNotFoundError:
                entries = []
            for entry in entries:
                if not entry.name.endswith(".json") or entry.name.startswith("."):
                    continue
                stat = entry.stat()
                key = (stat.st_mtime_ns, stat.st_size)
                cached = self._cache.get(entry.path)
                if cached is None or cached[0] != key:
                    try:
                        doc = json.loads(Path(entry.path).read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        continue
                    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
                        continue
                    cached = (key, doc)
                seen[entry.path] = cached
            self._cache = seen
            return {doc["id"]: doc for _, doc in seen.values()}

    def document(self, student: str) -> dict[str, Any] | None:
        """One student's result with the store's current decisions laid over it."""
        doc = self.documents().get(student)
        if doc is None:
            return None
        decisions = {k: v for k, v in self.store.decisions().items() if k[0] == student}
        return overlay_marks([doc], decisions).results[0]

    def rubric_item(self, item_id: str) -> dict[str, Any]:
        if self.assignment is None:
            return {}
        return next((i for i in self.assignment.items if isinstance(i, dict) and i.get("id") == item_id), {})

    def prompt(self, item_id: str) -> str:
        """The question a free-text item asks (from the rubric's ``free_text`` entry)."""
        if self.assignment is None:
            return ""
        text_id = self.rubric_item(item_id).get("text", item_id)
        entry = next((f for f in self.assignment.free_text if f.get("id") == text_id), {})
        return str(entry.get("prompt") or "")

    def guidance(self, item_id: str) -> str:
        return str(self.rubric_item(item_id).get("guidance") or "")

    def slots(self, item_id: str | None = None) -> list[Slot]:
        """Every answer waiting for (or given) a person's mark, by item then student."""
        decisions = self.store.decisions()
        found = []
        for student, doc in sorted(self.documents().items()):
            for item in doc.get("items") or []:
                if not isinstance(item, dict) or not is_manual(item):
                    continue
                if item_id is not None and item.get("id") != item_id:
                    continue
                decision = decisions.get((student, str(item.get("id"))))
                if decision is not None:
                    marked, points = decision.points is not None, decision.points
                else:
                    base = _scored(item)
                    marked = base.get("status") != "pending"
                    points = num(base.get("points")) if marked else None
                found.append(Slot(student, str(item.get("id")), marked, points))
        return found

    def queues(self) -> list[QueueSummary]:
        """One marking queue per free-text item, in the order items first appear."""
        slots = self.slots()
        docs = self.documents()
        order: dict[str, QueueSummary] = {}
        for slot in slots:
            item = find_item(docs.get(slot.student), slot.item) or {}
            known = order.get(slot.item)
            order[slot.item] = QueueSummary(
                item=slot.item,
                title=str(item.get("title") or slot.item) if known is None else known.title,
                part=str(item.get("part") or "") if known is None else known.part,
                max_points=num(item.get("max_points")) if known is None else known.max_points,
                total=(known.total if known else 0) + 1,
                marked=(known.marked if known else 0) + int(slot.marked),
            )
        return list(order.values())

    def unpublished(self) -> int:
        """Decisions the saved result documents do not show yet (saved since the last publish,
        or lost from the documents by a rescore): what the Publish button would bring out."""
        docs = self.documents()
        count = 0
        for (student, item_id), decision in self.store.decisions().items():
            item = find_item(docs.get(student), item_id)
            if item is None:
                continue  # a decision on an item the results no longer have: nothing to publish
            if decision.points is None:
                count += "scored" in evidence_of(item)
            else:
                count += saved_version(item, decision.kind) != decision.version
        return count

    def run_record(self, student: str) -> dict[str, Any] | None:
        path = self.out_dir / "run" / f"{student}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def notebook(self, student: str) -> NotebookView:
        doc = self.documents().get(student) or {}
        relative = doc.get("executed_notebook")
        if not isinstance(relative, str) or not relative:
            relative = f"executed/{student}.ipynb"
        path = (self.out_dir / relative).resolve()
        if self.out_dir.resolve() not in path.parents:
            return NotebookView([], "the executed notebook's path points outside the output folder")
        parts = self.assignment.parts if self.assignment is not None else None
        return load_notebook(path, parts=parts, run=self.run_record(student))

    # ------------------------------------------------------------------ saving

    def _target(self, student: str, item_id: str) -> dict[str, Any]:
        doc = self.documents().get(student)
        if doc is None:
            raise ReviewError(f"no result for student {student!r}")
        item = find_item(doc, item_id)
        if item is None:
            raise ReviewError(f"student {student!r} has no item {item_id!r}")
        return item

    def save_mark(
        self, student: str, item_id: str, *, points: Any, comment: Any, seen_version: Any, marker: str
    ) -> Decision:
        """A mark for a free-text answer (points None withdraws it: the answer is pending again)."""
        item = self._target(student, item_id)
        if not is_manual(item):
            raise ReviewError("this item is scored automatically; change its points with an override")
        value = _points(points, num(item.get("max_points")), allow_none=True)
        text = comment if isinstance(comment, str) else ""
        if len(text) > MAX_COMMENT:
            raise ReviewError(f"the comment is longer than {MAX_COMMENT} characters")
        base = _scored(item)
        baseline = None if base.get("status") == "pending" else num(base.get("points"))
        new = NewDecision(
            student,
            item_id,
            "manual",
            value,
            comment=text.strip(),
            seen_version=_version(seen_version),
            baseline=baseline,
        )
        return self.store.save(new, marker=marker)

    def save_override(
        self, student: str, item_id: str, *, points: Any, reason: Any, seen_version: Any, marker: str
    ) -> Decision:
        """An automatic item's points changed by a person, with a reason (None restores the scorer's)."""
        item = self._target(student, item_id)
        if is_manual(item):
            raise ReviewError("this is a free-text answer; mark it in the marking queue")
        value = _points(points, num(item.get("max_points")), allow_none=True)
        why = reason.strip() if isinstance(reason, str) else ""
        if value is not None and not why:
            raise ReviewError("an override needs a reason (it is shown in the feedback and the audit log)")
        if len(why) > MAX_REASON:
            raise ReviewError(f"the reason is longer than {MAX_REASON} characters")
        new = NewDecision(
            student,
            item_id,
            "override",
            value,
            reason=why,
            seen_version=_version(seen_version),
            baseline=num(_scored(item).get("points")),
        )
        return self.store.save(new, marker=marker)


def _version(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReviewError("the save carries no valid version; reload the page")
    return value
