"""Written answers that share whole phrases.

Each free-text answer becomes its set of word 4-grams (lower case, punctuation and markdown
dropped). Phrases from the rubric's prompt and the template's placeholder are not evidence, and
neither are phrases that ``boilerplate_min`` or more students wrote (a sentence everyone copies
from the lecture notes). A pair's figure is the share of the shorter answer's phrases that the
other answer also has, over all answers the two both wrote; the matching words are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.similarity.corpus import Work

SHINGLE = 4  # words per phrase
MIN_PHRASES = 8  # answers shorter than this many phrases count for proportionally less
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def phrases(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1)}


@dataclass
class TextMatch:
    answer: str
    a_text: str
    b_text: str
    shared: int
    smaller: int
    a_marked: list[tuple[str, bool]] = field(default_factory=list)  # (word run, in a shared phrase)
    b_marked: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class TextEvidence:
    matches: list[TextMatch] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Shared phrases over the shorter answers' phrases, summed over answers; short answers weigh less."""
        shared = sum(m.shared for m in self.matches)
        smaller = sum(max(m.smaller, MIN_PHRASES) for m in self.matches)
        return shared / smaller if smaller else 0.0


class TextIndex:
    """Per free-text answer: each student's phrases after the exclusions, as a sparse
    student x phrase matrix whose square counts the phrases every pair shares."""

    def __init__(
        self, works: list[Work], excluded: dict[str, set[tuple[str, ...]]], boilerplate_min: int
    ) -> None:
        from scipy import sparse  # lazy: start-up (scipy only when the class is compared)

        self.works = works
        self.sizes: dict[str, np.ndarray] = {}
        self.shared: dict[str, Any] = {}  # text id -> sparse (n x n) counts of shared phrases
        self.kept: dict[str, list[set[tuple[str, ...]]]] = {}
        ids = sorted({text_id for w in works for text_id in w.free_text})
        for text_id in ids:
            sets = [phrases(w.free_text.get(text_id, "")) - excluded.get(text_id, set()) for w in works]
            writers: dict[tuple[str, ...], int] = {}
            for found in sets:
                for phrase in found:
                    writers[phrase] = writers.get(phrase, 0) + 1
            columns = {p: i for i, p in enumerate(p for p, k in writers.items() if k < boilerplate_min)}
            kept = [{p for p in found if p in columns} for found in sets]
            rows = [i for i, found in enumerate(kept) for _ in found]
            cols = [columns[p] for found in kept for p in found]
            matrix = sparse.csr_matrix(
                (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(works), max(len(columns), 1))
            )
            self.kept[text_id] = kept
            self.sizes[text_id] = np.asarray([len(k) for k in kept])
            self.shared[text_id] = (matrix @ matrix.T).tocsr()

    def candidates(self, min_shared: int = 2, min_share: float = 0.1) -> set[tuple[int, int]]:
        """Pairs that share at least ``min_shared`` phrases and ``min_share`` of the shorter answer."""
        found: set[tuple[int, int]] = set()
        for text_id, counts in self.shared.items():
            upper = counts.tocoo()
            sizes = np.maximum(
                np.minimum(self.sizes[text_id][upper.row], self.sizes[text_id][upper.col]), MIN_PHRASES
            )
            keep = (upper.row < upper.col) & (upper.data >= min_shared) & (upper.data / sizes >= min_share)
            found |= {(int(a), int(b)) for a, b in zip(upper.row[keep], upper.col[keep], strict=True)}
        return found

    def compare_many(self, first: np.ndarray, second: np.ndarray) -> list[TextEvidence]:
        evidence = [TextEvidence() for _ in range(len(first))]
        for text_id, counts in self.shared.items():
            shared = np.asarray(counts[first, second]).reshape(-1)
            sizes = self.sizes[text_id]
            for i, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
                text_a = self.works[a].free_text.get(text_id, "")
                text_b = self.works[b].free_text.get(text_id, "")
                if text_a and text_b:
                    evidence[i].matches.append(
                        TextMatch(text_id, text_a, text_b, int(shared[i]), int(min(sizes[a], sizes[b])))
                    )
        return evidence

    def compare(self, a: int, b: int) -> TextEvidence:
        found = self.compare_many(np.asarray([a]), np.asarray([b]))[0]
        self.mark(found, a, b)
        return found

    def mark(self, evidence: TextEvidence, a: int, b: int) -> None:
        """Mark the shared phrases in both answers (for the page)."""
        for match in evidence.matches:
            common = self.kept[match.answer][a] & self.kept[match.answer][b]
            match.a_marked = _mark(match.a_text, common)
            match.b_marked = _mark(match.b_text, common)


def _mark(text: str, common: set[tuple[str, ...]]) -> list[tuple[str, bool]]:
    """The answer cut into runs of text, each flagged when its words belong to a shared phrase."""
    spans = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text.lower())]
    marked = [False] * len(spans)
    for i in range(len(spans) - SHINGLE + 1):
        if tuple(s[2] for s in spans[i : i + SHINGLE]) in common:
            for j in range(i, i + SHINGLE):
                marked[j] = True
    runs: list[tuple[str, bool]] = []
    cursor = 0
    for (start, end, _), flag in zip(spans, marked, strict=True):
        if start > cursor:
            _append(runs, text[cursor:start], runs[-1][1] if runs and flag else False)
        _append(runs, text[start:end], flag)
        cursor = end
    if cursor < len(text):
        _append(runs, text[cursor:], False)
    return runs


def _append(runs: list[tuple[str, bool]], piece: str, flag: bool) -> None:
    if runs and runs[-1][1] == flag:
        runs[-1] = (runs[-1][0] + piece, flag)
    else:
        runs.append((piece, flag))
