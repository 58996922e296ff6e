"""A jupyter_client kernel manager that starts our own IPython kernel inside a sandbox.

jupyter_client's convention for "launch the kernel differently" is a kernel provisioner; this
module provides one (``SandboxProvisioner``) and a manager that always uses it with our own
kernel spec. The notebook's ``kernelspec`` metadata is untrusted and never consulted: every
notebook runs ``python -m ipykernel_launcher`` of the sandbox's kernel interpreter (the
assignment's environment, or this interpreter where none is declared), wrapped by the sandbox
backend, with the backend's cleared environment, talking over IPC sockets in the per-run
directory, and interrupted by *message* (a SIGINT to bubblewrap would kill the sandbox).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from grader.sandbox.base import Sandbox

KERNEL_NAME = "ml-autograder-sandbox"
KERNEL_LOG_BYTES = 64 * 1024  # kernel stdout/stderr kept for diagnostics (the head only)


def sandbox_kernel_spec(python: str | None = None) -> KernelSpec:
    """Our fixed kernel spec: ipykernel of ``python`` (the sandbox's kernel interpreter: the
    assignment's environment, else this interpreter), interrupted by message."""
    return KernelSpec(
        argv=[python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ml-autograder sandbox)",
        language="python",
        interrupt_mode="message",
        metadata={"debugger": False},
    )


class _BoundedLog:
    """Drains a pipe in a thread, keeping only the first ``limit`` bytes.

    The kernel's own stdout/stderr (not the notebook's outputs, which go over IOPub) can be
    written by student code through raw file descriptors; draining into a bounded buffer keeps
    such a flood out of the grader's terminal, memory and disk.
    """

    def __init__(self, stream: Any, limit: int = KERNEL_LOG_BYTES) -> None:
        self._chunks: list[bytes] = []
        self._kept = 0
        self._limit = limit
        self.dropped = 0
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: Any) -> None:
        try:
            while True:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
                if not chunk:
                    break
                room = self._limit - self._kept
                if room > 0:
                    self._chunks.append(chunk[:room])
                    self._kept += min(room, len(chunk))
                self.dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def text(self) -> str:
        data = b"".join(self._chunks).decode("utf-8", errors="replace")
        if self.dropped:
            data += f"\n[... {self.dropped} more bytes of kernel log dropped]"
        return data


class SandboxProvisioner(LocalProvisioner):
    """Launches the kernel command through ``Sandbox.wrap`` with ``Sandbox.environment()``.

    Killing also calls ``Sandbox.kill_all`` so that everything the kernel forked dies with it,
    whatever process group or namespace it moved to.
    """

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        """Start the wrapped kernel with our own Popen rather than jupyter_client's launcher.

        jupyter_client's launcher would start a new session (the sandbox launcher does that
        itself; a second setsid fails) and add JPY_PARENT_PID, which makes ipykernel exit when
        its parent looks like pid 1, as it does inside a PID namespace. The process group is
        not recorded (``pgid`` None), so a signal can never reach the grader's own group.
        """
        km = self._manager()
        sandbox: Sandbox = km.sandbox
        self.process = subprocess.Popen(
            sandbox.wrap(list(cmd)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(sandbox.environment()),
            cwd=str(kwargs.get("cwd") or km.workdir),
            close_fds=True,
        )
        km.kernel_log = _BoundedLog(self.process.stdout)
        self.process.stdout = None  # owned by the drain thread now
        self.pid = self.process.pid
        self.pgid = None
        self.cwd = kwargs.get("cwd") or str(km.workdir)
        return self.connection_info

    def _manager(self) -> SandboxKernelManager:
        """The manager that made this provisioner (jupyter_client sets ``parent``)."""
        manager = self.parent
        if not isinstance(manager, SandboxKernelManager):
            raise TypeError("SandboxProvisioner runs only under a SandboxKernelManager")
        return manager

    async def kill(self, restart: bool = False) -> None:
        if self.process is not None:
            try:
                self.process.kill()
            except OSError:
                pass
        self._manager().sandbox.kill_all()

    async def terminate(self, restart: bool = False) -> None:
        # No polite SIGTERM: the kernel is untrusted and may ignore it; stop everything at once.
        await self.kill(restart=restart)


class SandboxKernelManager(AsyncKernelManager):
    """An AsyncKernelManager bound to one run's sandbox and IPC directory.

    Connection file and sockets live in ``ipc_dir`` (visible at the same path inside the
    sandbox). Clients it creates refuse single ZMQ messages larger than ``max_message_bytes``,
    so one enormous output cannot exhaust the grader's memory.
    """

    def __init__(
        self,
        *,
        sandbox: Sandbox,
        ipc_dir: Path,
        workdir: Path,
        max_message_bytes: int = 64 * 1024 * 1024,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("transport", "ipc")
        kwargs.setdefault("ip", str(ipc_dir / "kernel"))
        kwargs.setdefault("connection_file", str(ipc_dir / "kernel.json"))
        kwargs.setdefault("kernel_name", KERNEL_NAME)
        kwargs.setdefault("shutdown_wait_time", 1.0)
        super().__init__(**kwargs)
        self.sandbox = sandbox
        self.workdir = workdir
        self.kernel_log: _BoundedLog | None = None
        self._spec = sandbox_kernel_spec(sandbox.kernel_python())
        self._client_context = zmq.asyncio.Context()
        self._client_context.setsockopt(zmq.MAXMSGSIZE, int(max_message_bytes))

    @property
    def kernel_spec(self) -> KernelSpec:
        """Always our spec; the notebook's kernelspec metadata is never used."""
        return self._spec

    @property
    def ipykernel(self) -> bool:
        return True

    def client(self, **kwargs: Any) -> Any:
        kwargs.setdefault("context", self._client_context)
        return super().client(**kwargs)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or str(uuid.uuid4())
            self.provisioner = SandboxProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)

    pre_start_kernel = _async_pre_start_kernel

    @property
    def kernel_pid(self) -> int | None:
        """The pid of the launched command (the sandbox wrapper), for outside telemetry."""
        provisioner = self.provisioner
        return getattr(provisioner, "pid", None) if provisioner is not None else None

    def log_text(self) -> str:
        return self.kernel_log.text() if self.kernel_log is not None else ""

    def close_context(self) -> None:
        self._client_context.destroy(linger=0)
