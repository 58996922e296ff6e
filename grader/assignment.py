"""Resolve an assignment (its rubric file and the files the rubric names) into one object.

An assignment is a folder of files: the rubric, the master notebook, an optional data builder,
the data, and the derived template, reference and expected.json. Every path in the rubric is
relative to the rubric file, so an assignment anywhere on disk is graded with no code change.
``find_rubric`` accepts the folder, the rubric file, or a bare name (``rubrics/<name>.yaml`` of
this repository or of the current directory); docs/AUTHORING.md describes the layouts.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.rubric import AssignmentError, validate_rubric

__all__ = ["Assignment", "AssignmentError", "find_rubric", "load_assignment", "load_yaml", "rubric_in_folder"]

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

    @property
    def master(self) -> Path | None:
        """The master notebook (``master:``), from which ``grader assign`` derives the others."""
        value = self.rubric.get("master")
        return self.resolve(value) if value else None

    def notebook_entries(self) -> list[dict[str, Any]]:
        """Each notebook of the assignment as ``{name, master?, template?, reference?}`` (paths as
        the rubric writes them): the ``notebooks:`` list, or the top-level keys of a one-notebook
        rubric."""
        listed = self.rubric.get("notebooks")
        if listed:
            return [dict(entry) for entry in listed]
        entry = {k: self.rubric[k] for k in ("master", "template", "reference") if self.rubric.get(k)}
        return [{"name": Path(str(entry.get("template", self.name))).stem, **entry}]

    def notebook_templates(self) -> list[Path]:
        """The notebook files students get (the file names their submissions should carry)."""
        return [self.resolve(e["template"]) for e in self.notebook_entries() if e.get("template")]

    @property
    def command_ref(self) -> str:
        """How to name this assignment on a command line so that the command finds it again:
        the bare name for a rubric in this repository's rubrics/, else the rubric's path."""
        if self.rubric_path == (RUBRICS_DIR / f"{self.name}.yaml").resolve():
            return self.name
        try:
            return os.path.relpath(self.rubric_path)
        except ValueError:  # another drive (Windows)
            return str(self.rubric_path)


def load_yaml(text: str) -> Any:
    """YAML text as plain data (safe loading only: no Python objects), libyaml where available."""
    return yaml.load(text, Loader=_SAFE_LOADER)


RUBRIC_NAMES = ("rubric.yaml", "rubric.yml")


def _looks_like_rubric(path: Path) -> bool:
    """A YAML file that declares ``schema_version`` and ``assignment`` at the top (cheap test)."""
    try:
        head = path.read_text(encoding="utf-8")[:20_000]
    except (OSError, UnicodeDecodeError):
        return False
    keys = {line.split(":", 1)[0] for line in head.splitlines() if line[:1].isalpha() and ":" in line}
    return {"schema_version", "assignment"} <= keys


def rubric_in_folder(folder: Path) -> Path:
    """The rubric of an assignment folder: ``rubric.yaml``; else the one rubric-like YAML file in
    it; else, for a course repository's ``reference/<name>/`` or ``student_template/<name>/``,
    ``rubrics/<name>.yaml`` beside them."""
    for name in RUBRIC_NAMES:
        if (folder / name).is_file():
            return (folder / name).resolve()
    found = sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if _looks_like_rubric(p))
    if len(found) == 1:
        return found[0].resolve()
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise AssignmentError(f"folder {folder} holds several rubrics ({names}); name the one you mean")
    resolved = folder.resolve()
    if resolved.parent.name in ("reference", "student_template"):
        course = resolved.parent.parent / "rubrics" / f"{resolved.name}.yaml"
        if course.is_file():
            return course
    raise AssignmentError(
        f"folder {folder} is not an assignment: it has no rubric.yaml "
        "(start one with `grader new NAME`, or see docs/AUTHORING.md)"
    )


def find_rubric(name_or_path: str | os.PathLike[str]) -> Path:
    """The rubric file of an assignment given as its folder, its rubric file, or a bare name
    (``rubrics/<name>.yaml`` in this repository, else in the current directory)."""
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return rubric_in_folder(candidate)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists() or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise AssignmentError(f"rubric file {candidate} does not exist")
        return candidate.resolve()
    for rubrics in (RUBRICS_DIR, Path.cwd() / "rubrics"):
        path = rubrics / f"{name_or_path}.yaml"
        if path.is_file():
            return path.resolve()
    known = sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml"))
    raise AssignmentError(
        f"unknown assignment {str(name_or_path)!r}: give its folder or rubric file "
        f"(known by name: {', '.join(known) or 'none'})"
    )


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
