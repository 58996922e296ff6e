"""Compare a graded class: build the indexes, gather candidate pairs, and weigh each pair's evidence.

Candidate pairs come from four indexes, never from a loop over all pairs: shared code
fingerprints (a sparse product), numbers that sort next to each other, shared identical errors
(a sparse product screened by the independence model), and shared phrases. Only candidates are
compared in full, and only pairs worth showing get their matching regions worked out.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.assignment import Assignment
from grader.similarity import fingerprints as fp
from grader.similarity.combine import LOOK_LINE, CodeMatch, PairReport, RegionView, SourceLine
from grader.similarity.corpus import Work, notebook_free_text, read_notebook_cells
from grader.similarity.numbers import NumberTable, calibrated_answers
from grader.similarity.predictions import ErrorTable, prediction_targets
from grader.similarity.reference_runs import CommonSources, reference_predictions
from grader.similarity.text import TextIndex, phrases
from grader.similarity.tokens import CodeCell, TokenStream, imported_names, token_stream

BOILERPLATE_SHARE = 0.1  # code, phrases or values shared by this share of the class are boilerplate ...
BOILERPLATE_FLOOR = 4  # ... and by at least this many submissions in any class
MIN_SHARED_PRINTS = 3  # fewer shared code fingerprints do not make a pair a candidate ...
MIN_CODE_STRENGTH = 0.1  # ... and neither does a code figure below this
SHOWN_BELOW_LINE = 30  # pairs under the line that still get a detailed view
REGIONS_SHOWN = 6  # matching regions shown per pair
CONTEXT_LINES = 2  # unmarked lines shown around a region


@dataclass
class SubmissionRow:
    """Per submission: how much own code it has and what was left out, and why."""

    id: str
    student: str
    own_prints: int
    instructor_prints: int
    boilerplate_prints: int
    reference_share: float | None
    notes: list[str]


@dataclass
class SimilarityReport:
    title: str
    n: int
    pairs_in_class: int
    boilerplate_min: int
    pairs: list[PairReport]
    submissions: list[SubmissionRow]
    candidates: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def above_line(self) -> list[PairReport]:
        return [p for p in self.pairs if p.above_line]


def boilerplate_threshold(n: int) -> int:
    return max(BOILERPLATE_FLOOR, math.ceil(BOILERPLATE_SHARE * n))


def _instructor_cells(
    assignment: Assignment | None, starters: list[Path]
) -> tuple[list[CodeCell], list[CodeCell]]:
    """(template and starter code, reference solution code) as code cells."""
    given: list[CodeCell] = []
    reference: list[CodeCell] = []
    paths = [
        (assignment.template if assignment else None, given),
        (assignment.reference if assignment else None, reference),
    ]
    paths += [(path, given) for path in starters]
    for path, into in paths:
        if path is None or not Path(path).is_file():
            continue
        if Path(path).suffix == ".ipynb":
            into.extend(read_notebook_cells(Path(path), assignment))
        else:
            into.append(
                CodeCell(index=0, part=None, source=Path(path).read_text(encoding="utf-8", errors="replace"))
            )
    return given, reference


def _instructor_phrases(assignment: Assignment | None) -> dict[str, set[tuple[str, ...]]]:
    """Per free-text answer, the phrases that are the instructor's: the question, the placeholder,
    and what the template and the reference solution write there."""
    if assignment is None:
        return {}
    written: dict[str, list[str]] = {}
    for path in (assignment.template, assignment.reference):
        if path is not None and path.is_file():
            for text_id, text in notebook_free_text(path, assignment).items():
                written.setdefault(text_id, []).append(text)
    excluded = {}
    for spec in assignment.free_text:
        text_id = str(spec.get("id"))
        words = [str(spec.get(k, "")) for k in ("prompt", "placeholder")] + written.get(text_id, [])
        excluded[text_id] = set().union(*(phrases(w) for w in [*words, "Write your answer here."]))
    return excluded


def _code_view(
    stream: TokenStream, cells: list[CodeCell], start: int, stop: int
) -> tuple[int, str | None, list[SourceLine]]:
    """The lines of one side of a region, with a little context, and the region's lines marked."""
    stop = min(stop, len(stream)) - 1
    cell = cells[int(stream.cell[start])]
    first, last = int(stream.first_line[start]), int(stream.last_line[stop])
    lines = cell.source.split("\n")
    low, high = max(1, first - CONTEXT_LINES), min(len(lines), last + CONTEXT_LINES)
    shown = [SourceLine(n, lines[n - 1], first <= n <= last) for n in range(low, high + 1)]
    return cell.index, cell.part, shown


class ClassComparison:
    """The indexes over one class, built once; ``pair`` weighs one pair."""

    def __init__(
        self,
        works: list[Work],
        assignment: Assignment | None,
        *,
        expected: dict[str, Any] | None,
        data_dir: Path | None,
        starters: list[Path] | None = None,
    ) -> None:
        self.works = works
        self.n = len(works)
        self.pairs_in_class = self.n * (self.n - 1) // 2
        self.boilerplate_min = boilerplate_threshold(self.n)
        self.notes: list[str] = []
        given, reference = _instructor_cells(assignment, list(starters or []))
        keep = imported_names([c.source for c in given + reference])
        given_sources = {c.source for c in given + reference}
        self.streams: list[TokenStream] = []
        self.cells: list[list[CodeCell]] = []  # each submission's code cells, the instructor's left out
        prints: list[fp.Fingerprints] = []
        for work in works:
            own_cells = [c for c in work.cells if c.source not in given_sources]
            self.cells.append(own_cells)
            stream = token_stream(own_cells, keep)
            self.streams.append(stream)
            prints.append(fp.fingerprint(stream))
        given_hashes = fp.instructor_hashes([token_stream(given, keep)])
        reference_hashes = np.setdiff1d(fp.instructor_hashes([token_stream(reference, keep)]), given_hashes)
        self.reference_share = [
            self._share(p.hashes, given_hashes, reference_hashes) if len(reference_hashes) else None
            for p in prints
        ]
        self.code = fp.build_index(
            [w.id for w in works], prints, np.union1d(given_hashes, reference_hashes), self.boilerplate_min
        )
        self.distinct = [fp.distinct(p.hashes) for p in self.code.prints]
        calibrated = calibrated_answers(assignment, expected) if assignment else {}
        if assignment and not calibrated:
            self.notes.append("no calibrated numbers (expected.json missing or without seed spreads)")
        self.numbers = NumberTable(works, calibrated)
        self.errors: list[ErrorTable] = []
        if assignment and data_dir is not None:
            targets, label_notes = prediction_targets(assignment, data_dir)
            self.notes.extend(label_notes)
            common = reference_predictions(assignment, data_dir) if targets else CommonSources()
            self.notes.extend(common.notes)
            if common.seeds:
                self.notes.append(
                    f"mistakes the reference notebook makes (stored runs, seeds {', '.join(common.seeds)}) "
                    "are left out of the shared errors: students who ran the instructor's code share them"
                )
            self.errors = [ErrorTable(works, t, common.predictions.get((t.model, t.input))) for t in targets]
        self.text = TextIndex(works, _instructor_phrases(assignment), self.boilerplate_min)

    @staticmethod
    def _share(hashes: np.ndarray, given: np.ndarray, reference: np.ndarray) -> float:
        own = hashes[~fp.contains(given, hashes)]
        return float(fp.contains(reference, own).mean()) if len(own) else 0.0

    def candidates(self) -> set[tuple[int, int]]:
        found = set()
        for (a, b), shared in self.code.shared_counts.items():
            code = CodeMatch(shared=shared, a_prints=len(self.distinct[a]), b_prints=len(self.distinct[b]))
            if shared >= MIN_SHARED_PRINTS and code.strength >= MIN_CODE_STRENGTH:
                found.add((a, b))
        found |= self.numbers.candidates(self.boilerplate_min)
        for table in self.errors:
            found |= table.screen()
        found |= self.text.candidates()
        return found

    def compare(self, pairs: list[tuple[int, int]]) -> list[PairReport]:
        """Every pair's figures, each kind of evidence computed for all pairs at once."""
        first = np.asarray([a for a, _ in pairs], dtype=np.int64)
        second = np.asarray([b for _, b in pairs], dtype=np.int64)
        numbers = self.numbers.compare_many(first, second)
        errors = [table.compare_many(first, second) for table in self.errors]
        texts = self.text.compare_many(first, second)
        reports = []
        for i, (a, b) in enumerate(pairs):
            shared = self.code.shared_counts.get((a, b), 0)
            reports.append(
                PairReport(
                    a=self.works[a].id,
                    b=self.works[b].id,
                    a_student=self.works[a].student,
                    b_student=self.works[b].student,
                    code=CodeMatch(
                        shared=shared, a_prints=len(self.distinct[a]), b_prints=len(self.distinct[b])
                    ),
                    numbers=numbers[i],
                    errors=[m for m in (found[i] for found in errors) if m is not None],
                    text=texts[i],
                    pairs_in_class=self.pairs_in_class,
                )
            )
        return reports

    def pair(self, a: int, b: int) -> PairReport:
        return self.compare([(a, b)])[0]

    def add_details(self, report: PairReport, a: int, b: int) -> None:
        """Work out what the page shows of a pair: the longest matching regions side by side, the
        marked written answers, some shared errors."""
        regions = fp.matching_regions(
            self.code.prints[a], self.code.prints[b], self.streams[a].cell, self.streams[b].cell
        )
        report.code.longest = regions[0].tokens if regions else 0
        for region in regions[:REGIONS_SHOWN]:
            a_cell, a_part, a_lines = _code_view(
                self.streams[a], self.cells[a], region.a_start, region.a_stop
            )
            b_cell, b_part, b_lines = _code_view(
                self.streams[b], self.cells[b], region.b_start, region.b_stop
            )
            report.code.regions.append(
                RegionView(region.tokens, a_cell, a_part, a_lines, b_cell, b_part, b_lines)
            )
        report.numbers.matches = self.numbers.compare(a, b).matches
        self.text.mark(report.text, a, b)
        tables = {(t.target.model, t.target.input): t for t in self.errors}
        for match in report.errors:
            tables[(match.model, match.input)].add_examples(match, a, b)

    def submission_rows(self) -> list[SubmissionRow]:
        return [
            SubmissionRow(
                id=w.id,
                student=w.student,
                own_prints=len(self.distinct[i]),
                instructor_prints=self.code.prints[i].excluded_instructor,
                boilerplate_prints=self.code.prints[i].excluded_boilerplate,
                reference_share=self.reference_share[i],
                notes=list(w.notes),
            )
            for i, w in enumerate(self.works)
        ]


def compare_class(
    works: list[Work],
    assignment: Assignment | None,
    *,
    expected: dict[str, Any] | None = None,
    data_dir: Path | None = None,
    starters: list[Path] | None = None,
    title: str = "",
) -> SimilarityReport:
    """Rank every candidate pair of ``works`` by its combined score (highest first)."""
    started = time.perf_counter()
    comparison = ClassComparison(works, assignment, expected=expected, data_dir=data_dir, starters=starters)
    candidates = sorted(comparison.candidates())
    ranked = sorted(
        zip(comparison.compare(candidates), candidates, strict=True),
        key=lambda item: (-item[0].score, item[0].results_chance, item[0].a, item[0].b),
    )
    below = 0
    for report, (a, b) in ranked:
        if not report.above_line:
            below += 1
            if below > SHOWN_BELOW_LINE:
                break
        comparison.add_details(report, a, b)
    return SimilarityReport(
        title=title or (assignment.rubric.get("title", assignment.name) if assignment else "Assignment"),
        n=len(works),
        pairs_in_class=comparison.pairs_in_class,
        boilerplate_min=comparison.boilerplate_min,
        pairs=[report for report, _ in ranked],
        submissions=comparison.submission_rows(),
        candidates=len(candidates),
        notes=comparison.notes,
        seconds=time.perf_counter() - started,
    )


__all__ = ["LOOK_LINE", "ClassComparison", "SimilarityReport", "compare_class"]
