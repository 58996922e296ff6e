"""Reported numbers two students share more closely than seeds and the class make likely.

For every number a rubric item calibrates (a curve's points, a reported error), the reference's
seed standard deviation ``sigma`` says how far two honest runs of the same code land apart. Two
reported values ``d`` apart, read at the resolution they carry (``r``: float32's last digit, or
half the step of a rounded or counted value such as 33/750), match by chance with probability

    p_seed = P(|X - Y| <= max(d, r))  for  X - Y ~ Normal(0, 2 sigma^2)  =  erf(max(d, r) / (2 sigma))

The class is a second witness: when other students land as close to one of the two, closeness is
common (a configuration the assignment dictates, a deterministic model); ``p_class`` is the share
of the other students that do. An element's chance is ``max(p_seed, p_class)``.

The elements of one part (every point of every curve it reports) come from related computations,
so their chances are not multiplied. They are combined with Simes' rule, ``min_k m p_(k) / k``
over the ``m`` chances sorted ascending, which stays valid when the elements depend on each other
positively: one lucky element among thirty counts for thirty times its chance, while thirty
elements that all match count for about the chance of one. Parts are separate computations and
multiply (combine.py). Elements without seed spread (the same for every seed) are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.assignment import Assignment
from grader.similarity.corpus import Work

FLOAT32_DIGITS = 5e-7  # relative resolution of a float32 printed to its last digit
MAX_DENOMINATOR = 1000  # a value k/q with q up to this is read as rounded or counted ...
RATIONAL_TOLERANCE = 2e-8  # ... when it is that close (relative) to k/q (float32 rounding)
CANDIDATE_CHANCE = 0.01  # pairs with CANDIDATE_ELEMENTS values this unlikely close are candidates,
CANDIDATE_ELEMENTS = 3
CANDIDATE_CHANCE_ONE = 1e-4  # and so are pairs with one value this unlikely close


@dataclass(frozen=True)
class Calibrated:
    """One answer the reference calibrates: its seed spread per element and its rubric part."""

    answer: str
    part: str | None
    item: str
    std: np.ndarray


def calibrated_answers(assignment: Assignment, expected: dict[str, Any] | None) -> dict[str, Calibrated]:
    """Answers with a seed spread in expected.json: items that read an answer and whose observed
    standard deviation has one entry per element of it (a curve) or is a single number."""
    found: dict[str, Calibrated] = {}
    observed_items = (expected or {}).get("items") or {}
    answer_specs = assignment.answers
    for item in assignment.items:
        name = item.get("answer")
        if not isinstance(name, str) or name in found:
            continue
        observed = (observed_items.get(item.get("id")) or {}).get("observed")
        std = observed.get("std") if isinstance(observed, dict) else None
        if isinstance(std, (int, float)) and not isinstance(std, bool):
            spread = np.asarray([float(std)])
        elif isinstance(std, list) and std and all(isinstance(v, (int, float)) for v in std):
            spread = np.asarray(std, dtype=np.float64)
        else:
            continue
        part = (answer_specs.get(name) or {}).get("part") or item.get("part")
        found[name] = Calibrated(answer=name, part=part, item=str(item.get("id")), std=spread)
    return found


def resolution(value: float) -> float:
    """Half the step a value is known to: float32's last digit, or half of 1/q for a value k/q."""
    return float(resolutions(np.asarray([value], dtype=np.float64))[0])


def resolutions(values: np.ndarray) -> np.ndarray:
    """``resolution`` of every value of an array at once (NaN and infinities: infinite)."""
    flat = values.reshape(-1)
    finite = np.isfinite(flat)
    scale = np.maximum(np.abs(np.where(finite, flat, 0.0)), 1e-12)
    out = np.where(finite, FLOAT32_DIGITS * scale, np.inf)
    step = np.zeros_like(flat)  # 1/q of the smallest q that makes the value k/q (0: none)
    open_ = finite.copy()
    for q in range(1, MAX_DENOMINATOR + 1):
        if not open_.any():
            break
        scaled = flat[open_] * q
        exact = np.abs(scaled - np.round(scaled)) <= RATIONAL_TOLERANCE * scale[open_] * q
        where = np.flatnonzero(open_)[exact]
        step[where] = 1.0 / q
        open_[where] = False
    return np.maximum(out, 0.5 * step).reshape(values.shape)


@dataclass
class AnswerMatch:
    """How one answer of a pair matched: elements compared, the closest relative gap, the chance."""

    answer: str
    part: str | None
    elements: int
    equal_elements: int  # within the values' resolution
    chance: float  # the smallest element chance (shown; the part's chance combines all of them)
    a_values: list[float]
    b_values: list[float]
    spread: list[float]


@dataclass
class NumberEvidence:
    chance_by_part: dict[str, float] = field(default_factory=dict)
    matches: list[AnswerMatch] = field(default_factory=list)


def simes(chances: list[float]) -> float:
    """Simes' combination of chances that may depend on each other (positively)."""
    if not chances:
        return 1.0
    ordered = sorted(chances)
    m = len(ordered)
    return min(1.0, min(m * p / k for k, p in enumerate(ordered, start=1)))


def simes_rows(chances: np.ndarray) -> np.ndarray:
    """``simes`` of every row of a (pairs x elements) array; NaN marks an element not compared."""
    ordered = np.sort(chances, axis=1)  # NaN sorts last
    m = np.isfinite(ordered).sum(axis=1, keepdims=True)
    k = np.arange(1, ordered.shape[1] + 1)[None, :]
    with np.errstate(invalid="ignore"):
        combined = np.where(k <= m, m * ordered / k, np.inf).min(axis=1, initial=np.inf)
    return np.minimum(combined, 1.0)


class NumberTable:
    """The class's calibrated numbers as arrays: one row per submission, NaN where absent."""

    def __init__(self, works: list[Work], calibrated: dict[str, Calibrated]) -> None:
        self.calibrated = calibrated
        self.n = len(works)
        self.values: dict[str, np.ndarray] = {}
        self.resolutions: dict[str, np.ndarray] = {}
        self.sorted: dict[str, list[np.ndarray]] = {}
        for name, spec in calibrated.items():
            table = np.full((self.n, len(spec.std)), np.nan)
            for row, work in enumerate(works):
                numbers = work.numbers.get(name)
                if numbers is not None and len(numbers) == len(spec.std):
                    table[row] = numbers
            self.values[name] = table
            self.resolutions[name] = resolutions(table)
            self.sorted[name] = [np.sort(col[np.isfinite(col)]) for col in table.T]

    def candidates(self, boilerplate_min: int) -> set[tuple[int, int]]:
        """Pairs with several elements closer than ``CANDIDATE_CHANCE`` makes likely, or one closer
        than ``CANDIDATE_CHANCE_ONE``; from one sorted pass per element. Values that
        ``boilerplate_min`` or more students share are skipped (they are no evidence)."""
        hits: dict[tuple[int, int], int] = {}
        tight: set[tuple[int, int]] = set()
        for name, spec in self.calibrated.items():
            table = self.values[name]
            for column, sigma in enumerate(spec.std):
                if not sigma > 0:
                    continue
                present = np.flatnonzero(np.isfinite(table[:, column]))
                order = present[np.argsort(table[present, column], kind="stable")]
                ordered = table[order, column]
                steps = self.resolutions[name][order, column]
                for chance, into in ((CANDIDATE_CHANCE, None), (CANDIDATE_CHANCE_ONE, tight)):
                    reach = np.maximum(2.0 * sigma * _erfinv(chance), steps)
                    high = np.searchsorted(ordered, ordered + reach, side="right")
                    low = np.searchsorted(ordered, ordered - reach, side="left")
                    for i in np.flatnonzero(
                        (high - low < boilerplate_min) & (high > np.arange(len(order)) + 1)
                    ):
                        for j in range(i + 1, int(high[i])):
                            a, b = int(order[i]), int(order[j])
                            key = (min(a, b), max(a, b))
                            if into is None:
                                hits[key] = hits.get(key, 0) + 1
                            else:
                                into.add(key)
        return tight | {pair for pair, n in hits.items() if n >= CANDIDATE_ELEMENTS}

    def compare_many(
        self, first: np.ndarray, second: np.ndarray, *, with_matches: bool = False
    ) -> list[NumberEvidence]:
        """The evidence of every pair ``(first[i], second[i])``, computed for all pairs at once;
        the per-answer details the page shows only ``with_matches``."""
        from scipy.special import erf  # lazy: start-up (scipy only when the class is compared)

        count = len(first)
        evidence = [NumberEvidence() for _ in range(count)]
        by_part: dict[str, list[np.ndarray]] = {}
        for name, spec in self.calibrated.items():
            values, steps, sigma = self.values[name], self.resolutions[name], spec.std[None, :]
            xa, xb = values[first], values[second]
            both = np.isfinite(xa) & np.isfinite(xb) & (sigma > 0)
            if not both.any():
                continue
            gap = np.abs(xa - xb)
            known = np.maximum(steps[first], steps[second])
            reach = np.maximum(gap, known)
            with np.errstate(divide="ignore", invalid="ignore"):
                p_seed = np.where(sigma > 0, erf(reach / (2 * np.where(sigma > 0, sigma, 1.0))), 1.0)
            p_class = np.zeros_like(p_seed)
            for column, ordered in enumerate(self.sorted[name]):
                others = len(ordered) - 2
                if others <= 0:
                    continue
                inside = np.searchsorted(
                    ordered, xa[:, column] + reach[:, column], side="right"
                ) - np.searchsorted(ordered, xa[:, column] - reach[:, column], side="left")
                p_class[:, column] = np.maximum(inside - 2, 0) / others  # a and b themselves are inside
            chance = np.where(both, np.maximum(p_seed, p_class), np.nan)
            by_part.setdefault(spec.part or "(no part)", []).append(chance)
            if with_matches:
                smallest = np.nanmin(np.where(both, chance, np.inf), axis=1)
                equal = (both & (gap <= known)).sum(axis=1)
                for i in np.flatnonzero(smallest < 0.5):
                    evidence[i].matches.append(
                        AnswerMatch(
                            answer=name,
                            part=spec.part,
                            elements=int(both[i].sum()),
                            equal_elements=int(equal[i]),
                            chance=float(smallest[i]),
                            a_values=[float(v) for v in xa[i]],
                            b_values=[float(v) for v in xb[i]],
                            spread=[float(v) for v in spec.std],
                        )
                    )
        for part, blocks in by_part.items():
            combined = simes_rows(np.concatenate(blocks, axis=1))
            compared = np.isfinite(np.concatenate(blocks, axis=1)).any(axis=1)
            for i in np.flatnonzero(compared):
                evidence[i].chance_by_part[part] = float(combined[i])
        for item in evidence:
            item.matches.sort(key=lambda m: m.chance)
        return evidence

    def compare(self, a: int, b: int) -> NumberEvidence:
        return self.compare_many(np.asarray([a]), np.asarray([b]), with_matches=True)[0]


def _erfinv(p: float) -> float:
    """The inverse error function by bisection (p in (0, 1)); scipy is not needed for one number."""
    lo, hi = 0.0, 6.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if math.erf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
