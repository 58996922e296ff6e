"""Choice items: the best depth, the model that overfits least, the one with the lowest bias.

A choice is judged against the student's own curves *and* the reference: an answer is accepted
when its statistic is within measured noise of the best one (a tie), on either. The noise is
the statistic's standard deviation over the reference's seeds, recorded in expected.json, so a
student whose two best depths differ by less than seed noise is not penalised for either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.rubric import band_half_width
from grader.scoring.context import ScoreContext, Unanswered, fmt
from grader.scoring.outcome import Outcome

DEFAULT_TIE = {"k": 2.0, "abs": 0.0}


def _key(value: Any) -> str:
    """One spelling per candidate: depth 8, 8.0 and "8" are the same answer."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


def _reduce(values: list[float], how: str) -> float:
    if not values:
        raise Unanswered("a curve the choice depends on is empty")
    reducers: dict[str, Callable[[list[float]], float]] = {
        "mean": lambda v: sum(v) / len(v),
        "min": min,
        "max": max,
        "first": lambda v: v[0],
        "last": lambda v: v[-1],
    }
    return reducers[how](values)


def _stat(spec: dict[str, Any], ctx: ScoreContext) -> float:
    values = ctx.numbers(spec["of"])
    if "slice" in spec:
        start, stop = spec["slice"]
        values = values[start:stop]
    result = _reduce(values, spec["reduce"])
    if "minus" in spec:
        result -= _stat(spec["minus"], ctx)
    return result


def observe_choice(item: dict[str, Any], ctx: ScoreContext) -> dict[str, float]:
    """The statistic of every candidate answer, from this run's curves."""
    choose = item["choose"]
    if "candidates" in choose:
        return {_key(name): _stat(spec, ctx) for name, spec in choose["candidates"].items()}
    curve = ctx.numbers(choose["best_of"])
    xs = ctx.answer(choose["x"])
    if not isinstance(xs, list) or len(xs) != len(curve):
        raise Unanswered(f"`{choose['x']}` and `{choose['best_of']}` should have the same length")
    return {_key(x): value for x, value in zip(xs, curve, strict=True)}


def _tolerance(item: dict[str, Any], noise: dict[str, Any], key: str, value: float) -> float:
    summary = noise.get(key) or {}
    return band_half_width(
        item.get("tie") or DEFAULT_TIE, float(summary.get("mean", value)), float(summary.get("std", 0.0))
    )


def _accepted(item: dict[str, Any], stats: dict[str, float], noise: dict[str, Any]) -> set[str]:
    """Candidates tied with the best statistic (lowest, or highest with ``prefer: highest``)
    within measured noise."""
    sign = -1.0 if item["choose"].get("prefer") == "highest" else 1.0
    best = min(stats, key=lambda key: sign * stats[key])
    best_tol = _tolerance(item, noise, best, stats[best])
    return {
        key
        for key, value in stats.items()
        if sign * (value - stats[best]) <= max(best_tol, _tolerance(item, noise, key, value))
    }


def _show(stats: dict[str, float]) -> str:
    return ", ".join(f"{key}: {fmt(value)}" for key, value in stats.items())


def score_choice(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    answer = ctx.answer(item["answer"])
    chosen = _key(answer)
    label = item.get("label") or f"`{item['answer']}`"
    reference = ctx.expected_or_none(item["id"])
    noise = reference["observed"] if reference else {}
    try:
        own = observe_choice(item, ctx)
        own_problem = None
    except Unanswered as exc:
        own, own_problem = None, str(exc)
    if own is None and not noise:
        raise Unanswered(f"{label} cannot be judged: {own_problem}")
    own_ok = _accepted(item, own, noise) if own else set()
    reference_stats = {key: float(summary["mean"]) for key, summary in noise.items()}
    reference_ok = _accepted(item, reference_stats, noise) if reference_stats else set()
    evidence = {
        "answer": answer,
        "accepted_own": sorted(own_ok),
        "accepted_reference": sorted(reference_ok),
        "own": own,
        "reference": reference_stats or None,
    }
    if own is not None and chosen not in own:
        options = ", ".join(sorted(own))
        return Outcome(0.0, f"{label}: {answer!r} is not one of the candidates ({options})", evidence)
    if chosen in own_ok:
        ties = f" (tied within noise with {', '.join(sorted(own_ok - {chosen}))})" if len(own_ok) > 1 else ""
        return Outcome(1.0, f"{label}: {answer!r} agrees with your own curves{ties}", evidence)
    if chosen in reference_ok:
        return Outcome(1.0, f"{label}: {answer!r} agrees with the reference solution's curves", evidence)
    basis = (
        f"your own curves point to {' or '.join(sorted(own_ok))} ({_show(own)})"
        if own
        else (f"your curves could not be read ({own_problem})")
    )
    return Outcome(
        0.0,
        f"{label}: you chose {answer!r}, but {basis}; the reference points to {' or '.join(sorted(reference_ok)) or '?'}",
        evidence,
    )
