"""A small graded output folder for the marking-app tests, built from the fixture results.

No notebook is executed: the result documents are tests/fixtures/results/*.json; alice gets a
small executed notebook (a figure in Part 1, an HTML output) and a run record written here; a
fifth student, mallory, has a hostile free-text answer (a script tag, a javascript: link, a
data: link, raw HTML with an event handler).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "results"
REPO = Path(__file__).resolve().parents[1]

HOSTILE_ANSWER = (
    "Boosting fits residuals.\n\n"
    "<script>window.__pwned = 1; alert('script ran')</script>\n\n"
    "[click for the proof](javascript:window.__pwned=2;alert('link ran'))\n\n"
    "[data link](data:text/html,<script>alert(3)</script>)\n\n"
    '<img src="x" onerror="window.__pwned=3">\n\n'
    "**Bold claim** and a [safe link](https://example.org/paper)."
)


def _png(color: tuple[int, int, int]) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plot_png() -> str:
    """A small real figure: alice's validation RMSE by tree depth, as her notebook would draw it."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 2.4), dpi=80)
    axes = figure.add_subplot()
    depths = [1, 2, 4, 8, 16]
    axes.plot(depths, [3.58, 3.22, 3.04, 3.35, 3.95], marker="o", label="decision tree")
    axes.plot(depths, [3.52, 3.12, 2.95, 3.41, 2.88], marker="o", label="random forest")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("max_depth")
    axes.set_ylabel("validation RMSE")
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _notebook() -> dict:
    def md(text: str) -> dict:
        return {"cell_type": "markdown", "metadata": {}, "source": text}

    def code(source: str, outputs: list[dict]) -> dict:
        return {
            "cell_type": "code",
            "metadata": {},
            "source": source,
            "outputs": outputs,
            "execution_count": 1,
        }

    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            md("# Homework 2"),
            code("import numpy as np", []),
            md("## Part 1: temperature regression"),
            code(
                "plt.plot(depths, rmse)",
                [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": _plot_png(), "text/plain": "<Figure>"},
                    }
                ],
            ),
            code(
                "df.head()",
                [
                    {
                        "output_type": "execute_result",
                        "metadata": {},
                        "execution_count": 2,
                        "data": {
                            "text/html": "<b onclick='x()'>table</b><script>alert(4)</script>",
                            "text/plain": "   depth  rmse\n0      1  3.58",
                        },
                    }
                ],
            ),
            md("## Part 2: MNIST"),
            code(
                "plt.plot(losses)",
                [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/png": _png((40, 40, 200))},
                    },
                    {"output_type": "stream", "name": "stdout", "text": "epoch 10: loss 0.93\n"},
                ],
            ),
        ],
    }


def make_out(base: Path) -> Path:
    """OUT with results/, results.jsonl, executed/alice.ipynb, run/alice.json; nothing rendered."""
    from grader.results import rebuild_jsonl, write_json_atomic

    out = base / "out"
    (out / "results").mkdir(parents=True)
    for path in FIXTURES.glob("*.json"):
        shutil.copy(path, out / "results" / path.name)
    dave = json.loads((FIXTURES / "dave.json").read_text(encoding="utf-8"))
    mallory = copy.deepcopy(dave)
    mallory.update(id="mallory", student="mallory", submission="submissions/mallory/hw2.ipynb")
    mallory["executed_notebook"] = "executed/mallory.ipynb"
    mallory["feedback"] = {"html": "feedback/mallory.html", "md": "feedback/mallory.md"}
    for item in mallory["items"]:
        if item["id"] == "p1_why_boosting":
            item["evidence"] = {"answer": HOSTILE_ANSWER}
    write_json_atomic(out / "results" / "mallory.json", mallory)
    (out / "executed").mkdir()
    (out / "executed" / "alice.ipynb").write_text(json.dumps(_notebook()), encoding="utf-8")
    alice = json.loads((FIXTURES / "alice.json").read_text(encoding="utf-8"))
    run = {
        "schema_version": 1,
        "id": "alice",
        "status": "completed",
        "message": "all cells ran",
        "cells": alice["cells"],
        "limits_fired": [{"limit": "output_cap", "cell": 4, "message": "output cut at 1 MB"}],
        "telemetry": alice["telemetry"],
    }
    write_json_atomic(out / "run" / "alice.json", run)
    rebuild_jsonl(out)
    return out


def score_of(out: Path, student: str) -> float:
    return json.loads((out / "results" / f"{student}.json").read_text(encoding="utf-8"))["score"]


class Server:
    """`grader review OUT --port 0` as a child process; ``url`` carries the token."""

    def __init__(self, out: Path, *extra: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "review", str(out), "--port", "0", *extra],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + 60
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
            if found:
                self.base, self.token = found.group(1), found.group(2)
                self.url = found.group(0)
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.process.kill()
            raise RuntimeError("grader review printed no URL:\n" + "".join(self.lines))
        self._drain = threading.Thread(target=self._read, daemon=True)
        self._drain.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def output(self) -> str:
        return "".join(self.lines)
