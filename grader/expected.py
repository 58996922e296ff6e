"""Calibrate expected metrics from the reference solution, and detect a stale expected.json.

Tolerances are measured, not guessed: the reference notebook runs through the same sandbox and
harvest as a student's, K times with different model seeds (env ``GRADER_SEED``; data splits never
change), and every item's raw quantity is summarised (mean, standard deviation, min, max). Bands
are then max(absolute floor, k standard deviations) at scoring time. Provenance (data and rubric
checksums, library versions, seeds, date) lets ``check_current`` name what changed since.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import platform
import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.scoring.context import ScoreContext, Unanswered

if TYPE_CHECKING:
    from grader.assignment import Assignment

SCHEMA_VERSION = 1
SEED_ENV = "GRADER_SEED"
RELEASE_MARGIN_STD = 3.0
LIBRARIES = ("numpy", "pandas", "scikit-learn", "torch", "ml-autograder")


class CalibrationError(RuntimeError):
    """The reference could not be calibrated; the message names the seed and the item."""


# ----------------------------------------------------------------------------------------------
# summaries


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


def summarise_runs(
    assignment: Assignment,
    runs: list[tuple[int, dict[str, Any]]],
    data_dir: Path,
    *,
    profile: str | None = None,
    template_run: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Observe every calibratable item on every (seed, RunRecord) and summarise over seeds.

    ``template_run`` (the untouched template, executed once) records the figures its helper
    cells draw per part, which figure items do not credit. Raises ``CalibrationError`` naming
    the seed and item when the reference fails to answer.
    """
    from grader.scoring import KINDS, observe_item, resolve_profile

    if not runs:
        raise CalibrationError("no reference runs to summarise")
    profile = resolve_profile(assignment, Path(data_dir), profile)
    problems: list[str] = []
    for seed, run in runs:
        if run.get("status") != "completed":
            problems.append(
                f"seed {seed}: the reference run ended with {run.get('status')}: {run.get('message')}"
            )
    observations: dict[str, list[Any]] = {}
    for seed, run in runs:
        ctx = ScoreContext(
            run=run, assignment=assignment, expected=None, data_dir=Path(data_dir), profile=profile
        )
        for item in assignment.items:
            if KINDS[item["kind"]][1] is None:
                continue
            try:
                observations.setdefault(item["id"], []).append(observe_item(item, ctx))
            except Unanswered as exc:
                problems.append(f"seed {seed}: item {item['id']}: {exc}")
    if problems:
        raise CalibrationError("the reference does not answer every item:\n  " + "\n  ".join(problems[:20]))
    items: dict[str, Any] = {}
    for item in assignment.items:
        if item["id"] not in observations:
            continue
        entry: dict[str, Any] = {"kind": item["kind"], "observed": summarise(observations[item["id"]])}
        if item["kind"] == "threshold":
            entry["threshold"] = threshold_margin(item, entry["observed"], profile)
        items[item["id"]] = entry
    return {
        "schema_version": SCHEMA_VERSION,
        "assignment": assignment.name,
        "profile": profile,
        "provenance": provenance(assignment, Path(data_dir), [seed for seed, _ in runs]),
        "runs": [
            {
                "seed": seed,
                "status": run.get("status"),
                "backend": run.get("backend"),
                "wall_s": (run.get("telemetry") or {}).get("wall_s"),
            }
            for seed, run in runs
        ],
        "items": items,
        "template": _template_summary(assignment, template_run),
    }


def _template_summary(assignment: Assignment, run: dict[str, Any] | None) -> dict[str, Any] | None:
    """Figures per part drawn by the untouched template (its helper cells), or None if not run."""
    if run is None:
        return None
    ctx = ScoreContext(run=run, assignment=assignment, expected=None, data_dir=Path("."), profile="")
    return {
        "status": run.get("status"),
        "figures": {part["id"]: ctx.figures(part["id"]) for part in assignment.parts},
    }


def expected_path_for(assignment: Assignment, profile: str | None = None) -> Path | None:
    """Where a profile's expected.json lives: the rubric's ``expected:`` path for the default
    profile, ``expected.<profile>.json`` beside it for any other (bands differ with the data)."""
    base = assignment.expected_path
    if base is None or profile in (None, assignment.default_profile):
        return base
    return base.with_name(f"{base.stem}.{profile}{base.suffix}")


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


def provenance(assignment: Assignment, data_dir: Path, seeds: list[int]) -> dict[str, Any]:
    from grader.datasets import read_manifest

    manifest = read_manifest(data_dir)
    return {
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
    from grader.datasets import DataError, read_manifest
    from grader.scoring import KINDS

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
    reference_sha = _sha256(assignment.reference)
    if reference_sha is not None and prov.get("reference_sha256") not in (None, reference_sha):
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


def release_margins(expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Every threshold item's margin record (``cleared`` False where a release check should fail)."""
    return [
        {"item": item_id, **entry["threshold"]}
        for item_id, entry in sorted((expected.get("items") or {}).items())
        if isinstance(entry, dict) and "threshold" in entry
    ]


# ----------------------------------------------------------------------------------------------
# running the reference


def calibrate(
    assignment: Assignment,
    seeds: int,
    *,
    data_dir: Path,
    backend: str = "auto",
    out: Path | None = None,
    work_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the reference ``seeds`` times (GRADER_SEED = 0..seeds-1) and the template once, and
    write expected.json.

    ``out`` defaults to the rubric's ``expected:`` path. Executed notebooks and RunRecords go to
    ``work_dir`` (a temporary directory, removed afterwards, when not given).
    """
    from grader.execute import run_notebook
    from grader.results import write_json_atomic

    if seeds < 1:
        raise CalibrationError(f"--seeds must be at least 1, got {seeds}")
    if assignment.reference is None or not assignment.reference.is_file():
        raise CalibrationError(
            f"assignment {assignment.name}: reference notebook {assignment.reference} not found"
        )
    if out is None:
        from grader.scoring import resolve_profile

        out = expected_path_for(assignment, resolve_profile(assignment, Path(data_dir), None))
    target = Path(out) if out is not None else None
    if target is None:
        raise CalibrationError(
            f"assignment {assignment.name}: the rubric names no 'expected:' file; pass --out"
        )
    scratch = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="grader-reference-"))
    try:
        runs = []
        for seed in range(seeds):
            record = run_notebook(
                assignment.reference,
                assignment,
                Path(data_dir),
                scratch,
                run_id=f"reference-seed{seed}",
                backend=backend,
                env={SEED_ENV: str(seed)},
            )
            runs.append((seed, record))
        template_run = None
        if assignment.template is not None and assignment.template.is_file():
            template_run = run_notebook(
                assignment.template, assignment, Path(data_dir), scratch, run_id="template", backend=backend
            )
        expected = summarise_runs(assignment, runs, Path(data_dir), template_run=template_run)
    finally:
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    write_json_atomic(target, expected)
    return expected


def summarise_kept(assignment: Assignment, keep_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Re-summarise RunRecords kept by an earlier ``calibrate(work_dir=...)`` without rerunning.

    For rubric edits that do not change what the reference computes (a threshold, a band's
    floor, a title): the runs are the same, only their reading changes.
    """
    import json

    run_dir = Path(keep_dir) / "run"
    runs = []
    for path in sorted(run_dir.glob("reference-seed*.json")):
        seed = int(path.stem.removeprefix("reference-seed"))
        runs.append((seed, json.loads(path.read_text(encoding="utf-8"))))
    if not runs:
        raise CalibrationError(f"{run_dir} holds no reference-seed*.json RunRecords")
    runs.sort(key=lambda pair: pair[0])
    template_path = run_dir / "template.json"
    template_run = json.loads(template_path.read_text(encoding="utf-8")) if template_path.is_file() else None
    expected = summarise_runs(assignment, runs, Path(data_dir), template_run=template_run)
    expected["provenance"]["runs_reused_from"] = str(Path(keep_dir).resolve())
    return expected
