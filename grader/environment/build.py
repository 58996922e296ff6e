"""Build an assignment's kernel environment once, into the cache keyed by its specification.

Installers: the torch family (torch, torchvision, torchaudio) goes first and through pip, with
the CPU-build rule (``TORCH_INDEX_URL``, when set, names a CPU wheel index for a ``cpu``
environment), because pip honours the machine's own configuration: wheel directories and
local indexes where multi-GB torch builds lie, and constraints. uv reads none of that and would
download several GB. Everything else goes through uv where it is installed (seconds instead
of a minute), else pip. The grader's own packages are never installed: the kernel gets only
what the assignment declares plus ipykernel.

After installing, a probe imports every declared package inside the new environment: a
package that installs but does not import (a torchvision built for another torch) fails the
build here, not in every student's notebook. The probe also records the packages, the
importable modules, and the address space the libraries reserve on import (the sandbox adds it
to an RLIMIT_AS limit, which counts reserved as well as used memory).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader import __version__
from grader.environment.spec import EnvironmentSpec, KernelEnvironmentError
from grader.environment.store import (
    MANIFEST,
    MANIFEST_FORMAT,
    KernelEnvironment,
    env_dir,
    envs_root,
    find_built,
    from_manifest,
)

TORCH_INDEX_ENV = "TORCH_INDEX_URL"
PROBE = Path(__file__).with_name("probe.py")
LOG_TAIL_LINES = 30


def find_interpreter(version: str) -> Path:
    """A Python of ``version`` on this machine: the grader's own base interpreter when it matches,
    else ``python<version>`` on PATH. Never downloaded: grading machines may have no network."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(getattr(sys, "_base_executable", None) or sys.executable)
    found = shutil.which(f"python{version}")
    if found:
        return Path(found)
    raise KernelEnvironmentError(
        f"Python {version} is not installed on this machine (no python{version} on PATH): "
        f"install it, or declare the grader's own Python ({sys.version_info.major}.{sys.version_info.minor})"
    )


def find_uv() -> str | None:
    """The uv binary: the one the ``uv`` package installed beside the grader, else one on PATH."""
    try:
        from uv import find_uv_bin  # lazy: optional dependency (pip is the fallback)

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class _Log:
    """Installer output goes to a log file; its tail is shown when a step fails."""

    def __init__(self, path: Path, say: Callable[[str], None]) -> None:
        self.path = path
        self.say = say
        path.write_text("", encoding="utf-8")

    def run(self, what: str, argv: list[str], env: dict[str, str] | None = None) -> float:
        self.say(f"env: {what}")
        started = time.perf_counter()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"\n$ {' '.join(argv)}\n")
            handle.flush()
            done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, env=env, check=False)
        if done.returncode != 0:
            tail = self.path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
            raise KernelEnvironmentError(
                f"{what} failed (exit {done.returncode}); the last lines of {self.path}:\n" + "\n".join(tail)
            )
        return time.perf_counter() - started


def _installer_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env["PIP_NO_INPUT"] = "1"
    env["UV_NO_PROGRESS"] = "1"
    return env


def _pip(python: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "--python", str(python), "install", "--progress-bar", "off"]


def _install(spec: EnvironmentSpec, directory: Path, log: _Log, uv: str | None) -> dict[str, Any]:
    """Create the venv and install the packages; returns which installer did what, and how long."""
    interpreter = find_interpreter(spec.python)
    env = _installer_env()
    steps: dict[str, Any] = {}
    if uv:
        create = [
            uv,
            "venv",
            "--python",
            str(interpreter),
            "--no-python-downloads",
            "--quiet",
            str(directory),
        ]
    else:
        create = [str(interpreter), "-m", "venv", "--without-pip", str(directory)]
    steps["venv_s"] = round(log.run("creating the virtual environment", create, env), 1)
    python = directory / "bin" / "python"
    torch = spec.torch_requirements()
    if torch:
        argv = [*_pip(python), *torch]
        index = os.environ.get(TORCH_INDEX_ENV)
        if index and spec.torch == "cpu":
            argv += ["--index-url", index]
        steps["torch"] = {
            "installer": "pip",
            "packages": torch,
            "index_url": index if index and spec.torch == "cpu" else None,
            "seconds": round(log.run(f"installing {', '.join(torch)} with pip", argv, env), 1),
        }
    others = spec.other_requirements()
    if uv:
        # bytecode now: the environment is read-only in the sandbox, where every kernel would
        # otherwise compile every module it imports again (1.5 s more per kernel start, measured)
        argv = [uv, "pip", "install", "--python", str(python), "--quiet", "--compile-bytecode", *others]
        installer = "uv"
    else:
        argv = [*_pip(python), *others]
        installer = "pip"
    steps["packages"] = {
        "installer": installer,
        "count": len(others),
        "seconds": round(log.run(f"installing {len(others)} packages with {installer}", argv, env), 1),
    }
    steps["interpreter"] = str(interpreter)
    return steps


def _probe(spec: EnvironmentSpec, directory: Path, log: _Log) -> dict[str, Any]:
    """Run probe.py inside the environment: packages, modules, imports, reserved address space."""
    names = json.dumps([r for r in spec.requirements])
    with tempfile.TemporaryDirectory(prefix="mlag-env-probe-") as home:
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
        done = subprocess.run(
            [str(directory / "bin" / "python"), "-I", str(PROBE), names],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=600,
        )
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n$ probe\n{done.stdout}\n{done.stderr}\n")
    if done.returncode != 0:
        raise KernelEnvironmentError(f"the environment's probe failed: {done.stderr.strip()[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    broken = report.get("import_errors") or {}
    if broken:
        lines = "; ".join(f"{module}: {error}" for module, error in sorted(broken.items()))
        raise KernelEnvironmentError(
            f"installed, but these packages do not import in the new environment: {lines}. "
            "Pin versions that work together (for torchvision: the torch it was built for)"
        )
    return report


def build_environment(
    spec: EnvironmentSpec,
    name: str,
    *,
    root: Path | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> tuple[KernelEnvironment, bool]:
    """Build ``spec`` into the cache unless it is already there; returns (environment, built now).

    A lock file serialises builders of the same key (two worktrees, two CI jobs); a directory
    without its environment.json is a build that died and is started over.
    """
    root = root or envs_root()
    root.mkdir(parents=True, exist_ok=True)
    directory = env_dir(spec, root)
    with (root / f"{spec.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force:
            found = find_built(spec, name, root)
            if found is not None:
                return found, False
        if directory.exists():
            shutil.rmtree(directory)
        started = time.perf_counter()
        log = _Log(root / f"{spec.key}.build.log", say)
        uv = find_uv()
        try:
            steps = _install(spec, directory, log, uv)
            report = _probe(spec, directory, log)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        manifest = {
            "format": MANIFEST_FORMAT,
            "key": spec.key,
            "sha256": spec.sha256,
            "spec": spec.canonical(),
            "python_version": report["python_version"],
            "base_prefix": report["base_prefix"],
            "packages": report["packages"],
            "modules": report["modules"],
            "torch_build": report.get("torch_build"),
            "reserved_address_space_mb": report.get("reserved_address_space_mb", 0),
            "steps": steps,
            "build_s": round(time.perf_counter() - started, 1),
            "built_at": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "built_by": f"ml-autograder {__version__}",
        }
        (directory / MANIFEST).write_text(
            json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        built = from_manifest(name, directory, manifest)
    torch_build = built.torch_build or ""
    if spec.torch == "cpu" and torch_build.startswith("cuda"):
        say(
            f"env: note: torch is a CUDA build ({torch_build}); it runs on the CPU, but is several GB. "
            f"Set {TORCH_INDEX_ENV} to a CPU wheel index (and pin a version it serves) for the CPU build."
        )
    return built, True
