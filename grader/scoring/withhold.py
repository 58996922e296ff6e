"""What a self-check must not show: the reference solution's numbers.

A student runs ``grader check`` as often as they like. If its messages quoted the reference
("expected 0.965 ± 0.008"), copying those numbers into the answer variables would pass every band
item. So a public-only scoring keeps the verdict and the student's own values and withholds the
reference's: band messages are rewritten from the evidence, reference figures are cut from
choice and threshold messages, and the evidence loses the reference band.
"""

from __future__ import annotations

from typing import Any

from grader.scoring.context import fmt

REFERENCE_EVIDENCE = ("expected", "reference", "accepted_reference")
CUT_AT = ("; the reference points to", " (the reference solution reaches", ", within the reference band")
SHOWN_POINTS = 3


def _label(item: dict[str, Any]) -> str:
    return str(item.get("label") or f"`{item.get('answer')}`")


def _curve_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    values, band = evidence.get("values") or [], evidence.get("expected") or {}
    low, high = band.get("low") or [], band.get("high") or []
    xs = evidence.get("x") or list(range(1, len(values) + 1))
    if len(low) != len(values) or len(high) != len(values):
        return str(result["message"])
    outside = [i for i, v in enumerate(values) if not low[i] <= v <= high[i]]
    label, x_label = _label(item), evidence.get("x_label", "x")
    if not outside:
        return f"{label}: all {len(values)} values lie within the reference band"
    shown = "; ".join(
        f"at {x_label} {xs[i]} it is {fmt(values[i])}, {'above' if values[i] > high[i] else 'below'} the band"
        for i in outside[:SHOWN_POINTS]
    )
    more = f" (and {len(outside) - SHOWN_POINTS} more)" if len(outside) > SHOWN_POINTS else ""
    return (
        f"{label}: {len(values) - len(outside)} of {len(values)} values lie within the reference band; "
        f"{shown}{more} (the reference values are shown when you submit)"
    )


def _value_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    value, band = evidence.get("value"), evidence.get("expected") or {}
    if not isinstance(value, (int, float)) or "low" not in band or "high" not in band:
        return str(result["message"])
    if band["low"] <= value <= band["high"]:
        return f"{_label(item)} is {fmt(value)}, within the reference band"
    side = "above" if value > band["high"] else "below"
    return f"{_label(item)} is {fmt(value)}, {side} the reference band (its values are shown when you submit)"


def withhold_reference(item: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (one item of a result document) without the reference's numbers."""
    evidence = dict(result.get("evidence") or {})
    message = str(result.get("message") or "")
    if result.get("status") not in ("pending", "error"):
        if item["kind"] == "curve_band":
            message = _curve_message(item, result, evidence)
        elif item["kind"] == "value_band":
            message = _value_message(item, result, evidence)
    for marker in CUT_AT:
        if marker in message:
            message = message.split(marker)[0] + (
                " (within the reference band)" if "within" in marker else ""
            )
    for key in REFERENCE_EVIDENCE:
        evidence.pop(key, None)
    return {**result, "message": message, "evidence": evidence}
