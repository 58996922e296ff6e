"""Figure items judged by what their plots show (``shows:``), outside the sandbox.

Each displayed figure comes with a summary of its axes and series (grader.engine.figures). A
figure item with ``shows: {y: [answers], x: answer?, need: any|all}`` is satisfied by a line,
scatter or bar series in its part whose y data are one of the named answers (the harvested
values, as fractions or as percentages; a rate in [0, 1] also as its complement, an error rate
drawn as accuracy) and, when ``x`` is named, whose x data are that answer, the positions
0..n-1 / 1..n of a categorical axis, or any relabelling in the same order (log2 of the depths). Pairs are compared after sorting by x,
so a sweep drawn in another order still counts. ``need: all`` gives credit for the share of named
answers drawn. The feedback names the cell that drew it, or what no figure shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.scoring.context import ScoreContext, Unanswered
from grader.scoring.outcome import Outcome

RTOL = 1e-3  # a plotted value is the harvested one: only float formatting separates them
SERIES_KINDS = ("lines", "scatters", "bars")


def _numbers(value: Any) -> np.ndarray | None:
    if not isinstance(value, list) or not value:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    return np.asarray(value, dtype=float)


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(b))), 1e-12) if b.size else 1e-12
    return bool(np.all(np.abs(a - b) <= RTOL * (scale + np.abs(b))))  # np.allclose, without its overhead


def _same_order(xs: np.ndarray, wanted: np.ndarray) -> bool:
    """Distinct x values in the order of the answer's: a monotone relabelling of the axis
    (log2 of the depths, the rates as percentages, category positions)."""
    if len(np.unique(xs)) != len(xs) or len(np.unique(wanted)) != len(wanted):
        return False
    return bool(np.array_equal(np.argsort(xs, kind="stable"), np.argsort(wanted, kind="stable")))


def _x_matches(xs: np.ndarray, wanted: np.ndarray | None) -> bool:
    if wanted is None:
        return True
    n = len(wanted)
    if xs.shape != wanted.shape:
        return False
    return (
        _close(np.sort(xs), np.sort(wanted))
        or _close(xs, np.arange(n))
        or _close(xs, np.arange(1, n + 1))
        or _same_order(xs, wanted)
    )


Series = tuple[np.ndarray, np.ndarray, np.ndarray]  # x, y, and y sorted (for a cheap first look)


def _plotted(plots: list[Any]) -> list[Series]:
    """Every complete series (no missing point) of a cell's figures, as arrays, read once."""
    found = []
    for plot in plots:
        for axes in plot.get("axes") or []:
            for kind in SERIES_KINDS:
                for series in axes.get(kind) or []:
                    xs, ys = series.get("x") or [], series.get("y") or []
                    if series.get("n") != len(ys) or None in xs or None in ys:
                        continue  # thinned (more points than kept) or with a gap: no answer's data
                    y = np.asarray(ys, dtype=float)
                    found.append((np.asarray(xs, dtype=float), y, np.sort(y)))
    return found


def _forms(ys_wanted: np.ndarray) -> list[np.ndarray]:
    """How an honest plot may draw an answer: as is, in percent, and a rate as its complement."""
    forms = [ys_wanted, 100.0 * ys_wanted]
    if bool(np.all((ys_wanted >= 0) & (ys_wanted <= 1))):  # an error rate drawn as accuracy
        forms += [1.0 - ys_wanted, 100.0 * (1.0 - ys_wanted)]
    return forms


def _y_matches(series: Series, ys_wanted: np.ndarray, xs_wanted: np.ndarray | None) -> bool:
    """The series holds every point of the answer, in one of its forms, against the right x."""
    xs, ys, ys_sorted = series
    if len(ys) != len(ys_wanted):
        return False
    forms = _forms(ys_wanted)
    if not any(_close(ys_sorted, np.sort(form)) for form in forms):
        return False  # not these numbers in any order: most series stop here
    if not _x_matches(xs, xs_wanted):
        return False
    if xs_wanted is not None and _close(np.sort(xs), np.sort(xs_wanted)):
        order, wanted_order = np.argsort(xs, kind="stable"), np.argsort(xs_wanted, kind="stable")
        ys = ys[order]  # both in x order: a sweep drawn in another order
        forms = [form[wanted_order] for form in forms]
    return any(_close(ys, form) for form in forms)


def _cell_name(cell: Mapping[str, Any]) -> str:
    number = cell.get("code_cell")
    return f"code cell {number}" if isinstance(number, int) else f"cell {cell.get('index')}"


def _answers(names: list[str], ctx: ScoreContext) -> dict[str, np.ndarray]:
    found = {}
    for name in names:
        try:
            value = _numbers(ctx.raw_answer(name))
        except Unanswered:
            continue
        if value is not None:
            found[name] = value
    return found


def score_shows(item: dict[str, Any], ctx: ScoreContext, what: str, where: str) -> Outcome:
    """The item judged by its ``shows:``. A plot of numbers the notebook does not report cannot be
    checked: with none of the named answers readable the item earns nothing and says which to set;
    with ``need: all`` the share is taken over the answers that can be read."""
    shows = item["shows"]
    y_names = [str(n) for n in shows["y"]]
    wanted = _answers(y_names, ctx)
    if not wanted:
        names = ", ".join(f"`{n}`" for n in y_names)
        return Outcome(
            0.0,
            f"{where}: what a plot shows is checked against {names}, and none of them holds numbers; "
            f"set {'it' if len(y_names) == 1 else 'them'} and draw {what}",
            {"checked": [], "drawn": {}},
        )
    x_name = shows.get("x")
    xs_wanted = _answers([x_name], ctx).get(x_name) if x_name else None
    drawn: dict[str, str] = {}
    for cell in ctx.run.get("cells") or []:
        if cell.get("part") != item["part"] or not cell.get("plots"):
            continue
        for series in _plotted(cell.get("plots") or []):
            for name, ys in wanted.items():
                if name not in drawn and _y_matches(series, ys, xs_wanted):
                    drawn[name] = _cell_name(cell)
    against = f" against `{x_name}`" if x_name else ""
    evidence = {"drawn": drawn, "checked": sorted(wanted), "x": x_name}
    need_all = shows.get("need", "any") == "all"
    skipped = [n for n in y_names if n not in wanted] if need_all else []
    unchecked = f"; not checked: {', '.join(f'`{n}`' for n in skipped)} holds no numbers" if skipped else ""
    if need_all:
        fraction = len(drawn) / len(wanted)
        missing = [n for n in wanted if n not in drawn]
    else:
        fraction = 1.0 if drawn else 0.0
        missing = [] if drawn else list(wanted)
    if fraction >= 1.0:
        cells = sorted(set(drawn.values()))
        shown = ", ".join(f"`{n}`" for n in drawn)
        return Outcome(
            1.0, f"{where}: {', '.join(cells)} plots {shown}{against} ({what}){unchecked}", evidence
        )
    names = ", ".join(f"`{n}`" for n in missing)
    message = f"{where}: no figure plots {names}{against}; draw {what} and keep its output"
    if drawn:
        message += f" (drawn: {', '.join(f'`{n}` in {c}' for n, c in drawn.items())})"
    return Outcome(fraction, message + unchecked, evidence)
