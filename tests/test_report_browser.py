"""The HTML reports in headless Chromium: no console errors, every image decodes, not blank.

Uses Debian's chromium (installed by scripts/setup); never downloads a browser. Skipped only
when /usr/bin/chromium is absent outside CI; in CI (CI=true) a missing browser fails.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from grader.report import render_student, render_summary

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIXTURES = Path(__file__).parent / "fixtures" / "results"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing in CI; scripts/setup installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (scripts/setup installs it); browser checks skipped")
    try:
        from playwright import sync_api
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("python playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as play:
        instance = play.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))]
    for doc in docs:
        render_student(doc, out)
    render_summary(docs, out)
    return out


PAGES = ["summary.html", *(f"feedback/{p.stem}.html" for p in sorted(FIXTURES.glob("*.json")))]


@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_cleanly_with_decoded_images(browser, site: Path, page_name: str, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    page = browser.new_page(viewport={"width": 1000, "height": 800})
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
    page.goto((site / page_name).as_uri())
    images = page.evaluate(
        "Array.from(document.images).map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"
    )
    shot = page.screenshot(full_page=True)
    title = page.title()
    page.close()

    assert problems == []
    assert [i["alt"] for i in images if not i["ok"]] == []
    assert title
    with Image.open(io.BytesIO(shot)) as image:
        gray = image.convert("L")
        stat = ImageStat.Stat(gray)
        assert stat.stddev[0] > 10, "screenshot is blank"
        assert gray.getextrema()[0] < 80, "no dark text or header on the page"
    (tmp_path / "screenshot.png").write_bytes(shot)


def test_report_with_images_shows_them(browser, site: Path) -> None:
    page = browser.new_page()
    page.goto((site / "feedback" / "alice.html").as_uri())
    sizes = page.evaluate("Array.from(document.images).map(i => [i.naturalWidth, i.naturalHeight])")
    page.close()
    assert len(sizes) == 5
    assert sizes[-2:] == [[32, 32], [32, 32]]  # original and reconstruction, beside each other
