"""The marking app over HTTP (Starlette's TestClient): the token, cross-site writes, escaping, saves."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from review_out import make_out, score_of

from grader.assignment import load_assignment
from grader.marks import MarksStore
from grader.review.app import create_app
from grader.review.security import CSP

BASE = "http://127.0.0.1:8765"
TOKEN = "test-token-0123456789"


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    return make_out(tmp_path)


def client(out: Path, **options):
    from starlette.testclient import TestClient

    app = create_app(out, token=TOKEN, assignment=load_assignment("hw2"), publish_on_exit=False, **options)
    return TestClient(app, base_url=BASE)


@pytest.fixture()
def signed_in(out: Path):
    """A browser-like client holding the token cookie, named Ann, with the page's CSRF header."""
    c = client(out)
    assert c.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    page = c.get("/").text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    c.headers.update({"X-CSRF-Token": csrf, "Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert c.post("/api/marker", json={"name": "Ann"}).json() == {"ok": True, "marker": "Ann"}
    return c


# ---------------------------------------------------------------- the token


def test_every_request_needs_the_token(out: Path) -> None:
    c = client(out)
    for path in ("/", "/static/review.js", "/api/marks", "/student/alice", "/mark/p1_why_boosting/alice"):
        response = c.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert response.headers["content-security-policy"] == CSP
    assert c.get("/?token=wrong", follow_redirects=False).status_code == 403
    assert c.get("/", headers={"Cookie": "grader_review_token=wrong"}).status_code == 403
    assert c.post("/api/mark", json={}, headers={"Authorization": "token wrong"}).status_code == 403


def test_the_url_token_becomes_a_strict_cookie_and_leaves_the_address(out: Path) -> None:
    c = client(out)
    response = c.get(f"/mark/p1_why_boosting/alice?token={TOKEN}&x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/mark/p1_why_boosting/alice?x=1"
    cookie = response.headers["set-cookie"]
    assert f"grader_review_token={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = c.get("/mark/p1_why_boosting/alice")
    assert page.status_code == 200 and "Why do boosted trees prefer" in page.text
    for header, value in {
        "content-security-policy": CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }.items():
        assert page.headers[header] == value
    assert (
        "default-src 'none'" in CSP
        and "script-src 'self'" in CSP
        and "'unsafe-inline'" not in CSP.split("script-src")[1].split(";")[0]
    )


def test_a_script_with_the_header_token_may_write(out: Path) -> None:
    c = client(out, marker="robot")
    response = c.post(
        "/api/mark",
        json={"student": "bob", "item": "p1_why_boosting", "points": 3, "comment": "", "version": 0},
        headers={"Authorization": f"token {TOKEN}"},
    )
    assert response.status_code == 200, response.text
    assert MarksStore.for_out(out).decision("bob", "p1_why_boosting").marker == "robot"


# ---------------------------------------------------------------- cross-site writes


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-CSRF-Token": ""}, "CSRF token"),
        ({"X-CSRF-Token": "0" * 64}, "CSRF token"),
        ({"Origin": "http://evil.example"}, "another origin"),
        ({"Origin": "http://127.0.0.1:9999"}, "another origin"),
        ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
        ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "JSON"),
        ({"Content-Type": "text/plain"}, "JSON"),
    ],
)
def test_cross_site_writes_are_refused(signed_in, out: Path, headers: dict, why: str) -> None:
    body = '{"student": "alice", "item": "p1_why_boosting", "points": 1, "comment": "", "version": 0}'
    response = signed_in.post(
        "/api/mark", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 403 and why in response.json()["error"]
    assert MarksStore.for_out(out).decisions() == {}


# ---------------------------------------------------------------- escaping


def test_hostile_answers_and_outputs_are_inert_in_the_html(signed_in) -> None:
    page = signed_in.get("/mark/p1_why_boosting/mallory").text
    answer = page.split('id="answer"')[1].split("</div>")[0]
    assert "<script" not in answer and "&lt;script&gt;" in answer
    assert "<img" not in answer and "&lt;img" in answer
    assert 'href="javascript' not in answer.lower() and 'href="data' not in answer.lower()
    assert '<a href="https://example.org/paper" rel="noopener noreferrer nofollow">safe link</a>' in answer
    assert "<strong>Bold claim</strong>" in answer
    assert page.count("<script") == 1 and '<script src="/static/review.js" defer></script>' in page
    assert not re.search(r"<[^>]+\son\w+=", page)  # no inline event handler anywhere
    notebook = signed_in.get("/student/alice").text
    assert "<b onclick" not in notebook and "alert(4)" not in notebook  # text/html outputs are not used
    assert "depth  rmse" in notebook  # ... their text/plain form is
    assert notebook.count("data:image/png;base64,") == 2


def test_the_marking_page_shows_prompt_guidance_figures_and_progress(signed_in) -> None:
    page = signed_in.get("/mark/p1_why_boosting/alice").text
    assert "Why do boosted trees prefer the tree size they prefer?" in page  # the rubric's prompt
    assert "Boosting adds many weak" in page  # the rubric's guidance
    figures = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="figure', page)
    assert len(figures) == 1  # Part 1's figure, not Part 2's
    assert "0 of 4 marked" in page and "answer 1 of 4" in page


def test_submission_page_shows_items_run_record_and_notebook(signed_in) -> None:
    page = signed_in.get("/student/alice").text
    assert page.count('class="override-form"') == 9  # every automatic item
    assert "output_cap" in page and "output cut at 1 MB" in page  # the run record's limits
    assert "epoch 10: loss 0.93" in page
    assert signed_in.get("/student/nobody").status_code == 404


# ---------------------------------------------------------------- saving


def save(c, kind: str = "mark", **body):
    payload = {
        "student": "alice",
        "item": "p1_why_boosting",
        "points": 15,
        "comment": "",
        "version": 0,
        **body,
    }
    return c.post(f"/api/{kind}", json=payload)


def test_marks_are_checked_saved_versioned_and_conflicts_refused(signed_in, out: Path) -> None:
    assert "between 0 and 20" in save(signed_in, points=21).json()["error"]
    assert "between 0 and 20" in save(signed_in, points=-1).json()["error"]
    assert "not a number" in save(signed_in, points="lots").json()["error"]
    assert "override" in save(signed_in, item="p2_val_error").json()["error"]
    assert "no result" in save(signed_in, student="zed").json()["error"]
    ok = save(signed_in, comment="Good")
    assert ok.status_code == 200 and ok.json()["next"] == "/mark/p1_why_boosting/bob"
    stale = save(signed_in, points=3)
    assert stale.status_code == 409 and "saved by Ann" in stale.json()["error"]
    assert save(signed_in, points=18, version=1).status_code == 200
    assert MarksStore.for_out(out).decision("alice", "p1_why_boosting").points == 18


def test_overrides_need_a_reason_and_refuse_free_text(signed_in, out: Path) -> None:
    body = {"item": "p2_val_error", "points": 15}
    assert "needs a reason" in save(signed_in, "override", reason="  ", **body).json()["error"]
    assert "free-text" in save(signed_in, "override", item="p1_why_boosting", reason="x").json()["error"]
    assert (
        "between 0 and 15"
        in save(signed_in, "override", item="p2_val_error", points=16, reason="x").json()["error"]
    )
    assert save(signed_in, "override", reason="rounding", **body).status_code == 200
    page = signed_in.get("/student/alice").text
    assert "badge override" in page and "Restore automatic 12.5" in page
    assert 'data-action="override" data-student="alice" data-item="p2_val_error"' in page


def test_a_save_without_a_marker_name_is_refused(out: Path) -> None:
    c = client(out)
    c.get(f"/?token={TOKEN}")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/").text).group(1)
    c.headers.update({"X-CSRF-Token": csrf})
    response = save(c)
    assert response.status_code == 400 and "enter your name" in response.json()["error"]
    assert "Start marking" in c.get("/").text


def test_regrade_queue_lists_and_resolves(signed_in, out: Path) -> None:
    MarksStore.for_out(out).add_regrades(
        [("alice", "p2_val_error", "<script>alert(1)</script> 7% should round")], source="r.csv", marker="x"
    )
    page = signed_in.get("/regrades").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 7% should round" in page
    assert 'href="/student/alice#item-p2_val_error"' in page
    number = MarksStore.for_out(out).regrades()[0].id
    assert signed_in.post(f"/api/regrades/{number}/resolve", json={"response": ""}).status_code == 400
    assert signed_in.post(f"/api/regrades/{number}/resolve", json={"response": "Raised"}).json()["ok"]
    assert signed_in.post(f"/api/regrades/{number}/resolve", json={"response": "x"}).status_code == 409
    assert "Resolved by Ann" in signed_in.get("/regrades").text


def test_publish_renders_feedback_and_grades_in_the_background(signed_in, out: Path) -> None:
    assert save(signed_in, comment="Good; mention bias.").status_code == 200
    assert signed_in.get("/api/state").json()["unpublished"] == 1
    assert signed_in.post("/api/publish", json={}).json() == {"ok": True}
    deadline = time.monotonic() + 60
    while (state := signed_in.get("/api/state").json())["publishing"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state["error"] == "" and state["unpublished"] == 0 and state["published_at"]
    assert score_of(out, "alice") == 88.9
    assert "Good; mention bias." in (out / "feedback" / "alice.html").read_text(encoding="utf-8")
    # a rescore rewrites alice's document without the mark: the app sees it is unpublished again
    shutil.copy(Path(__file__).parent / "fixtures" / "results" / "alice.json", out / "results" / "alice.json")
    assert signed_in.get("/api/state").json()["unpublished"] == 1
    assert signed_in.get("/api/state").json()["marked"] == 1  # the mark itself is in the store


def test_docs_show_the_workflow_with_the_screenshot() -> None:
    """The screenshot is made by tests/test_review_browser.py (REVIEW_SCREENSHOT_DIR=docs to refresh it)."""
    repo = Path(__file__).resolve().parents[1]
    shot = repo / "docs" / "review-queue.png"
    assert shot.exists() and shot.stat().st_size > 10_000
    assert "docs/review-queue.png" in (repo / "README.md").read_text(encoding="utf-8")
    guide = (repo / "docs" / "REVIEW.md").read_text(encoding="utf-8")
    assert "review-queue.png" in guide and "grader regrades OUT --import" in guide
