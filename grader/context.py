"""The grading context: what every submission of a batch is graded against, resolved once.

An assignment, a data directory, the data profile, the expected.json for that profile (its path,
its document, and why it is stale if it is) used to be worked out again by every stage that
needed one of them, with two different profile rules. ``resolve_context`` works them out once
per batch (or per self-check); every later stage reads them from the ``GradingContext``, so an
error row, the GPU decision and the scored rows always name the same profile and calibration.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.datasets import ensure_data, resolve_profile
from grader.expected import check_current, expected_path_for, read_expected


@dataclass(frozen=True)
class GradingContext:
    """Everything that is the same for every submission of one batch. Pickles (for workers)."""

    assignment: Assignment
    data_dir: Path
    profile: str
    expected_path: Path | None
    expected: dict[str, Any] | None
    stale: tuple[str, ...] = ()  # why expected.json does not match rubric, reference and data
    _hashed: tuple[tuple[str, bytes | None], ...] = field(default=(), repr=False)

    @property
    def needs_gpu(self) -> bool:
        """Every submission needs a GPU when the rubric or its data profile says so."""
        spec = self.assignment.profiles.get(self.profile) or {}
        return bool(spec.get("gpu") or self.assignment.rubric.get("gpu"))

    def warnings(self) -> list[str]:
        """Say when the metrics students are scored against are missing or out of date."""
        path, name = self.expected_path, self.assignment.name
        if path is None:
            return []
        if self.expected is None:
            return [
                f"{path.name} is missing: items scored against the reference were not "
                f"calibrated (run `grader reference {name}`)"
            ]
        if not self.stale:
            return []
        return [
            f"{path.name} is stale ("
            + "; ".join(self.stale[:5])
            + f"): recalibrate with `grader reference {name}`"
        ]

    def content_hash(self, notebook: Path) -> str:
        """What a result depends on: the notebook's bytes, the rubric, expected.json, the data
        manifest (as they were when the context was resolved). A rerun skips a submission whose
        hash is unchanged; any change to one of these regrades it."""
        digest = hashlib.sha256()
        digest.update(b"notebook")
        digest.update(_read(Path(notebook)) or b"<absent>")
        for label, data in self._hashed:
            digest.update(label.encode())
            digest.update(data if data is not None else b"<absent>")
        return digest.hexdigest()


def _read(path: Path | None) -> bytes | None:
    if path is None or not path.is_file():
        return None
    return path.read_bytes()


def resolve_context(
    assignment: Assignment, data_dir: Path | None = None, profile: str | None = None
) -> GradingContext:
    """Resolve the data directory (the one given, or the profile's built-once cache), the profile
    (asked for, else the data's own, else the rubric's default), and that profile's expected.json.

    Raises ``grader.datasets.DataError`` when the data cannot be prepared.
    """
    # a given directory is taken as it is (its manifest is checked where it is read)
    data = Path(data_dir if data_dir is not None else ensure_data(assignment, profile=profile)).resolve()
    profile = resolve_profile(assignment, data, profile)
    path = expected_path_for(assignment, profile)
    raw = _read(path)
    expected = read_expected(raw) if raw is not None else None
    stale = tuple(check_current(assignment, expected, data)) if expected is not None else ()
    hashed = (
        ("rubric", _read(assignment.rubric_path)),
        ("expected", raw),
        ("manifest", _read(data / "MANIFEST.json")),
    )
    return GradingContext(
        assignment=assignment,
        data_dir=data,
        profile=profile,
        expected_path=path,
        expected=expected,
        stale=stale,
        _hashed=hashed,
    )
