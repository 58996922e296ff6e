"""Memory telemetry of a sandboxed kernel, sampled from outside the sandbox.

The sandbox's own process tree is walked through /proc (psutil where /proc lacks the children
files), so the numbers do not depend on anything the student's code can change.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import psutil

_PAGE = os.sysconf("SC_PAGE_SIZE")
_PROC_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def _tree_rss_bytes(pid: int) -> int | None:
    """RSS of ``pid`` and its descendants, walking /proc/<pid>/task/*/children.

    Much cheaper than psutil's children(), which scans every process on the machine: the
    sampler runs all through the notebook, and on a busy grading machine that matters.
    RSS is summed, so pages shared between forked processes count more than once.
    """
    total, stack, seen = 0, [pid], set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm", "rb") as handle:
                total += int(handle.read().split()[1]) * _PAGE
            for tid in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{tid}/children", "rb") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, IndexError):
            if current == pid:
                return None
    return total


def _tree_rss_bytes_psutil(pid: int) -> int | None:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


class MemorySampler:
    """Samples the RSS of the sandbox's process tree from outside, in a thread.

    ``window_peak`` is the peak since the last ``reset_window`` (one cell); ``peak`` the run's.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0.0
        self.window_peak = 0.0
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def watch(self, pid: int | None) -> None:
        self._pid = pid

    def reset_window(self) -> float:
        self.sample()
        value, self.window_peak = self.window_peak, 0.0
        return value

    def sample(self) -> None:
        pid = self._pid
        if pid is None:
            return
        total = _tree_rss_bytes(pid) if _PROC_CHILDREN else _tree_rss_bytes_psutil(pid)
        if total is None:
            return
        mb = total / (1024 * 1024)
        self.window_peak = max(self.window_peak, mb)
        self.peak = max(self.peak, mb)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
