"""Rubric validation and the declared partial-credit functions.

A rubric is data (docs/ARCHITECTURE.md): a JSON schema checks its shape, then the cross-references
a schema cannot express (an item's part, answer, model or input must exist). Every error names the
item and the field, because the person reading it is an instructor editing YAML, not a developer.
Partial credit is a function *named* in the rubric (``partial: {function: linear}``); the
functions live here so the scorer and the calibration compute credit the same way.

Item kinds (fields in grader/schemas/rubric.schema.json; scorers in grader/scoring/):

* ``value_band`` / ``curve_band``: a number or a list within max(abs, rel*|mean|, k*std) of the
  reference (expected.json); curves are credited point by point (``partial: linear, zero_at``).
* ``threshold``: a metric computed outside the sandbox (``error_rate``/``accuracy`` of a model on
  an input set against its labels, ``value`` of a model adapter, ``psnr`` of an answer image,
  ``difference`` of two metrics, a plain ``answer``) against ``full_at``/``zero_at``, overridable
  per data profile under ``profiles:``.
* ``consistency``: a reported answer against the same metric recomputed from the student's model.
* ``choice``: an answer judged against ``best_of`` a curve (or ``candidates`` statistics) on the
  student's own curves and on the reference's, ties within ``tie`` noise accepted.
* ``figure``: at least ``min_count`` figures in the item's part beyond those the template draws; with
  ``shows: {y: [answers], x?: answer, need?: any|all}``, a plotted series in the part whose data are
  those answers (grader.scoring.figures).
* ``answer_check``: declared checks (equals, length, range, subset_of, disjoint_from, pattern).
* ``free_text``: the ``**ANSWER id**`` markdown cell and the markdown cells below it (grader.free_text),
  always pending for a person; an unanswered one is pending with the note "not answered".
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("schemas") / "rubric.schema.json"


class AssignmentError(ValueError):
    """An assignment or its rubric cannot be used; the message names the file and the field."""


MAX_REPORTED_ERRORS = 8


@functools.lru_cache(maxsize=1)
def rubric_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_rubric(rubric: Any, source: Path | str = "<rubric>") -> None:
    """Raise ``AssignmentError`` naming the item and field that are wrong.

    All problems found are listed (up to a handful), so an instructor fixes them in one pass.
    """
    if not isinstance(rubric, dict):
        raise AssignmentError(
            f"{source}: a rubric is a mapping of keys to values, got {type(rubric).__name__}"
        )
    problems = list(_schema_problems(rubric))
    if not problems:
        problems = list(_reference_problems(rubric))
    if problems:
        shown = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(shown)
        lines = "\n  ".join(shown) + (f"\n  ... and {more} more" if more > 0 else "")
        raise AssignmentError(f"{source}: invalid rubric:\n  {lines}")


# ----------------------------------------------------------------------------------------------
# schema errors, rewritten to name the item and the field


def _schema_problems(rubric: dict[str, Any]) -> Iterator[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(rubric_schema())
    seen: set[str] = set()
    errors = sorted(validator.iter_errors(rubric), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    for error in errors:
        if error.validator in ("if", "allOf"):
            continue  # their sub-errors carry the detail
        text = _describe(rubric, list(error.absolute_path), error)
        if text not in seen:
            seen.add(text)
            yield text


def _where(rubric: dict[str, Any], path: list[Any]) -> tuple[str, list[Any]]:
    """'item 'p1_curve' (items[3])' or 'answers.dt_val_rmse', plus the path left inside it."""
    if len(path) >= 2 and path[0] in ("items", "parts", "free_text") and isinstance(path[1], int):
        entry = rubric[path[0]][path[1]]
        ident = entry.get("id") if isinstance(entry, dict) else None
        noun = {"items": "item", "parts": "part", "free_text": "free_text entry"}[path[0]]
        label = f"{noun} {ident!r} ({path[0]}[{path[1]}])" if ident else f"{path[0]}[{path[1]}]"
        return label, path[2:]
    if len(path) >= 2 and path[0] in ("answers", "inputs", "models", "audits", "profiles"):
        return f"{path[0]} entry {path[1]!r}", path[2:]
    if path:
        return f"section {path[0]!r}", path[1:]
    return "top level", []


def _dotted(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(rubric: dict[str, Any], path: list[Any], error: Any) -> str:
    where, inner = _where(rubric, path)
    message = error.message
    field = _dotted(inner)
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", message)
        name = missing.group(1) if missing else "?"
        return f"{where}: field '{_dotted([*inner, name])}' is required but missing"
    if error.validator in ("unevaluatedProperties", "additionalProperties"):
        names = re.findall(r"'([^']+)'", message.split("(")[-1]) if "unexpected" in message else []
        listed = ", ".join(f"'{_dotted([*inner, n])}'" for n in names) or message
        kind = error.instance.get("kind") if isinstance(error.instance, dict) else None
        what = f"a {kind} item" if kind and where.startswith("item") else "this entry"
        return f"{where}: field {listed} is not allowed in {what} (misspelt or misplaced?)"
    value = json.dumps(error.instance, default=str)
    if len(value) > 60:
        value = value[:57] + "..."
    if error.validator == "enum":
        options = ", ".join(map(str, error.validator_value))
        return f"{where}: field '{field}' is {value}; expected one of: {options}"
    if error.validator == "oneOf" and inner[-1:] == ["choose"]:
        return f"{where}: field '{field}' needs either 'best_of' with 'x', or 'candidates' (not both)"
    return f"{where}: field '{field or '(whole entry)'}': {message}"


# ----------------------------------------------------------------------------------------------
# cross-references


def _metric_refs(metric: dict[str, Any], field: str) -> Iterator[tuple[str, str, str]]:
    """(field, namespace, name) for every answer/model/input a metric spec names."""
    for key, space in (("answer", "answers"), ("model", "models"), ("input", "inputs")):
        if key in metric:
            yield f"{field}.{key}", space, metric[key]
    for side in ("left", "right"):
        if isinstance(metric.get(side), dict):
            yield from _metric_refs(metric[side], f"{field}.{side}")


def _stat_refs(stat: dict[str, Any], field: str) -> Iterator[tuple[str, str, str]]:
    yield f"{field}.of", "answers", stat["of"]
    if isinstance(stat.get("minus"), dict):
        yield from _stat_refs(stat["minus"], f"{field}.minus")


def item_references(item: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Every (field, namespace, name) an item refers to; namespace is answers/models/inputs/free_text."""
    for key in ("answer", "x", "reported"):
        if key in item:
            yield key, "answers", item[key]
    for key, name in (item.get("evidence") or {}).items():
        yield f"evidence.{key}", "answers", name
    if isinstance(item.get("metric"), dict):
        yield from _metric_refs(item["metric"], "metric")
    choose = item.get("choose") or {}
    for key in ("best_of", "x"):
        if key in choose:
            yield f"choose.{key}", "answers", choose[key]
    for name, stat in (choose.get("candidates") or {}).items():
        yield from _stat_refs(stat, f"choose.candidates.{name}")
    for index, check in enumerate(item.get("checks") or []):
        yield f"checks[{index}].answer", "answers", check["answer"]
        for key in ("same_length_as", "disjoint_from"):
            if key in check:
                yield f"checks[{index}].{key}", "answers", check[key]
    if "text" in item:
        yield "text", "free_text", item["text"]
    shows = item.get("shows") or {}
    for index, name in enumerate(shows.get("y") or []):
        yield f"shows.y[{index}]", "answers", name
    if "x" in shows:
        yield "shows.x", "answers", shows["x"]


def _metric_pairs(metric: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "model" in metric and "input" in metric:
        yield metric["model"], metric["input"]
    for side in ("left", "right"):
        if isinstance(metric.get(side), dict):
            yield from _metric_pairs(metric[side])


def _reference_problems(rubric: dict[str, Any]) -> Iterator[str]:
    parts = [p["id"] for p in rubric.get("parts", [])]
    spaces = {
        "answers": set(rubric.get("answers") or {}),
        "models": set(rubric.get("models") or {}),
        "inputs": set(rubric.get("inputs") or {}),
        "free_text": {entry["id"] for entry in rubric.get("free_text") or []},
    }
    profiles = set(rubric.get("profiles") or {})
    if profiles and sum(bool((spec or {}).get("default")) for spec in rubric["profiles"].values()) > 1:
        yield "section 'profiles': more than one profile is marked default: true"
    for duplicate in sorted({p for p in parts if parts.count(p) > 1}):
        yield f"section 'parts': part id {duplicate!r} is used more than once"
    for name, spec in (rubric.get("answers") or {}).items():
        if "part" in spec and spec["part"] not in parts:
            yield f"answers entry {name!r}: field 'part' is {spec['part']!r}, not one of the parts ({', '.join(parts)})"
    for name, model in (rubric.get("models") or {}).items():
        for index, input_name in enumerate(model["inputs"]):
            if input_name not in spaces["inputs"]:
                yield f"models entry {name!r}: field 'inputs[{index}]' names input {input_name!r}, which 'inputs' does not define"
        if model["adapter"] == "sklearn_cv" and not ({"label_column", "target"} & set(model)):
            yield f"models entry {name!r}: field 'label_column' is required for adapter sklearn_cv"
    for index, entry in enumerate(rubric.get("free_text") or []):
        if entry["part"] not in parts:
            yield f"free_text entry {entry['id']!r} (free_text[{index}]): field 'part' is {entry['part']!r}, not one of the parts"
    ids: set[str] = set()
    total = 0.0
    for index, item in enumerate(rubric.get("items", [])):
        label = f"item {item['id']!r} (items[{index}])"
        if item["id"] in ids:
            yield f"{label}: field 'id': {item['id']!r} is used by an earlier item"
        ids.add(item["id"])
        if item["part"] not in parts:
            yield f"{label}: field 'part' is {item['part']!r}, not one of the parts ({', '.join(parts)})"
        for field, space, name in item_references(item):
            if name not in spaces[space]:
                yield f"{label}: field '{field}' names {name!r}, which the rubric's '{space}' section does not define"
        for model, input_name in _metric_pairs(item.get("metric") or {}):
            spec = (rubric.get("models") or {}).get(model)
            if spec and input_name not in spec["inputs"]:
                yield f"{label}: field 'metric.input': model {model!r} is not run on input {input_name!r} (see models.{model}.inputs)"
        if item["kind"] == "threshold":
            yield from _threshold_problems(item, label, profiles)
        if not item.get("extra_credit"):
            total += float(item["points"])
    yield from _audit_problems(rubric, parts, spaces["answers"], ids)
    declared = rubric.get("total_points")
    if declared is not None and not math.isclose(total, float(declared), abs_tol=1e-9):
        yield f"section 'total_points': is {declared}, but the items that are not extra credit add up to {total:g}"


def _step_refs(value: Any) -> Iterator[tuple[str, str]]:
    """(kind, name) of every {ref|param|of} an audit step's argument uses."""
    if isinstance(value, list):
        for v in value:
            yield from _step_refs(v)
    elif isinstance(value, dict):
        for kind in ("ref", "param", "of"):
            if isinstance(value.get(kind), str):
                yield ("param" if kind == "param" else "ref"), value[kind]
        if not {"ref", "param", "of", "variable"} & set(value):
            for v in value.values():
                yield from _step_refs(v)


def _audit_problems(
    rubric: dict[str, Any], parts: list[str], answers: set[str], items: set[str]
) -> Iterator[str]:
    """Names an audit uses that nothing defines: steps' refs, params, measures, answers, items."""
    for audit_id, spec in (rubric.get("audits") or {}).items():
        label = f"audits entry {audit_id!r}"
        if "part" in spec and spec["part"] not in parts:
            yield f"{label}: field 'part' is {spec['part']!r}, not one of the parts ({', '.join(parts)})"
        params = {p for c in spec["configurations"] for p in (c.get("params") or {})}
        params |= {c["sweep"]["param"] for c in spec["configurations"] if c.get("sweep")}
        made: set[str] = set()
        for index, step in enumerate(spec["steps"]):
            if step.get("of") and step["of"] not in made:
                yield f"{label}: steps[{index}] calls a method of {step['of']!r}, which no earlier step makes"
            if step.get("seeded") and not step.get("of"):
                yield f"{label}: steps[{index}]: 'seeded' needs 'of' (the estimator whose get_params it reads)"
            for kind, name in _step_refs([step.get("args") or [], step.get("kwargs") or {}]):
                if kind == "ref" and name not in made:
                    yield f"{label}: steps[{index}] uses {name!r}, which no earlier step makes (name/returns)"
                if kind == "param" and name not in params:
                    yield f"{label}: steps[{index}] uses param {name!r}, which no configuration sets"
            made |= {step["name"]} if step.get("name") else set()
            made |= set(step.get("returns") or [])
        seen: set[str] = set()
        for c_index, config in enumerate(spec["configurations"]):
            where = f"{label}: configurations[{c_index}]"
            if config["id"] in seen:
                yield f"{where}: id {config['id']!r} is used by an earlier configuration"
            seen.add(config["id"])
            sweep = config.get("sweep")
            if sweep and sweep["answer"] not in answers:
                yield f"{where}: field 'sweep.answer' names {sweep['answer']!r}, which 'answers' does not define"
            for compare in config["compare"]:
                if compare["measure"] not in made:
                    yield f"{where}: measure {compare['measure']!r} is made by no step"
                if compare.get("exact_when") and compare["exact_when"] not in made:
                    yield f"{where}: field 'exact_when' names {compare['exact_when']!r}, which no step makes"
                if compare["reported"] not in answers:
                    yield f"{where}: field 'reported' names {compare['reported']!r}, which 'answers' does not define"
                for item_id in list(compare["items"]) + (
                    [compare["spread"]] if compare.get("spread") else []
                ):
                    if item_id not in items:
                        yield f"{where}: names item {item_id!r}, which 'items' does not define"
                if compare.get("at") == "sweep" and not sweep:
                    yield f"{where}: 'at: sweep' needs a 'sweep' in the configuration"


def _threshold_problems(item: dict[str, Any], label: str, profiles: set[str]) -> Iterator[str]:
    bars = {
        "threshold": item["threshold"],
        **{f"profiles.{k}": v for k, v in (item.get("profiles") or {}).items()},
    }
    for field, bar in bars.items():
        if bar["full_at"] == bar["zero_at"]:
            yield f"{label}: field '{field}': full_at and zero_at are both {bar['full_at']}; they must differ"
    for name in item.get("profiles") or {}:
        if name not in profiles:
            yield f"{label}: field 'profiles.{name}' names a profile the rubric's 'profiles' section does not define"


# ----------------------------------------------------------------------------------------------
# the declared partial-credit functions


def ramp_credit(value: float, full_at: float, zero_at: float, function: str = "linear") -> float:
    """Credit in [0, 1] for a value against a bar: 1 at or beyond full_at, 0 at or beyond zero_at.

    The direction follows from the numbers: ``full_at < zero_at`` means lower is better (an error
    rate), ``full_at > zero_at`` higher is better (an accuracy). ``step`` gives 1 or 0 at full_at.
    """
    if not math.isfinite(value):
        return 0.0
    lower_better = full_at < zero_at
    reached = value <= full_at if lower_better else value >= full_at
    if reached:
        return 1.0
    if function == "step":
        return 0.0
    if function != "linear":
        raise ValueError(f"unknown partial-credit function {function!r}")
    fraction = (value - zero_at) / (full_at - zero_at)
    return float(min(1.0, max(0.0, fraction)))


def band_credit(deviation: float, half_width: float, partial: dict[str, Any] | None) -> float:
    """Credit for a value ``deviation`` away from the reference mean, inside a band of ``half_width``.

    Full credit inside the band; with ``linear`` it falls to 0 at ``zero_at`` half-widths (default
    2); with ``step`` (the default when no partial is declared) it is 0 outside the band.
    """
    if not math.isfinite(deviation):
        return 0.0
    spec = partial or {"function": "step"}
    zero_at = float(spec.get("zero_at", 2.0))
    return ramp_credit(abs(deviation), half_width, half_width * zero_at, spec["function"])


def band_half_width(band: dict[str, Any], mean: float, std: float) -> float:
    """max(abs floor, rel * |mean|, k * std): the tolerance comes from measured seed noise."""
    return max(
        float(band.get("abs", 0.0)),
        float(band.get("rel", 0.0)) * abs(mean),
        float(band.get("k", 3.0)) * std,
    )


def total_points(rubric: dict[str, Any]) -> dict[str, float]:
    """Points by category: automatic, manual (free text), extra credit, total (auto + manual)."""
    auto = manual = extra = 0.0
    for item in rubric.get("items", []):
        points = float(item["points"])
        if item.get("extra_credit"):
            extra += points
        elif item["kind"] == "free_text":
            manual += points
        else:
            auto += points
    return {"automatic": auto, "manual": manual, "total": auto + manual, "extra_credit": extra}
