"""Numbers the student's own model contradicts earn nothing elsewhere either.

A ``consistency`` item recomputes a reported number (``reported: sgd_val_error``) from the student's
own harvested model. When that recomputation works and disagrees, the reported number is not what
the code produces, so every other item that scores the same answer as a computed result (a value
band, a curve band, a threshold on it) earns nothing, and says why. Where the recomputation cannot be
made (no model), the other items keep their own verdict: nothing contradicts the number.
"""

from __future__ import annotations

from typing import Any

from grader.scoring.context import Pending, ScoreContext, Unanswered
from grader.scoring.metrics import score_consistency
from grader.scoring.outcome import Outcome


def _checks_of(answer: str, ctx: ScoreContext) -> list[dict[str, Any]]:
    return [i for i in ctx.assignment.items if i["kind"] == "consistency" and i.get("reported") == answer]


def gate(item: dict[str, Any], ctx: ScoreContext, outcome: Outcome) -> Outcome:
    """The item's outcome, or none of its points when the student's model contradicts its answer."""
    answer = item.get("answer")
    if item["kind"] == "consistency" or not isinstance(answer, str) or outcome.status == "pending":
        return outcome
    if outcome.credit <= 0:
        return outcome
    for check in _checks_of(answer, ctx):
        try:
            verdict = score_consistency(check, ctx)
        except (Unanswered, Pending):
            continue
        if verdict.credit < 1.0 and verdict.evidence.get("recomputed") is not None:
            return Outcome(
                0.0,
                f"`{answer}` is not what your own model gives ({verdict.message}). Without that, it earns "
                f"nothing as a computed result (was: {outcome.message})",
                {**outcome.evidence, "contradicted_by": check["id"]},
                status="failed",
            )
    return outcome
