"""What a self-check must not show: the reference solution's numbers and the band limits.

A student runs ``grader check`` as often as they like. If its messages quoted the reference
("expected 0.965 ± 0.008") or a band's limits, copying those numbers into the answer variables
would pass every band item. So a public-only scoring keeps the verdict and the student's own
values and says only where the value lies: "within the band", or "0.41 above the band (2.1 band
half-widths)". Band items are rewritten from the evidence (whose reference band is
then dropped); a threshold item says how far the value is from full marks, not where full marks
start; a consistency item says how far the reported number is from the one recomputed from the
student's model, not that number; reference figures are cut from choice messages.
"""

from __future__ import annotations

from typing import Any

from grader.scoring.context import fmt

REFERENCE_EVIDENCE = ("expected", "reference", "accepted_reference")
# per kind: evidence that would show a band limit or the value the item compares with
WITHHELD_EVIDENCE = {
    "threshold": ("full_at", "zero_at"),
    "consistency": ("recomputed", "tolerance"),
}
CUT_AT = ("; the reference points to", " (the reference solution reaches", ", within the reference band")
SHOWN_POINTS = 3
WHEN_SUBMITTED = "the reference values are shown when you submit"


def _label(item: dict[str, Any]) -> str:
    return str(item.get("label") or f"`{item.get('answer')}`")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def amount(value: float, *, percent: bool = False, unit: str | None = None) -> str:
    """A distance to two significant digits (enough to act on): 0.41, 12, 1,234, 4.1 percentage points."""
    scaled = abs(value) * 100 if percent else abs(value)
    text = f"{scaled:,.0f}" if scaled >= 100 else f"{scaled:.2g}"
    if percent:
        return f"{text} percentage point{'s' * (text != '1')}"
    return f"{text} {unit}" if unit else text


def band_position(value: float, low: float, high: float, *, unit: str | None = None) -> str:
    """ "within the band", or "0.41 above the band (2.1 band half-widths)": how far outside."""
    if low <= value <= high:
        return "within the band"
    half = (high - low) / 2
    miss = value - high if value > high else low - value
    side = "above" if value > high else "below"
    widths = f" ({miss / half:.1f} band half-widths)" if half > 0 else ""
    return f"{amount(miss, unit=unit)} {side} the band{widths}"


def _curve_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    values, band = evidence.get("values") or [], evidence.get("expected") or {}
    low, high = band.get("low") or [], band.get("high") or []
    xs = evidence.get("x") or list(range(1, len(values) + 1))
    if not (len(low) == len(high) == len(values) == len(xs)):
        return str(result["message"])
    outside = [i for i, v in enumerate(values) if not low[i] <= v <= high[i]]
    label, x_label = _label(item), evidence.get("x_label", "x")
    if not outside:
        return f"{label}: all {len(values)} values lie within the band"
    shown = "; ".join(
        f"at {x_label} {xs[i]} it is {fmt(values[i])}, {band_position(values[i], low[i], high[i])}"
        for i in outside[:SHOWN_POINTS]
    )
    more = f" (and {len(outside) - SHOWN_POINTS} more)" if len(outside) > SHOWN_POINTS else ""
    return (
        f"{label}: {len(values) - len(outside)} of {len(values)} values lie within the band; "
        f"{shown}{more} ({WHEN_SUBMITTED})"
    )


def _value_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    value, band = _number(evidence.get("value")), evidence.get("expected") or {}
    low, high = _number(band.get("low")), _number(band.get("high"))
    if value is None or low is None or high is None:
        return str(result["message"])
    where = band_position(value, low, high)
    after = "" if where == "within the band" else f" ({WHEN_SUBMITTED})"
    return f"{_label(item)} is {fmt(value)}, {where}{after}"


def _threshold_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    value, full_at, zero_at = (_number(evidence.get(k)) for k in ("value", "full_at", "zero_at"))
    if value is None or full_at is None or zero_at is None:
        return str(result["message"])
    label = item.get("label") or item["id"]
    shown = fmt(value, percent=bool(item.get("percent")), unit=item.get("unit"))
    higher_is_better = full_at > zero_at
    gap = full_at - value if higher_is_better else value - full_at
    if gap <= 0:
        return f"{label} is {shown}, within the full-marks range"
    way = "below" if higher_is_better else "above"
    distance = amount(gap, percent=bool(item.get("percent")), unit=item.get("unit"))
    return f"{label} is {shown}, {distance} {way} the full-marks range"


def _consistency_message(item: dict[str, Any], result: dict[str, Any], evidence: dict[str, Any]) -> str:
    reported, recomputed = _number(evidence.get("reported")), _number(evidence.get("recomputed"))
    tolerance = _number(evidence.get("tolerance"))
    if reported is None or recomputed is None or tolerance is None:
        return str(result["message"])  # nothing recomputed: the message quotes no other number
    label = item.get("label") or f"`{item['reported']}`"
    against = item["metric"].get("label") or "the value recomputed from your model"
    shown = fmt(reported, percent=bool(item.get("percent")), unit=item.get("unit"))
    difference = reported - recomputed
    if abs(difference) <= tolerance:
        return f"you report a {label} of {shown}; it agrees with {against}"
    distance = amount(difference, percent=bool(item.get("percent")), unit=item.get("unit"))
    times = f" ({abs(difference) / tolerance:.1f} times the tolerance)" if tolerance > 0 else ""
    side = "above" if difference > 0 else "below"
    return (
        f"you report a {label} of {shown} (`{item['reported']}`), {distance} {side} {against}{times}: "
        "report the number your own model achieves"
    )


REWRITE = {
    "curve_band": _curve_message,
    "value_band": _value_message,
    "threshold": _threshold_message,
    "consistency": _consistency_message,
}


def withhold_reference(item: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (one item of a result document) without the reference's numbers or band limits."""
    evidence = dict(result.get("evidence") or {})
    message = str(result.get("message") or "")
    rewrite = REWRITE.get(item["kind"])
    # band messages quote the reference ("expected 0.96 ± 0.01", "within the reference band 0.96 ±
    # 0.01"); any other (a wrong x, a missing answer) quotes none and is kept as it is
    about_band = item["kind"] not in ("curve_band", "value_band") or any(
        word in message for word in ("band", "expected")
    )
    if rewrite is not None and about_band and result.get("status") not in ("pending", "error"):
        message = rewrite(item, result, evidence)
    for marker in CUT_AT:
        if marker in message:
            message = message.split(marker)[0] + (" (within the band)" if "within" in marker else "")
    for key in (*REFERENCE_EVIDENCE, *WITHHELD_EVIDENCE.get(item["kind"], ())):
        evidence.pop(key, None)
    return {**result, "message": message, "evidence": evidence}
