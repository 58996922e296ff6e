"""A content-addressed cache of report plots: a plot is a pure function of its inputs.

Matplotlib dominates the cost of a page that has its plots (about 0.05-0.1 s per plot). A rescore
after a threshold edit redraws the same plots; with this cache only the plots whose inputs changed
are drawn again. (Curve items are SVGs, grader.report.curve_svg, drawn afresh every time.) Entries live under OUT/.cache/plots/<2 hex>/<sha256>.png, named by the hash of the
plot's kind, its inputs, the plotting code and the matplotlib version, so nothing is ever stale:
changed code or inputs simply miss. Writes are atomic (tmp file, rename); a cache file that is not
a whole PNG (a crash before the disk caught up) is drawn again and replaced.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from grader.report import plots
from grader.report.files import write_bytes_atomic

PNG_START = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


@functools.lru_cache(maxsize=1)
def _code_version() -> str:
    """The plotting code and the library that draws: a change to either misses every entry."""
    digest = hashlib.sha256(Path(plots.__file__).read_bytes())
    digest.update(version("matplotlib").encode())
    return digest.hexdigest()


def plot_key(kind: str, inputs: dict[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(f"{kind}\0{_code_version()}\0{text}".encode()).hexdigest()


class PlotCache:
    """PNG bytes by plot inputs; ``root`` None draws every time (nothing stored)."""

    def __init__(self, root: Path | None) -> None:
        self.root = Path(root) if root is not None else None
        self.hits = 0
        self.misses = 0

    def png(self, kind: str, inputs: dict[str, Any], draw: Callable[[], bytes]) -> bytes:
        """The cached PNG for these inputs, or ``draw()``'s, stored for next time."""
        if self.root is None:
            self.misses += 1
            return draw()
        key = plot_key(kind, inputs)
        path = self.root / key[:2] / f"{key}.png"
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        if data.startswith(PNG_START) and data.endswith(PNG_END):
            self.hits += 1
            return data
        self.misses += 1
        data = draw()
        try:
            write_bytes_atomic(path, data, durable=False)
        except OSError:
            pass  # a cache that cannot be written only costs time
        return data


def for_out_dir(out_dir: Path) -> PlotCache:
    """The cache every page of one output directory shares."""
    return PlotCache(Path(out_dir) / ".cache" / "plots")
