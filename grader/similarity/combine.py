"""One pair's figures side by side, and how they combine into the score pairs are ranked by.

Each kind of evidence becomes a strength between 0 and 1:

* code: the share of the smaller submission's own code (instructor code and boilerplate excluded)
  found in the other, shrunk for submissions with little own code;
* results: from the chance that the reported numbers and the shared errors agree as closely as
  they do without a common source (parts multiplied, as parts are separate computations; numbers
  and errors of one part not, as they come from one model), turned into the number of pairs in a
  class of this size expected to look like this by chance; strength 1 at one in 100,000 such
  classes, 0 at one expected pair;
* text: the share of the shorter written answers' phrases that the other answers also have.

The combined score is ``1 - (1 - code)(1 - results)(1 - text)``: one strong figure is enough to
rank a pair high, and several middling ones add up. Pairs at or above ``LOOK_LINE`` are worth a
person's time; below it, the figures are what unrelated submissions of one assignment show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from grader.similarity.numbers import NumberEvidence
from grader.similarity.predictions import ErrorMatch
from grader.similarity.text import TextEvidence

LOOK_LINE = 0.5
MIN_OWN_PRINTS = 20  # submissions with fewer own fingerprints (about 8 lines of code) weigh less
RESULT_FULL_DIGITS = 5.0  # strength 1 when chance expects 1e-5 such pairs in the class


@dataclass
class SourceLine:
    number: int
    text: str
    marked: bool


@dataclass
class RegionView:
    """A shared region shown side by side: each side's cell, part, and lines with the match marked."""

    tokens: int
    a_cell: int
    a_part: str | None
    a_lines: list[SourceLine]
    b_cell: int
    b_part: str | None
    b_lines: list[SourceLine]


@dataclass
class CodeMatch:
    shared: int  # distinct fingerprints both have
    a_prints: int  # own distinct fingerprints
    b_prints: int
    longest: int = 0  # tokens of the longest shared region
    regions: list[RegionView] = field(default_factory=list)

    @property
    def a_share(self) -> float:
        return self.shared / self.a_prints if self.a_prints else 0.0

    @property
    def b_share(self) -> float:
        return self.shared / self.b_prints if self.b_prints else 0.0

    @property
    def strength(self) -> float:
        def weighted(share: float, prints: int) -> float:
            return share * min(1.0, prints / MIN_OWN_PRINTS)

        return min(1.0, max(weighted(self.a_share, self.a_prints), weighted(self.b_share, self.b_prints)))


@dataclass
class PairReport:
    """Everything shown for one pair of submissions."""

    a: str
    b: str
    a_student: str
    b_student: str
    code: CodeMatch
    numbers: NumberEvidence
    errors: list[ErrorMatch]
    text: TextEvidence
    pairs_in_class: int
    chance_by_part: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        parts: dict[str, float] = dict(self.numbers.chance_by_part)
        for match in self.errors:
            key = match.part or "(no part)"
            parts[key] = min(parts.get(key, 1.0), match.chance)
        self.chance_by_part = parts

    @cached_property
    def results_chance(self) -> float:
        """The chance, for one pair, of numbers and errors agreeing this closely without a common source."""
        log_total = sum(math.log10(max(p, 1e-300)) for p in self.chance_by_part.values())
        return 10.0 ** max(log_total, -300.0)

    @cached_property
    def expected_in_class(self) -> float:
        """How many pairs of a class this size would look like this by chance."""
        return self.results_chance * max(self.pairs_in_class, 1)

    @cached_property
    def results_strength(self) -> float:
        digits = -math.log10(max(self.expected_in_class, 1e-300))
        return min(1.0, max(0.0, digits / RESULT_FULL_DIGITS))

    @cached_property
    def text_strength(self) -> float:
        return min(1.0, self.text.share)

    @cached_property
    def score(self) -> float:
        keep = (1 - self.code.strength) * (1 - self.results_strength) * (1 - self.text_strength)
        return 1.0 - keep

    @cached_property
    def above_line(self) -> bool:
        return self.score >= LOOK_LINE
