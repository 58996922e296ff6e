"""Assignment data: build an assignment's public and hidden files, and keep a built cache.

``build_data`` dispatches on the rubric's ``data:`` key (``builder: file.py:function`` beside the
rubric, ``builder: module:function`` for an importable module, or ``static: {dir: ...}``);
``ensure_data`` builds the default profile once into ``$ML_AUTOGRADER_CACHE/<assignment>/<profile>``
so grading without ``--data`` needs no set-up. A build goes into a staging directory and is
renamed into place only when it succeeded, so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.datasets.manifest import (
    DATA_SUBDIRS,
    MANIFEST_NAME,
    DataError,
    make_manifest,
    read_manifest,
    verify_manifest,
    write_manifest,
)

if TYPE_CHECKING:
    from grader.assignment import Assignment

__all__ = [
    "DataError",
    "build_data",
    "cache_root",
    "ensure_data",
    "read_manifest",
    "resolve_profile",
    "verify_manifest",
]

CACHE_ENV = "ML_AUTOGRADER_CACHE"


def cache_root() -> Path:
    """``$ML_AUTOGRADER_CACHE``, else ``~/.cache/ml-autograder``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "ml-autograder"


def _data_spec(assignment: Assignment) -> dict[str, Any]:
    spec = assignment.rubric.get("data")
    where = f"{assignment.rubric_path}: data"
    if not isinstance(spec, dict):
        raise DataError(f"{where}: missing; give `builder: module:function` or `static: {{dir: ...}}`")
    kinds = [k for k in ("builder", "static") if k in spec]
    if len(kinds) != 1:
        raise DataError(f"{where}: give exactly one of 'builder' and 'static', found {kinds or 'neither'}")
    if "builder" in spec and (not isinstance(spec["builder"], str) or ":" not in spec["builder"]):
        raise DataError(
            f"{where}.builder: expected 'file.py:function' (a file beside the rubric) or "
            f"'module:function', got {spec['builder']!r}"
        )
    if "static" in spec and not (
        isinstance(spec["static"], dict) and isinstance(spec["static"].get("dir"), str)
    ):
        raise DataError(f"{where}.static: expected a mapping with a 'dir' path")
    return spec


def _split_target(target: str) -> tuple[str, str]:
    module_name, _, func_name = target.rpartition(":")
    return module_name, func_name


def _is_file_builder(target: str) -> bool:
    return _split_target(target)[0].endswith(".py")


def _load_file_module(path: Path, target: str) -> Any:
    """Load a builder file by its path (no PYTHONPATH needed), under a name unique to its path."""
    if not path.is_file():
        raise DataError(f"data builder {target}: {path} does not exist (paths are relative to the rubric)")
    name = "ml_autograder_builder_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DataError(f"data builder {target}: {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look a class's module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise DataError(
            f"data builder {target}: loading {path.name} raised {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _load_builder(target: str, assignment: Assignment | None = None) -> tuple[Callable[..., Any], Any]:
    """The builder function and its module (whose ``BUILDER_VERSION`` marks caches stale).

    ``file.py:function`` is a file relative to the rubric, loaded by path; ``module:function``
    an importable module (installed, or on PYTHONPATH)."""
    module_name, func_name = _split_target(target)
    if module_name.endswith(".py"):
        base = assignment.base_dir if assignment is not None else Path.cwd()
        module = _load_file_module((base / module_name).resolve(), target)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise DataError(
                f"data builder {target}: cannot import {module_name}: {exc}. A builder file beside the "
                f"rubric is named by its path, e.g. `builder: build_data.py:{func_name}` (no PYTHONPATH "
                "needed); a module must be installed or on PYTHONPATH"
            ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise DataError(f"data builder {target}: {module_name} has no function {func_name}")
    return func, module


def _builder_version(target: str, module: Any) -> Any:
    """``BUILDER_VERSION`` when the module sets one; for a builder file without one, the file's
    sha256, so that editing the builder rebuilds the cache."""
    declared = getattr(module, "BUILDER_VERSION", None)
    if declared is not None or not _is_file_builder(target):
        return declared
    source = getattr(module, "__file__", None)
    return "sha256:" + hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else None


def _check_out_dir(out_dir: Path) -> None:
    """Refuse a target that is a file or a directory holding anything but an earlier build."""
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a directory")
    if out_dir.is_dir():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in (*DATA_SUBDIRS, MANIFEST_NAME))
        if foreign:
            raise DataError(
                f"{out_dir} holds other files ({', '.join(foreign[:5])}); choose an empty or a data directory"
            )


def _install(staging: Path, out_dir: Path) -> None:
    """Put a finished build in place of ``out_dir``'s earlier one (if any)."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    for sub in DATA_SUBDIRS:
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    for entry in staging.iterdir():
        os.rename(entry, out_dir / entry.name)


def _copy_static(assignment: Assignment, spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    static_dir = assignment.resolve(spec["static"]["dir"])
    if not (static_dir / "public").is_dir():
        raise DataError(f"{assignment.rubric_path}: data.static.dir {static_dir} has no public/ directory")
    for sub in DATA_SUBDIRS:
        if (static_dir / sub).is_dir():
            shutil.copytree(static_dir / sub, out_dir / sub)
    return make_manifest(out_dir, builder="static", source={"static": spec["static"]["dir"]})


def build_data(
    assignment: Assignment, out_dir: Path, *, profile: str | None = None, source: Path | None = None
) -> dict[str, Any]:
    """Write the assignment's ``public/``, ``hidden/`` and ``MANIFEST.json`` into ``out_dir``.

    The build goes into a staging directory beside ``out_dir`` and replaces an earlier build only
    when it succeeded: a failing builder leaves ``out_dir`` as it was. A builder may return
    nothing, or a dict of manifest fields (``profile``, ``source``); the file list is made here.
    The profile recorded is ``profile`` if given, else the one the builder reports, else the
    rubric's default. Asking for a profile the data does not match is an error.
    """
    spec = _data_spec(assignment)
    profiles = assignment.profiles
    if profile is not None and profile not in profiles:
        raise DataError(
            f"assignment {assignment.name} has no profile {profile!r}; known: {', '.join(profiles)}"
        )
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    if "static" in spec and source is not None:
        raise DataError(f"assignment {assignment.name} has static data; --source does not apply")
    builder: tuple[Callable[..., Any], Any] | None = None
    if "builder" in spec:
        builder = _load_builder(spec["builder"], assignment)
        if source is None and profile not in (None, assignment.default_profile):
            raise DataError(
                f"profile {profile!r} is built from the instructor's files: pass --source DIR "
                f"(`grader data {assignment.command_ref} --source DIR --profile {profile} --out DATA`)"
            )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.building-"))
    try:
        if builder is None:
            manifest = _copy_static(assignment, spec, staging)
        else:
            manifest = _run_builder(spec["builder"], builder, staging, source)
        built = manifest.get("profile")
        if profile is not None and built in profiles and built != profile:
            raise DataError(
                f"the data built from {source or 'embedded data'} is profile {built!r}, not {profile!r}"
            )
        if profile is None:
            profile = built if built in profiles else assignment.default_profile
        manifest.update(assignment=assignment.name, profile=profile)
        write_manifest(staging, manifest)
        _install(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _run_builder(
    target: str, builder: tuple[Callable[..., Any], Any], out_dir: Path, source: Path | None
) -> dict[str, Any]:
    """Call ``build(out_dir, source=...)``; its files are listed here whatever it returns."""
    func, module = builder
    try:
        returned = func(out_dir, source=source)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"data builder {target} failed: {type(exc).__name__}: {exc}") from exc
    if returned is not None and not isinstance(returned, dict):
        raise DataError(
            f"data builder {target} returned a {type(returned).__name__}; return nothing, or a dict of "
            "manifest fields such as {'source': {...}}"
        )
    if not (out_dir / "public").is_dir():
        raise DataError(f"data builder {target} wrote no public/ directory into {out_dir}")
    fields = {k: v for k, v in (returned or {}).items() if k not in ("files", "schema_version")}
    manifest = make_manifest(out_dir, **fields)
    manifest.setdefault("builder", target)
    manifest.setdefault("builder_version", _builder_version(target, module))
    return manifest


def _is_current(assignment: Assignment, spec: dict[str, Any], data_dir: Path) -> bool:
    """Whether a cached build matches what the rubric's data source would build now."""
    try:
        manifest = read_manifest(data_dir)
    except DataError:
        return False
    if "static" in spec:
        static_dir = assignment.resolve(spec["static"]["dir"])
        return manifest.get("files") == make_manifest(static_dir).get("files")
    _, module = _load_builder(spec["builder"], assignment)
    version = _builder_version(spec["builder"], module)
    if _is_file_builder(spec["builder"]):
        # a builder file is known by its function and its source's sha256, not by the path as written,
        # which changes when a rubric elsewhere names the same file (a copy with absolute paths)
        same = str(manifest.get("builder", "")).rpartition(":")[2] == spec["builder"].rpartition(":")[2]
    else:
        same = manifest.get("builder") == spec["builder"]
    return same and manifest.get("builder_version") == version


def ensure_data(assignment: Assignment, data_dir: Path | None = None, profile: str | None = None) -> Path:
    """A usable data directory: ``data_dir`` checked, or the cached build of ``profile``.

    The cache is built once: into a temporary directory beside the target, then renamed into
    place, so two graders starting together never see a half-written directory; the loser of the
    race discards its copy.
    """
    if data_dir is not None:
        data_dir = Path(data_dir)
        manifest = read_manifest(data_dir)
        if profile is not None and manifest.get("profile") not in (None, profile):
            raise DataError(f"{data_dir} holds profile {manifest.get('profile')!r}, not {profile!r}")
        return data_dir
    spec = _data_spec(assignment)
    profile = profile or assignment.default_profile
    if profile not in assignment.profiles:
        raise DataError(f"assignment {assignment.name} has no profile {profile!r}")
    target = cache_root() / assignment.name / profile
    if _is_current(assignment, spec, target):
        return target
    if "builder" in spec and profile != assignment.default_profile:
        raise DataError(
            f"profile {profile!r} is not built automatically: run `grader data {assignment.command_ref} "
            f"--source DIR --profile {profile} --out DATA` and pass --data DATA"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{profile}.building-"))
    try:
        build_data(assignment, staging, profile=profile)
        if _is_current(assignment, spec, target):  # another process finished first
            return target
        if target.exists():  # stale: move it aside first (a rename onto a full directory fails)
            retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{profile}.stale-"))
            try:
                os.rename(target, retired / "old")
            except FileNotFoundError:
                pass  # another process retired it already
        try:
            os.rename(staging, target)
        except OSError:
            if not _is_current(assignment, spec, target):
                raise
        for leftover in target.parent.glob(f".{profile}.stale-*"):
            shutil.rmtree(leftover, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_profile(assignment: Assignment, data_dir: Path, profile: str | None) -> str:
    """The data profile to grade with: the one asked for, else the one the data directory was
    built as (its manifest), else the rubric's default. The one rule for every stage."""
    if profile:
        return profile
    try:
        built = read_manifest(Path(data_dir)).get("profile")
    except (DataError, OSError, ValueError):
        built = None
    return built if built in assignment.profiles else assignment.default_profile
