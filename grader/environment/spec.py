"""What an assignment's kernel environment is: its Python, its requirements, its torch build.

A rubric's ``environment:`` block declares the packages student notebooks may import::

    environment:
      python: "3.11"
      requirements: [numpy==2.4.6, seaborn==0.13.2, ...]   # or: requirements: requirements.txt
      torch: cpu                                         # cpu (default) or cuda

The specification is normalised (requirements parsed, names canonical, sorted) and hashed; the
hash is the cache key of the built environment, so two assignments that declare the same
packages share one environment, and any change to the declaration is a new environment (and
makes expected.json stale). The grader adds only what the kernel itself needs (ipykernel).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from grader.assignment import Assignment

SPEC_FORMAT = 1
# What the kernel itself needs, added unless the assignment names it: the Jupyter kernel.
KERNEL_REQUIREMENTS = ("ipykernel>=6.29,<8",)
# Installed first, by pip, with the CPU-build rule: these are the multi-GB packages.
TORCH_FAMILY = frozenset({"torch", "torchvision", "torchaudio"})
TORCH_BUILDS = ("cpu", "cuda")


class KernelEnvironmentError(ValueError):
    """An environment cannot be declared, built or found; the message says what to do."""


class EnvironmentNotBuilt(KernelEnvironmentError):
    """The assignment declares an environment that is not built on this machine."""


@dataclass(frozen=True)
class EnvironmentSpec:
    """A normalised environment declaration (what is hashed and what is built)."""

    python: str  # "3.11"
    requirements: tuple[str, ...]  # canonical, sorted, the kernel's own additions included
    torch: str = "cpu"  # which torch build the CPU-build rule asks for: cpu | cuda

    def canonical(self) -> dict[str, Any]:
        return {
            "format": SPEC_FORMAT,
            "python": self.python,
            "requirements": list(self.requirements),
            "torch": self.torch,
        }

    @property
    def sha256(self) -> str:
        """The environment's hash: part of every content hash and of expected.json's provenance."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        """The cache directory's name: ``py3.11-<first 16 hex digits of the hash>``."""
        return f"py{self.python}-{self.sha256[:16]}"

    def torch_requirements(self) -> list[str]:
        return [r for r in self.requirements if _name(r) in TORCH_FAMILY]

    def other_requirements(self) -> list[str]:
        return [r for r in self.requirements if _name(r) not in TORCH_FAMILY]


def _name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


def for_students(requirements: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The requirements a student imports from: the kernel's own (ipykernel) left out."""
    kernel = {_name(r) for r in KERNEL_REQUIREMENTS}
    return tuple(r for r in requirements if _name(r) not in kernel)


def normalise_requirements(lines: list[str], *, source: str) -> tuple[str, ...]:
    """Parse requirement lines (comments and blank lines dropped) into canonical, sorted strings.

    Options (``-r``, ``--index-url``, ``-e``) are refused: they would bypass the hash and the
    CPU-build rule. A package named twice is refused too: which one wins would be unclear.
    """
    found: dict[str, str] = {}  # canonical name -> requirement
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise KernelEnvironmentError(
                f"{source}: {line!r}: installer options are not allowed in an environment; "
                "list packages only (set TORCH_INDEX_URL for a torch wheel index)"
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise KernelEnvironmentError(f"{source}: {line!r} is not a requirement: {exc}") from None
        name = str(canonicalize_name(requirement.name))
        if name in found:
            raise KernelEnvironmentError(f"{source}: {requirement.name} is listed twice")
        requirement.name = name
        found[name] = str(requirement)
    for extra in KERNEL_REQUIREMENTS:
        found.setdefault(_name(extra), extra)
    return tuple(found[key] for key in sorted(found))


def spec_from_mapping(
    block: dict[str, Any], *, base_dir: Path, gpu: bool = False, source: str = "environment"
) -> EnvironmentSpec:
    """An ``environment:`` block (requirements inline or in a file relative to ``base_dir``)."""
    python = str(block.get("python") or "").strip()
    parts = python.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise KernelEnvironmentError(f'{source}: python must be major.minor, like "3.11"; got {python!r}')
    declared = block.get("requirements")
    if isinstance(declared, str):
        path = (base_dir / declared).resolve()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise KernelEnvironmentError(f"{source}: cannot read {path}: {exc.strerror}") from None
        where = f"{source} ({path.name})"
    elif isinstance(declared, list) and all(isinstance(x, str) for x in declared):
        lines, where = list(declared), source
    else:
        raise KernelEnvironmentError(f"{source}: requirements must be a list of packages or a file name")
    torch = str(block.get("torch") or ("cuda" if gpu else "cpu"))
    if torch not in TORCH_BUILDS:
        raise KernelEnvironmentError(f"{source}: torch must be one of {', '.join(TORCH_BUILDS)}")
    return EnvironmentSpec(
        python=python, requirements=normalise_requirements(lines, source=where), torch=torch
    )


def assignment_spec(assignment: Assignment) -> EnvironmentSpec | None:
    """The assignment's declared environment, or None when its rubric declares none (its
    notebooks then run on the grader's own interpreter, as before environments existed)."""
    rubric = getattr(assignment, "rubric", None)  # a stand-in assignment (benchmarks) has none
    block = rubric.get("environment") if isinstance(rubric, dict) else None
    if block is None:
        return None
    gpu = bool(assignment.rubric.get("gpu")) or any(
        bool((spec or {}).get("gpu")) for spec in assignment.profiles.values()
    )
    return spec_from_mapping(
        dict(block),
        base_dir=assignment.base_dir,
        gpu=gpu,
        source=f"{assignment.rubric_path.name}: environment",
    )
