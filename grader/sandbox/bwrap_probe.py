"""Does bubblewrap work on this machine? Probed once per process by starting a real sandbox.

``auto`` picks the bwrap backend only when this probe succeeds: bubblewrap may be installed and
still fail (no user namespaces in a container, a locked-down kernel), and a run must not find
that out in the middle of a batch.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .base import SandboxConfig
from .bwrap import BwrapSandbox
from .common import SandboxError

log = logging.getLogger(__name__)

_probe_lock = threading.Lock()
_probe: tuple[bool, str] | None = None


def _run_probe() -> tuple[bool, str]:
    if not shutil.which("bwrap"):
        return False, "bwrap is not installed"
    with tempfile.TemporaryDirectory(prefix="mlag-bwrap-probe-") as tmp:
        work, ipc = Path(tmp, "work"), Path(tmp, "ipc")
        work.mkdir()
        ipc.mkdir(mode=0o700)
        sb = BwrapSandbox(SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None), use_cgroups=False)
        try:
            sb.prepare()
            cmd = sb.wrap([sys.executable, "-I", "-S", "-c", "print('ok')"])
            r = subprocess.run(cmd, env=sb.environment(), capture_output=True, text=True, timeout=60)
        except (OSError, SandboxError, subprocess.TimeoutExpired) as e:
            return False, str(e)
        finally:
            sb.cleanup()
    if r.returncode != 0 or r.stdout.strip() != "ok":
        return False, (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
    return True, ""


def bwrap_works() -> bool:
    """Whether a real bubblewrap sandbox starts Python here (probed once per process)."""
    global _probe
    with _probe_lock:
        if _probe is None:
            _probe = _run_probe()
            if not _probe[0]:
                log.info("bubblewrap probe failed: %s", _probe[1])
        return _probe[0]


def bwrap_failure() -> str:
    """Why the bubblewrap probe failed ('' when it worked or has not run)."""
    return "" if _probe is None else _probe[1]
