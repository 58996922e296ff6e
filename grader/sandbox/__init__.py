"""Sandbox backends: ``bwrap`` (isolating, the default where it runs), ``process``, ``docker``/``podman``.

``make_sandbox(backend, config)`` is the one entry point the engine uses; ``"auto"`` picks bwrap
when a real probe sandbox starts on this machine, else ``process`` with a loud warning.
"""

from __future__ import annotations

import logging
import shutil

from .base import SANDBOX_DATA, SANDBOX_ENV, SANDBOX_HOME, KernelInterpreter, Sandbox, SandboxConfig
from .bwrap import BwrapSandbox
from .bwrap_probe import bwrap_failure, bwrap_works
from .common import SandboxError
from .docker import DockerSandbox
from .process import ProcessSandbox

log = logging.getLogger(__name__)

BACKENDS = ("bwrap", "process", "docker", "podman")

__all__ = [
    "BACKENDS",
    "SANDBOX_DATA",
    "SANDBOX_ENV",
    "SANDBOX_HOME",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "KernelInterpreter",
    "available_backends",
    "make_sandbox",
]


def available_backends() -> list[str]:
    """Backends that can run here, best first (bwrap is probed by starting a real sandbox)."""
    found = []
    if bwrap_works():
        found.append("bwrap")
    found.append("process")
    found += [engine for engine in ("docker", "podman") if shutil.which(engine)]
    return found


def make_sandbox(backend: str, config: SandboxConfig) -> Sandbox:
    """A sandbox for one run. ``backend``: auto, bwrap, process, docker or podman."""
    if backend == "auto":
        if bwrap_works():
            backend = "bwrap"
        else:
            log.warning(
                "bubblewrap cannot run here (%s): falling back to the process backend, "
                "which does NOT isolate student code",
                bwrap_failure(),
            )
            backend = "process"
    if backend == "bwrap":
        return BwrapSandbox(config)
    if backend == "process":
        return ProcessSandbox(config)
    if backend in ("docker", "podman"):
        return DockerSandbox(config, engine=backend)
    raise SandboxError(f"unknown sandbox backend {backend!r}: choose auto, {', '.join(BACKENDS)}")
