"""Write ``similarity.html`` (the evidence, side by side) and ``similarity.csv`` (one row per pair).

The page follows the report conventions of grader/report: a Jinja2 template with autoescaping,
a Content-Security-Policy that allows nothing but inline styles, no scripts, no external
resources. It is written next to the grading outputs for the instructor only: nothing of it goes
into result documents, student feedback or the gradebook exports.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from grader.exports import spreadsheet_safe
from grader.report.env import html_env
from grader.report.files import write_text_atomic
from grader.similarity.analysis import SHOWN_BELOW_LINE, SimilarityReport
from grader.similarity.combine import LOOK_LINE, MIN_OWN_PRINTS, RESULT_FULL_DIGITS, PairReport
from grader.similarity.fingerprints import K_TOKENS, WINDOW

HTML_NAME = "similarity.html"
CSV_NAME = "similarity.csv"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def one_in(chance: float) -> str:
    """A chance as 'about 1 in N' (N as a power of ten when large); '–' for no evidence."""
    if not chance < 0.5:
        return "–"
    odds = 1.0 / max(chance, 1e-300)
    if odds < 1000:
        return f"1 in {odds:.0f}"
    exponent = int(math.floor(math.log10(odds)))
    mantissa = odds / 10**exponent
    return f"1 in {mantissa:.1f}·10{str(exponent).translate(_SUPERSCRIPT)}"


def expected_text(count: float) -> str:
    """How many pairs of the class chance would produce: '0.3', or '3·10⁻⁸'."""
    if count >= 0.01:
        return f"{count:.2g}"
    exponent = int(math.floor(math.log10(max(count, 1e-300))))
    return f"{count / 10**exponent:.0f}·10{str(exponent).translate(_SUPERSCRIPT)}"


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _env() -> Any:
    env = html_env()
    env.filters.update(one_in=one_in, expected=expected_text, percent=percent)
    return env


def render_html(report: SimilarityReport) -> str:
    shown = report.pairs[: len(report.above_line) + SHOWN_BELOW_LINE]
    settings = {
        "look_line": LOOK_LINE,
        "k": K_TOKENS,
        "window": WINDOW,
        "guarantee": K_TOKENS + WINDOW - 1,
        "boilerplate_min": report.boilerplate_min,
        "min_own_prints": MIN_OWN_PRINTS,
        "full_digits": RESULT_FULL_DIGITS,
    }
    return _env().get_template("similarity.html.j2").render(r=report, shown=shown, settings=settings)


CSV_HEADER = [
    "rank",
    "a",
    "b",
    "a_student",
    "b_student",
    "score",
    "look_at_this",
    "code",
    "code_share_a",
    "code_share_b",
    "longest_region_tokens",
    "results",
    "results_chance",
    "expected_pairs_by_chance",
    "shared_identical_errors",
    "text",
]


def csv_row(rank: int, pair: PairReport) -> list[Any]:
    return [
        rank,
        pair.a,
        pair.b,
        pair.a_student,
        pair.b_student,
        round(pair.score, 4),
        "yes" if pair.above_line else "no",
        round(pair.code.strength, 4),
        round(pair.code.a_share, 4),
        round(pair.code.b_share, 4),
        pair.code.longest,
        round(pair.results_strength, 4),
        f"{pair.results_chance:.3g}",
        f"{pair.expected_in_class:.3g}",
        sum(m.shared for m in pair.errors),
        round(pair.text_strength, 4),
    ]


def render_csv(report: SimilarityReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for rank, pair in enumerate(report.pairs, start=1):
        writer.writerow([spreadsheet_safe(cell) for cell in csv_row(rank, pair)])
    return buffer.getvalue()


def write_report(report: SimilarityReport, out_dir: Path) -> tuple[Path, Path]:
    """Write both files into ``out_dir`` atomically; return their paths."""
    html = write_text_atomic(Path(out_dir) / HTML_NAME, render_html(report))
    table = write_text_atomic(Path(out_dir) / CSV_NAME, render_csv(report), newline="")
    return html, table


__all__ = ["CSV_NAME", "HTML_NAME", "render_csv", "render_html", "write_report"]
