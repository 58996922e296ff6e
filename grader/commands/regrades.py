"""`grader regrades DIR [--import FILE]`: regrade requests, imported into the marks store and listed."""

from __future__ import annotations

import getpass
from pathlib import Path

import click


@click.command("regrades")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--import",
    "requests_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of requests with columns student, item, text (repeats of earlier requests are skipped).",
)
@click.option("--marker", help="Who imported the file, for the audit log (default: your user name).")
def regrades(out_dir: Path, requests_file: Path | None, marker: str | None) -> None:
    """Import regrade requests into DIR/marks.sqlite, or list the open ones.

    `grader review DIR` shows them as a queue, where each is answered and resolved.
    """
    from grader.marks import MarksStore, StoreError, store_path
    from grader.marks.regrades import RegradeImportError, import_requests

    try:
        if requests_file is not None:
            done = import_requests(out_dir, requests_file, marker=marker or getpass.getuser())
            click.echo(
                f"imported {done.added} regrade requests from {requests_file}"
                + (f" ({done.repeated} already imported before)" if done.repeated else "")
                + f"; answer them in `grader review {out_dir}` (Regrade requests)"
            )
            return
        open_requests = (
            MarksStore.for_out(out_dir).regrades(status="open") if store_path(out_dir).exists() else []
        )
    except RegradeImportError as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if not open_requests:
        click.echo("no open regrade requests")
    for request in open_requests:
        text = " ".join(request.text.split())
        click.echo(f"#{request.id} {request.student} {request.item}: {text[:120]}")
