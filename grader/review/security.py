"""The marking app's gate: a token on every request, no cross-site writes, strict page headers.

- Token, as Jupyter does it: generated at start and printed in the URL. A request carrying it as
  ``?token=`` gets it back as an HttpOnly, SameSite=Strict cookie and is redirected to the same
  URL without it (so it leaves the address bar and the history). Every later request must carry
  the cookie, or ``Authorization: token <token>`` (for scripts); anything else is refused.
- Writes (any method but GET/HEAD) made with the cookie must also come from the app's own pages:
  ``Sec-Fetch-Site`` (when the browser sends it) must be ``same-origin``, ``Origin`` (when sent)
  must be this server, the body must be JSON, and an ``X-CSRF-Token`` header must match a value
  derived from the token that only the app's pages carry. A header-token request is a script's,
  not a browser's ambient credential, so it skips the same-origin checks.
- Every response carries the reports' content-security policy plus what the app itself needs
  (its own script file and fetches to itself), and refuses framing, sniffing and referrers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from starlette.datastructures import URL, Headers, QueryParams
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "grader_review_token"
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
SAFE_METHODS = frozenset({"GET", "HEAD"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_for(token: str) -> str:
    """The value the app's pages send back with every write; useless without the page."""
    return hmac.new(token.encode(), b"grader-review-csrf", hashlib.sha256).hexdigest()


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for raw in headers.getlist("cookie"):
        try:
            jar.load(raw)
        except Exception:  # a malformed cookie header is just no cookie
            continue
    return {key: morsel.value for key, morsel in jar.items()}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Guard:
    """ASGI middleware in front of every route (static files and errors included)."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token
        self.csrf = csrf_for(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets here
        send = self._with_headers(send)
        headers = Headers(scope=scope)
        refusal = self._check(scope, headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        return wrapped

    def _check(self, scope: Scope, headers: Headers) -> Response | None:
        url = URL(scope=scope)
        method = scope["method"]
        query = QueryParams(scope.get("query_string", b""))
        query_token = query.get("token")
        if query_token is not None and method in SAFE_METHODS:
            if not _same(query_token, self.token):
                return _denied("this link's token is wrong or from an earlier run of `grader review`")
            rest = [(k, v) for k, v in query.multi_items() if k != "token"]
            target = url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            return response
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("token "):
            if _same(authorization[6:].strip(), self.token):
                return None
            return _denied("the Authorization token is wrong")
        cookie = _cookies(headers).get(COOKIE)
        if cookie is None or not _same(cookie, self.token):
            return _denied("open the link `grader review` printed (it carries the access token)")
        if method in SAFE_METHODS:
            return None
        return self._check_write(url, headers)

    def _check_write(self, url: URL, headers: Headers) -> Response | None:
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site != "same-origin":
            return _forbidden(f"cross-site write refused (Sec-Fetch-Site: {fetch_site})")
        origin = headers.get("origin")
        if origin is not None and origin != f"{url.scheme}://{url.netloc}":
            return _forbidden("cross-site write refused (the request comes from another origin)")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _forbidden("writes must send JSON from the app's own pages")
        if not _same(headers.get("x-csrf-token", ""), self.csrf):
            return _forbidden("the request lacks the page's CSRF token; reload the page")
        return None


def _denied(why: str) -> Response:
    return PlainTextResponse(f"403 forbidden: {why}\n", status_code=403)


def _forbidden(why: str) -> Response:
    return JSONResponse({"ok": False, "error": why}, status_code=403)
