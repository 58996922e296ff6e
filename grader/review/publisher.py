"""Publishing from the marking app: feedback, summary and exports re-rendered in the background.

Marks are saved in the store at once; the files students and gradebooks get (feedback/, grades.csv,
canvas.csv, gradescope/) are re-rendered by the one publish path, ``grader.publish``, when
a marker asks (the Publish button, key P), and when the server stops. Rendering a class takes
seconds, so it runs in one background thread; a request while it runs queues exactly one more run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class PublishState:
    running: bool
    published_at: str
    error: str
    unpublished: int  # decisions the saved results do not show yet


class Publisher:
    def __init__(self, out_dir: Path, *, render: Callable[[], Any], unpublished: Callable[[], int]) -> None:
        self.out_dir = Path(out_dir)
        self._render = render
        self._unpublished = unpublished
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._published_at = ""
        self._error = ""
        self._thread: threading.Thread | None = None

    def state(self) -> PublishState:
        unpublished = self._unpublished()
        with self._lock:
            return PublishState(self._running or self._again, self._published_at, self._error, unpublished)

    def request(self) -> None:
        """Publish soon: now, or once more after the run in progress."""
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
            self._thread = threading.Thread(target=self._loop, name="grader-review-publish", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self._render()
                error = ""
            except Exception as exc:  # shown on the page; the marks themselves are safe in the store
                error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._error = error
                if not error:
                    self._published_at = time.strftime("%H:%M:%S")
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def publish_now(self) -> None:
        """Publish in the calling thread (at shutdown), after any background run finishes."""
        thread = self._thread
        if thread is not None:
            thread.join()
        self._render()
