"""Metrics the scorer computes itself, and the two item kinds built on them.

``threshold``: a metric (accuracy or error on hidden rows, PSNR of a returned image) against a
declared bar with a partial-credit ramp. ``consistency``: a number the student reports against the
same number recomputed from the student's own model, so a hard-coded number loses the points.
Labels of hidden rows are read here, outside the sandbox, from the files the rubric's ``inputs``
section names.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np

from grader.rubric import ramp_credit
from grader.scoring.context import ScoreContext, Unanswered, fmt
from grader.scoring.outcome import Outcome

PSNR_CAP_DB = 100.0  # a perfect copy has infinite PSNR; cap it so JSON stays finite


def compute_metric(spec: dict[str, Any], ctx: ScoreContext) -> float:
    """The metric's value for this submission; ``Unanswered``/``Pending`` when it cannot be had."""
    kind = spec["kind"]
    if kind in ("error_rate", "accuracy"):
        accuracy = _accuracy(spec, ctx)
        return accuracy if kind == "accuracy" else 1.0 - accuracy
    if kind == "value":
        value = ctx.prediction(spec["model"], spec["input"])
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            variable = ctx.assignment.models[spec["model"]]["variable"]
            raise Unanswered(f"`{variable}` gave {value!r} on {spec['input']!r}, not a number")
        return float(value)
    if kind == "psnr":
        image, reference = _images(spec, ctx)
        return psnr(image, reference)
    if kind == "difference":
        return compute_metric(spec["left"], ctx) - compute_metric(spec["right"], ctx)
    if kind == "answer":
        return ctx.number(spec["answer"])
    raise ValueError(f"unknown metric kind {kind!r}")


def _accuracy(spec: dict[str, Any], ctx: ScoreContext) -> float:
    predictions = ctx.prediction(spec["model"], spec["input"])
    labels = np.asarray(ctx.labels(spec["input"])).reshape(-1)
    variable = ctx.assignment.models[spec["model"]]["variable"]
    if not isinstance(predictions, list):
        raise Unanswered(f"`{variable}` returned {type(predictions).__name__}, not one prediction per row")
    if len(predictions) != len(labels):
        raise Unanswered(
            f"`{variable}` returned {len(predictions)} predictions for {len(labels)} rows of {spec['input']!r}"
        )
    if len(labels) == 0:
        raise ValueError(f"input {spec['input']!r} has no labelled rows")
    if "positive" in spec:
        truth = labels.astype(str) == str(spec["positive"])
        if all(isinstance(p, bool) for p in predictions):
            guess = np.asarray(predictions, dtype=bool)
        else:
            guess = np.asarray([str(p) for p in predictions]) == str(spec["positive"])
        return float(np.mean(truth == guess))
    numeric = labels.dtype.kind in "iuf" and all(
        isinstance(p, (int, float)) and not isinstance(p, bool) for p in predictions
    )
    if numeric:
        correct = np.asarray(predictions, dtype=np.float64) == labels.astype(np.float64)
    else:
        correct = np.asarray([str(p) for p in predictions]) == labels.astype(str)
    return float(np.mean(correct))


def _images(spec: dict[str, Any], ctx: ScoreContext) -> tuple[np.ndarray, np.ndarray]:
    reference = np.load(ctx.data_file(spec["reference"]), allow_pickle=False).astype(np.float64)
    value = ctx.answer(spec["answer"])
    try:
        image = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Unanswered(f"`{spec['answer']}` is not a numeric array") from None
    if image.shape != reference.shape:
        raise Unanswered(f"`{spec['answer']}` has shape {image.shape}; the image has shape {reference.shape}")
    if not np.isfinite(image).all():
        raise Unanswered(f"`{spec['answer']}` contains NaN or infinite values")
    return image, reference


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((image - reference) ** 2))
    return PSNR_CAP_DB if mse <= 0 else min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / mse))


def png_base64(image: np.ndarray) -> str:
    """A small PNG of a float image in [0, 1], base64-encoded for the report's <img> tags."""
    from PIL import Image

    pixels = np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar(item: dict[str, Any], profile: str) -> dict[str, float]:
    return (item.get("profiles") or {}).get(profile) or item["threshold"]


def _fmt(item: dict[str, Any], value: float) -> str:
    return fmt(value, percent=bool(item.get("percent")), unit=item.get("unit"))


def observe_threshold(item: dict[str, Any], ctx: ScoreContext) -> float:
    return compute_metric(item["metric"], ctx)


def score_threshold(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    value = compute_metric(item["metric"], ctx)
    bar = _bar(item, ctx.profile)
    full_at, zero_at = float(bar["full_at"]), float(bar["zero_at"])
    credit = ramp_credit(value, full_at, zero_at, (item.get("partial") or {"function": "linear"})["function"])
    better, worse = ("≤", "≥") if full_at < zero_at else ("≥", "≤")
    label = item.get("label") or item["id"]
    message = (
        f"{label} is {_fmt(item, value)}; full marks at {better} {_fmt(item, full_at)}, "
        f"none at {worse} {_fmt(item, zero_at)}"
    )
    reference = ctx.expected_or_none(item["id"])
    if reference is not None and credit < 1.0:
        observed = reference["observed"]
        message += f" (the reference solution reaches {_fmt(item, observed['mean'])})"
    evidence: dict[str, Any] = {"value": value, "full_at": full_at, "zero_at": zero_at}
    if item["metric"]["kind"] == "psnr":
        image, original = _images(item["metric"], ctx)
        evidence.update(image_png=png_base64(image), original_png=png_base64(original), psnr_db=value)
    return Outcome(credit, message, evidence)


def observe_consistency(item: dict[str, Any], ctx: ScoreContext) -> float:
    """The recomputed value; the reference must also report it, and report it truthfully."""
    outcome = score_consistency(item, ctx)
    if outcome.credit < 1.0:
        raise Unanswered(outcome.message)
    return float(outcome.evidence["recomputed"])


def score_consistency(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    reported_name = item["reported"]
    reported = ctx.number(reported_name)
    label = item.get("label") or f"`{reported_name}`"
    recomputed_label = item["metric"].get("label") or "the value recomputed from your model"
    try:
        recomputed = compute_metric(item["metric"], ctx)
    except Unanswered as exc:
        return Outcome(
            0.0,
            f"you report a {label} of {_fmt(item, reported)} (`{reported_name}`), but it cannot be confirmed: {exc}",
            {"reported": reported, "recomputed": None},
        )
    tolerance = item["tolerance"]
    allowed = max(float(tolerance.get("abs", 0.0)), float(tolerance.get("rel", 0.0)) * abs(recomputed))
    evidence = {"reported": reported, "recomputed": recomputed, "tolerance": allowed}
    if abs(reported - recomputed) <= allowed:
        return Outcome(
            1.0,
            f"you report a {label} of {_fmt(item, reported)}; {recomputed_label} is {_fmt(item, recomputed)} (agrees)",
            evidence,
        )
    return Outcome(
        0.0,
        f"you report a {label} of {_fmt(item, reported)} (`{reported_name}`), but {recomputed_label} is "
        f"{_fmt(item, recomputed)}: report the number your own model achieves",
        evidence,
    )
