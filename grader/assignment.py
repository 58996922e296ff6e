"""Resolve an assignment (its rubric file and the files the rubric names) into one object.

A rubric file *is* the assignment: every other path is relative to it, so a second assignment
(for instance ``tests/assignments/toy/toy.yaml``) is graded with no code change.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.rubric import AssignmentError, validate_rubric

__all__ = ["Assignment", "AssignmentError", "find_rubric", "load_assignment", "load_yaml"]

# libyaml's safe loader where PyYAML was built with it (about 10 times faster on a rubric)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
REPO_ROOT = Path(__file__).resolve().parents[1]
RUBRICS_DIR = REPO_ROOT / "rubrics"


@dataclass
class Assignment:
    """An assignment's rubric plus resolved paths. ``rubric`` is the validated YAML mapping."""

    name: str
    rubric_path: Path
    rubric: dict[str, Any]
    template: Path | None
    reference: Path | None
    expected_path: Path | None
    base_dir: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def parts(self) -> list[dict[str, Any]]:
        return list(self.rubric.get("parts", []))

    @property
    def answers(self) -> dict[str, dict[str, Any]]:
        return dict(self.rubric.get("answers", {}))

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        return dict(self.rubric.get("inputs", {}))

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        return dict(self.rubric.get("models", {}))

    @property
    def free_text(self) -> list[dict[str, Any]]:
        return list(self.rubric.get("free_text", []))

    @property
    def items(self) -> list[dict[str, Any]]:
        return list(self.rubric.get("items", []))

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        return dict(self.rubric.get("profiles") or {"default": {"default": True}})

    @property
    def default_profile(self) -> str:
        for name, spec in self.profiles.items():
            if (spec or {}).get("default"):
                return name
        return next(iter(self.profiles))

    def resolve(self, relative: str | os.PathLike[str]) -> Path:
        """A path named in the rubric, resolved against the rubric file's directory."""
        return (self.base_dir / relative).resolve()

    def rubric_sha256(self) -> str:
        return hashlib.sha256(self.rubric_path.read_bytes()).hexdigest()


def load_yaml(text: str) -> Any:
    """YAML text as plain data (safe loading only: no Python objects), libyaml where available."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def find_rubric(name_or_path: str | os.PathLike[str]) -> Path:
    """A bare name means ``rubrics/<name>.yaml`` in this repository; anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            raise AssignmentError(f"rubric file {candidate} does not exist")
        return candidate.resolve()
    path = RUBRICS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml"))
        raise AssignmentError(f"unknown assignment {name_or_path!r}; known: {', '.join(known) or 'none'}")
    return path


def load_assignment(name_or_path: str | os.PathLike[str]) -> Assignment:
    """Load and validate a rubric, resolving the template, reference and expected.json paths."""
    path = find_rubric(name_or_path)
    try:
        rubric = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AssignmentError(f"{path}: not valid YAML: {exc}") from exc
    validate_rubric(rubric, source=path)
    base = path.parent

    def optional(key: str) -> Path | None:
        value = rubric.get(key)
        return (base / value).resolve() if value else None

    return Assignment(
        name=str(rubric["assignment"]),
        rubric_path=path,
        rubric=rubric,
        template=optional("template"),
        reference=optional("reference"),
        expected_path=optional("expected"),
        base_dir=base,
    )
