"""The marking app in a real Chromium against a real `grader review` server on 127.0.0.1.

Uses Debian's chromium through Playwright (never a browser download), like
tests/test_report_browser.py. Each test serves its own small graded folder (tests/review_out.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from review_out import Server, make_out, score_of

from grader.marks import MarksStore

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

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


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    return make_out(tmp_path)


@pytest.fixture()
def server(out: Path) -> Iterator[Server]:
    running = Server(out)
    yield running
    running.stop()


class Marker:
    """One person in their own browser context: a page, and everything that went wrong on it."""

    def __init__(self, browser, server: Server, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.base = server.base
        self.page.goto(server.url)  # the token URL: turned into a cookie, then redirected home
        assert self.page.url == f"{server.base}/"
        self.page.fill("#marker-input", name)
        self.page.press("#marker-input", "Enter")
        self.page.wait_for_selector(f"#marker-name:text-is('{name}')")

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path)

    def close(self) -> None:
        self.context.close()


def grades(out: Path) -> dict[str, dict[str, str]]:
    text = (out / "grades.csv").read_text(encoding="utf-8")
    return {r["id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}


def test_mark_a_free_text_answer_with_the_keyboard(
    browser, server: Server, out: Path, tmp_path: Path
) -> None:
    ann = Marker(browser, server, "Ann")
    page = ann.page
    ann.goto("/")
    assert page.inner_text("#progress") == "0 of 4 marked"
    page.click("tr[data-queue=p1_why_boosting] >> text=mark next")
    page.wait_for_url("**/mark/p1_why_boosting/alice")
    assert page.locator("figure img").count() == 1  # Part 1's figure from the executed notebook

    page.keyboard.press("1")  # a digit anywhere goes to the points field
    page.keyboard.press("5")
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    page.keyboard.type("Good; mention bias.")
    assert page.input_value("#points") == "15"
    shot_dir = Path(os.environ.get("REVIEW_SCREENSHOT_DIR") or tmp_path)
    shot = shot_dir / "review-queue.png"
    page.screenshot(path=str(shot), full_page=True)
    page.keyboard.press("Control+Enter")  # save and go to the next unmarked answer
    page.wait_for_url("**/mark/p1_why_boosting/bob")
    assert page.inner_text("#progress") == "1 of 4 marked"
    assert page.inner_text("#queue-progress") == "1 of 4 marked"

    page.keyboard.press("k")  # back to alice: the mark is there
    page.wait_for_url("**/mark/p1_why_boosting/alice")
    assert page.input_value("#points") == "15" and "marked by Ann" in page.inner_text("#marked-by")
    page.keyboard.press("j")
    page.wait_for_url("**/mark/p1_why_boosting/bob")

    page.keyboard.press("Shift+P")  # publish feedback and grades
    page.wait_for_selector("#publish-status[data-running=no][data-published]", timeout=60_000)
    assert "up to date" in page.inner_text("#publish-status")
    feedback = (out / "feedback" / "alice.html").read_text(encoding="utf-8")
    assert "Good; mention bias." in feedback and 'data-score="88.9"' in feedback
    assert float(grades(out)["alice"]["total"]) == 88.9 and float(grades(out)["alice"]["pending_manual"]) == 0
    assert score_of(out, "alice") == 88.9
    assert ann.problems == [] and ann.dialogs == []
    ann.close()

    from PIL import Image, ImageStat

    with Image.open(shot) as image:
        assert image.size[0] == 1100 and image.size[1] >= 900
        assert ImageStat.Stat(image.convert("L")).stddev[0] > 10, "the screenshot is blank"


def test_override_an_automatic_item_and_see_the_audit_line(browser, server: Server, out: Path) -> None:
    ann = Marker(browser, server, "Ann")
    page = ann.page
    ann.goto("/student/alice")
    form = page.locator("form.override-form[data-item=p2_val_error]")
    form.locator("input[name=points]").fill("15")
    form.locator("input[name=reason]").fill("7.0% is within rounding of the full-marks bar")
    with page.expect_navigation():
        form.locator("input[name=reason]").press("Enter")
    line = page.locator("tr.audit-line[data-action=override][data-item=p2_val_error]")
    assert line.count() == 1
    cells = line.locator("td").all_inner_texts()
    assert cells[1:] == [
        "Ann",
        "override",
        "alice",
        "p2_val_error",
        "12.5",
        "15",
        "7.0% is within rounding of the full-marks bar",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", cells[0])
    item = page.locator("#item-p2_val_error")
    assert item.locator(".badge.override").count() == 1 and "15 / 15" in item.inner_text()
    assert page.get_attribute("#score", "data-score") == "76.4"
    assert ann.problems == [] and ann.dialogs == []
    ann.close()

    server.stop()  # a clean stop publishes what was not published yet
    assert "Points changed by a marker from 12.5 to 15" in (out / "feedback" / "alice.html").read_text(
        "utf-8"
    )
    assert float(grades(out)["alice"]["total"]) == 76.4


def test_two_markers_on_the_same_answer_one_is_told_of_the_conflict(
    browser, server: Server, out: Path
) -> None:
    ann, ben = Marker(browser, server, "Ann"), Marker(browser, server, "Ben")
    for marker in (ann, ben):
        marker.goto("/mark/p1_why_boosting/dave")
    ann.page.keyboard.press("9")
    ann.page.keyboard.press("Enter")
    ann.page.wait_for_url("**/mark/p1_why_boosting/mallory")  # the next unmarked answer

    ben.page.keyboard.press("4")
    ben.page.keyboard.press("Enter")
    flash = ben.page.locator("#flash")
    flash.wait_for(state="visible")
    message = flash.inner_text()
    assert "was saved by Ann at" in message and "9 points" in message and "not applied" in message
    assert ben.page.url.endswith("/mark/p1_why_boosting/dave")
    assert ben.page.get_attribute("#mark-form", "data-conflict") == "yes"
    saved = MarksStore.for_out(out).decision("dave", "p1_why_boosting")
    assert (saved.points, saved.marker, saved.version) == (9.0, "Ann", 1)

    ben.page.reload()  # after reloading, Ben sees Ann's mark and may change it knowingly
    assert ben.page.input_value("#points") == "9"
    ben.page.fill("#points", "4")
    ben.page.press("#points", "Enter")
    ben.page.wait_for_url("**/mark/p1_why_boosting/mallory")
    saved = MarksStore.for_out(out).decision("dave", "p1_why_boosting")
    assert (saved.points, saved.marker, saved.version) == (4.0, "Ben", 2)
    assert ann.problems == [] and ann.dialogs == [] and ben.dialogs == []
    # the refused save is an HTTP 409, which Chromium logs; nothing else went wrong
    assert ben.problems == [
        "console error: Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
    for marker in (ann, ben):
        marker.close()


def test_script_and_javascript_links_in_an_answer_run_nothing(browser, server: Server) -> None:
    mal = Marker(browser, server, "Ann")
    page = mal.page
    mal.goto("/mark/p1_why_boosting/mallory")
    answer = page.locator("#answer")
    assert "<script>window.__pwned" in answer.inner_text()  # shown as text
    assert answer.locator("script, img").count() == 0
    hrefs = answer.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.org/paper"]
    url = page.url
    page.get_by_text("click for the proof").click()  # literal text, not a link
    page.get_by_text("data link").click()
    page.wait_for_timeout(300)
    assert page.url == url
    assert page.evaluate("typeof window.__pwned") == "undefined"

    mal.goto("/student/alice")  # the executed notebook's HTML output
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("main b[onclick]").count() == 0
    assert mal.problems == [] and mal.dialogs == []
    mal.close()
