"""`grader review DIR`: a local web app for marking free-text answers, overrides and regrades."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("review")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it local).")
@click.option("--marker", help="Record every save as this marker (default: each browser enters a name).")
@click.option(
    "--assignment", "assignment_name", help="Assignment name or rubric path (default: from the results)."
)
def review(out_dir: Path, port: int, host: str, marker: str | None, assignment_name: str | None) -> None:
    """Serve DIR's marking queues, submissions, overrides and regrade requests on a local web page.

    The printed URL carries an access token. Marks are kept in DIR/marks.sqlite (shared with
    `grader manual`); the Publish button re-renders feedback and exports, as `grader report` does.
    """
    from grader.commands.report import load_or_fail, resolve_assignment
    from grader.marks import StoreError
    from grader.review.server import ServeError, serve

    results = load_or_fail(out_dir)
    assignment = resolve_assignment(assignment_name, results)
    if marker is not None and not marker.strip():
        raise click.BadParameter("the marker name is empty", param_hint="--marker")
    try:
        serve(
            out_dir,
            host=host,
            port=port,
            marker=marker.strip() if marker else None,
            assignment=assignment,
        )
    except (ServeError, StoreError) as exc:
        raise click.ClickException(str(exc)) from exc
