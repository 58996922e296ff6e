"""Result and text evidence: chance probabilities for numbers and shared errors, phrases, the score."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.similarity.combine import LOOK_LINE, RESULT_FULL_DIGITS, CodeMatch, PairReport
from grader.similarity.corpus import Work, flat_numbers
from grader.similarity.numbers import Calibrated, NumberTable, resolution
from grader.similarity.predictions import ErrorTable, Target
from grader.similarity.text import TextIndex, phrases


# ------------------------------------------------------------------------------------------ numbers
def test_resolution_reads_counted_and_rounded_values_at_their_step():
    assert resolution(33 / 750) == pytest.approx(0.5 / 250)  # an error count over 750 rows
    assert resolution(float(np.float32(0.336))) == pytest.approx(0.5 / 125)  # the same as float32
    assert resolution(2.834) == pytest.approx(0.001)  # rounded to three decimals
    assert resolution(2.8337294517) < 1e-5  # a measured value: its last float32 digit


def _table(rows: list[list[float]], std: list[float]) -> NumberTable:
    works = [
        Work(id=f"s{i}", student=f"s{i}", status="graded", numbers={"curve": r}) for i, r in enumerate(rows)
    ]
    return NumberTable(works, {"curve": Calibrated("curve", "part1", "item", np.asarray(std))})


def test_equal_numbers_are_unlikely_by_the_seed_spread_and_the_class():
    rng = np.random.default_rng(1)
    rows = [list(3 + 0.05 * rng.standard_normal(3)) for _ in range(20)]
    rows[1] = list(rows[0])  # the same values to the last digit
    table = _table(rows, [0.05, 0.05, 0.05])
    same = table.compare(0, 1)
    assert same.chance_by_part["part1"] < 1e-4  # erf(float32 digit / (2 sigma)) per element
    assert same.matches[0].equal_elements == 3
    other = table.compare(2, 3)
    assert other.chance_by_part["part1"] > 0.01
    assert (0, 1) in table.candidates(boilerplate_min=4)


def test_values_the_class_shares_are_no_evidence():
    rows = [[2.5, 3.0]] * 6 + [[2.6, 3.1], [2.7, 3.3]]
    table = _table(rows, [0.05, 0.05])
    assert table.compare(0, 1).chance_by_part["part1"] >= 4 / 6  # four others are just as close
    assert (0, 1) not in table.candidates(boilerplate_min=4)


def test_no_seed_spread_means_no_evidence():
    table = _table([[1.0, 2.0], [1.0, 2.0], [1.5, 2.5]], [0.0, 0.0])
    assert table.compare(0, 1).chance_by_part == {}


def test_rounding_keeps_only_what_the_digits_say():
    exact = 2.8337294517
    table = _table([[exact], [round(exact, 3)], [2.9], [3.1]], [0.0075])
    chance = table.compare(0, 1).chance_by_part["part1"]
    assert chance == pytest.approx(math.erf(0.001 / (2 * 0.0075)), rel=1e-6)


def test_flat_numbers_refuses_what_is_not_numbers():
    assert flat_numbers([[1, 2], [3.5]]) == [1.0, 2.0, 3.5]
    assert flat_numbers([1, "x"]) is None and flat_numbers(True) is None
    assert flat_numbers(list(range(1000))) is None


# -------------------------------------------------------------------------------- shared errors
def _class_predictions(seed: int = 0, students: int = 16, rows: int = 600):
    """Independent models that all miss the hard rows (ambiguous digits) and some of their own."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 10, rows)
    hard = rng.choice(rows, 25, replace=False)
    confusion = (truth + 1 + rng.integers(0, 9, rows)) % 10
    works = []
    for s in range(students):
        predicted = truth.copy()
        missed = hard[rng.random(len(hard)) < 0.8]
        own = rng.choice(rows, 8, replace=False)
        predicted[missed] = confusion[missed]
        predicted[own] = (truth[own] + 1 + rng.integers(0, 9, len(own))) % 10
        works.append(
            Work(
                id=f"s{s:02d}", student=f"s{s}", status="graded", predictions={("m", "x"): predicted.tolist()}
            )
        )
    target = Target("m", "x", "part2", np.asarray([str(t) for t in truth]), None)
    return works, target


def test_a_copied_model_shares_every_error_and_independent_ones_do_not_stand_out():
    works, target = _class_predictions()
    works.append(Work(id="copy", student="copy", status="graded", predictions=dict(works[3].predictions)))
    table = ErrorTable(works, target)
    assert 0.5 < table.typical_share < 0.95  # the hard rows: independent models share most errors
    copy = table.compare(3, len(works) - 1)
    assert copy.shared == copy.a_errors and copy.chance < 1e-3
    independent = [table.compare(i, j).chance for i in range(8) for j in range(i + 1, 8)]
    assert min(independent) > 1e-3
    assert (3, len(works) - 1) in table.screen()


def test_an_error_pattern_a_group_shares_is_common():
    works, target = _class_predictions(seed=2)
    for k in range(3):  # three more with the first one's predictions (the same given code and seed)
        works.append(
            Work(id=f"g{k}", student=f"g{k}", status="graded", predictions=dict(works[0].predictions))
        )
    table = ErrorTable(works, target)
    assert table.compare(0, len(works) - 1).chance >= 2 / (len(works) - 2)  # g0 and g1 share it too


def test_two_students_who_ran_the_reference_share_its_mistakes_and_that_is_no_evidence():
    works, target = _class_predictions(seed=4)
    reference = list(works.pop(5).predictions[("m", "x")])  # the instructor's network, default seed
    for k in range(2):  # two honest students ran exactly that code
        works.append(Work(id=f"r{k}", student=f"r{k}", status="graded", predictions={("m", "x"): reference}))
    without = ErrorTable(works, target)
    assert without.compare(len(works) - 2, len(works) - 1).chance < 1e-3  # looks like a copy
    table = ErrorTable(works, target, common=[reference])
    pair = table.compare(len(works) - 2, len(works) - 1)
    assert pair is None or pair.chance > 1e-2  # nothing of their own is shared
    assert table.errors[-1] == 0
    # a copy of a student's OWN mistakes still stands out, and the reference's are not counted
    works.append(Work(id="copy", student="copy", status="graded", predictions=dict(works[3].predictions)))
    table = ErrorTable(works, target, common=[reference])
    copy = table.compare(3, len(works) - 1)
    assert copy.chance < 1e-3 and copy.shared == table.errors[3] < without.errors[3]
    assert copy.common_left_out > 0


def test_predictions_of_the_wrong_length_are_left_out():
    works, target = _class_predictions()
    works[0].predictions[("m", "x")] = [1, 2, 3]
    table = ErrorTable(works, target)
    assert not table.valid[0] and table.compare(0, 1) is None


# ------------------------------------------------------------------------------------------ text
ANSWER = (
    "Boosting fits each new tree to the residuals of the ensemble so far, so shallow trees with high "
    "bias are enough and adding many of them lowers the bias step by step."
)


def _texts(answers: list[str]) -> list[Work]:
    return [
        Work(id=f"s{i}", student=f"s{i}", status="graded", free_text={"why": t})
        for i, t in enumerate(answers)
    ]


def test_shared_phrases_count_and_common_ones_do_not():
    others = [
        "Deep trees overfit the training data quickly, so boosting does better with stumps.",
        "I think smaller is better since the validation error is lowest at depth two.",
        "Boosting prefers smaller trees because each tree is a weak learner.",
    ]
    works = _texts([ANSWER, ANSWER.replace("so far", "until now"), *others])
    index = TextIndex(works, {"why": phrases("Why do boosted trees prefer the tree size they prefer?")}, 4)
    copy = index.compare(0, 1)
    assert copy.share > 0.7
    assert any(flag for _, flag in copy.matches[0].a_marked)
    assert index.compare(2, 3).share == 0.0
    assert (0, 1) in index.candidates()

    common = _texts([ANSWER] * 4 + others)
    assert TextIndex(common, {}, 4).compare(0, 1).share == 0.0  # four students wrote it: boilerplate


def test_marking_keeps_the_original_text():
    works = _texts([ANSWER, ANSWER])
    match = TextIndex(works, {}, 4).compare(0, 1).matches[0]
    assert "".join(piece for piece, _ in match.a_marked) == ANSWER


# ----------------------------------------------------------------------------------------- score
def _pair(code: float, chance: float, text_share: float, pairs: int = 100) -> PairReport:
    from grader.similarity.numbers import NumberEvidence
    from grader.similarity.text import TextEvidence, TextMatch

    numbers = NumberEvidence(chance_by_part={"part2": chance})
    shared = round(100 * code)
    text = TextEvidence([TextMatch("why", "", "", round(20 * text_share), 20)])
    return PairReport("a", "b", "a", "b", CodeMatch(shared, 100, 100), numbers, [], text, pairs)


def test_the_score_combines_the_figures_and_one_strong_figure_is_enough():
    assert _pair(0.0, 1.0, 0.0).score == 0.0
    assert _pair(0.9, 1.0, 0.0).score == pytest.approx(0.9)
    assert _pair(0.0, 1e-9, 0.0).results_strength == 1.0  # 1e-7 such pairs expected in 100
    middling = _pair(0.3, 1e-4, 0.3)
    assert middling.above_line  # 1e-4 per pair, 1e-2 expected among 100 pairs: 2 digits of evidence
    assert middling.score == pytest.approx(1 - 0.7 * (1 - 2 / RESULT_FULL_DIGITS) * 0.7)
    assert not _pair(0.2, 0.05, 0.1).above_line
    assert LOOK_LINE == 0.5


def test_small_own_code_counts_for_less():
    assert CodeMatch(5, 5, 200).strength == pytest.approx(0.25)
    assert CodeMatch(40, 40, 200).strength == pytest.approx(1.0)
