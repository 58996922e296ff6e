"""A student's curve over the reference band, as a small SVG drawn from a Jinja2 template.

Every rubric item with a curve (hw2: RMSE per depth, loss per epoch) gets this plot on every
student's page, and a band edit changes it for the whole class. Drawn by matplotlib's Agg canvas it
cost 50 to 90 ms a plot, mostly tick and legend text layout, so a curve-band edit spent most of a
class rescore redrawing PNGs. The plot is five to fifty points, a band and three legend entries:
the SVG is a few kilobytes, sharp at any zoom, and takes well under a millisecond. Tick positions
come from matplotlib's own locators (``MaxNLocator``), the way its axes choose them; matplotlib
still draws the class summary's histograms and the multi-line plots (grader.report.plots).
"""

from __future__ import annotations

import base64
import math
from functools import cache
from typing import Any

from grader.report.env import html_env
from grader.report.plots import BAND, REFERENCE, YOU

WIDTH, HEIGHT = 400, 240  # the page shows figures at 400 x 240 (matplotlib's 5 x 3 in at 80 dpi)
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 24, 38
MAX_TICKS = 6


@cache
def _locator(bins: int) -> Any:
    from matplotlib.ticker import MaxNLocator  # lazy: only pages with a curve pay the import

    return MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10])


def _log_x(x: list[float]) -> int | None:
    """The log base for x values such as depths 1, 2, 4, 8, 16 or rates 1e-4..1 (as plots.py does)."""
    positive = [v for v in x if v > 0]
    if len(positive) != len(x) or len(x) <= 2 or max(x) / min(positive) < 16:
        return None
    return 10 if max(x) / min(positive) >= 1000 else 2


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.0e}"


def _x_ticks(x: list[float], base: int | None, low: float, high: float) -> list[float]:
    if len(x) <= 12 and (base is not None or all(float(v).is_integer() for v in x)):
        return sorted(set(x))  # depths 1..16, epochs 1..10: each value, not 1.0, 1.5, ...
    if base is not None:
        first, last = math.floor(math.log(low, base)), math.ceil(math.log(high, base))
        return [float(base**k) for k in range(first, last + 1) if low <= base**k <= high]
    return [float(t) for t in _locator(MAX_TICKS).tick_values(low, high) if low <= t <= high]


def _scale(low: float, high: float, start: float, end: float) -> Any:
    span = (high - low) or 1.0
    return lambda v: round(start + (v - low) / span * (end - start), 2)


def curve_svg(curve: dict[str, Any], *, title: str, y_label: str = "") -> str:
    """The SVG text of the student's curve (``curve["values"]`` over ``curve["x"]``) and, when the
    evidence has one, the reference band (``curve["band"]``: mean, low and high per x)."""
    x, values, band = curve["x"], curve["values"], curve.get("band")
    base = _log_x(x)
    tx = (lambda v: math.log(v, base)) if base else (lambda v: v)
    finite = [v for v in values if math.isfinite(v)]
    ys = finite + (
        [v for key in ("low", "high", "mean") for v in band[key] if math.isfinite(v)] if band else []
    )
    y_low, y_high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    pad = (y_high - y_low) * 0.06 or max(abs(y_high) * 0.06, 0.05)
    y_ticks = [float(t) for t in _locator(5).tick_values(y_low - pad, y_high + pad)]
    y_low, y_high = min(y_low - pad, y_ticks[0]), max(y_high + pad, y_ticks[-1])
    y_ticks = [t for t in y_ticks if y_low <= t <= y_high]
    x_low, x_high = min(x), max(x)
    x_pad = ((tx(x_high) - tx(x_low)) or 1.0) * 0.05
    px = _scale(tx(x_low) - x_pad, tx(x_high) + x_pad, LEFT, WIDTH - RIGHT)
    py = _scale(y_low, y_high, HEIGHT - BOTTOM, TOP)

    def points(series: list[float], reverse: bool = False) -> str:
        pairs = [(a, b) for a, b in zip(x, series, strict=False) if math.isfinite(b)]
        return " ".join(f"{px(tx(a))},{py(b)}" for a, b in (pairs[::-1] if reverse else pairs))

    markers = [(px(tx(a)), py(b)) for a, b in zip(x, values, strict=False) if math.isfinite(b)]
    legend_height = 40 if band else 16
    context = {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "title": title[:80],
        "x_label": curve.get("x_label") or "",
        "y_label": y_label,
        "x_ticks": [(px(tx(t)), _label(t)) for t in _x_ticks(x, base, x_low, x_high)],
        "y_ticks": [(py(t), _label(t)) for t in y_ticks],
        "band": points(band["low"]) + " " + points(band["high"], reverse=True) if band else "",
        "mean": points(band["mean"]) if band else "",
        "values": points(values),
        "markers": markers,
        "legend": _legend_corner(markers + _band_points(band, x, px, py, tx), legend_height),
        "legend_height": legend_height,
        "colours": {"you": YOU, "reference": REFERENCE, "band": BAND},
    }
    return str(html_env().get_template("curve.svg.j2").render(**context))


LEGEND_WIDTH = 106


def _band_points(band: dict[str, list[float]] | None, x: list[float], px: Any, py: Any, tx: Any) -> list[Any]:
    if not band:
        return []
    return [
        (px(tx(a)), py(b))
        for key in ("low", "high")
        for a, b in zip(x, band[key], strict=False)
        if math.isfinite(b)
    ]


def _legend_corner(points: list[tuple[float, float]], height: int) -> tuple[float, float]:
    """Where the legend covers the fewest drawn points: top right, bottom right, top left or
    bottom left of the axes (what matplotlib's ``loc="best"`` does, among four corners)."""
    corners = [
        (WIDTH - RIGHT - LEGEND_WIDTH - 6, TOP + 6),
        (WIDTH - RIGHT - LEGEND_WIDTH - 6, HEIGHT - BOTTOM - height - 6),
        (LEFT + 6, TOP + 6),
        (LEFT + 6, HEIGHT - BOTTOM - height - 6),
    ]

    def covered(corner: tuple[float, float]) -> int:
        x0, y0 = corner
        return sum(x0 - 4 <= x <= x0 + LEGEND_WIDTH + 4 and y0 - 4 <= y <= y0 + height + 4 for x, y in points)

    return min(corners, key=covered)


def svg_data_uri(svg: str) -> str:
    """A ``data:image/svg+xml`` URI for SVG text produced by this package (shown in an <img>, where
    an SVG runs no script and loads nothing)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
