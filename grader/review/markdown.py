"""Students' Markdown, rendered for markers without giving it any power.

Answers are untrusted. markdown-it-py (CommonMark) renders them with raw HTML off, so ``<script>``
arrives as text; links survive only with an http, https or mailto target (``javascript:``,
``data:``, ``vbscript:`` and the rest stay literal text); images are not rendered at all (the
app's content-security policy would block a remote one anyway, and a data image is a place to
hide things). The result is HTML that Jinja2 may print unescaped.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from markupsafe import Markup

MAX_MARKDOWN_CHARS = 40_000
_ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


def _safe_link(url: str) -> bool:
    """Only plain web and mail links; the check runs on markdown-it's normalised URL."""
    lowered = url.strip().lower()
    return lowered.startswith(_ALLOWED_SCHEMES)


@cache
def _renderer() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    md.validateLink = _safe_link  # type: ignore[method-assign]  # markdown-it-py's documented hook

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: Any) -> Markup:
    """Safe HTML for a student's Markdown (an empty string for anything that is not text)."""
    if not isinstance(text, str) or not text:
        return Markup("")
    if len(text) > MAX_MARKDOWN_CHARS:
        text = text[:MAX_MARKDOWN_CHARS] + "\n\n…(cut: the answer is longer than the marking view shows)"
    return Markup(_renderer().render(text))
