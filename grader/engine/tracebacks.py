"""Tracebacks as a student should read them: their own frames, no host paths, their cell names.

IPython's plain-text traceback is a sequence of blocks separated by blank lines: a header, one
block per frame (``Cell In[4], line 2`` for notebook code, ``File /path/x.py:12, in f(...)`` for
a module), and the exception line. Frames in library code (the kernel environment, the Python
installation, the grader's venv where no environment is declared) are folded into one line
that names the packages; frames in the student's own files are kept. Host paths anywhere in the
text are replaced by short names, and ``Cell In[n]`` (the grader's execution count) by the cell's
name as the student sees it. The executed notebook keeps the full traceback for the staff.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_CELL_HEADER = re.compile(r"Cell In\[(\d+)\]")
_FILE_FRAME = re.compile(r"^\s*File (\S.*?)(?::\d+, in |, line \d+)")
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PathNames:
    """Host paths (and the sandbox's own mount points) that mean "library code", with the short
    names shown instead. ``library`` prefixes are folded when a frame sits under them."""

    replacements: tuple[tuple[str, str], ...]  # (prefix, shown as), longest first
    library: tuple[str, ...]

    def scrub(self, text: str) -> str:
        for prefix, shown in self.replacements:
            text = text.replace(prefix, shown)
        return text

    def is_library(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.library)


def _variants(path: str | os.PathLike[str]) -> list[str]:
    text = str(path).rstrip("/")
    real = os.path.realpath(text)
    return [text] if real == text else [text, real]


def path_names(
    *,
    env_prefixes: Iterable[str] = (),
    base_prefixes: Iterable[str] = (),
    workdir: str | None = None,
    python_version: str | None = None,
) -> PathNames:
    """The names for one run: the kernel environment (host path and mount point), the Python
    installation(s), the grader's own venv and source tree, and the run's host working directory."""
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    lib = f"lib/python{version}"
    pairs: list[tuple[str, str]] = []
    library: list[str] = []
    for prefix in [*env_prefixes, sys.prefix]:
        for variant in _variants(prefix):
            pairs += [
                (f"{variant}/{lib}/site-packages/", "site-packages/"),
                (f"{variant}/", "<environment>/"),
            ]
            library.append(f"{variant}/")
    for prefix in [*base_prefixes, sys.base_prefix]:
        for variant in _variants(prefix):
            if variant in ("", "/usr"):
                continue
            pairs += [(f"{variant}/{lib}/", f"python{version}/"), (f"{variant}/", "<python>/")]
            library.append(f"{variant}/")
    library.append(f"/usr/{lib}/")
    for variant in _variants(REPO_ROOT):
        pairs.append((f"{variant}/", "<grader>/"))
        library.append(f"{variant}/")
    if workdir:
        for variant in _variants(workdir):
            pairs.append((f"{variant}/", "~/"))
            pairs.append((variant, "~"))
    unique = dict.fromkeys(pairs)
    return PathNames(
        replacements=tuple(sorted(unique, key=lambda pair: len(pair[0]), reverse=True)),
        library=tuple(dict.fromkeys(library)),
    )


def _package(path: str) -> str:
    """The package a library frame belongs to: the directory after site-packages or python3.x."""
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    match = re.search(r"/lib/python3\.\d+/([^/]+)", path)
    if match:
        return match.group(1).removesuffix(".py")
    return Path(path).stem


def _blocks(text: str) -> list[list[str]]:
    """Blank-line separated blocks; a frame that follows its header without a blank line
    (the first frame after "Traceback (most recent call last)") starts a block of its own."""
    blocks: list[list[str]] = [[]]
    for line in text.split("\n"):
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        if blocks[-1] and (_FILE_FRAME.match(line) or _CELL_HEADER.match(line.strip())):
            blocks.append([])
        blocks[-1].append(line)
    return [b for b in blocks if b]


def trim(text: str, names: PathNames, cell_names: dict[int, str] | None = None) -> str:
    """The traceback with library frames folded, host paths replaced and cells named."""
    out: list[str] = []
    folded: list[str] = []

    def flush() -> None:
        if folded:
            packages = ", ".join(dict.fromkeys(folded))
            plural = "s" if len(folded) != 1 else ""
            out.append(f"[... {len(folded)} frame{plural} in library code ({packages}) not shown ...]")
            folded.clear()

    for block in _blocks(text):
        frame = _FILE_FRAME.match(block[0])
        if frame and names.is_library(frame.group(1)):
            folded.append(_package(frame.group(1)))
            continue
        flush()
        out.append("\n".join(block))
    flush()
    result = names.scrub("\n\n".join(out))
    if cell_names:

        def name(match: re.Match[str]) -> str:
            label = cell_names.get(int(match.group(1)))
            return label if label else match.group(0)

        result = _CELL_HEADER.sub(name, result)
    return result
