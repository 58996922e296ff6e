"""Figures are checked for what they show (issue 11): each figure a cell displays carries a summary
(axes, labels, scales, series data) from inside the kernel, read strictly outside; a figure item's
``shows:`` is judged against the harvested answers."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.assignment import load_assignment
from grader.engine import run_notebook
from grader.engine.figures import SUMMARY_MIME, parse_summary, take_summaries

FIXTURE = Path(__file__).parent / "fixtures" / "exec"
DATA = FIXTURE / "data"

PLOTS = [
    new_code_cell("import matplotlib.pyplot as plt\nimport numpy as np"),
    new_markdown_cell("# Part 1: numbers"),
    new_code_cell(
        "rates = [0.001, 0.01, 0.1, 1.0]\nerrors = [0.5, 0.3, 0.1, 0.9]\n"
        "fig, ax = plt.subplots()\nax.plot(rates, errors, 'o-', label='validation error')\n"
        "ax.set_xscale('log')\nax.set_xlabel('learning rate')\nax.set_title('sweep')\nax.legend()\nplt.show()"
    ),
    new_code_cell(
        "fig, (a, b) = plt.subplots(1, 2)\na.scatter(np.arange(1000), np.arange(1000) ** 0.5, label='pts')\n"
        "b.bar(['x', 'y'], [3, 4])\nfig.suptitle('two')\n"  # no show(): the end-of-cell flush displays it
    ),
    new_code_cell("fig = plt.figure()\nplt.plot([1, 2])\nplt.savefig('quiet.png')\nplt.close(fig)"),
]


@pytest.mark.slow
def test_displayed_figures_carry_summaries_and_the_notebook_keeps_only_its_images(tmp_path: Path) -> None:
    path = tmp_path / "plots.ipynb"
    nbformat.write(new_notebook(cells=PLOTS), str(path))
    run = run_notebook(path, load_assignment(FIXTURE / "exec.yaml"), DATA, tmp_path / "out", run_id="plots")
    cells = {c["index"]: c for c in run["cells"]}
    sweep = cells[2]["plots"]
    assert len(sweep) == 1 and cells[2]["figures"] == 1
    axes = sweep[0]["axes"][0]
    assert axes["xscale"] == "log" and axes["xlabel"] == "learning rate" and axes["title"] == "sweep"
    assert axes["legend"] == ["validation error"]
    assert axes["lines"][0]["x"] == [0.001, 0.01, 0.1, 1.0] and axes["lines"][0]["y"] == [0.5, 0.3, 0.1, 0.9]
    two = cells[3]["plots"][0]
    assert two["suptitle"] == "two" and len(two["axes"]) == 2
    scatter = two["axes"][0]["scatters"][0]
    assert scatter["n"] == 1000 and len(scatter["x"]) == 200  # downsampled, endpoints kept
    assert scatter["x"][0] == 0.0 and scatter["x"][-1] == 999.0
    assert two["axes"][1]["bars"][0]["y"] == [3.0, 4.0]
    assert cells[4]["plots"] == []  # saved and closed, never displayed
    executed = (tmp_path / "out" / "executed" / "plots.ipynb").read_text()
    assert SUMMARY_MIME not in executed and "image/png" in executed


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        {"v": 2, "axes": []},
        {"v": 1, "axes": "no"},
        {"v": 1, "axes": [{"lines": [{"x": [1, 2], "y": [1], "n": 2}]}]},  # lengths differ: dropped
        {"v": 1, "axes": [{"lines": [{"x": [True], "y": [1], "n": 1}]}]},
        {"v": 1, "axes": [{"lines": [{"x": list(range(5000)), "y": list(range(5000)), "n": 5000}]}]},
    ],
)
def test_forged_or_malformed_summaries_are_read_safely(raw) -> None:
    summary = parse_summary(raw)
    assert summary is None or all(not a["lines"] for a in summary["axes"])


def test_summaries_are_taken_out_of_the_outputs() -> None:
    good = {"v": 1, "axes": [{"title": "t", "lines": [{"label": "a", "n": 2, "x": [0, 1], "y": [2, 3]}]}]}
    cell = {
        "outputs": [
            {"output_type": "display_data", "data": {"image/png": "x", SUMMARY_MIME: json.dumps(good)}},
            {"output_type": "stream", "text": "hi"},
        ]
    }
    summaries = take_summaries(cell)
    assert summaries[0]["axes"][0]["lines"][0]["y"] == [2.0, 3.0]
    assert SUMMARY_MIME not in cell["outputs"][0]["data"]


# --------------------------------------------------------------------------- scoring `shows:`
class Harvested:
    """What score_shows reads of a graded run: the answers and the cells' figure summaries."""

    def __init__(self, answers: dict, cells: list[dict]) -> None:
        self.answers, self.run = answers, {"cells": cells}

    def raw_answer(self, name: str):
        from grader.scoring.context import Unanswered

        if name not in self.answers:
            raise Unanswered(f"`{name}` is not defined")
        return self.answers[name]


def _plot_cell(number: int, *series: tuple[list, list], kind: str = "lines", part: str = "part2") -> dict:
    made = [
        {"label": "", "n": len(x), "x": [float(v) for v in x], "y": [float(v) for v in y]} for x, y in series
    ]
    axes = {"lines": [], "scatters": [], "bars": []} | {kind: made}
    return {"index": number, "code_cell": number, "part": part, "plots": [{"suptitle": "", "axes": [axes]}]}


RATES, ERRORS = [0.001, 0.01, 0.1, 1.0], [0.41, 0.12, 0.06, 0.9]
LOSSES = ([1, 2, 3], [2.0, 1.5, 1.2])
SWEEP_ITEM = {"part": "part2", "shows": {"x": "lr_rates", "y": ["lr_val_errors"]}}


def _judge(item: dict, cells: list[dict]):
    from grader.scoring.figures import score_shows

    answers = {"lr_rates": RATES, "lr_val_errors": ERRORS, "losses": LOSSES[1]}
    return score_shows(item, Harvested(answers, cells), "a plot of the sweep", "Part 2")  # type: ignore[arg-type]


def test_the_sweep_plot_is_found_by_its_data_in_any_order_scale_or_kind():
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (RATES, ERRORS))]).credit == 1.0
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (RATES[::-1], ERRORS[::-1]))]).credit == 1.0
    percent = [100 * e for e in ERRORS]
    assert _judge(SWEEP_ITEM, [_plot_cell(7, ([0, 1, 2, 3], percent), kind="bars")]).credit == 1.0
    outcome = _judge(SWEEP_ITEM, [_plot_cell(3, LOSSES), _plot_cell(7, (RATES, ERRORS))])
    assert "code cell 7 plots `lr_val_errors` against `lr_rates`" in outcome.message


def test_honest_variants_of_the_sweep_plot_count():
    accuracy = [1 - e for e in ERRORS]
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (RATES, accuracy))]).credit == 1.0  # accuracy, not error
    log_rates = [-3.0, -2.0, -1.0, 0.0]  # np.log10(rates) on a linear axis
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (log_rates, ERRORS))]).credit == 1.0
    shuffled_x = [0.01, 0.001, 0.1, 1.0]  # another order of the same rates: not the same pairs
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (shuffled_x, ERRORS))]).credit == 0.0


def test_two_loss_plots_do_not_make_a_sweep_plot():
    outcome = _judge(SWEEP_ITEM, [_plot_cell(3, LOSSES), _plot_cell(5, LOSSES, ([1, 2, 3], [1.0, 0.5, 0.4]))])
    assert outcome.credit == 0.0
    assert "no figure plots `lr_val_errors` against `lr_rates`" in outcome.message


def test_a_plot_of_other_numbers_or_in_another_part_does_not_count():
    wrong = [0.5, 0.5, 0.5, 0.5]
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (RATES, wrong))]).credit == 0.0
    assert _judge(SWEEP_ITEM, [_plot_cell(7, (RATES, ERRORS), part="part1")]).credit == 0.0


def test_need_all_gives_credit_by_the_share_drawn_of_what_can_be_checked():
    item = {"part": "part2", "shows": {"y": ["lr_val_errors", "losses"], "need": "all"}}
    half = _judge(item, [_plot_cell(4, LOSSES)])
    assert half.credit == 0.5 and "no figure plots `lr_val_errors`" in half.message
    # an answer left unset is not checked; the plots of the others are
    item = {"part": "part2", "shows": {"y": ["losses", "not_there"], "need": "all"}}
    full = _judge(item, [_plot_cell(4, LOSSES)])
    assert full.credit == 1.0 and "not checked: `not_there` holds no numbers" in full.message


def test_a_plot_of_numbers_the_notebook_does_not_report_cannot_earn_the_item():
    # a sweep left undone: the tuned-loss plot is no sweep plot, whatever it counts as
    outcome = _judge({"part": "part2", "shows": {"x": "rates", "y": ["not_there"]}}, [_plot_cell(4, LOSSES)])
    assert outcome.credit == 0.0 and "none of them holds numbers" in outcome.message
