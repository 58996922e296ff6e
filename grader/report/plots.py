"""Small PNG plots for reports, drawn with matplotlib's Agg canvas (no pyplot, no display).

Figures are built with ``matplotlib.figure.Figure`` directly: that skips pyplot's global figure
manager, is safe to call from worker threads and is measurably cheaper per figure. matplotlib is
imported on first use so that ``grader --help`` and CSV exports never pay for it.
"""

from __future__ import annotations

import io
import math
from typing import Any

WIDTH_IN, HEIGHT_IN, DPI = 5.0, 3.0, 80
YOU, REFERENCE, BAND, VAL = "#1f5fa8", "#555555", "#9ecae1", "#d9480f"


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    # Fixed margins instead of constrained layout: measured 1.5x faster per figure, same look.
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.17, top=0.9)
    return figure, figure.add_subplot()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _scale_x(axes: Any, x: list[float]) -> None:
    """Depths such as 1, 2, 4, 8, 32 or learning rates 1e-4..1 read better on a log axis."""
    positive = [v for v in x if v > 0]
    if len(positive) != len(x) or len(x) <= 2 or max(x) / min(positive) < 16:
        if len(x) <= 12 and all(float(v).is_integer() for v in x):
            axes.set_xticks(x, [f"{v:g}" for v in x])  # depths 1..5, not 1.0, 1.5, ...
        return
    ratio = max(x) / min(positive)
    axes.set_xscale("log", base=10 if ratio >= 1000 else 2)
    if len(x) <= 12:
        axes.set_xticks(x, [f"{v:g}" for v in x])


def lines_png(data: dict[str, Any], *, title: str) -> bytes:
    """Several named series over one x axis (train/validation loss per epoch, RMSE per depth)."""
    figure, axes = _figure()
    x = data["x"]
    for name, values in data["lines"].items():
        axes.plot(x[: len(values)], values, "o-", markersize=3, label=name)
    _scale_x(axes, x)
    axes.set_xlabel(data.get("x_label") or "")
    axes.set_title(title[:80], fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return _png(figure)


def histogram_png(
    values: list[float], *, title: str, x_label: str, bins: int = 20, upper: float | None = None
) -> bytes:
    """A histogram of finite values (scores, run times) for the class summary."""
    figure, axes = _figure()
    finite = [v for v in values if math.isfinite(v)]
    if finite:
        low = min(0.0, min(finite))
        high = max(upper or 0.0, max(finite))
        if high <= low:
            high = low + 1.0
        axes.hist(finite, bins=bins, range=(low, high), color=YOU, edgecolor="white")
    else:
        axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel(x_label)
    axes.set_ylabel("submissions")
    axes.set_title(title[:80], fontsize=10)
    axes.grid(alpha=0.3, axis="y")
    return _png(figure)
