"""Where built environments live and what a built one records about itself.

``$ML_AUTOGRADER_ENVS/<key>/`` (default ``~/.cache/ml-autograder/envs``) is a virtual
environment; its ``environment.json``, written last by the builder, says it is complete and
records what was installed. Grading only reads this directory: it never installs anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.environment.spec import EnvironmentNotBuilt, EnvironmentSpec, KernelEnvironmentError, for_students
from grader.records import EnvironmentSummary

ENVS_ENV = "ML_AUTOGRADER_ENVS"
MANIFEST = "environment.json"
MANIFEST_FORMAT = 1


def envs_root() -> Path:
    """``$ML_AUTOGRADER_ENVS``, else ``~/.cache/ml-autograder/envs`` (apart from the data cache,
    which tests point at temporary directories: an environment is worth keeping)."""
    configured = os.environ.get(ENVS_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    return Path.home() / ".cache" / "ml-autograder" / "envs"


def env_dir(spec: EnvironmentSpec, root: Path | None = None) -> Path:
    return (root or envs_root()) / spec.key


@dataclass(frozen=True)
class KernelEnvironment:
    """A built environment, as the sandbox and the reports need it. Pickles (for workers)."""

    name: str  # the assignment it was resolved for (messages say "A's grading environment")
    key: str
    sha256: str
    prefix: Path  # the virtual environment
    python: Path  # its interpreter (prefix/bin/python)
    base_prefix: Path  # the installation the venv's interpreter comes from
    python_version: str
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    modules: tuple[str, ...] = ()  # importable top-level module names
    reserved_address_space_mb: int = 0  # address space its libraries reserve on import
    torch_build: str | None = None  # "cpu", "cuda 13.0", or None without torch
    declared: tuple[str, ...] = ()  # the declared requirements (the kernel's own additions left out)

    def summary(self) -> EnvironmentSummary:
        """What a result document and a report show: the key, Python and the packages."""
        return {
            "key": self.key,
            "sha256": self.sha256,
            "python": self.python_version,
            "declared": list(self.declared),
            "packages": dict(sorted(self.packages.items())),
        }


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) and document.get("format") == MANIFEST_FORMAT else None


def from_manifest(name: str, directory: Path, manifest: dict[str, Any]) -> KernelEnvironment:
    python = directory / "bin" / "python"
    if not python.exists():
        raise KernelEnvironmentError(
            f"{directory} has no bin/python: rebuild it with `grader env build {name} --force`"
        )
    return KernelEnvironment(
        name=name,
        key=str(manifest["key"]),
        sha256=str(manifest["sha256"]),
        prefix=directory,
        python=python,
        base_prefix=Path(manifest["base_prefix"]),
        python_version=str(manifest["python_version"]),
        packages={str(k): str(v) for k, v in (manifest.get("packages") or {}).items()},
        modules=tuple(str(m) for m in manifest.get("modules") or ()),
        reserved_address_space_mb=int(manifest.get("reserved_address_space_mb") or 0),
        torch_build=manifest.get("torch_build"),
        declared=for_students([str(r) for r in (manifest.get("spec") or {}).get("requirements") or ()]),
    )


def find_built(spec: EnvironmentSpec, name: str, root: Path | None = None) -> KernelEnvironment | None:
    """The built environment for ``spec``, or None when it is not (completely) built."""
    directory = env_dir(spec, root)
    manifest = read_manifest(directory)
    if manifest is None or manifest.get("sha256") != spec.sha256:
        return None
    return from_manifest(name, directory, manifest)


def locate(environment: KernelEnvironment, root: Path | None = None) -> KernelEnvironment | None:
    """This machine's build of ``environment`` (resolved elsewhere, e.g. on a coordinator): the
    same key and hash under this machine's cache, or None when it is not built here."""
    directory = (root or envs_root()) / environment.key
    manifest = read_manifest(directory)
    if manifest is None or manifest.get("sha256") != environment.sha256:
        return None
    return from_manifest(environment.name, directory, manifest)


def require_built(spec: EnvironmentSpec, name: str, root: Path | None = None) -> KernelEnvironment:
    """The built environment, or EnvironmentNotBuilt naming the command that builds it."""
    found = find_built(spec, name, root)
    if found is None:
        raise EnvironmentNotBuilt(
            f"the grading environment of {name} is not built on this machine "
            f"(expected in {env_dir(spec, root)}): run `grader env build {name}` once "
            "(it installs the packages the rubric declares; grading itself never installs anything)"
        )
    return found
