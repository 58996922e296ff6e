"""Serve the marking app: bind first (so the printed URL names the real port), then run uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.review.security import new_token

if TYPE_CHECKING:
    from grader.assignment import Assignment


class ServeError(RuntimeError):
    """The server cannot start (the port is taken, the address is not this machine's)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (pass --port 0 for any free port)" if port else ""
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    out_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    marker: str | None = None,
    assignment: Assignment | None = None,
    token: str | None = None,
) -> None:
    """Print the URL (with its token) and serve until interrupted; unpublished marks are published on exit."""
    import uvicorn

    from grader.review.app import create_app  # lazy: start-up (Starlette only when serving)

    token = token or new_token()
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(out_dir, token=token, assignment=assignment, marker=marker)
    if not is_loopback(host):
        print(
            f"warning: listening on {host}, reachable from other machines; the token is the only lock "
            "and the connection is not encrypted",
            file=sys.stderr,
        )
    print(f"grader review: marking {out_dir}", flush=True)
    print(f"    http://{shown}:{actual}/?token={token}", flush=True)
    print("press Ctrl-C to stop (unpublished marks are published then)", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
