"""A tqdm progress bar for batch grading, with live counts by outcome.

The bar counts finished submissions (ETA from tqdm); the postfix shows how many were graded,
failed (the grader could not grade them) and timed out, so an instructor sees trouble early.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

FAILED = frozenset({"error", "sandbox_error", "invalid_notebook"})


class BatchProgress:
    """Counts outcomes; draws a bar on stderr when ``enabled``."""

    def __init__(self, total: int, *, enabled: bool = True, skipped: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True)
            if skipped:
                self._bar.write(
                    f"{skipped} submission(s) unchanged since the last run: skipped (--force regrades)",
                    file=sys.stderr,
                )
            self._refresh()

    def done(self, document: dict[str, Any]) -> None:
        """Record one finished submission."""
        self.counts[str(document.get("status"))] += 1
        if self._bar is not None:
            self._bar.update(1)
            self._refresh()

    def note(self, message: str) -> None:
        """A line above the bar (or on stderr without one)."""
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    @property
    def graded(self) -> int:
        return self.counts["graded"]

    @property
    def timed_out(self) -> int:
        return self.counts["timeout"]

    @property
    def failed(self) -> int:
        return sum(n for status, n in self.counts.items() if status in FAILED)

    def _refresh(self) -> None:
        self._bar.set_postfix(graded=self.graded, failed=self.failed, timeout=self.timed_out, refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
