"""Click options shared by several commands, so that they read and behave the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from grader.sandbox import BACKENDS

backend_option = click.option(
    "--backend",
    default="auto",
    show_default=True,
    type=click.Choice(("auto", *BACKENDS)),
    help="Sandbox backend: auto picks bwrap where it works, else process (which does not isolate).",
)


def data_option(
    description: str = "Data directory with public/ and hidden/ (default: the embedded data, built once).",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--data DIR``: an existing data directory (as written by `grader data`)."""
    return click.option(
        "--data",
        "data_dir",
        default=None,
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=description,
    )
