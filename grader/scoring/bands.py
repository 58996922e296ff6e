"""Items judged against the reference band: one number (``value_band``) or a curve (``curve_band``).

The band's half-width is max(abs, rel * |mean|, k * std) over the reference's seeds
(``grader.rubric.band_half_width``); curves are judged point by point and credited by the mean of
the per-point credits, so one bad point costs a fraction of the item, not all of it.
"""

from __future__ import annotations

from typing import Any

from grader.rubric import band_credit, band_half_width
from grader.scoring.context import ScoreContext, Unanswered, fmt
from grader.scoring.outcome import Outcome

SHOWN_POINTS = 3


def _label(item: dict[str, Any]) -> str:
    return item.get("label") or f"`{item['answer']}`"


def observe_curve(item: dict[str, Any], ctx: ScoreContext) -> list[float]:
    return ctx.numbers(item["answer"])


def observe_value(item: dict[str, Any], ctx: ScoreContext) -> float:
    return ctx.number(item["answer"])


def _x_values(item: dict[str, Any], ctx: ScoreContext, n: int) -> tuple[list[Any], str | None]:
    """The x positions to show, and a problem message when the student's x differ from the rubric's."""
    expect_x = item.get("expect_x")
    student_x = None
    if "x" in item:
        try:
            student_x = ctx.answer(item["x"])
        except Unanswered:
            student_x = None
    if expect_x is not None and student_x is not None:
        same = isinstance(student_x, list) and len(student_x) == len(expect_x)
        same = same and all(
            isinstance(a, (int, float)) and float(a) == float(b)
            for a, b in zip(student_x, expect_x, strict=True)
        )
        if not same:
            x_label = item.get("x_label", item["x"])
            return list(expect_x), (
                f"`{item['x']}` is {student_x}; {_label(item)} must be measured at {x_label} {expect_x}"
            )
    if expect_x is not None:
        return list(expect_x), None
    if isinstance(student_x, list) and len(student_x) == n:
        return student_x, None
    return list(range(1, n + 1)), None


def score_curve(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    observed = ctx.expected_item(item["id"])["observed"]
    means, stds = list(observed["mean"]), list(observed["std"])
    values = ctx.numbers(item["answer"])
    x_label = item.get("x_label", "x")
    if len(values) != len(means):
        raise Unanswered(
            f"`{item['answer']}` has {len(values)} values; it should have {len(means)} (one per {x_label})"
        )
    xs, x_problem = _x_values(item, ctx, len(values))
    widths = [band_half_width(item["band"], m, s) for m, s in zip(means, stds, strict=True)]
    credits = [
        band_credit(v - m, w, item.get("partial")) for v, m, w in zip(values, means, widths, strict=True)
    ]
    evidence = {
        "values": values,
        "expected": {
            "mean": means,
            "low": [m - w for m, w in zip(means, widths, strict=True)],
            "high": [m + w for m, w in zip(means, widths, strict=True)],
        },
        "x": xs,
        "x_label": x_label,
    }
    if x_problem:
        return Outcome(0.0, x_problem, evidence)
    credit = sum(credits) / len(credits)
    label = _label(item)
    off = sorted((c, i) for i, c in enumerate(credits) if c < 1.0)
    if not off:
        return Outcome(credit, f"{label}: all {len(values)} values lie within the reference band", evidence)
    details = [
        f"{label} at {x_label} {xs[i]} is {fmt(values[i])}; expected {fmt(means[i])} ± {fmt(widths[i])}"
        for _, i in off[:SHOWN_POINTS]
    ]
    more = f" (and {len(off) - SHOWN_POINTS} more points outside the band)" if len(off) > SHOWN_POINTS else ""
    inside = len(values) - len(off)
    return Outcome(
        credit,
        "; ".join(details) + more + f". {inside} of {len(values)} points are within the band.",
        evidence,
    )


def score_value(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    observed = ctx.expected_item(item["id"])["observed"]
    mean, std = float(observed["mean"]), float(observed["std"])
    value = ctx.number(item["answer"])
    width = band_half_width(item["band"], mean, std)
    credit = band_credit(value - mean, width, item.get("partial"))
    evidence = {"value": value, "expected": {"mean": mean, "low": mean - width, "high": mean + width}}
    label = _label(item)
    if credit >= 1.0:
        message = f"{label} is {fmt(value)}, within the reference band {fmt(mean)} ± {fmt(width)}"
    else:
        message = f"{label} is {fmt(value)}; expected {fmt(mean)} ± {fmt(width)}"
    return Outcome(credit, message, evidence)
