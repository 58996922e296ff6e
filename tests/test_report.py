"""Per-student feedback and the class summary, rendered from the hand-built result fixtures."""

from __future__ import annotations

import base64
import copy
import io
import json
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image

from grader.report import evidence as ev
from grader.report import render_student, render_summary
from grader.report.env import md_escape, md_fence
from grader.report.format import fmt_points
from grader.report.student import ReportError
from grader.report.summary import item_stats

FIXTURES = Path(__file__).parent / "fixtures" / "results"


def load_fixtures() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(FIXTURES.glob("*.json"))}


class Page(HTMLParser):
    """Every tag with its attributes, and the page's text, for checks on rendered HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def attr(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.tags if t == tag and name in a]


def png_b64(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict], dict[str, dict]]:
    out = tmp_path_factory.mktemp("out")
    docs = load_fixtures()
    paths = {rid: render_student(doc, out) for rid, doc in docs.items()}
    render_summary(list(docs.values()), out)
    return out, docs, paths


def test_every_fixture_renders_html_and_markdown_with_its_score(rendered) -> None:
    out, docs, paths = rendered
    assert set(docs) == {"alice", "bob", "carol", "dave", "erin"}
    for rid, doc in docs.items():
        assert paths[rid] == {"html": out / "feedback" / f"{rid}.html", "md": out / "feedback" / f"{rid}.md"}
        page = Page(paths[rid]["html"].read_text(encoding="utf-8"))
        totals = [a for t, a in page.tags if t == "span" and "total" in a.get("class", "")]
        assert totals[0]["data-score"] == fmt_points(doc["score"])
        md = paths[rid]["md"].read_text(encoding="utf-8")
        assert f"**Score: {fmt_points(doc['score'])} / {fmt_points(doc['max_score'])}**" in md


def test_html_shows_parts_items_messages_errors_and_cells(rendered) -> None:
    out, docs, paths = rendered
    html = paths["alice"]["html"].read_text(encoding="utf-8")
    page = Page(html)
    for item in docs["alice"]["items"]:
        assert f'data-item="{item["id"]}"' in html
        assert item["title"] in html
    assert "validation RMSE of the random forest at depth 8 is 3.41" in html
    assert "ValueError" in html and "np.dot(a, b)" in html  # the traceback
    assert "Time and memory per cell" in html
    part_scores = {a["data-part"]: a["data-score"] for t, a in page.tags if "data-part" in a}
    assert part_scores == {p["id"]: fmt_points(p["score"]) for p in docs["alice"]["parts"]}
    # two curve plots, one loss plot, the original and the reconstruction
    assert len(page.attr("img", "src")) == 5
    assert html.count('class="pixel"') == 2


def test_failed_submissions_explain_why(rendered) -> None:
    _, docs, paths = rendered
    for rid in ("bob", "carol", "erin"):
        html = paths[rid]["html"].read_text(encoding="utf-8")
        assert "This submission was not fully graded" in html
        assert docs[rid]["message"] in html
    bob = paths["bob"]["html"].read_text(encoding="utf-8")
    assert "notebook_timeout" in bob


def test_every_image_is_a_png_or_svg_data_uri_this_package_wrote(rendered) -> None:
    out, _, _ = rendered
    svgs = 0
    for html_path in [*out.glob("feedback/*.html"), out / "summary.html"]:
        for src in Page(html_path.read_text(encoding="utf-8")).attr("img", "src"):
            kind, data = src.split(",", 1)
            body = base64.b64decode(data)
            if kind == "data:image/svg+xml;base64":
                svgs += 1
                root = ElementTree.fromstring(body)  # well-formed: every text in it was escaped
                assert root.tag == "{http://www.w3.org/2000/svg}svg"
                tags = {element.tag.split("}")[-1] for element in root.iter()}
                assert not tags & {"script", "foreignObject", "image", "a", "use"}, tags
                continue
            assert kind == "data:image/png;base64", (html_path.name, src[:40])
            with Image.open(io.BytesIO(body)) as image:
                assert image.format == "PNG" and image.size[0] > 0
    assert svgs  # the curve items' plots


def test_a_curve_plot_draws_the_values_over_the_band_with_an_escaped_title() -> None:
    from grader.report.curve_svg import curve_svg

    band = {
        "mean": [4.4, 3.3, 3.0, 3.6, 3.9],
        "low": [4.3, 3.2, 2.9, 3.5, 3.8],
        "high": [4.5, 3.4, 3.1, 3.7, 4.0],
    }
    curve = {
        "x": [1, 2, 4, 8, 16],
        "values": [4.6, 3.3, 3.0, 3.9, float("nan")],
        "x_label": "max_depth",
        "band": band,
    }
    root = ElementTree.fromstring(curve_svg(curve, title="RMSE <of> the tree & co", y_label="RMSE"))
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "RMSE <of> the tree & co" in texts  # escaped in the SVG, read back as written
    assert {"1", "2", "4", "8", "16", "max_depth", "RMSE", "reference band", "your values"} <= set(texts)
    (polygon,) = root.iter(f"{ns}polygon")
    assert len(polygon.get("points").split()) == 10  # low and high at each of the five depths
    lines = [p.get("points").split() for p in root.iter(f"{ns}polyline")]
    assert [len(points) for points in lines] == [5, 4]  # the mean; the student's finite values
    ys = [float(point.split(",")[1]) for point in lines[1]]
    assert ys[0] < ys[1] and ys[3] < ys[2]  # higher RMSE is drawn higher (smaller SVG y)
    assert len(list(root.iter(f"{ns}circle"))) == 4
    no_band = ElementTree.fromstring(curve_svg({**curve, "band": None}, title="t"))
    assert not list(no_band.iter(f"{ns}polygon"))
    assert "reference band" not in [t.text for t in no_band.iter(f"{ns}text")]


def test_student_text_is_escaped_in_html(rendered) -> None:
    _, _, paths = rendered
    html = paths["dave"]["html"].read_text(encoding="utf-8")
    page = Page(html)
    assert not [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed")]
    assert not [(t, k) for t, a in page.tags for k in a if k.startswith("on")]
    assert not [h for h in page.attr("a", "href") if not h.startswith("#")]
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "Dave &lt;b&gt;O&#39;Brien&lt;/b&gt;" in html
    # the fake "PNG" (an SVG) is refused and said so
    assert "Your image could not be shown" in html
    assert "default-src &#39;none&#39;" not in html and "default-src 'none'" in html


def test_hidden_item_shows_points_but_no_details(rendered) -> None:
    _, _, paths = rendered
    html = paths["dave"]["html"].read_text(encoding="utf-8")
    assert "predictions have 3 rows" not in html
    assert "Details of this check are not shown." in html


def test_long_student_text_is_capped(rendered) -> None:
    _, _, paths = rendered
    html = paths["dave"]["html"].read_text(encoding="utf-8")
    assert "x" * 9000 not in html and "more characters cut" in html
    assert "characters cut" in html  # the 30,000-character traceback keeps head and tail


def test_markdown_escapes_student_text_and_fences_tracebacks(rendered) -> None:
    _, _, paths = rendered
    md = paths["dave"]["md"].read_text(encoding="utf-8")
    outside_fences = md.split("````text")[0]
    assert "<script>" not in outside_fences and "\\<script\\>" in outside_fences
    assert "[click](javascript" not in outside_fences
    assert "````text\nTraceback\n```\n" in md  # fence longer than the ``` inside the traceback
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(line.count(" | ") == 2 for line in table[1:])  # titles cannot add table columns


def test_markdown_lists_parts_and_item_messages(rendered) -> None:
    _, docs, paths = rendered
    md = paths["alice"]["md"].read_text(encoding="utf-8")
    for part in docs["alice"]["parts"]:
        assert f"| {part['title']} | {fmt_points(part['score'])} | {fmt_points(part['max_score'])} |" in md
    assert "awaiting manual marking (max 20)" in md
    assert "hidden test error 7.4%" in md


def test_minimal_and_odd_documents_render(tmp_path: Path) -> None:
    paths = render_student({"id": "x"}, tmp_path)
    assert "0 / 0" in paths["html"].read_text(encoding="utf-8")
    odd = {
        "id": "y",
        "items": ["nope", {"id": 5, "evidence": [1, 2]}],
        "parts": "bad",
        "cells": {"a": 1},
        "telemetry": [],
        "score": float("nan"),
        "limits_fired": [None, {"limit": 3}],
    }
    paths = render_student(odd, tmp_path)
    assert paths["md"].is_file()


@pytest.mark.parametrize("bad", ["../etc/passwd", "", ".hidden", "a/b", None, 7, "x" * 300])
def test_unsafe_ids_are_refused(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ReportError, match="not a safe file name"):
        render_student({"id": bad}, tmp_path)


def test_summary_lists_failures_pass_rates_and_links(rendered) -> None:
    out, docs, _ = rendered
    html = (out / "summary.html").read_text(encoding="utf-8")
    page = Page(html)
    links = page.attr("a", "href")
    for rid in docs:
        assert f"feedback/{rid}.html" in links
    for rid in ("bob", "carol", "erin"):
        assert docs[rid]["message"] in html
    assert len(page.attr("img", "src")) == 2  # score histogram, run-time distribution
    stats = {s["id"]: s for s in item_stats(list(docs.values()))}
    dt = stats["p1_dt_val_curve"]
    assert (dt["counts"]["passed"], dt["counts"]["partial"], dt["counts"]["failed"]) == (1, 2, 0)
    assert dt["pass_rate"] == pytest.approx(1 / 3)
    why = stats["p1_why_boosting"]
    assert why["counts"]["pending"] == 3 and why["pass_rate"] is None


def test_render_does_not_modify_the_result(tmp_path: Path) -> None:
    doc = load_fixtures()["alice"]
    before = copy.deepcopy(doc)
    render_student(doc, tmp_path)
    render_summary([doc], tmp_path)
    assert doc == before


# ---- evidence readers: student data in, bounded values out ----------------------------------


def test_png_is_validated_and_reencoded() -> None:
    good = png_b64(8, 4)
    out = ev.png(good)
    assert out is not None and out.startswith(ev.PNG_SIGNATURE)
    assert ev.png("data:image/png;base64," + good) is not None
    assert ev.png(png_b64(ev.MAX_IMAGE_SIDE + 1, 2)) is None  # refused before decoding pixels
    assert ev.png(base64.b64encode(base64.b64decode(good)[:40]).decode()) is None  # truncated
    assert ev.png(base64.b64encode(b"GIF89a....").decode()) is None
    assert ev.png("not base64 !!") is None
    assert ev.png(None) is None and ev.png(12) is None


def test_curve_reader_drops_a_band_that_does_not_line_up() -> None:
    curve = ev.curve(
        {"values": [3, 2, 1], "x": [1, 2, 4], "expected": {"mean": [1, 2], "low": [0, 1], "high": [2, 3]}}
    )
    assert curve is not None and curve["band"] is None and curve["x"] == [1.0, 2.0, 4.0]
    curve = ev.curve({"values": [3, None, 1e300], "x": "bad"})
    assert curve is not None and curve["x"] == [1.0, 2.0, 3.0]
    assert ev.curve({"values": ["3"]}) is None and ev.curve({"values": [None]}) is None
    assert ev.curve("nope") is None


def test_threshold_and_losses_readers() -> None:
    assert ev.threshold({"value": 7.0, "full_at": 6.0, "zero_at": 12.0})["fraction"] == pytest.approx(5 / 6)
    assert ev.threshold({"value": True, "full_at": 1, "zero_at": 0}) is None
    assert ev.threshold({"value": 1, "full_at": 1, "zero_at": 1}) is None
    assert ev.series_set({"train": [1, 0.5], "val": "x"}) == {
        "x": [1.0, 2.0],
        "x_label": "epoch",
        "lines": {"train": [1.0, 0.5]},
    }
    assert ev.series_set({"train": []}) is None and ev.series_set([1]) is None
    depths = ev.series_set(
        {"depths": [1, 2, 4], "dt_train": [3, 2, 1], "dt_val": [3, 2.5, 2.7], "bad": [1, 2]}
    )
    assert depths is not None and depths["x_label"] == "max_depth"
    assert list(depths["lines"]) == ["dt_train", "dt_val"]  # a series of the wrong length is left out


def test_markdown_helpers() -> None:
    assert md_escape("a|b <i>*x*</i> [l](u)") == "a\\|b \\<i\\>\\*x\\*\\</i\\> \\[l\\](u)"
    assert md_escape("two\nlines") == "two lines"
    fenced = md_fence("x ```` y")
    assert fenced.startswith("`````text\n") and fenced.endswith("\n`````")


def test_fixtures_follow_the_results_schema() -> None:
    """The hand-built documents are real result documents, not shapes only this package accepts."""
    import jsonschema

    schema_path = Path(__file__).resolve().parents[1] / "grader" / "schemas" / "results.schema.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_path.read_text(encoding="utf-8")))
    for rid, doc in load_fixtures().items():
        assert [e.message for e in validator.iter_errors(doc)] == [], rid
