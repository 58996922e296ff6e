"""Execute one student notebook in a sandbox and harvest its answers: ``run_notebook``.

nbclient drives the cells from outside; the kernel runs inside the sandbox (see
``grader.kernel_manager``). One bad cell costs only itself: a cell that overruns its timeout is
interrupted by message and, if it ignores that, the kernel is restarted; a dead kernel is
restarted too; after a restart the cells that had succeeded before are replayed so later parts
still see their variables. A watchdog kills the whole sandbox when the notebook's wall-clock
budget is spent. Every code cell gets an outcome, a wall time and a peak memory; every limit
that fired is listed. Nothing a student does makes this function raise.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from grader import harvest as harvest_mod
from grader import notebook_parts
from grader.results import write_json_atomic
from grader.sandbox.base import SANDBOX_HOME, Limits, Sandbox, SandboxConfig

__all__ = ["Limits", "run_notebook", "RUN_SCHEMA_VERSION"]

log = logging.getLogger(__name__)

RUN_SCHEMA_VERSION = 1
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_RESTARTS = 3
INTERRUPT_GRACE_S = 3.0
PROBE_TIMEOUT_S = 3.0
STARTUP_TIMEOUT_S = 60
TRACEBACK_CHARS = 20_000
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
DEFAULT_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
TIMEOUT_ENAME = "CellTimeoutError"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class InvalidNotebook(Exception):
    """The file is not a notebook we can run; the message says why."""


# ----------------------------------------------------------------------------------------------
# notebook loading


def load_notebook(path: Path) -> NotebookNode:
    """Read and check a notebook: JSON, nbformat 4, at least one cell. Outputs are cleared
    (outputs the student saved must not count as figures the grader saw)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidNotebook(f"cannot read {path.name}: {exc.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"{path.name} is {size} bytes, over the {MAX_NOTEBOOK_BYTES}-byte limit")
    try:
        text = path.read_bytes().decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidNotebook(f"{path.name} is not a JSON notebook ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise InvalidNotebook(f"{path.name} is JSON but not a Jupyter notebook")
    major = raw.get("nbformat")
    if major != 4:
        raise InvalidNotebook(
            f"{path.name} is nbformat {major}; only nbformat 4 notebooks (Jupyter 4 or later) are supported"
        )
    try:
        nb = nbformat.reads(text, as_version=4)  # joins multi-line sources, fills cell ids
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds; all mean "not a valid notebook"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidNotebook(f"{path.name} is not a valid nbformat 4 notebook: {first[:300]}") from None
    if not nb.cells:
        raise InvalidNotebook(f"{path.name} has no cells")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


# ----------------------------------------------------------------------------------------------
# telemetry


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


# ----------------------------------------------------------------------------------------------
# the nbclient subclass: output cap


class GradingClient(NotebookClient):
    """nbclient's NotebookClient with an output cap (bytes per cell) on everything it keeps.

    nbclient has no output-size limit, so ``output`` (its documented per-message handler) is
    extended: past the cap, messages are counted and dropped and one notice is kept instead.
    """

    def __init__(self, nb: NotebookNode, km: Any, *, output_cap: int, **kw: Any) -> None:
        super().__init__(nb, km=km, **kw)
        self.output_cap = output_cap
        self.begin_cell()

    def begin_cell(self) -> None:
        self.cell_bytes = 0
        self.cell_kept = 0
        self.cell_truncated = False
        self.cell_idle_seen = False

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        # The kernel's "idle" closes every request; if it never arrives while the shell reply
        # does, IOPub messages were lost, which here means one was over the ZMQ size limit.
        if msg.get("msg_type") == "status" and msg.get("content", {}).get("execution_state") == "idle":
            self.cell_idle_seen = True
        if msg.get("msg_type") == "update_display_data":
            # updates replace an earlier output's data without passing through output(): cap them here
            size = _message_size(msg.get("content", {}))
            self.cell_bytes += size
            if size > self.output_cap:
                self.cell_truncated = True
                return None
        return super().process_message(msg, cell, cell_index)

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = _message_size(msg.get("content", {}))
        self.cell_bytes += size
        if self.cell_kept + size <= self.output_cap:
            self.cell_kept += size
            return super().output(outs, msg, display_id, cell_index)
        if not self.cell_truncated:
            self.cell_truncated = True
            room = self.output_cap - self.cell_kept
            content = msg.get("content", {})
            if msg.get("msg_type") == "stream" and room > 0 and isinstance(content.get("text"), str):
                outs.append(
                    nbformat.v4.new_output(
                        "stream", name=content.get("name", "stdout"), text=content["text"][:room]
                    )
                )
            outs.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stderr",
                    text=f"\n[grader: output truncated: this cell's output passed the {self.output_cap}-byte limit]\n",
                )
            )
        return None


def _message_size(content: dict[str, Any]) -> int:
    """Approximate bytes of one output message (text, data of every mime type, traceback)."""
    size = 0
    text = content.get("text")
    if isinstance(text, str):
        size += len(text)
    data = content.get("data")
    if isinstance(data, dict):
        for value in data.values():
            size += len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    for line in content.get("traceback") or []:
        size += len(line) if isinstance(line, str) else 0
    return size


# ----------------------------------------------------------------------------------------------
# the run


@dataclass
class _RunState:
    cells: list[dict[str, Any]] = field(default_factory=list)
    limits_fired: list[dict[str, Any]] = field(default_factory=list)
    restarts: int = 0
    watchdog_fired: bool = False
    kernel_dead: bool = False


class _Runner:
    """One notebook, one sandbox, one kernel (restarted as needed)."""

    def __init__(
        self,
        nb: NotebookNode,
        part_of: list[str | None],
        sandbox: Sandbox,
        limits: Limits,
        workdir: Path,
        ipc_dir: Path,
    ) -> None:
        self.nb = nb
        self.part_of = part_of
        self.sandbox = sandbox
        self.limits = limits
        self.workdir = workdir
        self.ipc_dir = ipc_dir
        self.state = _RunState()
        self.sampler = MemorySampler()
        self._reply: dict[str, Any] | None = None
        self.km: Any = None
        self.client: GradingClient | None = None
        self.deadline = 0.0
        # one IOPub message larger than this is refused by ZMQ itself (never parsed in memory)
        self.max_message_bytes = max(MAX_MESSAGE_BYTES, 8 * limits.output_bytes)
        self.sandbox_peak_mb: float | None = None
        self.sandbox_limits: list[dict[str, Any]] = []

    # -- kernel lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        from grader.kernel_manager import SandboxKernelManager

        self.km = SandboxKernelManager(
            sandbox=self.sandbox,
            ipc_dir=self.ipc_dir,
            workdir=self.workdir,
            max_message_bytes=self.max_message_bytes,
        )
        self.client = GradingClient(
            self.nb,
            self.km,
            output_cap=self.limits.output_bytes,
            timeout=max(1, int(round(self.limits.cell_timeout))),
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": TIMEOUT_ENAME,
                "evalue": f"the cell ran past its {self.limits.cell_timeout:g} s limit and was stopped",
                "traceback": [],
            },
            iopub_timeout=int(INTERRUPT_GRACE_S),
            raise_on_iopub_timeout=False,
            allow_errors=True,
            startup_timeout=STARTUP_TIMEOUT_S,
            record_timing=False,
            kernel_name="ml-autograder-sandbox",
            on_cell_error=self._on_cell_error,
        )
        await self.km.start_kernel(cwd=str(self.workdir))
        self.sampler.watch(self.km.kernel_pid)
        await self.client.async_start_new_kernel_client()

    async def restart(self) -> None:
        assert self.km is not None and self.client is not None
        self.state.restarts += 1
        if self.client.kc is not None:
            self.client.kc.stop_channels()
            self.client.kc = None
        await self.km.restart_kernel(now=True)
        self.sampler.watch(self.km.kernel_pid)
        await self.client.async_start_new_kernel_client()

    async def stop(self) -> None:
        if self.client is not None and self.client.kc is not None:
            self.client.kc.stop_channels()
        if self.km is not None:
            try:
                await asyncio.wait_for(self.km.shutdown_kernel(now=True), timeout=10)
            except Exception as exc:  # the kernel may be long gone; kill_all follows anyway
                log.debug("kernel shutdown: %s", exc)
            self.km.close_context()

    async def alive_and_idle(self) -> bool:
        """True when the kernel answers a kernel_info request soon (it is not stuck in a cell)."""
        assert self.client is not None and self.client.kc is not None
        if not await self.km.is_alive():
            return False
        kc = self.client.kc
        msg_id = kc.kernel_info()
        end = time.monotonic() + PROBE_TIMEOUT_S
        while (left := end - time.monotonic()) > 0:
            try:
                msg = await kc.shell_channel.get_msg(timeout=left)
            except Exception:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    # -- hooks ------------------------------------------------------------------------------
    def _on_cell_error(self, cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
        self._reply = execute_reply.get("content", {})

    # -- cells ------------------------------------------------------------------------------
    async def execute_one(self, index: int) -> dict[str, Any]:
        """Run cell ``index``; returns {"status", "error"?, "message"?} (never raises)."""
        assert self.client is not None
        cell = self.nb.cells[index]
        self._reply = None
        self.client.begin_cell()
        try:
            await self.client.async_execute_cell(
                cell, index, execution_count=self.client.code_cells_executed + 1
            )
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

    async def run_cells(self) -> None:
        code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        done_ok: list[int] = []
        for index in code_cells:
            entry: dict[str, Any] = {"index": index, "cell_type": "code", "part": self.part_of[index]}
            cell = self.nb.cells[index]
            if not cell.source.strip():
                entry.update(status="ok", wall_s=0.0, peak_rss_mb=0.0, figures=0, output_bytes=0)
                self.state.cells.append(entry)
                continue
            if self.state.watchdog_fired or self.state.kernel_dead:
                reason = (
                    "the notebook's wall-clock limit was reached"
                    if self.state.watchdog_fired
                    else "the kernel could not be restarted"
                )
                entry.update(
                    status="skipped",
                    message=f"not run: {reason}",
                    wall_s=0.0,
                    peak_rss_mb=0.0,
                    figures=0,
                    output_bytes=0,
                )
                self.state.cells.append(entry)
                continue
            self.sampler.reset_window()
            started = time.perf_counter()
            outcome = await self.execute_one(index)
            entry["wall_s"] = round(time.perf_counter() - started, 3)
            entry["peak_rss_mb"] = round(self.sampler.reset_window(), 1)
            entry.update(outcome)
            entry["figures"] = notebook_parts.count_figures(cell)
            entry["output_bytes"] = self.client.cell_bytes if self.client else 0
            await self._check_output(index, entry)
            self._classify_limits(index, entry)
            self.state.cells.append(entry)

            if fired_here := [
                f for f in self.state.limits_fired if f.get("cell") == index and f["limit"] == "processes"
            ]:
                # leftover processes hold the process budget: start afresh so later cells can run
                entry["message"] = (
                    fired_here[0]["message"] + "; the kernel was restarted to clear its processes"
                )
                await self.recover(entry, done_ok)
                continue
            if entry["status"] in ("ok", "output_truncated", "error"):
                if entry["status"] != "error":
                    done_ok.append(index)
                continue
            if self.state.watchdog_fired:
                continue
            if entry["status"] == "timeout" and await self.alive_and_idle():
                continue  # the interrupt worked; the kernel's state is intact
            await self.recover(entry, done_ok)

    async def _check_output(self, index: int, entry: dict[str, Any]) -> None:
        """Record the output cap firing: too many bytes, or a message ZMQ refused as too large."""
        client = self.client
        if client is None:
            return
        if client.cell_truncated:
            self._fire(
                "output_cap", index, f"output passed {self.limits.output_bytes} bytes; the rest was dropped"
            )
        elif not client.cell_idle_seen and entry["status"] in ("ok", "error"):
            # IOPub lost messages. Either one was over the ZMQ size limit (the kernel still
            # answers: reconnect the channels) or the cell broke the kernel's own messaging
            # (it answers nothing: treat it as dead, so it is restarted and replayed).
            if await self.alive_and_idle() and await self._reconnect():
                self._fire(
                    "output_cap",
                    index,
                    f"an output message over {self.max_message_bytes} bytes was refused; the cell's output is incomplete",
                )
            else:
                entry["status"] = "kernel_died"
                entry["message"] = "the kernel stopped answering after this cell (its messaging was broken)"
                return
        else:
            return
        if entry["status"] == "ok":
            entry["status"] = "output_truncated"

    async def _reconnect(self) -> bool:
        """New ZMQ channels to the same kernel (ZMQ drops a connection that carried an oversized
        message). False when the kernel does not answer on the new channels either."""
        client = self.client
        assert client is not None
        if client.kc is not None:
            client.kc.stop_channels()
            client.kc = None
        try:
            await client.async_start_new_kernel_client()
        except Exception as exc:
            log.info("reconnecting to the kernel failed: %s", exc)
            return False
        return True

    async def recover(self, entry: dict[str, Any], done_ok: list[int]) -> None:
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
            replay = copy.deepcopy(original)
            self.nb.cells[index] = replay
            self.client.begin_cell()
            outcome = await self.execute_one(index)
            self.nb.cells[index] = original
            record = by_index[index]
            record["replays"] = record.get("replays", 0) + 1
            if outcome["status"] != "ok":
                record["replay_status"] = outcome["status"]
                if outcome["status"] in ("kernel_died", "timeout"):
                    # replaying broke the kernel again: stop replaying, later cells get a fresh kernel
                    if not await self.alive_and_idle():
                        await self.recover(entry, [])
                    return

    def _fire(self, limit: str, cell: int | None, message: str) -> None:
        for fired in self.state.limits_fired:
            if fired["limit"] == limit and fired.get("cell") == cell:
                return
        self.state.limits_fired.append({"limit": limit, "cell": cell, "message": message})

    def _classify_limits(self, index: int, entry: dict[str, Any]) -> None:
        """Name the limit behind a failed cell, from the error it raised or how it ended."""
        status = entry["status"]
        error = entry.get("error") or {}
        ename, evalue = error.get("ename", ""), error.get("evalue", "")
        if status == "timeout":
            if self.state.watchdog_fired:
                for fired in self.state.limits_fired:  # the watchdog's entry: name the cell it hit
                    if fired["limit"] == "notebook_timeout" and fired.get("cell") is None:
                        fired["cell"] = index
            else:
                self._fire("cell_timeout", index, f"the cell passed its {self.limits.cell_timeout:g} s limit")
        elif ename == "MemoryError" or (status == "kernel_died" and self._near_memory_limit(entry)):
            self._fire("memory", index, f"the cell hit the {self.limits.memory_mb} MiB memory limit")
        elif "[Errno 11]" in evalue and ename in ("BlockingIOError", "OSError", "RuntimeError"):
            self._fire("processes", index, f"the cell hit the {self.limits.max_processes}-process limit")
        elif "[Errno 27]" in evalue or "File too large" in evalue or "[Errno 28]" in evalue:
            self._fire("file_size", index, "the cell hit the file-size or disk-space limit")

    def _near_memory_limit(self, entry: dict[str, Any]) -> bool:
        """Did this dead kernel die of memory? The backend's cgroup says so where it has one
        (OOM kills); otherwise a peak close to the limit is the best evidence there is."""
        reported = getattr(self.sandbox, "limits_fired", None)
        if callable(reported):
            try:
                if any(f.get("limit") == "memory" for f in reported() or [] if isinstance(f, dict)):
                    return True
            except Exception as exc:
                log.debug("sandbox limits_fired: %s", exc)
        peak = max(entry.get("peak_rss_mb", 0.0), self.sandbox.peak_memory_mb() or 0.0)
        return peak >= 0.8 * self.limits.memory_mb

    async def watchdog(self) -> None:
        await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
        self.state.watchdog_fired = True
        self._fire(
            "notebook_timeout",
            None,
            f"the notebook passed its {self.limits.notebook_timeout:g} s limit; the sandbox was killed",
        )
        await asyncio.to_thread(self.sandbox.kill_all)


# ----------------------------------------------------------------------------------------------
# harvest (the kernel side is grader/kernel/harvest_kernel.py)


async def _harvest(runner: _Runner, assignment: Any, data_dir: Path, public_only: bool) -> dict[str, Any]:
    limits = runner.limits
    started = time.perf_counter()
    result: dict[str, Any] = {"status": "ok", "message": "", "answers": {}, "predictions": {}}
    inside_home = runner.sandbox.environment().get("HOME", SANDBOX_HOME)
    _make_room(runner.sandbox, assignment, data_dir, limits)
    try:
        plan = harvest_mod.plan_harvest(
            assignment,
            data_dir,
            runner.workdir,
            inside_home,
            public_only=public_only,
            max_items=max(1000, limits.answer_bytes // 4),
            answer_bytes=limits.answer_bytes,
        )
    except (harvest_mod.HarvestError, OSError) as exc:
        result.update(status="failed", message=f"harvest could not start: {exc}")
        result["answers"] = {}
        return result
    deadline = time.monotonic() + limits.harvest_timeout
    problems: list[str] = []
    try:
        for model_id, skipped in plan.skipped.items():
            result["predictions"].setdefault(model_id, {}).update(skipped)
        broken: str | None = None
        for stage in plan.stages:
            if broken is None and time.monotonic() >= deadline:
                broken = "the harvest time limit was used up"
                runner._fire(
                    "harvest_timeout", None, f"harvest passed its {limits.harvest_timeout:g} s limit"
                )
            entry = (
                await _run_stage(runner, plan, stage, deadline)
                if broken is None
                else {"status": "error", "message": f"not run: {broken}"}
            )
            if entry.get("kernel_lost"):
                broken = entry.pop("kernel_lost")
            if stage.name == "answers":
                if entry.get("status") == "ok":
                    result["answers"] = entry["value"]
                else:
                    # no per-answer entries: "missing" means "not defined", which would be wrong here
                    problems.append(f"answers: {entry['message']}")
            else:
                result["predictions"].setdefault(stage.model, {})[stage.input] = entry
                if entry["status"] == "error" and entry.get("message", "").startswith(("not run", "harvest")):
                    problems.append(f"{stage.name}: {entry['message']}")
    finally:
        plan.cleanup()
    if problems:
        answers_failed = any(p.startswith("answers:") for p in problems)
        result["status"] = "failed" if answers_failed else "partial"
        result["message"] = "; ".join(problems)[:2000]
    result["wall_s"] = round(time.perf_counter() - started, 3)
    return result


def _make_room(sandbox: Sandbox, assignment: Any, data_dir: Path, limits: Limits) -> None:
    """Let a size-capped working directory take the harvest's files (every input set it may
    stage, one output file per stage) on top of what the notebook wrote, so a notebook that
    filled it still gets harvested. Before plan_harvest, so the harvest's timing is unchanged.
    Optional for backends (read with getattr)."""
    grow = getattr(sandbox, "make_room", None)
    if not callable(grow):
        return
    per_file = limits.answer_bytes + 64 * 1024  # as plan_harvest sizes each stage's output file
    models = sum(len(spec.get("inputs", [])) for spec in assignment.models.values())
    need = (max(1, len(assignment.answers)) + models) * per_file
    for spec in assignment.inputs.values():
        for key in ("file", "labels"):
            try:
                need += (data_dir / str(spec[key])).stat().st_size if spec.get(key) else 0
            except OSError:
                pass
    try:
        grow(need)
    except Exception as exc:
        log.warning("sandbox make_room: %s", exc)


async def _run_stage(
    runner: _Runner, plan: harvest_mod.HarvestPlan, stage: harvest_mod.Stage, deadline: float
) -> dict[str, Any]:
    """Send one harvest request, wait for it within the budget, read and validate its file."""
    kc = runner.client.kc if runner.client else None
    if kc is None or not await runner.km.is_alive():
        return {
            "status": "error",
            "message": "not run: the kernel is not running",
            "kernel_lost": "the kernel is not running",
        }
    try:
        plan.prepare(stage)  # copy its input set in now, not earlier
    except (harvest_mod.HarvestError, OSError) as exc:
        return {"status": "error", "message": f"harvest: could not stage the input set: {exc}"}
    msg_id = kc.execute(
        harvest_mod.kernel_code(stage.config), silent=True, store_history=False, stop_on_error=False
    )
    reply = None
    while reply is None:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            msg = await kc.shell_channel.get_msg(timeout=min(left, 1.0))
        except Exception:
            if not await runner.km.is_alive():
                return {
                    "status": "error",
                    "message": "harvest: the kernel died",
                    "kernel_lost": "the kernel died during the harvest",
                }
            await _drain_iopub(kc)
            continue
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            reply = msg
    await _drain_iopub(kc)
    if reply is None:
        runner._fire(
            "harvest_timeout",
            None,
            f"harvest stage {stage.name} passed the {runner.limits.harvest_timeout:g} s limit",
        )
        await runner.km.interrupt_kernel()
        if not await runner.alive_and_idle():
            return {
                "status": "error",
                "message": "harvest: timed out",
                "kernel_lost": f"{stage.name} never returned",
            }
        return {"status": "error", "message": "harvest: timed out (interrupted)"}
    if reply["content"].get("status") != "ok":
        # the exception's name is the student's to choose: never echo it for a hidden input set
        ename = "withheld" if stage.hidden else str(reply["content"].get("ename", "error"))[:100]
        return {"status": "error", "message": f"harvest: the harvest code failed in the kernel ({ename})"}
    try:
        document = harvest_mod.read_stage_output(plan.outputs_dir, stage.out_file, stage.max_bytes)
        if stage.name == "answers":
            return {
                "status": "ok",
                "value": harvest_mod.validate_answers(document, list(stage.config["names"])),
            }
        return harvest_mod.validate_prediction(document, stage)
    except harvest_mod.HarvestError as exc:
        if "limit" in str(exc):
            runner._fire("harvest_size", None, f"{stage.name}: {exc}")
        return {"status": "error" if stage.name != "answers" else "failed", "message": f"harvest: {exc}"}


async def _drain_iopub(kc: Any) -> None:
    """Discard IOPub messages from harvest requests (they are not part of the notebook)."""
    for _ in range(10_000):
        try:
            await kc.iopub_channel.get_msg(timeout=0)
        except Exception:
            return


# ----------------------------------------------------------------------------------------------
# the entry point


def _base_record(
    notebook: Path, assignment: Any, run_id: str, backend: str, gpu: str | None
) -> dict[str, Any]:
    return {
        "schema_version": RUN_SCHEMA_VERSION,
        "id": run_id,
        "notebook": str(notebook.resolve()) if notebook else "",
        "assignment": getattr(assignment, "name", str(assignment)),
        "backend": backend,
        "isolated": False,
        "gpu": gpu,
        "status": "completed",
        "message": "",
        "cells": [],
        "limits_fired": [],
        "telemetry": {"wall_s": 0.0, "peak_rss_mb": 0.0, "kernel_restarts": 0},
        "harvest": {
            "status": "failed",
            "message": "not run",
            "answers": {},
            "predictions": {},
            "free_text": {},
            "figures": {},
            "wall_s": 0.0,
        },
        "executed_notebook": None,
    }


def _public_dir(data_dir: Path) -> Path | None:
    public = data_dir / "public"
    return public if public.is_dir() else None


def run_notebook(
    notebook: Path,
    assignment: Any,
    data_dir: Path,
    out_dir: Path,
    *,
    run_id: str,
    backend: str = "auto",
    gpu: str | None = None,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
    public_only: bool = False,
) -> dict[str, Any]:
    """Execute ``notebook`` in a sandbox, harvest it, write OUT/executed/<id>.ipynb and
    OUT/run/<id>.json, and return the RunRecord. Student faults never raise; a bad ``run_id``
    (a grader bug) does."""
    if not _RUN_ID.match(run_id):
        raise ValueError(f"run_id {run_id!r} must be 1-128 letters, digits, '.', '_' or '-'")
    notebook, data_dir, out_dir = Path(notebook), Path(data_dir).resolve(), Path(out_dir)
    limits = limits or Limits()
    started = time.perf_counter()
    record = _base_record(notebook, assignment, run_id, backend, gpu)
    try:
        nb = load_notebook(notebook)
    except InvalidNotebook as exc:
        record.update(status="invalid_notebook", message=str(exc))
        record["harvest"]["message"] = "not run: invalid notebook"
        _write_record(out_dir, run_id, record)
        return record

    part_of = notebook_parts.assign_parts(nb.cells, assignment.parts)
    record["harvest"]["free_text"] = notebook_parts.free_text_answers(nb.cells, assignment.free_text)
    root = Path(tempfile.mkdtemp(prefix=f"grader-run-{run_id}-"))
    workdir, ipc_dir = root / "work", root / "ipc"
    workdir.mkdir()
    ipc_dir.mkdir(mode=0o700)
    run_env = {**DEFAULT_ENV, **(env or {})}
    config = SandboxConfig(
        workdir=workdir, ipc_dir=ipc_dir, data_dir=_public_dir(data_dir), limits=limits, gpu=gpu, env=run_env
    )
    sandbox: Sandbox | None = None
    runner: _Runner | None = None
    try:
        from grader.sandbox import make_sandbox

        try:
            sandbox = make_sandbox(backend, config)
            sandbox.prepare()
        except Exception as exc:
            record.update(status="sandbox_error", message=f"the sandbox could not be set up: {exc}")
            return record
        record["backend"] = sandbox.name
        record["isolated"] = bool(sandbox.isolated)
        notes = list(getattr(sandbox, "notes", []) or [])
        if notes:
            record["notes"] = notes
        runner = _Runner(nb, part_of, sandbox, limits, workdir, ipc_dir)
        _run_sync(_drive(runner, record, assignment, data_dir, public_only))
    except Exception as exc:  # a grader bug: report it in the record rather than lose the run
        log.exception("run_notebook failed for %s", run_id)
        record.update(status="error", message=f"grader error: {type(exc).__name__}: {exc}")
    finally:
        if runner is not None:
            runner.sampler.stop()
            _collect_sandbox_facts(runner)  # before cleanup() removes the cgroup that holds them
        if sandbox is not None:
            for step in (sandbox.kill_all, sandbox.cleanup):
                try:
                    step()
                except Exception as exc:
                    log.warning("sandbox %s: %s", step.__name__, exc)
        shutil.rmtree(root, ignore_errors=True)
        _finish(record, runner, nb, part_of, started)
        record["executed_notebook"] = _write_notebook(out_dir, run_id, nb)
        _write_record(out_dir, run_id, record)
    return record


async def _drive(
    runner: _Runner, record: dict[str, Any], assignment: Any, data_dir: Path, public_only: bool
) -> None:
    runner.sampler.start()
    runner.deadline = time.monotonic() + runner.limits.notebook_timeout
    watchdog = asyncio.ensure_future(runner.watchdog())
    try:
        try:
            await asyncio.wait_for(runner.start(), timeout=STARTUP_TIMEOUT_S + 10)
        except Exception as exc:
            log_text = runner.km.log_text() if runner.km is not None else ""
            record.update(
                status="sandbox_error",
                message=f"the kernel did not start in the sandbox: {type(exc).__name__}: {exc}",
            )
            if log_text:
                record["kernel_log"] = log_text[-4000:]
            return
        await runner.run_cells()
        # the notebook's budget ends with its cells; the harvest has its own (harvest_timeout)
        watchdog.cancel()
        if not runner.state.watchdog_fired and not runner.state.kernel_dead:
            free_text = record["harvest"].get("free_text", {})
            record["harvest"] = await _harvest(runner, assignment, data_dir, public_only)
            record["harvest"]["free_text"] = free_text
        else:
            record["harvest"]["message"] = "not run: the kernel was not available after the notebook"
            record["harvest"]["answers"] = {}
    finally:
        watchdog.cancel()
        await runner.stop()


def _collect_sandbox_facts(runner: _Runner) -> None:
    """Read the backend's own measurements (cgroup peak memory, limits it saw fire)."""
    try:
        runner.sandbox_peak_mb = runner.sandbox.peak_memory_mb()
    except Exception as exc:
        log.warning("sandbox peak_memory_mb: %s", exc)
    extra = getattr(runner.sandbox, "limits_fired", None)
    if callable(extra):
        try:
            runner.sandbox_limits = [f for f in extra() or [] if isinstance(f, dict) and "limit" in f]
        except Exception as exc:
            log.warning("sandbox limits_fired: %s", exc)


def _finish(
    record: dict[str, Any],
    runner: _Runner | None,
    nb: NotebookNode,
    part_of: list[str | None],
    started: float,
) -> None:
    record["telemetry"]["wall_s"] = round(time.perf_counter() - started, 3)
    record["harvest"]["figures"] = notebook_parts.figures_by_part(nb.cells, part_of)
    if runner is None:
        return
    state = runner.state
    record["cells"] = state.cells
    record["limits_fired"] = state.limits_fired
    record["telemetry"]["peak_rss_mb"] = round(max(runner.sampler.peak, runner.sandbox_peak_mb or 0.0), 1)
    record["telemetry"]["kernel_restarts"] = state.restarts
    seen = {f["limit"] for f in record["limits_fired"]}
    for fired in runner.sandbox_limits:
        if fired["limit"] not in seen:  # the engine already named the cell where it could
            record["limits_fired"].append(fired)
    if record["status"] != "completed":
        return
    counts: dict[str, int] = {}
    for cell in state.cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if state.watchdog_fired:
        record["status"] = "timeout"
        record["message"] = (
            f"the notebook passed its {runner.limits.notebook_timeout:g} s limit; cells: {summary}"
        )
    elif state.kernel_dead:
        record["status"] = "kernel_died"
        record["message"] = f"the kernel died and could not be restarted; cells: {summary}"
    else:
        restarts = f"; {state.restarts} kernel restart(s)" if state.restarts else ""
        record["message"] = f"ran {len(state.cells)} code cells: {summary}{restarts}"


def _write_notebook(out_dir: Path, run_id: str, nb: NotebookNode) -> str | None:
    path = out_dir / "executed" / f"{run_id}.ipynb"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, str(tmp))
        tmp.replace(path)
    except Exception as exc:
        log.warning("could not write %s: %s", path, exc)
        return None
    return f"executed/{run_id}.ipynb"


def _write_record(out_dir: Path, run_id: str, record: dict[str, Any]) -> None:
    write_json_atomic(out_dir / "run" / f"{run_id}.json", record)


def _run_sync(coro: Any) -> None:
    """Run a coroutine to completion, from sync code or from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="grader-run-notebook")
    thread.start()
    thread.join()
    if error:
        raise error[0]


if __name__ == "__main__":  # pragma: no cover - debugging aid
    print("use `grader run NOTEBOOK --assignment NAME --out DIR`", file=sys.stderr)
