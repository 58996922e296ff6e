"""The outside half of audit re-runs: draw one configuration, build the stage, read its output.

Numbers that only training produces (per-epoch losses, a learning-rate sweep) cannot be
recomputed from a harvested model. The rubric's ``audits:`` section names the student's own
training function and how to build each configuration; one configuration per audit is drawn,
seeded by the notebook's sha256 (the same draw on every regrade of the same notebook), and run
once in the kernel right after the answers (before any input set is staged, so nothing hidden is
in the sandbox while it runs), within its own time budget inside the harvest's. The comparison
with the reported answers is ``grader.scoring.audits``; the kernel side is
grader/engine/kernel/audit_kernel.py, sent after harvest_kernel.py.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine.harvest_plan import HarvestError, Stage, kernel_source

AUDIT_SOURCE_PATH = Path(__file__).with_name("kernel") / "audit_kernel.py"
STAGE_KIND = "audits"
RESULT_STATUSES = {"ok", "missing", "none", "raised", "refused"}
MEASURE_STATUSES = {"ok", "missing", "refused"}
DEFAULT_BUDGET_S = 60.0


@dataclass(frozen=True)
class Candidate:
    """One configuration an audit may draw: its id, the sweep index (None when fixed), params."""

    configuration: str
    index: int | None
    params: dict[str, Any]


def audit_specs(assignment: Any) -> dict[str, dict[str, Any]]:
    return dict(assignment.rubric.get("audits") or {})


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def candidates(spec: dict[str, Any], answers: dict[str, Any]) -> list[Candidate]:
    """Every configuration the audit may draw: the fixed ones, and one per usable element of the
    student's swept answer (e.g. each of ``lr_rates``); an unusable sweep adds none."""
    out: list[Candidate] = []
    for config in spec["configurations"]:
        params = dict(config.get("params") or {})
        sweep = config.get("sweep")
        if sweep is None:
            out.append(Candidate(config["id"], None, params))
            continue
        entry = answers.get(sweep["answer"]) or {}
        values = entry.get("value") if entry.get("status") == "ok" else None
        if not isinstance(values, list):
            continue
        for index, value in enumerate(values[: int(sweep.get("max", 50))]):
            if _number(value):
                out.append(Candidate(config["id"], index, {**params, sweep["param"]: value}))
    return out


def draw(audit_id: str, options: list[Candidate], draw_key: str) -> Candidate | None:
    """The one configuration of this notebook: sha256(notebook hash, audit id) modulo the count."""
    if not options:
        return None
    digest = hashlib.sha256(f"audit\0{draw_key}\0{audit_id}".encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def run_id(audit_id: str, candidate: Candidate) -> str:
    """The record key of one configuration of a ``draw: all`` audit: ``<audit>@<configuration>[.<index>]``."""
    suffix = candidate.configuration + (f".{candidate.index}" if candidate.index is not None else "")
    return f"{audit_id}@{suffix}"


def budget_s(assignment: Any) -> float:
    """The seconds the audits of one notebook may take (their sum), inside the harvest's budget."""
    return sum(float(spec.get("budget_s", DEFAULT_BUDGET_S)) for spec in audit_specs(assignment).values())


def plan_audit_stage(assignment: Any, max_items: int, answer_bytes: int) -> list[Stage]:
    """One stage for all audits (none without them); configurations are drawn by ``finalize``
    once the answers (the student's sweep) are known."""
    specs = audit_specs(assignment)
    if not specs:
        return []
    return [
        Stage(
            name=STAGE_KIND,
            out_file=f"audits-{secrets.token_hex(8)}.json",
            config={
                "kind": STAGE_KIND,
                "audits": [],
                "names": list(specs),  # sizes the output
                "max_items": max_items,
                "max_bytes": answer_bytes,
            },
        )
    ]


def finalize(stage: Stage, assignment: Any, answers: dict[str, Any], draw_key: str) -> dict[str, Any]:
    """Draw each audit's configuration into the stage's config; returns the audits' record
    entries so far ({audit id: {configuration, index, params}} or a ``not_drawn`` entry)."""
    entries: dict[str, Any] = {}
    audits: list[dict[str, Any]] = []
    for audit_id, spec in audit_specs(assignment).items():
        options = candidates(spec, answers)
        if spec.get("draw") == "all":  # a refit: every configuration runs, each its own entry
            chosen_runs = [(run_id(audit_id, c), c) for c in options]
        else:
            chosen = draw(audit_id, options, draw_key)
            chosen_runs = [(audit_id, chosen)] if chosen is not None else []
        if not chosen_runs:
            entries[audit_id] = {"status": "not_drawn", "message": "no configuration could be drawn"}
            continue
        for entry_id, candidate in chosen_runs:
            entries[entry_id] = {
                "configuration": candidate.configuration,
                "index": candidate.index,
                "params": candidate.params,
            }
            audits.append(
                {
                    "id": entry_id,
                    "steps": spec["steps"],
                    "params": candidate.params,
                    "measures": sorted(_measured(spec, candidate.configuration)),
                }
            )
    stage.config["audits"] = audits
    return entries


def _measured(spec: dict[str, Any], configuration: str) -> set[str]:
    for config in spec["configurations"]:
        if config["id"] == configuration:
            return {str(c["measure"]) for c in config["compare"]} | {
                str(c["exact_when"]) for c in config["compare"] if c.get("exact_when")
            }
    return set()


def kernel_code(config: dict[str, Any]) -> str:
    """Source for the stage: harvest_kernel.py and audit_kernel.py in a private namespace."""
    source = repr(kernel_source() + "\n\n" + AUDIT_SOURCE_PATH.read_text(encoding="utf-8"))
    cfg = repr(json.dumps(config))
    return (
        "(lambda __ns: (exec(compile("
        + source
        + ", '<grader-harvest>', 'exec'), __ns), __ns['audits_main'](globals(), __import__('json').loads("
        + cfg
        + "))))({'__name__': '__grader_harvest__'})"
    )


def _text(value: Any) -> str:
    return str(value)[:500] if isinstance(value, str) else "no message"


def validate_audits(document: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """``{audit id: {status, measures?: {name: {status, value?|message?}}, message?}}`` for
    exactly the audits asked for; anything malformed is ``refused``."""
    raw = document.get("audits")
    if not isinstance(raw, dict):
        raise HarvestError("harvest output has no 'audits' object")
    result: dict[str, Any] = {}
    for audit in stage.config["audits"]:
        entry = raw.get(audit["id"])
        if not isinstance(entry, dict) or entry.get("status") not in RESULT_STATUSES:
            result[audit["id"]] = {"status": "refused", "message": "the audit returned no usable entry"}
            continue
        if entry["status"] != "ok":
            result[audit["id"]] = {"status": entry["status"], "message": _text(entry.get("message"))}
            continue
        found = entry.get("measures")
        raw_measures: dict[str, Any] = found if isinstance(found, dict) else {}
        measures: dict[str, Any] = {}
        for name in audit["measures"]:
            m = raw_measures.get(name)
            if not isinstance(m, dict) or m.get("status") not in MEASURE_STATUSES:
                measures[name] = {"status": "refused", "message": f"{name}: no usable value"}
            elif m["status"] == "ok" and "value" in m:
                measures[name] = {"status": "ok", "value": m["value"]}
            else:
                measures[name] = {
                    "status": "refused" if m["status"] == "ok" else m["status"],
                    "message": _text(m.get("message")),
                }
        result[audit["id"]] = {"status": "ok", "measures": measures}
    return result
