"""The ``docker`` / ``podman`` backend: the kernel in a container.

UNTESTED END TO END: no container engine runs on the machine this was written on; only the
command line is unit-tested. Use bwrap where you can.

Where the assignment declares an environment, it is mounted read-only at SANDBOX_ENV (with the
interpreter it was built on, at its own path) and the kernel runs its Python: the image then needs
only a compatible C library. Otherwise the image must hold a Python with ipykernel and the
course's libraries (``image``, default ``ML_AUTOGRADER_IMAGE`` or ``ml-autograder-kernel``) and the
kernel's interpreter is the image's ``python3``, not the grader's. The container runs with ``--network none``, no capabilities,
no-new-privileges, a read-only root, memory/swap, pids and CPU limits, ulimits for file size,
open files and core dumps, and, for a GPU job, ``--gpus device=UUID``. The IPC directory is
mounted at the same path so the Unix sockets meet; it is owned by the container's user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from .base import SANDBOX_DATA, SANDBOX_ENV, SANDBOX_HOME, Sandbox, SandboxConfig
from .common import MIB, SandboxError, environment, validate_config
from .gpu import GpuInfo, plan_gpu

DEFAULT_IMAGE = os.environ.get("ML_AUTOGRADER_IMAGE", "ml-autograder-kernel")
CONTAINER_UID = 61000
CPUS = "1"


class DockerSandbox(Sandbox):
    """A kernel in a docker or podman container (see the module docstring: untested here)."""

    isolated = True

    def __init__(
        self,
        config: SandboxConfig,
        *,
        engine: str = "docker",
        image: str = DEFAULT_IMAGE,
        gpus: list[GpuInfo] | None = None,
        dev_root: Path = Path("/dev"),
    ) -> None:
        if engine not in ("docker", "podman"):
            raise SandboxError(f"unknown container engine {engine!r}: docker or podman")
        validate_config(config)
        super().__init__(config)
        self.name = engine
        self.engine = engine
        self.image = image
        self._gpus = gpus
        self.dev_root = dev_root
        self.container = f"mlag-{uuid.uuid4().hex[:12]}"
        self.notes.append(f"{engine} backend: not tested end to end by the project")
        self.mechanisms = {
            "memory": f"{engine} --memory",
            "processes": f"{engine} --pids-limit",
            "file_size": "ulimit fsize",
            "network": "--network none",
            "disk": "none (the working directory is a bind of a host directory)",
        }
        self.notes.append(
            "total disk use of the working directory is NOT capped; ulimit fsize caps each file"
        )
        self.gpu_visible: str | None = None

    def prepare(self) -> None:
        if shutil.which(self.engine) is None:
            raise SandboxError(f"{self.engine} is not installed")
        if self.config.gpu is not None:
            try:
                plan = plan_gpu(self.config.gpu, dev_root=self.dev_root, gpus=self._gpus)
            except ValueError as e:
                raise SandboxError(str(e)) from None
            self.gpu_visible = plan.visible
        if os.geteuid() == 0:
            for d in (self.config.workdir, self.config.ipc_dir):
                os.chown(d, CONTAINER_UID, CONTAINER_UID)

    def wrap(self, argv: list[str]) -> list[str]:
        """``ENGINE run ... IMAGE python3 ARGS``: argv[0] (the grader's python) is replaced."""
        if not argv:
            raise SandboxError("wrap() needs a command, got an empty argv")
        lim = self.config.limits
        cmd = [
            self.engine,
            "run",
            "--rm",
            "-i",
            "--name",
            self.container,
            "--network",
            "none",
            "--user",
            f"{CONTAINER_UID}:{CONTAINER_UID}",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--read-only",
            "--memory",
            f"{lim.memory_mb}m",
            "--memory-swap",
            f"{lim.memory_mb}m",
            "--pids-limit",
            str(lim.max_processes),
            "--cpus",
            CPUS,
            "--ulimit",
            f"fsize={lim.file_size_mb * MIB}",
            "--ulimit",
            f"nofile={lim.open_files}:{lim.open_files}",
            "--ulimit",
            "core=0",
            "--tmpfs",
            f"/tmp:rw,size={lim.tmpfs_mb}m",
            "-v",
            f"{self.config.workdir}:{SANDBOX_HOME}:rw",
            "-v",
            f"{self.config.ipc_dir}:{self.config.ipc_dir}:rw",
            "-w",
            SANDBOX_HOME,
        ]
        if self.config.data_dir is not None:
            cmd += ["-v", f"{self.config.data_dir}:{SANDBOX_DATA}:ro"]
        kernel = self.config.kernel
        if kernel is not None:  # the assignment's environment and the interpreter it was built on
            cmd += [
                "-v",
                f"{kernel.prefix}:{SANDBOX_ENV}:ro",
                "-v",
                f"{kernel.base_prefix}:{kernel.base_prefix}:ro",
            ]
        if self.gpu_visible is not None:
            cmd += ["--gpus", f"device={self.gpu_visible}"]
        for key in sorted(self.environment()):
            cmd += ["-e", key]  # values come from the engine's env, not the (visible) command line
        python = argv[0]
        if kernel is not None:
            python = self.kernel_python()
        elif os.path.basename(python).startswith("python"):
            python = "python3"
        return [*cmd, self.image, python, *argv[1:]]

    def kernel_python(self) -> str:
        """The mounted environment's interpreter where one is declared, else the image's python3."""
        return f"{SANDBOX_ENV}/bin/python" if self.config.kernel is not None else "python3"

    def environment(self) -> dict[str, str]:
        env = environment(self.config)
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
        if self.config.kernel is not None:
            env["PATH"] = f"{SANDBOX_ENV}/bin:{env['PATH']}"
        if self.gpu_visible is not None:
            env.pop("CUDA_VISIBLE_DEVICES")  # --gpus sets it inside the container
        return env

    def peak_memory_mb(self) -> float | None:
        return None

    def limits_fired(self) -> list[dict]:
        return []

    def kill_all(self) -> None:
        if shutil.which(self.engine):
            subprocess.run([self.engine, "kill", self.container], capture_output=True, timeout=30)

    def cleanup(self) -> None:
        self.kill_all()
