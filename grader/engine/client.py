"""nbclient's NotebookClient with an output cap: the one piece of nbclient the grader extends.

nbclient has no output-size limit, so ``output`` (its documented per-message handler) is
extended; display updates, which bypass ``output``, are capped in ``process_message``.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode


class GradingClient(NotebookClient):
    """nbclient's NotebookClient with an output cap (bytes per cell) on everything it keeps.

    nbclient has no output-size limit, so ``output`` (its documented per-message handler) is
    extended: past the cap, messages are counted and dropped and one notice is kept instead.
    """

    def __init__(self, nb: NotebookNode, km: Any, *, output_cap: int, **kw: Any) -> None:
        super().__init__(nb, km=km, **kw)
        self.output_cap = output_cap
        self.begin_cell()

    def begin_cell(self) -> None:
        self.cell_bytes = 0
        self.cell_kept = 0
        self.cell_truncated = False
        self.cell_idle_seen = False

    def process_message(
        self, msg: dict[str, Any], cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        # The kernel's "idle" closes every request; if it never arrives while the shell reply
        # does, IOPub messages were lost, which here means one was over the ZMQ size limit.
        if msg.get("msg_type") == "status" and msg.get("content", {}).get("execution_state") == "idle":
            self.cell_idle_seen = True
        if msg.get("msg_type") == "update_display_data":
            # updates replace an earlier output's data without passing through output(): cap them here
            size = _message_size(msg.get("content", {}))
            self.cell_bytes += size
            if size > self.output_cap:
                self.cell_truncated = True
                return None
        return super().process_message(msg, cell, cell_index)

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        size = _message_size(msg.get("content", {}))
        self.cell_bytes += size
        if self.cell_kept + size <= self.output_cap:
            self.cell_kept += size
            return super().output(outs, msg, display_id, cell_index)
        if not self.cell_truncated:
            self.cell_truncated = True
            room = self.output_cap - self.cell_kept
            content = msg.get("content", {})
            if msg.get("msg_type") == "stream" and room > 0 and isinstance(content.get("text"), str):
                outs.append(
                    nbformat.v4.new_output(
                        "stream", name=content.get("name", "stdout"), text=content["text"][:room]
                    )
                )
            outs.append(
                nbformat.v4.new_output(
                    "stream",
                    name="stderr",
                    text=f"\n[grader: output truncated: this cell's output passed the {self.output_cap}-byte limit]\n",
                )
            )
        return None


def _message_size(content: dict[str, Any]) -> int:
    """Approximate bytes of one output message (text, data of every mime type, traceback)."""
    size = 0
    text = content.get("text")
    if isinstance(text, str):
        size += len(text)
    data = content.get("data")
    if isinstance(data, dict):
        for value in data.values():
            size += len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    for line in content.get("traceback") or []:
        size += len(line) if isinstance(line, str) else 0
    return size
