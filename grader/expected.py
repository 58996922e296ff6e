"""expected.json: where a profile's file lives, its provenance, whether it is current, margins.

The document side of calibration (grader.calibration runs the reference and writes it). Tolerances
are measured, not guessed: each item's raw quantity over the reference's seeds is summarised
(mean, standard deviation, min, max), and bands are max(absolute floor, k standard deviations)
at scoring time. Provenance (data and rubric checksums, library versions, seeds, date) lets
``check_current`` name what changed since.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.datasets import DataError, read_manifest
from grader.environment import assignment_spec, find_built
from grader.scoring import KINDS

if TYPE_CHECKING:
    from grader.assignment import Assignment

SCHEMA_VERSION = 1
SEED_ENV = "GRADER_SEED"
RELEASE_MARGIN_STD = 3.0
LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "ml-autograder")


def summarise(values: list[Any]) -> dict[str, Any]:
    """Mean, sample standard deviation, min, max over seeds: of numbers, per point of equal-length
    lists, or per key of dicts (choice candidates)."""
    if not values:
        raise ValueError("nothing to summarise")
    first = values[0]
    if isinstance(first, dict):
        keys = sorted(first)
        if any(sorted(v) != keys for v in values):
            raise ValueError("runs disagree on the candidates they report")
        return {key: summarise([v[key] for v in values]) for key in keys}
    if isinstance(first, list):
        length = len(first)
        if any(not isinstance(v, list) or len(v) != length for v in values):
            raise ValueError("runs report curves of different lengths")
        points = [summarise([float(v[i]) for v in values]) for i in range(length)]
        return {
            "mean": [p["mean"] for p in points],
            "std": [p["std"] for p in points],
            "min": [p["min"] for p in points],
            "max": [p["max"] for p in points],
            "n": len(values),
        }
    numbers = [float(v) for v in values]
    if min(numbers) == max(numbers):  # no noise at all: avoid a rounding-error "standard deviation"
        mean, var = numbers[0], 0.0
    else:
        mean = sum(numbers) / len(numbers)
        var = sum((x - mean) ** 2 for x in numbers) / (len(numbers) - 1)
    return {
        "mean": mean,
        "std": math.sqrt(var),
        "min": min(numbers),
        "max": max(numbers),
        "n": len(numbers),
        "values": numbers,
    }


def threshold_margin(item: dict[str, Any], observed: dict[str, Any], profile: str) -> dict[str, Any]:
    """How far the reference clears a threshold item's full-marks bar, in seed standard deviations.

    ``cleared`` requires every seed at full marks and a margin of at least 3 standard deviations,
    so a student who reproduces the reference is not one unlucky seed away from losing points.
    """
    bar = (item.get("profiles") or {}).get(profile) or item["threshold"]
    full_at, zero_at = float(bar["full_at"]), float(bar["zero_at"])
    lower_better = full_at < zero_at
    mean, std = float(observed["mean"]), float(observed["std"])
    margin = (full_at - mean) if lower_better else (mean - full_at)
    worst = observed["max"] if lower_better else observed["min"]
    all_full = worst <= full_at if lower_better else worst >= full_at
    return {
        "profile": profile,
        "full_at": full_at,
        "zero_at": zero_at,
        "reference_mean": mean,
        "reference_std": std,
        "margin": margin,
        "margin_in_std": (margin / std) if std > 0 else None,
        "cleared": bool(all_full and margin >= RELEASE_MARGIN_STD * std),
    }


def expected_path_for(assignment: Assignment, profile: str | None = None) -> Path | None:
    """Where a profile's expected.json lives: the rubric's ``expected:`` path for the default
    profile, ``expected.<profile>.json`` beside it for any other (bands differ with the data)."""
    base = assignment.expected_path
    if base is None or profile in (None, assignment.default_profile):
        return base
    return base.with_name(f"{base.stem}.{profile}{base.suffix}")


def read_expected(raw: bytes) -> dict[str, Any]:
    """An expected.json document from its bytes."""
    document = json.loads(raw.decode("utf-8"))
    if not isinstance(document, dict):
        raise ValueError("expected.json is not a JSON object")
    return document


# ----------------------------------------------------------------------------------------------
# provenance and staleness


def _sha256(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def environment_provenance(assignment: Assignment) -> dict[str, Any] | None:
    """The kernel environment the reference ran in: its hash (what staleness compares), its key,
    and the packages installed in it where it is built."""
    spec = assignment_spec(assignment)
    if spec is None:
        return None
    built = find_built(spec, assignment.name)
    return {
        "sha256": spec.sha256,
        "key": spec.key,
        "python": built.python_version if built else spec.python,
        "packages": dict(sorted(built.packages.items())) if built else None,
    }


def provenance(assignment: Assignment, data_dir: Path, seeds: list[int]) -> dict[str, Any]:
    manifest = read_manifest(data_dir)
    return {
        "environment": environment_provenance(assignment),
        "rubric_sha256": assignment.rubric_sha256(),
        "reference_sha256": _sha256(assignment.reference),
        "data_manifest_sha256": _sha256(data_dir / "MANIFEST.json"),
        "data_profile": manifest.get("profile"),
        "data_files": {name: entry.get("sha256") for name, entry in sorted(manifest["files"].items())},
        "libraries": _versions(),
        "seeds": list(seeds),
        "seed_env": SEED_ENV,
        "created_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def check_current(assignment: Assignment, expected: dict[str, Any], data_dir: Path) -> list[str]:
    """Reasons expected.json is stale for this rubric, reference and data; [] when it is current."""
    reasons: list[str] = []
    if not isinstance(expected, dict) or expected.get("schema_version") != SCHEMA_VERSION:
        return [
            f"expected.json has schema_version {expected.get('schema_version') if isinstance(expected, dict) else None}, not {SCHEMA_VERSION}"
        ]
    if expected.get("assignment") != assignment.name:
        reasons.append(
            f"expected.json is for assignment {expected.get('assignment')!r}, not {assignment.name!r}"
        )
    prov = expected.get("provenance") or {}
    when = prov.get("created_at", "an unknown date")
    if prov.get("rubric_sha256") != assignment.rubric_sha256():
        reasons.append(
            f"the rubric {assignment.rubric_path.name} changed since expected.json was calibrated ({when})"
        )
    reasons += _environment_changes(assignment, prov, when)
    reference_sha = _sha256(assignment.reference)
    if (
        assignment.reference is not None
        and reference_sha is not None
        and prov.get("reference_sha256") not in (None, reference_sha)
    ):
        reasons.append(
            f"the reference notebook {assignment.reference.name} changed since calibration ({when})"
        )
    try:
        manifest = read_manifest(Path(data_dir))
    except DataError as exc:
        reasons.append(f"the data cannot be checked: {exc}")
        manifest = None
    if manifest is not None:
        now = {name: entry.get("sha256") for name, entry in manifest["files"].items()}
        then = prov.get("data_files") or {}
        for name in sorted(set(now) | set(then)):
            if name not in then:
                reasons.append(f"data file {name} is new since calibration")
            elif name not in now:
                reasons.append(f"data file {name} was removed since calibration")
            elif now[name] != then[name]:
                reasons.append(f"data file {name} changed since calibration ({when})")
        if manifest.get("profile") not in (None, expected.get("profile")):
            reasons.append(
                f"expected.json was calibrated on profile {expected.get('profile')!r}; the data is {manifest.get('profile')!r}"
            )
    calibrated = expected.get("items") or {}
    for item in assignment.items:
        if KINDS[item["kind"]][1] is not None and item["id"] not in calibrated:
            reasons.append(f"item {item['id']} has no calibrated values")
    return reasons


def _environment_changes(assignment: Assignment, prov: dict[str, Any], when: str) -> list[str]:
    """The kernel environment is part of what the reference's numbers depend on."""
    spec = assignment_spec(assignment)
    recorded = prov.get("environment")
    then: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    then_sha = then.get("sha256")
    if spec is None:
        return (
            [
                f"expected.json was calibrated in kernel environment {then.get('key')}; the rubric now declares none"
            ]
            if then_sha
            else []
        )
    if then_sha == spec.sha256:
        return []
    if then_sha is None:
        return [
            f"the rubric declares kernel environment {spec.key}; expected.json was calibrated without it ({when})"
        ]
    return [
        f"the kernel environment changed since calibration ({when}): {then.get('key')} then, {spec.key} now"
    ]


def release_margins(expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Every threshold item's margin record (``cleared`` False where a release check should fail)."""
    return [
        {"item": item_id, **entry["threshold"]}
        for item_id, entry in sorted((expected.get("items") or {}).items())
        if isinstance(entry, dict) and "threshold" in entry
    ]
