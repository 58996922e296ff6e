"""In-kernel test items: a test file that ran inside the student's kernel, passed or failed.

Imported nbgrader and otter tests that are not a plain comparison of a value or a function's
result land here. Unlike every other kind, the verdict is computed inside the sandbox, beside the
student's code, which can defeat it (replace the functions a test calls, patch ``assert``'s
helpers, end the harvest early): the message says so, and docs/SECURITY.md explains why.
"""

from __future__ import annotations

from typing import Any

from grader.scoring.context import ScoreContext, Unanswered
from grader.scoring.outcome import Outcome

CAVEAT = " [in-kernel test: its verdict is computed beside the notebook's code, which could defeat it]"


def score_kernel_test(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    entry = (ctx.harvest.get("tests") or {}).get(item["id"])
    if not isinstance(entry, dict):
        raise Unanswered(ctx.not_harvested("the test") + CAVEAT)
    evidence = {"in_kernel": True}
    if entry.get("status") == "passed":
        return Outcome(1.0, "the test passed" + CAVEAT, evidence)
    if item.get("visibility") == "hidden":
        return Outcome(0.0, "a hidden test failed" + CAVEAT, evidence)
    detail = f"{entry.get('exception', 'Exception')}"
    if entry.get("message"):
        detail += f": {entry['message']}"
    return Outcome(0.0, f"the test failed ({detail})" + CAVEAT, evidence)
