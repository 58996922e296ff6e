"""Code fingerprints by winnowing, an inverted index over a class, and matching regions of a pair.

A fingerprint is the hash of ``K`` consecutive normalised tokens of one cell; winnowing keeps the
smallest hash of every ``W`` consecutive ones (Schleimer, Wilkerson and Aiken, SIGMOD 2003), so
any run of ``K + W - 1`` tokens two notebooks share is found, whatever surrounds it. Fingerprints
of the instructor's code (template, reference, starter files) are dropped, and so are those that
``boilerplate_min`` or more submissions share. What remains is put in a sparse submission x
fingerprint matrix; its product with itself counts the fingerprints every pair shares in one
step, so candidate pairs come from the index, never from a loop over all pairs.

Written here rather than taken from copydetect: copydetect compares every pair of files
(quadratic), hashes with Python's per-process ``hash()`` and leaves numbers and most names as
written; what it would give us is its ~20-line winnowing function.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.similarity.tokens import TokenStream

K_TOKENS = 12  # tokens per fingerprint
WINDOW = 6  # winnowing window: every shared run of K_TOKENS + WINDOW - 1 = 17 tokens is found
_BASE = np.uint64(0x100000001B3)
_VOCABULARY: dict[str, int] = {}


def _token_id(text: str) -> int:
    """A stable 64-bit id per normalised token (the same in every process and run)."""
    found = _VOCABULARY.get(text)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        _VOCABULARY[text] = found
    return found


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an array (np.unique, without its hashing detour)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def contains(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_values`` (sorted and distinct), by binary search."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    where = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[where] == values


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits, so winnowing's minima are evenly placed."""
    z = values.copy()
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def kgram_hashes(stream: TokenStream, k: int = K_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, start positions)`` of every k-gram that lies within one cell."""
    ids = np.fromiter((_token_id(t) for t in stream.texts), dtype=np.uint64, count=len(stream))
    hashes, starts = [], []
    with np.errstate(over="ignore"):
        powers = np.ones(k, dtype=np.uint64)
        for i in range(k - 2, -1, -1):
            powers[i] = powers[i + 1] * _BASE
        for start, stop in stream.cell_ranges():
            if stop - start < k:
                continue
            windows = sliding_window_view(ids[start:stop], k)
            hashes.append(_mix(windows @ powers))
            starts.append(np.arange(start, stop - k + 1, dtype=np.int64))
    if not hashes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hashes), np.concatenate(starts)


def winnow(hashes: np.ndarray, starts: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Robust winnowing: the rightmost smallest hash of every window (k-grams never cross cells,
    so a window that straddles two cells still picks a real k-gram of one of them)."""
    if len(hashes) <= window:
        if not len(hashes):
            return hashes, starts
        chosen = np.asarray([len(hashes) - 1 - int(np.argmin(hashes[::-1]))])
    else:
        windows = sliding_window_view(hashes, window)
        rightmost = np.arange(len(windows)) + window - 1 - np.argmin(windows[:, ::-1], axis=1)
        # the rightmost minimum never moves left as the window slides: drop repeats in one pass
        chosen = rightmost[np.concatenate(([True], rightmost[1:] != rightmost[:-1]))]
    return hashes[chosen], starts[chosen]


@dataclass
class Fingerprints:
    """A submission's winnowed fingerprints that survived the exclusions."""

    hashes: np.ndarray  # uint64
    starts: np.ndarray  # int64: token position of each fingerprint's first token
    every: np.ndarray  # uint64: every distinct k-gram hash (how common a fingerprint is counts these)
    excluded_instructor: int = 0
    excluded_boilerplate: int = 0


def fingerprint(stream: TokenStream) -> Fingerprints:
    hashes, starts = kgram_hashes(stream)
    selected, positions = winnow(hashes, starts)
    return Fingerprints(hashes=selected, starts=positions, every=distinct(hashes))


def instructor_hashes(streams: list[TokenStream]) -> np.ndarray:
    """Every k-gram hash (not only winnowed ones) of the instructor's code, sorted and unique."""
    parts = [kgram_hashes(s)[0] for s in streams]
    return distinct(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)


@dataclass
class CodeIndex:
    """The class's fingerprints after exclusions, and the sparse matrix that pairs them."""

    ids: list[str]
    prints: list[Fingerprints]
    boilerplate_min: int
    shared_counts: dict[tuple[int, int], int] = field(default_factory=dict)


def build_index(
    ids: list[str], prints: list[Fingerprints], instructor: np.ndarray, boilerplate_min: int
) -> CodeIndex:
    """Drop instructor and boilerplate fingerprints, then count what every pair shares."""
    from scipy import sparse  # lazy: start-up (scipy is only needed when the index is built)

    for fp in prints:
        keep = ~contains(instructor, fp.hashes)
        fp.excluded_instructor = int((~keep).sum())
        fp.hashes, fp.starts = fp.hashes[keep], fp.starts[keep]
    # a fingerprint is common when its k-gram is in many submissions, winnowed there or not
    every = np.concatenate([fp.every for fp in prints]) if prints else np.zeros(0, dtype=np.uint64)
    values, counts = np.unique(every, return_counts=True)
    common = values[counts >= boilerplate_min]
    own = []
    for fp in prints:
        keep = ~contains(common, fp.hashes)
        fp.excluded_boilerplate = int((~keep).sum())
        fp.hashes, fp.starts = fp.hashes[keep], fp.starts[keep]
        fp.every = np.zeros(0, dtype=np.uint64)  # no longer needed; frees the memory
        own.append(distinct(fp.hashes))
    index = CodeIndex(ids=ids, prints=prints, boilerplate_min=boilerplate_min)
    rare = distinct(np.concatenate(own)) if own else np.zeros(0, dtype=np.uint64)
    if not own or not sum(len(d) for d in own):
        return index
    rows = np.concatenate([np.full(len(d), i, dtype=np.int64) for i, d in enumerate(own)])
    columns = np.searchsorted(rare, np.concatenate(own))
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, columns)), shape=(len(ids), max(len(rare), 1))
    )
    shared = sparse.triu(matrix @ matrix.T, k=1).tocoo()
    index.shared_counts = {
        (int(i), int(j)): int(v) for i, j, v in zip(shared.row, shared.col, shared.data, strict=True)
    }
    return index


@dataclass(frozen=True)
class Region:
    """A run of code two submissions share: token spans on each side, and their length."""

    a_start: int
    a_stop: int
    b_start: int
    b_stop: int

    @property
    def tokens(self) -> int:
        return max(self.a_stop - self.a_start, self.b_stop - self.b_start)


def matching_regions(
    a: Fingerprints, b: Fingerprints, a_cells: np.ndarray, b_cells: np.ndarray
) -> list[Region]:
    """Chain fingerprints both share into regions (same cell pair, in order, nearly on one diagonal);
    longest first."""
    common = np.intersect1d(a.hashes, b.hashes)
    if not len(common):
        return []
    matches: list[tuple[int, int]] = []
    b_where: dict[int, list[int]] = {}
    for h, start in zip(
        b.hashes[np.isin(b.hashes, common)], b.starts[np.isin(b.hashes, common)], strict=True
    ):
        b_where.setdefault(int(h), []).append(int(start))
    for h, start in zip(
        a.hashes[np.isin(a.hashes, common)], a.starts[np.isin(a.hashes, common)], strict=True
    ):
        matches.extend((int(start), pb) for pb in b_where.get(int(h), [])[:8])
    matches.sort()
    reach = K_TOKENS + WINDOW
    open_regions: list[list[int]] = []  # [a_first, a_last, b_first, b_last]
    for pa, pb in matches:
        for region in open_regions:
            a_gap, b_gap = pa - region[1], pb - region[3]
            if (
                0 <= a_gap <= reach
                and 0 <= b_gap <= reach
                and abs(a_gap - b_gap) <= WINDOW
                and a_cells[pa] == a_cells[region[1]]
                and b_cells[pb] == b_cells[region[3]]
            ):
                region[1], region[3] = pa, pb
                break
        else:
            open_regions.append([pa, pa, pb, pb])
    regions = [Region(r[0], r[1] + K_TOKENS, r[2], r[3] + K_TOKENS) for r in open_regions]
    return sorted(regions, key=lambda r: -r.tokens)
