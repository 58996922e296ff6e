"""Run a notebook's code cells one by one: outcomes, replay after restarts, limits, watchdog.

One bad cell costs only itself: a cell that overruns its timeout is interrupted by message and,
if it ignores that, the kernel is restarted; a dead kernel is restarted too; after a restart
the cells that had succeeded before are replayed so later parts still see their variables. A
watchdog kills the whole sandbox when the notebook's wall-clock budget is spent. Every code
cell gets a ``CellRecord``; every limit that fired goes to the run's ``LimitLog``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from grader import notebook_parts
from grader.engine import figures
from grader.engine.record import LimitLog
from grader.engine.session import TIMEOUT_ENAME, KernelSession
from grader.engine.telemetry import MemorySampler
from grader.limits import Limits
from grader.records import CellRecord
from grader.sandbox.base import Sandbox

log = logging.getLogger(__name__)

MAX_RESTARTS = 3
TRACEBACK_CHARS = 20_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class RunState:
    """What happened to the kernel so far."""

    cells: list[CellRecord] = field(default_factory=list)
    restarts: int = 0
    watchdog_fired: bool = False
    kernel_dead: bool = False


class CellRunner:
    """One notebook, one sandbox, one kernel session (restarted as needed)."""

    def __init__(
        self,
        nb: NotebookNode,
        part_of: list[str | None],
        sandbox: Sandbox,
        limits: Limits,
        workdir: Path,
        ipc_dir: Path,
        limits_log: LimitLog,
    ) -> None:
        self.nb = nb
        self.part_of = part_of
        self.sandbox = sandbox
        self.limits = limits
        self.limits_log = limits_log
        self.state = RunState()
        self.sampler = MemorySampler()
        self.session = KernelSession(nb, sandbox, limits, workdir, ipc_dir, self._on_cell_error)
        self.deadline = 0.0
        self._reply: dict[str, Any] | None = None

    @property
    def kernel_usable(self) -> bool:
        """Whether the kernel is still there for the harvest after the cells."""
        return not self.state.watchdog_fired and not self.state.kernel_dead

    # -- kernel life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self.session.start()
        self.sampler.watch(self.session.kernel_pid)

    async def restart(self) -> None:
        self.state.restarts += 1
        await self.session.restart()
        self.sampler.watch(self.session.kernel_pid)

    def _on_cell_error(self, cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self._reply = execute_reply.get("content", {})

    # -- cells ----------------------------------------------------------------------------------
    async def execute_one(self, index: int) -> dict[str, Any]:
        """Run cell ``index``; returns {"status", "error"?, "message"?} (never raises)."""
        client = self.session.client
        cell = self.nb.cells[index]
        self._reply = None
        client.begin_cell()
        try:
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except DeadKernelError:
            if self.state.watchdog_fired:
                return {"status": "timeout", "message": "stopped by the notebook's wall-clock limit"}
            return {"status": "kernel_died", "message": "the kernel died while running this cell"}
        except Exception as exc:  # nbclient/zmq failure on our side: record it, keep going
            return {
                "status": "error",
                "message": f"grader could not run this cell: {type(exc).__name__}: {exc}",
            }
        reply = self._reply
        if reply is None:
            return {"status": "ok"}
        error = {
            "ename": str(reply.get("ename", ""))[:200],
            "evalue": str(reply.get("evalue", ""))[:2000],
            "traceback": _ANSI.sub("", "\n".join(str(x) for x in reply.get("traceback") or []))[
                :TRACEBACK_CHARS
            ],
        }
        if error["ename"] == TIMEOUT_ENAME:
            cell.outputs.append(
                nbformat.v4.new_output("error", ename=TIMEOUT_ENAME, evalue=error["evalue"], traceback=[])
            )
            return {"status": "timeout", "error": error, "message": error["evalue"]}
        return {"status": "error", "error": error}

    def _not_run(self, index: int, reason: str | None) -> CellRecord:
        entry: CellRecord = {
            "index": index,
            "cell_type": "code",
            "part": self.part_of[index],
            "status": "ok",
            "wall_s": 0.0,
            "peak_rss_mb": 0.0,
            "figures": 0,
            "output_bytes": 0,
        }
        if reason is not None:
            entry["status"] = "skipped"
            entry["message"] = f"not run: {reason}"
        return entry

    async def run_cells(self) -> None:
        code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        done_ok: list[int] = []
        for index in code_cells:
            cell = self.nb.cells[index]
            if not cell.source.strip():
                self.state.cells.append(self._not_run(index, None))
                continue
            if not self.kernel_usable:
                reason = (
                    "the notebook's wall-clock limit was reached"
                    if self.state.watchdog_fired
                    else "the kernel could not be restarted"
                )
                self.state.cells.append(self._not_run(index, reason))
                continue
            self.sampler.reset_window()
            started = time.perf_counter()
            outcome = await self.execute_one(index)
            entry = self._not_run(index, None)
            entry["wall_s"] = round(time.perf_counter() - started, 3)
            entry["peak_rss_mb"] = round(self.sampler.reset_window(), 1)
            entry.update(outcome)  # type: ignore[typeddict-item]
            entry["figures"] = notebook_parts.count_figures(cell)
            entry["plots"] = figures.take_summaries(cell)
            entry["output_bytes"] = self.session.client.cell_bytes
            await self._check_output(index, entry)
            self._classify_limits(index, entry)
            self.state.cells.append(entry)

            if self.limits_log.has("processes", index):
                # leftover processes hold the process budget: start afresh so later cells can run
                fired = next(
                    f for f in self.limits_log.fired if f["limit"] == "processes" and f["cell"] == index
                )
                entry["message"] = fired["message"] + "; the kernel was restarted to clear its processes"
                await self.recover(entry, done_ok)
                continue
            if entry["status"] in ("ok", "output_truncated", "error"):
                if entry["status"] != "error":
                    done_ok.append(index)
                continue
            if self.state.watchdog_fired:
                continue
            if entry["status"] == "timeout" and await self.session.alive_and_idle():
                continue  # the interrupt worked; the kernel's state is intact
            await self.recover(entry, done_ok)

    async def _check_output(self, index: int, entry: CellRecord) -> None:
        """Record the output cap firing: too many bytes, or a message ZMQ refused as too large."""
        client = self.session.client
        if client.cell_truncated:
            self.limits_log.fire(
                "output_cap", index, f"output passed {self.limits.output_bytes} bytes; the rest was dropped"
            )
        elif not client.cell_idle_seen and entry["status"] in ("ok", "error"):
            # IOPub lost messages. Either one was over the ZMQ size limit (the kernel still
            # answers: reconnect the channels) or the cell broke the kernel's own messaging
            # (it answers nothing: treat it as dead, so it is restarted and replayed).
            if await self.session.alive_and_idle() and await self.session.reconnect():
                self.limits_log.fire(
                    "output_cap",
                    index,
                    f"an output message over {self.session.max_message_bytes} bytes was refused; "
                    "the cell's output is incomplete",
                )
            else:
                entry["status"] = "kernel_died"
                entry["message"] = "the kernel stopped answering after this cell (its messaging was broken)"
                return
        else:
            return
        if entry["status"] == "ok":
            entry["status"] = "output_truncated"

    async def recover(self, entry: CellRecord, done_ok: list[int]) -> None:
        """Restart the kernel and replay the cells that had succeeded, so later parts can run."""
        if self.state.restarts >= MAX_RESTARTS:
            self.state.kernel_dead = True
            entry["message"] = (entry.get("message", "") + f"; no restart left ({MAX_RESTARTS} used)").lstrip(
                "; "
            )
            return
        try:
            await self.restart()
        except Exception as exc:
            self.state.kernel_dead = True
            entry["message"] = (
                f"{entry.get('message', '')}; restart failed: {type(exc).__name__}: {exc}".lstrip("; ")
            )
            return
        entry["restarted"] = True
        by_index = {e["index"]: e for e in self.state.cells}
        for index in done_ok:
            if self.state.watchdog_fired:
                return
            original = self.nb.cells[index]
            self.nb.cells[index] = copy.deepcopy(original)
            self.session.client.begin_cell()
            outcome = await self.execute_one(index)
            self.nb.cells[index] = original
            replayed = by_index[index]
            replayed["replays"] = replayed.get("replays", 0) + 1
            if outcome["status"] != "ok":
                replayed["replay_status"] = outcome["status"]
                if outcome["status"] in ("kernel_died", "timeout"):
                    # replaying broke the kernel again: stop replaying, later cells get a fresh kernel
                    if not await self.session.alive_and_idle():
                        await self.recover(entry, [])
                    return

    def _classify_limits(self, index: int, entry: CellRecord) -> None:
        """Name the limit behind a failed cell, from the error it raised or how it ended."""
        status = entry["status"]
        error = entry.get("error")
        ename, evalue = (error["ename"], error["evalue"]) if error else ("", "")
        if status == "timeout":
            if self.state.watchdog_fired:
                self.limits_log.name_cell("notebook_timeout", index)
            else:
                self.limits_log.fire(
                    "cell_timeout", index, f"the cell passed its {self.limits.cell_timeout:g} s limit"
                )
        elif ename == "MemoryError" or (status == "kernel_died" and self._near_memory_limit(entry)):
            self.limits_log.fire(
                "memory", index, f"the cell hit the {self.limits.memory_mb} MiB memory limit"
            )
        elif "[Errno 11]" in evalue and ename in ("BlockingIOError", "OSError", "RuntimeError"):
            self.limits_log.fire(
                "processes", index, f"the cell hit the {self.limits.max_processes}-process limit"
            )
        elif "[Errno 27]" in evalue or "File too large" in evalue or "[Errno 28]" in evalue:
            self.limits_log.fire("file_size", index, "the cell hit the file-size or disk-space limit")

    def _near_memory_limit(self, entry: CellRecord) -> bool:
        """Did this dead kernel die of memory? The backend's cgroup says so where it has one
        (OOM kills); otherwise a peak close to the limit is the best evidence there is."""
        try:
            if any(f.get("limit") == "memory" for f in self.sandbox.limits_fired() if isinstance(f, dict)):
                return True
        except Exception as exc:
            log.debug("sandbox limits_fired: %s", exc)
        peak = max(entry.get("peak_rss_mb", 0.0), self.sandbox.peak_memory_mb() or 0.0)
        return peak >= 0.8 * self.limits.memory_mb

    async def watchdog(self) -> None:
        await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
        self.state.watchdog_fired = True
        self.limits_log.fire(
            "notebook_timeout",
            None,
            f"the notebook passed its {self.limits.notebook_timeout:g} s limit; the sandbox was killed",
        )
        await asyncio.to_thread(self.sandbox.kill_all)
