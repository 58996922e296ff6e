"""Builders for small notebooks used by the execution and attack tests.

Every attack notebook has the same shape: a set-up cell (``x = 41``), the attack in its own
cell, and a cell after it that needs the set-up (``total = x + 1``). The tests check that the
attack is stopped and reported on its own cell, and that the cell after it still runs with the
set-up's state (replayed after a kernel restart where needed), so ``total`` is harvested as 42.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SETUP = "x = 41"
AFTER = "total = x + 1\nprint('after', total)"

ATTACKS: dict[str, str] = {
    # network: the host listens on PORT; inside the sandbox there is no route to it (or anywhere)
    "tcp_socket": """
        import socket
        reached = []
        for host in ("127.0.0.1", "1.1.1.1"):
            try:
                socket.create_connection((host, PORT), timeout=2).close()
                reached.append(host)
            except OSError as exc:
                print(host, "blocked:", exc)
        assert not reached, f"connected to {reached}"
        """,
    # secrets: the shadow file, the grader's hidden data and reference files, the repository
    "read_secrets": """
        import os
        found = []
        for path in SECRET_PATHS:
            try:
                with open(path, "rb") as handle:
                    handle.read(16)
                found.append(path)
            except OSError as exc:
                print(path, "->", type(exc).__name__)
        for directory in SECRET_DIRS:
            try:
                if os.listdir(directory):
                    found.append(directory)
            except OSError as exc:
                print(directory, "->", type(exc).__name__)
        assert not found, f"readable: {found}"
        """,
    "fork_bomb": """
        import os, time
        children = []
        for _ in range(500):
            pid = os.fork()
            if pid == 0:
                time.sleep(120)
                os._exit(0)
            children.append(pid)
        print("forked", len(children))
        """,
    "memory_hog": """
        import numpy as np
        hog = np.ones(4 * 1024**3 // 8)  # 4 GiB, touched
        print(hog.sum())
        """,
    "disk_filler": """
        block = b"\\0" * (1 << 20)
        with open("filler.bin", "wb") as handle:
            for _ in range(200):
                handle.write(block)
        """,
    "output_flood": """
        import sys
        for i in range(400_000):
            print("flood line", i, "x" * 40)
        """,
    # one message under the ZMQ size limit (parsed, then truncated) and one over it (refused)
    "huge_message": """
        print("y" * 30_000_000, flush=True)
        """,
    "oversized_message": """
        print("z" * 80_000_000, flush=True)
        """,
    # a display updated in place: updates bypass the usual output path
    "display_update": """
        from IPython.display import display
        handle = display("small", display_id=True)
        handle.update("u" * 5_000_000)
        """,
    "infinite_loop": """
        while True:
            pass
        """,
    "hard_exit": """
        import os
        os._exit(1)
        """,
    # replace json.dumps in the kernel: its own messages (replies, status) become garbage
    "broken_messaging": """
        import json
        json.dumps = lambda *args, **kwargs: "{}"
        json.loads = lambda *args, **kwargs: {}
        """,
    "ignore_interrupt": """
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        time.sleep(600)
        """,
}


def attack_notebook(name: str, **constants: object) -> nbformat.NotebookNode:
    """The attack ``name`` between a set-up cell and a cell that needs the set-up."""
    preamble = "".join(f"{key} = {value!r}\n" for key, value in constants.items())
    return new_notebook(
        cells=[
            new_code_cell(SETUP),
            new_markdown_cell("# Part 1: the attack"),
            new_code_cell(preamble + textwrap.dedent(ATTACKS[name]).strip()),
            new_markdown_cell("## Part 2: afterwards"),
            new_code_cell(AFTER),
        ],
        metadata={"kernelspec": {"name": "not-a-real-kernel", "display_name": "x", "language": "python"}},
    )


ATTACK_CELL = 2
AFTER_CELL = 4


def write(nb: nbformat.NotebookNode, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
