"""One rounding rule for every score the grader shows, so HTML, Markdown, CSV and Gradescope agree.

Scores are rounded to two decimals once, here; every renderer and exporter calls ``points``.
"""

from __future__ import annotations

import math
from typing import Any

DECIMALS = 2


def points(value: Any) -> float:
    """A score as a float rounded to two decimals; anything that is not a finite number is 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    number = float(value)
    if not math.isfinite(number):
        return 0.0
    rounded = round(number, DECIMALS)
    return rounded + 0.0  # turns -0.0 into 0.0


def fmt_points(value: Any) -> str:
    """``points(value)`` as text without trailing zeros: 71.5, 3, 2.25."""
    text = f"{points(value):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return text or "0"


def fmt_number(value: Any, digits: int = 3) -> str:
    """A measured number (seconds, MB, RMSE) for display; '–' when absent or not finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
