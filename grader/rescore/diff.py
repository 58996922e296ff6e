"""The score diff a rescore prints: who moved, by how much, on which items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EPSILON = 0.005  # scores are rounded to 2 decimals: smaller differences are rounding


@dataclass(frozen=True)
class ItemMove:
    item: str
    before: float | None  # None: the item is new
    after: float | None  # None: the item was removed
    status_before: str | None = None
    status_after: str | None = None

    def describe(self) -> str:
        if self.before is None:
            return f"{self.item} new: {self.after:g} ({self.status_after})"
        if self.after is None:
            return f"{self.item} removed (was {self.before:g})"
        text = f"{self.item} {self.before:g} -> {self.after:g}"
        if self.status_before != self.status_after:
            text += f" ({self.status_before} -> {self.status_after})"
        return text


@dataclass(frozen=True)
class ScoreMove:
    """One submission's change: its score before and after, and the items that moved."""

    id: str
    before: float
    after: float
    status_before: str | None
    status_after: str | None
    items: tuple[ItemMove, ...] = field(default=())
    first: bool = False  # no earlier result had items: scored for the first time

    @property
    def delta(self) -> float:
        return round(self.after - self.before, 2)

    @property
    def moved(self) -> bool:
        return (
            self.first
            or bool(self.items)
            or abs(self.delta) >= EPSILON
            or self.status_before != self.status_after
        )

    def describe(self) -> str:
        if self.first:
            return f"{self.id}: {self.after:g} (scored for the first time, {self.status_after})"
        sign = "+" if self.delta >= 0 else ""
        text = f"{self.id}: {self.before:g} -> {self.after:g} ({sign}{self.delta:g})"
        if self.status_before != self.status_after:
            text += f", status {self.status_before} -> {self.status_after}"
        if self.items:
            text += ": " + ", ".join(move.describe() for move in self.items)
        return text


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _items(document: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {
        str(item["id"]): item
        for item in (document or {}).get("items") or []
        if isinstance(item, dict) and "id" in item
    }


def compare(before: dict[str, Any] | None, after: dict[str, Any]) -> ScoreMove:
    """How ``after`` differs from ``before`` in score, status and per-item points."""
    old, new = _items(before), _items(after)
    if not old:
        return ScoreMove(
            id=str(after.get("id")),
            before=0.0,
            after=_number(after.get("score")),
            status_before=(before or {}).get("status"),
            status_after=after.get("status"),
            first=True,
        )
    moves = []
    for item_id in [*new, *(i for i in old if i not in new)]:
        a, b = old.get(item_id), new.get(item_id)
        if a is None or b is None:
            moves.append(
                ItemMove(
                    item_id,
                    None if a is None else _number(a.get("points")),
                    None if b is None else _number(b.get("points")),
                    None if a is None else a.get("status"),
                    None if b is None else b.get("status"),
                )
            )
            continue
        points_a, points_b = _number(a.get("points")), _number(b.get("points"))
        if abs(points_a - points_b) >= EPSILON or a.get("status") != b.get("status"):
            moves.append(ItemMove(item_id, points_a, points_b, a.get("status"), b.get("status")))
    return ScoreMove(
        id=str(after.get("id")),
        before=_number((before or {}).get("score")),
        after=_number(after.get("score")),
        status_before=(before or {}).get("status"),
        status_after=after.get("status"),
        items=tuple(moves),
    )
