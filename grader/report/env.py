"""The two Jinja2 environments: HTML (autoescape on) and Markdown (every value escaped).

Templates live in ``grader/templates`` (package data). In the Markdown environment a
``finalize`` hook escapes every string a template prints, so a student's text can never become
a link, an image, raw HTML or a broken table in an LMS comment box; text that is already safe
Markdown (a fenced traceback built here) is wrapped in ``MdSafe``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from grader.report.format import fmt_number, fmt_points

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&#!~{}])")


class MdSafe(str):
    """Markdown produced by this package, printed as is."""


def md_escape(value: Any) -> str:
    """Backslash-escape Markdown's active characters and fold newlines (tables are one line)."""
    if value is None:
        return ""
    if isinstance(value, MdSafe):
        return value
    if not isinstance(value, str):
        return str(value)
    return _MD_SPECIAL.sub(r"\\\1", value).replace("\r", "").replace("\n", " ")


def md_fence(body: str, info: str = "text") -> MdSafe:
    """A fenced code block whose fence is longer than any backtick run inside ``body``."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return MdSafe(f"{fence}{info}\n{body.rstrip()}\n{fence}")


def _finalize_md(value: Any) -> Any:
    return md_escape(value)


_CODE_SPAN = re.compile(r"`([^`\n]{1,200})`")


def html_code_spans(value: Any) -> Any:
    """Escaped text whose `backtick spans` (module names in diagnoses) become <code> elements."""
    from markupsafe import Markup, escape

    text = str(escape("" if value is None else value))
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", text))


def md_code_spans(value: Any) -> MdSafe:
    """Escaped Markdown whose `backtick spans` stay code spans (their content is printed verbatim)."""
    text = "" if value is None else str(value)
    out, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        out.append(md_escape(text[last : match.start()]))
        out.append(f"`{match.group(1)}`")
        last = match.end()
    out.append(md_escape(text[last:]))
    return MdSafe("".join(out))


@cache
def html_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(points=fmt_points, num=fmt_number, code=html_code_spans)
    return env


@cache
def md_env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        finalize=_finalize_md,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        points=lambda v: MdSafe(fmt_points(v)), num=lambda v: MdSafe(fmt_number(v)), code=md_code_spans
    )
    return env
