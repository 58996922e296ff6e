"""An executed notebook, read-only, as data the review templates can print safely.

Everything in an executed notebook came from the student's code, so nothing is trusted: sources
and text outputs are printed as escaped text, Markdown cells go through the safe renderer, HTML
and JavaScript outputs are shown by their text/plain form only, and PNG figures are decoded and
re-encoded (``grader.report.evidence.png``) before they become data URIs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from grader.notebook_parts import assign_parts, cell_source
from grader.report import evidence as ev
from grader.review.markdown import render_markdown

MAX_CELLS = 400
MAX_TEXT = 20_000
MAX_FIGURES = 60
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class OutputView:
    kind: str  # text | image | error
    text: str = ""
    uri: str = ""


@dataclass
class CellView:
    index: int
    cell_type: str
    part: str | None
    source: str
    html: Markup = field(default_factory=Markup)
    outputs: list[OutputView] = field(default_factory=list)


@dataclass
class NotebookView:
    cells: list[CellView]
    message: str = ""  # why there is nothing to show, or what was cut

    def figures(self, part: str | None) -> list[str]:
        """Data URIs of the figures the cells of ``part`` produced."""
        return [o.uri for c in self.cells if c.part == part for o in c.outputs if o.kind == "image"][
            :MAX_FIGURES
        ]


def _text(value: Any) -> str:
    text = "".join(value) if isinstance(value, list) else value if isinstance(value, str) else ""
    text = _ANSI.sub("", text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n…(output cut)"


def _output(output: Any) -> OutputView | None:
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        return OutputView("text", _text(output.get("text")))
    if kind == "error":
        trace = output.get("traceback")
        text = "\n".join(_text(t) for t in trace) if isinstance(trace, list) else ""
        return OutputView("error", text or f"{_text(output.get('ename'))}: {_text(output.get('evalue'))}")
    if kind in ("execute_result", "display_data"):
        found = output.get("data")
        data: dict[str, Any] = found if isinstance(found, dict) else {}
        raw = data.get("image/png")
        raw = "".join(raw) if isinstance(raw, list) else raw  # nbformat may split a string into lines
        png = ev.png(raw.replace("\n", "")) if isinstance(raw, str) else None
        if png:
            return OutputView("image", uri=ev.data_uri(png))
        if "text/plain" in data:
            return OutputView("text", _text(data.get("text/plain")))
    return None


def _run_parts(run: dict[str, Any] | None) -> dict[int, str]:
    cells = run.get("cells") if isinstance(run, dict) else None
    found: dict[int, str] = {}
    for cell in cells if isinstance(cells, list) else []:
        if (
            isinstance(cell, dict)
            and isinstance(cell.get("index"), int)
            and isinstance(cell.get("part"), str)
        ):
            found[cell["index"]] = cell["part"]
    return found


def load_notebook(
    path: Path, *, parts: list[dict[str, Any]] | None = None, run: dict[str, Any] | None = None
) -> NotebookView:
    """The notebook at ``path`` as a view; a missing or unreadable file is a message, not an error.

    Cells map to parts by the rubric's headings when ``parts`` is given (as the harvest does),
    otherwise by the run record's per-cell parts.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return NotebookView([], "no executed notebook was saved for this submission")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return NotebookView([], f"the executed notebook cannot be read ({type(exc).__name__})")
    cells = raw.get("cells") if isinstance(raw, dict) else None
    if not isinstance(cells, list):
        return NotebookView([], "the executed notebook has no cells")
    cells = [c for c in cells if isinstance(c, dict)]
    part_of = assign_parts(cells, parts) if parts else [_run_parts(run).get(i) for i in range(len(cells))]
    views = []
    for index, (cell, part) in enumerate(zip(cells[:MAX_CELLS], part_of, strict=False)):
        cell_type = str(cell.get("cell_type") or "code")
        source = _text(cell_source(cell))
        view = CellView(index, cell_type, part, source)
        if cell_type == "markdown":
            view.html = render_markdown(source)
        outputs = cell.get("outputs") if isinstance(cell.get("outputs"), list) else []
        view.outputs = [o for o in (_output(x) for x in outputs) if o is not None]
        views.append(view)
    message = f"only the first {MAX_CELLS} of {len(cells)} cells are shown" if len(cells) > MAX_CELLS else ""
    return NotebookView(views, message)
