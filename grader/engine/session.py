"""One sandboxed kernel and nbclient's client for it: start, restart, probe, request, stop.

The cell runner drives cells through ``client`` (nbclient's own ``async_execute_cell``); the
harvest driver sends its own silent requests through ``request``. Neither touches the kernel
manager or the ZMQ channels directly, so kernel life-cycle rules live here alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from grader.engine import figures
from grader.engine.client import GradingClient
from grader.engine.kernel_manager import KERNEL_NAME, SandboxKernelManager
from grader.limits import Limits
from grader.sandbox.base import Sandbox

log = logging.getLogger(__name__)

INTERRUPT_GRACE_S = 3.0
PROBE_TIMEOUT_S = 3.0
INSTALL_TIMEOUT_S = 30.0
STARTUP_TIMEOUT_S = 60
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
TIMEOUT_ENAME = "CellTimeoutError"

CellErrorHook = Callable[[NotebookNode, int, dict[str, Any]], None]


@dataclass
class Reply:
    """How a silent request ended: ``status`` is ok (``content`` is the shell reply's content),
    timeout (no reply before the deadline), not_running (the kernel was already gone, nothing
    was sent) or died (the kernel died while we waited)."""

    status: str
    content: dict[str, Any]


class KernelSession:
    """The kernel of one run, inside ``sandbox``, and the client that talks to it over IPC."""

    def __init__(
        self,
        nb: NotebookNode,
        sandbox: Sandbox,
        limits: Limits,
        workdir: Path,
        ipc_dir: Path,
        on_cell_error: CellErrorHook,
    ) -> None:
        # one IOPub message larger than this is refused by ZMQ itself (never parsed in memory)
        self.max_message_bytes = max(MAX_MESSAGE_BYTES, 8 * limits.output_bytes)
        self.km = SandboxKernelManager(
            sandbox=sandbox, ipc_dir=ipc_dir, workdir=workdir, max_message_bytes=self.max_message_bytes
        )
        self.workdir = workdir
        self.client = GradingClient(
            nb,
            self.km,
            output_cap=limits.output_bytes,
            timeout=max(1, int(round(limits.cell_timeout))),
            interrupt_on_timeout=True,
            error_on_timeout={
                "ename": TIMEOUT_ENAME,
                "evalue": f"the cell ran past its {limits.cell_timeout:g} s limit and was stopped",
                "traceback": [],
            },
            iopub_timeout=int(INTERRUPT_GRACE_S),
            raise_on_iopub_timeout=False,
            allow_errors=True,
            startup_timeout=STARTUP_TIMEOUT_S,
            record_timing=False,
            kernel_name=KERNEL_NAME,
            on_cell_error=on_cell_error,
        )
        self.started = False

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        await self.km.start_kernel(cwd=str(self.workdir))
        self.started = True
        await self.client.async_start_new_kernel_client()
        await self._prepare_kernel()

    async def _prepare_kernel(self) -> None:
        """What every fresh kernel gets before the student's first cell: the figure summaries
        (grader.engine.figures). A kernel that does not take them still runs the notebook."""
        reply = await self.request(figures.INSTALL_CODE, time.monotonic() + INSTALL_TIMEOUT_S)
        if reply.status != "ok" or reply.content.get("status") != "ok":
            log.info("figure summaries not installed (%s)", reply.status)

    async def restart(self) -> None:
        if self.client.kc is not None:
            self.client.kc.stop_channels()
            self.client.kc = None
        await self.km.restart_kernel(now=True)
        await self.client.async_start_new_kernel_client()
        await self._prepare_kernel()

    async def stop(self) -> None:
        if self.client.kc is not None:
            self.client.kc.stop_channels()
        try:
            await asyncio.wait_for(self.km.shutdown_kernel(now=True), timeout=10)
        except Exception as exc:  # the kernel may be long gone; the sandbox's kill_all follows anyway
            log.debug("kernel shutdown: %s", exc)
        self.km.close_context()

    @property
    def kernel_pid(self) -> int | None:
        return self.km.kernel_pid

    def log_text(self) -> str:
        return self.km.log_text()

    # -- probes ---------------------------------------------------------------------------------
    async def is_alive(self) -> bool:
        return bool(self.started and await self.km.is_alive())

    async def alive_and_idle(self) -> bool:
        """True when the kernel answers a kernel_info request soon (it is not stuck in a cell)."""
        kc = self.client.kc
        if kc is None or not await self.is_alive():
            return False
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

    async def reconnect(self) -> bool:
        """New ZMQ channels to the same kernel (ZMQ drops a connection that carried an oversized
        message). False when the kernel does not answer on the new channels either."""
        if self.client.kc is not None:
            self.client.kc.stop_channels()
            self.client.kc = None
        try:
            await self.client.async_start_new_kernel_client()
        except Exception as exc:
            log.info("reconnecting to the kernel failed: %s", exc)
            return False
        return True

    async def interrupt(self) -> None:
        await self.km.interrupt_kernel()

    # -- silent requests (the harvest) ----------------------------------------------------------
    async def request(self, code: str, deadline: float) -> Reply:
        """Run ``code`` silently (no history, no outputs kept) and wait for its reply until
        ``deadline`` (time.monotonic()). Whatever the request printed is discarded."""
        kc = self.client.kc
        if kc is None or not await self.is_alive():
            return Reply("not_running", {})
        msg_id = kc.execute(code, silent=True, store_history=False, stop_on_error=False)
        reply: dict[str, Any] | None = None
        while reply is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                msg = await kc.shell_channel.get_msg(timeout=min(left, 1.0))
            except Exception:
                if not await self.km.is_alive():
                    return Reply("died", {})
                await self.drain_iopub()
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                reply = msg
        await self.drain_iopub()
        if reply is None:
            return Reply("timeout", {})
        return Reply("ok", dict(reply.get("content") or {}))

    async def drain_iopub(self) -> None:
        """Discard IOPub messages from silent requests (they are not part of the notebook)."""
        kc = self.client.kc
        if kc is None:
            return
        for _ in range(10_000):
            try:
                await kc.iopub_channel.get_msg(timeout=0)
            except Exception:
                return
