"""Figure summaries, installed INSIDE the student's kernel before the first cell runs.

Sent as source text (``grader.engine.figures.install_code``); self-contained. It registers an
IPython display formatter for matplotlib figures under a private MIME type, so every figure the
notebook displays (``plt.show()`` under the inline backend, or the end-of-cell flush) carries a
small JSON summary beside its PNG: axes titles and labels, scales, legend texts, the count of each
kind of artist, and the x/y data of lines, scatters and bars, downsampled and size-capped. The
grader reads it outside (``grader.engine.figures``) and never trusts it: a forged summary proves no
more than drawing the same plot would. The formatter never raises into the student's cell.
"""


def _ml_autograder_install_figure_summaries():
    import math

    mime = "application/vnd.ml-autograder.figure+json"
    max_axes, max_series, max_points, max_text = 16, 24, 200, 200
    budget = [0]  # points left for the figure being summarised (a figure stays a few tens of KB)

    def text(value):
        return value[:max_text] if type(value) is str else ""

    def numbers(values):
        out = []
        for v in values:
            v = float(v)
            out.append(round(v, 12) if math.isfinite(v) else None)
        return out

    def thin(xs, ys):
        n = len(xs)
        if n <= max_points:
            return xs, ys
        step = (n - 1) / (max_points - 1)
        keep = [round(i * step) for i in range(max_points)]
        return [xs[i] for i in keep], [ys[i] for i in keep]

    def series(label, xs, ys, n):
        xs, ys = thin(numbers(xs), numbers(ys))
        budget[0] -= len(xs)
        return {"label": text(label), "n": int(n), "x": xs, "y": ys}

    def summarise_axes(ax):
        import numpy as np

        lines, scatters, bars = [], [], []
        for line in ax.get_lines()[:max_series]:
            if budget[0] <= 0:
                break
            data = np.asarray(line.get_xydata(), dtype=float)
            if data.ndim == 2 and data.shape[1] == 2:
                lines.append(series(line.get_label(), data[:, 0], data[:, 1], len(data)))
        for collection in ax.collections[:max_series]:
            if budget[0] <= 0:
                break
            offsets = collection.get_offsets()
            data = np.ma.filled(np.ma.asarray(offsets, dtype=float), np.nan)
            if data.ndim == 2 and data.shape[1] == 2 and len(data):
                scatters.append(series(collection.get_label(), data[:, 0], data[:, 1], len(data)))
        for container in getattr(ax, "containers", [])[:max_series]:
            patches = [p for p in getattr(container, "patches", []) if hasattr(p, "get_height")]
            if patches and budget[0] > 0:
                xs = [p.get_x() + p.get_width() / 2 for p in patches]
                ys = [p.get_height() for p in patches]
                bars.append(series(container.get_label(), xs, ys, len(patches)))
        legend = ax.get_legend()
        return {
            "title": text(ax.get_title()),
            "xlabel": text(ax.get_xlabel()),
            "ylabel": text(ax.get_ylabel()),
            "xscale": text(ax.get_xscale()),
            "yscale": text(ax.get_yscale()),
            "legend": [text(t.get_text()) for t in legend.get_texts()][:max_series] if legend else [],
            "counts": {
                "lines": len(ax.get_lines()),
                "collections": len(ax.collections),
                "patches": len(ax.patches),
                "images": len(ax.images),
            },
            "lines": lines,
            "scatters": scatters,
            "bars": bars,
        }

    def summarise(figure):
        budget[0] = 2000
        try:
            suptitle = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) else ""
            return {
                "v": 1,
                "suptitle": text(suptitle),
                "axes": [summarise_axes(ax) for ax in figure.get_axes()[:max_axes]],
            }
        except Exception:
            return None

    import sys

    from IPython import get_ipython
    from IPython.core.formatters import JSONFormatter

    shell = get_ipython()
    if shell is None:
        return

    class FigureSummaryFormatter(JSONFormatter):
        """Figures by class, not through the type registry: the inline backend clears every
        formatter's Figure entry when it starts (select_figure_formats)."""

        format_type = mime

        def __call__(self, obj):
            try:
                module = sys.modules.get("matplotlib.figure")
                if module is not None and isinstance(obj, module.Figure):
                    return summarise(obj)
            except Exception:
                pass
            return None

    formatters = shell.display_formatter.formatters
    if mime not in formatters:
        formatters[mime] = FigureSummaryFormatter(parent=shell.display_formatter)


_ml_autograder_install_figure_summaries()
del _ml_autograder_install_figure_summaries
