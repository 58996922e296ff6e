"""Processes that see this machine's file system without some folders: a worker "elsewhere".

``HiddenView`` writes a launcher that runs the venv's Python in a private mount namespace
(``unshare --mount``) where each hidden folder is covered by an empty, read-only tmpfs, with its
own working directory, ``HOME`` and ``ML_AUTOGRADER_CACHE``. The coordinator's view is untouched.
Dask workers started through it (``grader worker``, ``dask worker``, or a LocalCluster's workers
via ``multiprocessing``'s spawn executable) cannot open the coordinator's repository folders,
output folder, submissions or data, as on a machine that shares no disk with it.

It needs root (a mount namespace) and util-linux's ``unshare``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.environment.store import envs_root


def unavailable() -> str | None:
    """Why this machine cannot make hidden views, or None."""
    if shutil.which("unshare") is None:
        return "util-linux's unshare is not installed"
    if os.geteuid() != 0:
        return "hiding folders from a worker needs a mount namespace: run the tests as root"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"unshare --mount fails here: {probe.stderr.strip()}"
    return None


def _outermost(paths: list[Path]) -> list[Path]:
    """The paths not inside another one (covering the outer one hides the inner one already)."""
    ordered = sorted({Path(p).resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept


@dataclass
class HiddenView:
    """The launcher's folders: ``hide`` what the workers must not see; ``root`` holds the
    launcher, the workers' working directory, home and data cache."""

    hide: list[Path]
    root: Path

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def python(self) -> Path:
        """An executable that behaves as the venv's Python, inside the hidden view."""
        for folder in (self.cwd, self.home, self.cache):
            folder.mkdir(parents=True, exist_ok=True)
        hidden = _outermost(self.hide)
        mounts = "\n".join(
            f"mount -t tmpfs -o ro,size=16k,mode=0755 grader-hidden {shlex.quote(str(p))} || exit 97"
            for p in hidden
            if p.exists()
        )
        inner = self.root / "in-view.sh"
        inner.write_text(
            "#!/bin/sh\n"
            "# Inside the new mount namespace: cover the hidden folders, then become Python.\n"
            f"{mounts}\n"
            f"cd {shlex.quote(str(self.cwd))} || exit 97\n"
            f"export HOME={shlex.quote(str(self.home))} ML_AUTOGRADER_CACHE={shlex.quote(str(self.cache))}\n"
            # kernel environments are built on each worker (`grader env build A` there, or a copied
            # folder: docs/ENVIRONMENTS.md); here the workers' builds are this machine's
            f"export ML_AUTOGRADER_ENVS={shlex.quote(str(envs_root()))}\n"
            f'exec {shlex.quote(sys.executable)} "$@"\n',
            encoding="utf-8",
        )
        outer = self.root / "python"
        outer.write_text(
            f'#!/bin/sh\nexec unshare --mount --propagation private -- {shlex.quote(str(inner))} "$@"\n',
            encoding="utf-8",
        )
        for script in (inner, outer):
            script.chmod(0o755)
        return outer

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """``python ARGS`` in the view (stdout and stderr to a log file under ``root``)."""
        log = (self.root / f"{args[1] if len(args) > 1 else 'python'}.log").open("a", encoding="utf-8")
        try:
            return subprocess.Popen(
                [str(self.python()), *args], stdout=log, stderr=subprocess.STDOUT, text=True
            )
        finally:
            log.close()
