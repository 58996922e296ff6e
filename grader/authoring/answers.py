"""Draft or update a rubric's ``answers:`` block from what the master notebook computes.

Which names are answers: those the rubric already lists, the targets of ``# SOLUTION`` lines, and
the module-level ``NAME = None`` lines of the template (the answer-variable convention), less the
rubric's model variables. Their types and shapes are observed by running the reference once and
reading the values through the same harvest as a student's (a value that is not plain data, such
as a function or a model, is not an answer and is reported). The rubric file is edited as text:
only the lines of entries that change or are new are written, so comments and layout survive.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.notebook_parts import assign_parts, cell_source

MAX_ENUM_DRAFT = 0  # never guess an enum: a string answer is a string


@dataclass
class AnswersUpdate:
    """What changed in the ``answers:`` block, for the command's report."""

    added: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it is not an answer

    @property
    def edits(self) -> bool:
        return bool(self.added or self.changed)

    def lines(self) -> list[str]:
        out = [f"  added answer {n}: {flow(spec)}" for n, spec in self.added.items()]
        out += [f"  updated answer {n}: {flow(old)} -> {flow(new)}" for n, (old, new) in self.changed.items()]
        out += [f"  not an answer: {n} ({why})" for n, why in self.skipped.items()]
        return out


def none_assignments(template_cells: list[Any]) -> list[str]:
    """Module-level ``NAME = None`` targets in the template's code cells, in order."""
    names: list[str] = []
    for cell in template_cells:
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(cell_source(cell))
        except SyntaxError:
            continue  # IPython magics and the like: nothing to learn from this cell
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and node.value.value is None
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id not in names:
                        names.append(target.id)
    return names


def candidate_names(
    rubric: dict[str, Any], template_cells: list[Any], solution_targets: list[str]
) -> list[str]:
    """Answer names to observe: the rubric's, the SOLUTION lines', the template's ``= None`` ones."""
    models = {str(spec.get("variable")) for spec in (rubric.get("models") or {}).values()}
    functions = {str(item.get("function")) for item in rubric.get("items") or [] if item.get("function")}
    names: list[str] = list(rubric.get("answers") or {})
    for name in [*solution_targets, *none_assignments(template_cells)]:
        if name not in names and name not in models and name not in functions:
            names.append(name)
    return names


def _depth_shape(value: Any) -> list[int] | None:
    """The shape of a rectangular nested list of numbers, or None."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return []
    if not isinstance(value, list) or not value:
        return None
    shapes = [_depth_shape(v) for v in value]
    if any(s is None for s in shapes) or any(s != shapes[0] for s in shapes):
        return None
    return [len(value), *(shapes[0] or [])]


def infer_spec(value: Any) -> dict[str, Any]:
    """The narrowest answer spec the value fits (types and shapes only)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, dict):
        return {"type": "object"}
    if isinstance(value, list):
        shape = _depth_shape(value)
        if shape is not None and len(shape) >= 2:
            return {"type": "array", "shape": shape}
        kinds = {type(v) for v in value}
        spec: dict[str, Any] = {"type": "list"}
        if value and kinds <= {int}:
            spec["items"] = "integer"
        elif value and kinds <= {int, float}:
            spec["items"] = "number"
        elif value and kinds <= {str}:
            spec["items"] = "string"
        elif value and kinds <= {bool}:
            spec["items"] = "boolean"
        spec["length"] = len(value)
        return spec
    return {"type": "object"}


def _item_fits(kind: str, value: Any) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def fits(spec: dict[str, Any], value: Any) -> bool:
    """Whether a declared answer spec accepts the value (its type, items, length, shape, enum, range)."""
    kind = spec.get("type")
    if kind in ("boolean", "integer", "number", "string"):
        ok = _item_fits(str(kind), value)
    elif kind == "list":
        ok = isinstance(value, list)
        ok = ok and ("items" not in spec or all(_item_fits(spec["items"], v) for v in value))
        ok = ok and ("length" not in spec or len(value) == spec["length"])
        ok = ok and ("min_length" not in spec or len(value) >= spec["min_length"])
    elif kind == "array":
        shape = _depth_shape(value)
        ok = shape is not None and ("shape" not in spec or shape == list(spec["shape"]))
    elif kind == "object":
        ok = isinstance(value, dict) or spec.get("type") == "object"
    else:
        ok = False
    if ok and "enum" in spec:
        ok = value in spec["enum"]
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = spec.get("minimum", value) <= value <= spec.get("maximum", value)
    return ok


def plan_update(
    rubric: dict[str, Any],
    observed: dict[str, dict[str, Any]],
    parts_of: dict[str, str],
    names: list[str],
) -> AnswersUpdate:
    """Compare each candidate's harvested entry with the rubric's spec; decide what to write."""
    declared = dict(rubric.get("answers") or {})
    update = AnswersUpdate()
    for name in names:
        entry = observed.get(name) or {}
        status = entry.get("status")
        if status != "ok":
            if name in declared:
                update.kept.append(name)
            if status == "refused":
                update.skipped[name] = (
                    f"{entry.get('message', 'not a plain value')}: declare it under models:"
                )
            elif name not in declared:
                update.skipped[name] = (
                    f"the reference leaves it {'None' if status == 'none' else 'undefined'}"
                )
            continue
        value = entry.get("value")
        if name in declared:
            if fits(declared[name], value):
                update.kept.append(name)
                continue
            new = {**declared[name], **infer_spec(value)}
            for key in ("items", "length", "min_length", "shape", "enum"):
                if key not in infer_spec(value):
                    new.pop(key, None)
            update.changed[name] = (declared[name], new)
        else:
            spec = infer_spec(value)
            if name in parts_of:
                spec["part"] = parts_of[name]
            update.added[name] = spec
    return update


def parts_of_names(cells: list[Any], parts: list[dict[str, Any]], names: list[str]) -> dict[str, str]:
    """The part in which each name is first assigned, in the reference's cells."""
    part_of = assign_parts(cells, parts)
    found: dict[str, str] = {}
    for cell, part in zip(cells, part_of, strict=True):
        if cell.get("cell_type") != "code" or part is None:
            continue
        try:
            tree = ast.parse(cell_source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in names:
                found.setdefault(node.id, part)
    return found


def flow(spec: dict[str, Any]) -> str:
    """A spec as one YAML flow mapping: ``{type: list, items: integer, length: 5}``."""
    return str(yaml.safe_dump(spec, default_flow_style=True, sort_keys=False, width=10_000)).strip()


def _top_level(line: str) -> bool:
    return bool(line) and not line[0].isspace() and not line.startswith("#")


def rewrite_answers_block(text: str, update: AnswersUpdate) -> str:
    """The rubric text with the update applied; every other line is kept byte for byte."""
    if not update.edits:
        return text
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("answers:")), None)
    new_lines = [f"  {name}: {flow(spec)}\n" for name, spec in update.added.items()]
    if start is None:
        anchor = next(
            (
                i
                for i, line in enumerate(lines)
                if line.startswith(("inputs:", "models:", "free_text:", "items:"))
            ),
            len(lines),
        )
        block = ["answers:\n", *new_lines, "\n"]
        return "".join(lines[:anchor] + block + lines[anchor:])
    if lines[start].split(":", 1)[1].strip() not in ("", "{}") and not lines[start].split(":", 1)[
        1
    ].strip().startswith("#"):
        raise ValueError("the rubric's answers: block is written inline; write it one entry per line")
    end = start + 1
    while end < len(lines) and not _top_level(lines[end]):
        end += 1
    body = lines[start + 1 : end]
    while body and not body[-1].strip():
        body.pop()
    trailing = lines[start + 1 + len(body) : end]
    out: list[str] = []
    index = 0
    while index < len(body):
        line = body[index]
        name = line.strip().split(":", 1)[0] if line.startswith("  ") and not line.startswith("   ") else None
        span_end = index + 1
        while span_end < len(body) and body[span_end].startswith("   "):
            span_end += 1
        if name in update.changed:
            out.append(f"  {name}: {flow(update.changed[name][1])}\n")
        else:
            out.extend(body[index:span_end])
        index = span_end
    head = "answers:\n" if lines[start].split(":", 1)[1].strip() == "{}" else lines[start]
    return "".join(lines[:start] + [head] + out + new_lines + trailing + lines[end:])


def write_answers(rubric_path: Path, update: AnswersUpdate) -> bool:
    """Apply the update to the rubric file; False when nothing had to change."""
    if not update.edits:
        return False
    text = rubric_path.read_text(encoding="utf-8")
    rubric_path.write_text(rewrite_answers_block(text, update), encoding="utf-8")
    return True
