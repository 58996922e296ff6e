"""The harvest plan: what of the rubric a run was harvested for, and what a new rubric adds.

A run record answers only the questions its harvest asked. The *plan* is the part of the
rubric the harvest reads, projected from the declared ``HARVEST_KEYS`` (the one list a new
harvest feature adds its top-level rubric key to), never from one assignment's shape. A
stored run may be scored against a new rubric only when the new plan asks nothing the stored
plan did not: ``plan_gaps`` says, in words, what is new or changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HarvestKey:
    """One top-level rubric key whose entries the harvest reads.

    ``fields``: the entry fields the harvest reads (None: all of them; ``()``: only the entry's
    name, as for answers, whose declared types are checked when scoring). ``independent``:
    each entry is harvested on its own, so removing one leaves the others' values as they were
    (not so for parts, which split the notebook between them). ``kernel``: read inside the
    kernel after the notebook ran (a run whose kernel harvest never ran holds no such values
    under any plan); False for what is read from the notebook file itself (parts, free text).
    ``label``: how a message names one entry.
    """

    name: str
    label: str
    fields: tuple[str, ...] | None = None
    independent: bool = True
    kernel: bool = True
    identity: str = "id"  # the field naming an entry when the key holds a list


# The one place a harvest feature declares what it reads from the rubric (issue 11's refits,
# audits and figure summaries add their keys here). Order is the order of messages.
HARVEST_KEYS: tuple[HarvestKey, ...] = (
    HarvestKey("answers", "answer", fields=()),
    HarvestKey("inputs", "input set", fields=("file", "key", "labels", "target")),
    HarvestKey("models", "model"),
    HarvestKey("audits", "audit re-run"),
    HarvestKey("free_text", "free-text answer", fields=("id", "placeholder"), kernel=False),
    HarvestKey("parts", "part", fields=("id", "heading"), independent=False, kernel=False),
    # not a rubric key: present when a figure item says what its plot ``shows`` (derived below), so a
    # run made before cells carried figure summaries is executed again rather than judged plot-less
    HarvestKey("figure_summaries", "figure summaries", kernel=False),
)
FIGURE_SUMMARIES = {"version": 1}  # grader.engine.figures: what each cell record's ``plots`` holds


def _entries(value: Any, key: HarvestKey) -> dict[str, Any] | None:
    """A mapping or a list of ``{identity: ...}`` entries as {name: projected entry}; None when
    the value has neither shape (it is then compared whole)."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(e, dict) and key.identity in e for e in value):
        pairs = [(e[key.identity], e) for e in value]
    else:
        return None
    projected: dict[str, Any] = {}
    for name, entry in pairs:
        if key.fields is not None and isinstance(entry, dict):
            entry = {f: entry[f] for f in key.fields if f in entry}
        projected[str(name)] = entry
    return projected


def harvest_plan(rubric: dict[str, Any]) -> dict[str, Any]:
    """What the harvest reads from this rubric: {key: {entry name: projected entry}} for every
    declared key the rubric has (a key of another shape is kept whole)."""
    plan: dict[str, Any] = {}
    for key in HARVEST_KEYS:
        if key.name not in rubric or rubric[key.name] in (None, {}, []):
            continue
        value = rubric[key.name]
        entries = _entries(value, key)
        plan[key.name] = entries if entries is not None else value
    if any(isinstance(item, dict) and item.get("shows") for item in rubric.get("items") or []):
        plan["figure_summaries"] = dict(FIGURE_SUMMARIES)
    return plan


def canonical(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the bytes every key is hashed from."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def plan_fingerprint(plan: dict[str, Any]) -> str:
    return hashlib.sha256(b"harvest-plan\0" + canonical(plan)).hexdigest()


def _changed_fields(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        names = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if names:
            return f" ({', '.join(names)})"
    return ""


def plan_gaps(stored: dict[str, Any], current: dict[str, Any], *, kernel: bool = True) -> list[str]:
    """What ``current`` asks the harvest for that a run harvested for ``stored`` does not hold,
    one sentence each; [] when the stored run answers every question of the current plan.

    With ``kernel`` False (the run's kernel harvest never ran: its answers are absent under any
    plan), only the keys read from the notebook file count.
    """
    gaps: list[str] = []
    for key in HARVEST_KEYS:
        if not kernel and key.kernel:
            continue
        old, new = stored.get(key.name), current.get(key.name)
        if old == new or new is None:
            if old is not None and new is None and not key.independent:
                gaps.append(f"the rubric no longer declares {key.name}")
            continue
        if old is None:
            names = ", ".join(f"`{n}`" for n in (new if isinstance(new, dict) else [])) or key.name
            gaps.append(f"the rubric now asks the harvest for {key.name}: {names}")
            continue
        if not (isinstance(old, dict) and isinstance(new, dict)):
            gaps.append(f"the rubric's {key.name} changed")
            continue
        for name, entry in new.items():
            if name not in old:
                gaps.append(f"{key.label} `{name}` is new")
            elif old[name] != entry:
                gaps.append(f"{key.label} `{name}` changed{_changed_fields(old[name], entry)}")
        if not key.independent:
            gaps.extend(f"{key.label} `{name}` was removed" for name in old if name not in new)
    return gaps
