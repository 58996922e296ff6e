"""Shared errors on hidden inputs: two models that err on the same rows, with the same wrong answer.

Agreeing on what is right says nothing (every good model does); agreeing on mistakes does. For a
model the rubric scores on hidden rows, ``S`` counts the rows where both students' predictions are
wrong *and identical*, out of ``n = min(E_a, E_b)`` errors of the one with fewer.

Independent models share far more errors than chance alone would give them: some digits are
ambiguous or mislabelled, and every model gets them wrong. Measured on the bundled examples,
independent tuned networks share about 70% of their errors identically, seven times what a
hypergeometric draw at their error rates predicts, so that null would flag every honest pair.
The class tells what is typical instead: ``J`` is the median share ``S / n`` over the pairs of the
class (copies are few; the median ignores them). Without a common source each of the ``n``
errors is shared with probability ``J``, and the chance of ``S`` or more is the binomial tail
``P(Binomial(n, J) >= S)``. A copy shares all its errors: with 33 errors and ``J = 0.7`` that is
about 1 in 100,000. When other students share nearly as much (at least three quarters of the
evidence) with one of the two, the pattern is common to a group (the same given code and seed),
and the chance is at least the share of the other students who do.

The instructor's own code is a common source too: two students who both ran the reference's
network with the default seed make the reference's mistakes, identically, without sharing anything
with each other. So an error that a stored run of the reference notebook makes identically on that
row (``common``: its predictions at every seed kept in the run store) is no evidence, and is left out
of both the errors and the shared errors. Only mistakes of the students' own remain.

Labels are read here, outside the sandbox, from the files the rubric's ``inputs`` name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.assignment import Assignment
from grader.scoring.context import is_hidden_path, load_labels
from grader.similarity.corpus import Work

MIN_SHARED = 3  # fewer shared identical errors than this is no evidence
MIN_ERRORS = 5  # models with fewer errors do not inform the class's typical share
DEFAULT_SHARE = 0.9  # the typical share assumed when the class is too small to measure it
SHARE_RANGE = (0.05, 0.98)
GROUP_FRACTION = 0.75  # others with this share of a pair's evidence make its pattern common
SCREEN_CHANCE = 1e-2  # pairs whose chance (before the class check) is below this are candidates
MIN_CHANCE = 1e-300


@dataclass(frozen=True)
class Target:
    """A model scored on hidden rows: which rows count as wrong for it."""

    model: str
    input: str
    part: str | None
    truth: np.ndarray  # str per row
    positive: str | None


def _metric_specs(metric: Any) -> list[dict[str, Any]]:
    if not isinstance(metric, dict):
        return []
    found = [metric] if metric.get("kind") in ("accuracy", "error_rate") and "model" in metric else []
    return found + _metric_specs(metric.get("left")) + _metric_specs(metric.get("right"))


def _as_text(value: Any) -> str:
    """One spelling per prediction: 7, 7.0 and numpy's 7 all read '7'."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        as_float = float(value)
        return str(int(as_float)) if as_float.is_integer() else repr(as_float)
    return str(value)


def prediction_targets(assignment: Assignment, data_dir: Path) -> tuple[list[Target], list[str]]:
    """The (model, hidden input) pairs the rubric scores by accuracy, with their labels; and notes
    for labels that could not be read."""
    targets: dict[tuple[str, str], Target] = {}
    notes: list[str] = []
    for item in assignment.items:
        for spec in _metric_specs(item.get("metric")):
            model, input_name = str(spec["model"]), str(spec.get("input"))
            source = assignment.inputs.get(input_name) or {}
            if (model, input_name) in targets or not any(
                is_hidden_path(str(source[k])) for k in ("file", "labels") if k in source
            ):
                continue
            try:
                if "labels" in source:
                    labels = load_labels((data_dir / source["labels"]).resolve(), source.get("labels_key"))
                else:
                    import pandas as pd  # lazy: start-up (pandas only for a CSV target column)

                    labels = pd.read_csv((data_dir / source["file"]).resolve())[source["target"]].to_numpy()
            except (OSError, KeyError, ValueError) as exc:
                notes.append(f"labels of {input_name!r} not read ({exc}): its predictions are left out")
                continue
            positive = str(spec["positive"]) if "positive" in spec else None
            truth = np.asarray([_as_text(v) for v in np.asarray(labels).reshape(-1)])
            if positive is not None:
                truth = np.asarray([str(t == positive) for t in truth])
            targets[(model, input_name)] = Target(model, input_name, item.get("part"), truth, positive)
    return list(targets.values()), notes


def _spell(values: list[Any], positive: str | None) -> np.ndarray:
    """Every prediction spelled as ``_as_text`` spells it (vectorised for lists of one type)."""
    kinds = {type(v) for v in values}
    if kinds == {int}:
        spelled = np.asarray(values, dtype=np.int64).astype(str)
    elif kinds == {str}:
        spelled = np.asarray(values, dtype=str)
    elif kinds == {bool}:
        spelled = np.asarray(values, dtype=bool).astype(str)
    else:
        spelled = np.asarray([_as_text(v) for v in values], dtype=str)
    if positive is None or kinds == {bool}:
        return spelled
    return (spelled == positive).astype(str)


@dataclass
class ErrorMatch:
    """Shared identical errors of a pair on one model's hidden rows."""

    model: str
    input: str
    part: str | None
    rows: int
    a_errors: int
    b_errors: int
    shared: int
    typical: float  # the class's typical share of the smaller error set
    chance: float
    examples: list[tuple[int, str, str]] = field(default_factory=list)  # (row, truth, shared wrong value)
    common_left_out: int = 0  # identical errors both made that the reference makes too (not counted)


class ErrorTable:
    """One target's class: predicted values coded as integers, who erred where, what pairs share."""

    def __init__(self, works: list[Work], target: Target, common: list[list[Any]] | None = None) -> None:
        from scipy import sparse  # lazy: start-up (scipy only when the class is compared)

        self.target = target
        rows = len(target.truth)
        self.valid = np.zeros(len(works), dtype=bool)
        spelled = []
        for i, work in enumerate(works):
            values = work.predictions.get((target.model, target.input))
            if values is not None and len(values) == rows:
                spelled.append(_spell(values, target.positive))
                self.valid[i] = True
        sources = [
            _spell(v, target.positive) for v in (common or []) if isinstance(v, list) and len(v) == rows
        ]
        self.common_sources = len(sources)
        texts = np.concatenate([target.truth.astype(str), *spelled, *sources])
        vocabulary, inverse = np.unique(texts, return_inverse=True)
        self.truth = inverse[:rows].astype(np.int32)
        self.codes = np.full((len(works), rows), -1, dtype=np.int32)
        self.codes[self.valid] = inverse[rows : rows * (1 + len(spelled))].reshape(-1, rows)
        source_codes = inverse[rows * (1 + len(spelled)) :].reshape(-1, rows)
        self.labels = vocabulary.tolist()
        kinds = max(len(self.labels), 2)
        made = (self.codes != self.truth) & self.valid[:, None]
        # the reference's own mistakes (any stored seed): made by its code, so no evidence of sharing
        self.common = np.zeros_like(made)
        for codes in source_codes:
            self.common |= made & (self.codes == codes[None, :])
        self.wrong = made & ~self.common
        self.errors = self.wrong.sum(axis=1)
        self.members = int(self.valid.sum())
        # identical errors as a sparse student x (row, value) matrix; its square counts them per pair
        who, where = np.nonzero(self.wrong)
        columns = where.astype(np.int64) * kinds + self.codes[who, where]
        incidence = sparse.csr_matrix(
            (np.ones(len(who), dtype=np.int32), (who, columns)), shape=(len(works), rows * kinds)
        )
        self.shared = (incidence @ incidence.T).toarray()
        self.typical_share = self._typical_share(rows)
        self.chance = self._chances()
        self.digits = -np.log10(np.maximum(self.chance, MIN_CHANCE))

    def _typical_share(self, rows: int) -> float:
        """The median share of the smaller error set that two models of this class share."""
        usable = np.flatnonzero(self.valid & (self.errors >= MIN_ERRORS) & (self.errors < rows / 2))
        if len(usable) < 3:
            return DEFAULT_SHARE
        smaller = np.minimum.outer(self.errors[usable], self.errors[usable])
        shares = self.shared[np.ix_(usable, usable)] / np.maximum(smaller, 1)
        upper = shares[np.triu_indices(len(usable), k=1)]
        return float(np.clip(np.median(upper), SHARE_RANGE[0], SHARE_RANGE[1]))

    def _chances(self) -> np.ndarray:
        """The binomial tail for every pair (one vectorised call; 1 where there is no evidence)."""
        from scipy.special import bdtrc  # lazy: start-up (scipy only when the class is compared)

        smaller = np.minimum.outer(self.errors, self.errors)
        with np.errstate(invalid="ignore"):  # pairs with no errors: NaN, replaced just below
            chance = bdtrc(self.shared - 1, smaller, self.typical_share)  # P(Binomial >= shared)
        chance = np.where(self.shared >= MIN_SHARED, chance, 1.0)
        return np.clip(chance, MIN_CHANCE, 1.0)

    def screen(self) -> set[tuple[int, int]]:
        """Pairs whose shared errors are unlikely before the class check (candidates)."""
        a, b = np.nonzero(np.triu(self.chance <= SCREEN_CHANCE, k=1))
        return {(int(i), int(j)) for i, j in zip(a, b, strict=True)}

    def compare_many(
        self, first: np.ndarray, second: np.ndarray, chunk: int = 2048
    ) -> list[ErrorMatch | None]:
        """Every pair's shared errors at once (in chunks, to bound memory); None where either
        model gave no usable predictions, or where the two share fewer than ``MIN_SHARED``."""
        found: list[ErrorMatch | None] = [None] * len(first)
        others = self.members - 2
        for start in range(0, len(first), chunk):
            a, b = first[start : start + chunk], second[start : start + chunk]
            chance = self.chance[a, b].copy()
            if others > 0:
                bar = GROUP_FRACTION * self.digits[a, b]
                alike = (self.digits[a] >= bar[:, None]) | (self.digits[b] >= bar[:, None])
                rows = np.arange(len(a))
                alike[rows, a] = alike[rows, b] = False
                group = (alike & self.valid[None, :]).sum(axis=1) / others
                chance = np.where(chance < 1.0, np.maximum(chance, group), chance)
            for i in np.flatnonzero(self.valid[a] & self.valid[b] & (self.shared[a, b] >= MIN_SHARED)):
                x, y = int(a[i]), int(b[i])
                found[start + i] = ErrorMatch(
                    model=self.target.model,
                    input=self.target.input,
                    part=self.target.part,
                    rows=len(self.truth),
                    a_errors=int(self.errors[x]),
                    b_errors=int(self.errors[y]),
                    shared=int(self.shared[x, y]),
                    typical=self.typical_share,
                    chance=float(np.clip(chance[i], MIN_CHANCE, 1.0)),
                    common_left_out=int(
                        (self.common[x] & self.common[y] & (self.codes[x] == self.codes[y])).sum()
                    ),
                )
        return found

    def compare(self, a: int, b: int) -> ErrorMatch | None:
        return self.compare_many(np.asarray([a]), np.asarray([b]))[0]

    def add_examples(self, match: ErrorMatch, a: int, b: int, limit: int = 12) -> None:
        """Some of the rows both got wrong the same way (for the page)."""
        both = np.flatnonzero(self.wrong[a] & self.wrong[b] & (self.codes[a] == self.codes[b]))
        truth = self.target.truth
        match.examples = [(int(i), str(truth[i]), self.labels[self.codes[a, i]]) for i in both[:limit]]


def chance_digits(chance: float) -> float:
    """-log10 of a chance, for display and combination."""
    return -math.log10(max(chance, MIN_CHANCE))
