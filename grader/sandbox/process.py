"""The ``process`` backend: rlimits and a scratch directory, and NO isolation.

For machines where bubblewrap cannot run. The kernel runs as the grader's own user with the
grader's network and file access; only resource limits apply. It says so in the log, in
``notes`` (which the engine copies into the RunRecord) and through ``isolated = False``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .base import Sandbox, SandboxConfig
from .common import (
    absolute_command,
    environment,
    kill_process_group,
    launcher_argv,
    make_state_dir,
    nproc_limit,
    read_pid,
    remove_tree,
    rlimit_args,
    validate_config,
)
from .workdir import usage_mb

log = logging.getLogger(__name__)

NOT_ISOLATED = (
    "process backend: the notebook is NOT isolated: it runs as the grader's user with full network "
    "and file-system access; only rlimits (memory, file size, open files, CPU time) apply"
)


class ProcessSandbox(Sandbox):
    """rlimits + a scratch directory; the kernel sees real paths (HOME is the workdir)."""

    name = "process"
    isolated = False

    def __init__(self, config: SandboxConfig) -> None:
        validate_config(config)
        super().__init__(config)
        self.notes.append(NOT_ISOLATED)
        self._state: Path | None = None

    def prepare(self) -> None:
        """Create the launcher's state dir and TMPDIR; warn loudly that nothing is isolated."""
        log.warning(NOT_ISOLATED)
        self._state = make_state_dir()
        (self.config.workdir / ".tmp").mkdir(exist_ok=True)
        nproc = nproc_limit(self.config.limits)
        reserved = self.reserved_address_space_mb()
        self.mechanisms = {
            "memory": (
                "rlimit-as" + (f" (+ {reserved} MiB the environment reserves on import)" if reserved else "")
            )
            if self.config.gpu is None
            else "none (GPU job)",
            "processes": "rlimit-nproc (approximate: shares the grader's uid)" if nproc else "none (root)",
            "file_size": "rlimit-fsize",
            "disk": "none (the working directory is a plain directory; RLIMIT_FSIZE caps each file only)",
        }
        self.notes.append(
            f"total disk use is NOT capped: only each file is limited ({self.config.limits.file_size_mb} MiB); "
            f"a working directory over {self.config.limits.disk_mb} MiB is reported after the run"
        )
        self._nproc = nproc
        if nproc is None:
            self.notes.append("process backend as root: no process-count limit (root ignores RLIMIT_NPROC)")
        if self.config.gpu is not None:
            self.notes.append("process backend: a GPU is not restricted; every GPU is visible")

    def wrap(self, argv: list[str]) -> list[str]:
        if self._state is None:
            raise RuntimeError("prepare() must be called before wrap()")
        return [
            *launcher_argv(),
            *rlimit_args(
                self.config.limits,
                address_space_mb=self.config.limits.memory_mb + self.reserved_address_space_mb()
                if self.config.gpu is None
                else None,
                nproc=self._nproc,
            ),
            "--pid-file",
            str(self._state / "pid"),
            "--chdir",
            str(self.config.workdir),
            "--new-session",
            "--die-with-parent",
            "--",
            *absolute_command(argv),
        ]

    def environment(self) -> dict[str, str]:
        env = environment(
            self.config,
            home=str(self.config.workdir),
            data=str(self.config.data_dir) if self.config.data_dir else "",
            tmp=str(self.config.workdir / ".tmp"),
            python=self.kernel_python(),
        )
        if self.config.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(self.config.gpu)
        return env

    def peak_memory_mb(self) -> float | None:
        return None  # no cgroup: the engine's per-process RSS sampling is all there is

    def limits_fired(self) -> list[dict]:
        """Only ``disk``, measured (not enforced): the other rlimits surface inside the kernel
        (MemoryError, OSError EFBIG)."""
        if self._state is None:
            return []
        used = usage_mb(self.config.workdir)
        cap = self.config.limits.disk_mb
        if used is None or used <= cap:
            return []
        return [
            {
                "limit": "disk",
                "message": f"the working directory grew to {used:.0f} MiB, over the {cap} MiB cap, "
                "which the process backend does not enforce",
            }
        ]

    def kill_all(self) -> None:
        kill_process_group(read_pid(self._state))

    def cleanup(self) -> None:
        self.kill_all()
        remove_tree(self._state)
        self._state = None
