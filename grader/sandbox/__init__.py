"""Sandbox backends: ``bwrap`` (isolating, the default where it runs), ``process``, ``docker``/``podman``.

``make_sandbox(backend, config)`` is the one entry point the engine uses; ``"auto"`` picks bwrap
when a real probe sandbox starts on this machine, else ``process`` with a loud warning.
"""

from __future__ import annotations

import logging
import shutil

from .base import SANDBOX_DATA, SANDBOX_HOME, Sandbox, SandboxConfig
from .common import SandboxError

log = logging.getLogger(__name__)

BACKENDS = ("bwrap", "process", "docker", "podman")

__all__ = [
    "BACKENDS",
    "SANDBOX_DATA",
    "SANDBOX_HOME",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "available_backends",
    "make_sandbox",
]


def _bwrap_usable() -> bool:
    from .bwrap import bwrap_works

    return bwrap_works()


def available_backends() -> list[str]:
    """Backends that can run here, best first (bwrap is probed by starting a real sandbox)."""
    found = []
    if _bwrap_usable():
        found.append("bwrap")
    found.append("process")
    found += [engine for engine in ("docker", "podman") if shutil.which(engine)]
    return found


def make_sandbox(backend: str, config: SandboxConfig) -> Sandbox:
    """A sandbox for one run. ``backend``: auto, bwrap, process, docker or podman."""
    if backend == "auto":
        if _bwrap_usable():
            backend = "bwrap"
        else:
            from .bwrap import bwrap_failure

            log.warning(
                "bubblewrap cannot run here (%s): falling back to the process backend, "
                "which does NOT isolate student code",
                bwrap_failure(),
            )
            backend = "process"
    if backend == "bwrap":
        from .bwrap import BwrapSandbox

        return BwrapSandbox(config)
    if backend == "process":
        from .process import ProcessSandbox

        return ProcessSandbox(config)
    if backend in ("docker", "podman"):
        from .docker import DockerSandbox

        return DockerSandbox(config, engine=backend)
    raise SandboxError(f"unknown sandbox backend {backend!r}: choose auto, {', '.join(BACKENDS)}")
