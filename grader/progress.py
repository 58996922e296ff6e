"""A tqdm progress bar for batch grading, with live counts by outcome and the workers' state.

The bar counts finished submissions (ETA from tqdm); the postfix shows how many were graded,
failed (the grader could not grade them) and timed out, so an instructor sees trouble early.
A second line lists the workers and what each is running, for how long; a worker that leaves
or joins (a killed SLURM job, its replacement) gets a line of its own, with or without the bar.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from grader.worker_health import WorkerActivity

FAILED = frozenset({"error", "sandbox_error", "invalid_notebook"})


class WorkerBoard:
    """Turns successive worker views into a status line and notes about workers coming and going."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._names: set[str] | None = None  # None until the first view
        self._since: dict[str, float] = {}  # submission -> when it was first seen running

    def update(self, view: list[WorkerActivity]) -> tuple[str, list[str]]:
        """The status line for ``view`` and the notes it calls for (workers that left or joined)."""
        now = self._clock()
        names = {worker.name for worker in view}
        notes: list[str] = []
        if self._names is not None:
            for name in sorted(self._names - names):
                notes.append(f"worker {name} left; {len(names)} worker(s) now")
            for name in sorted(names - self._names):
                notes.append(f"worker {name} joined; {len(names)} worker(s) now")
        self._names = names
        running = {label for worker in view for label in worker.running}
        self._since = {label: self._since.get(label, now) for label in running}
        parts = []
        for worker in view:
            tasks = ", ".join(f"{label} {now - self._since[label]:.0f}s" for label in worker.running)
            parts.append(f"{worker.name}: {tasks or 'idle'}")
        line = f"{len(view)} worker(s)" + ("".join(f" | {part}" for part in parts))
        return line, notes


class BatchProgress:
    """Counts outcomes; draws a bar on stderr when ``enabled``."""

    def __init__(self, total: int, *, enabled: bool = True, skipped: int = 0) -> None:
        self.counts: Counter[str] = Counter()
        self._bar: Any = None
        self._status: Any = None  # the second line: the workers
        self._board = WorkerBoard()
        self.workers_line = ""
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True)
            self._status = tqdm(total=0, position=1, bar_format="{desc}", file=sys.stderr, leave=False)
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

    def workers(self, view: list[WorkerActivity]) -> None:
        """Show the workers and what each runs; note the ones that left or joined since last time."""
        line, notes = self._board.update(view)
        for message in notes:
            self.note(message)
        self.workers_line = line
        if self._status is not None:
            width = shutil.get_terminal_size((120, 20)).columns - 1
            self._status.set_description_str(line if len(line) <= width else line[: width - 3] + "...")

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
        if self._status is not None:
            self._status.close()
        if self._bar is not None:
            self._bar.close()
