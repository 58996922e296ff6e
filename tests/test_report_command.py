"""`grader report DIR`: re-render feedback, summary and exports from stored results."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from grader.cli import main
from grader.report import render_summary
from grader.results import iter_jsonl, rebuild_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "results"


def make_out(tmp_path: Path) -> Path:
    (tmp_path / "results").mkdir(parents=True)
    for path in FIXTURES.glob("*.json"):
        shutil.copy(path, tmp_path / "results" / path.name)
    rebuild_jsonl(tmp_path)
    return tmp_path


def test_report_renders_everything_and_fixes_feedback_paths(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    doc = json.loads((out / "results" / "bob.json").read_text())
    doc.pop("feedback")
    (out / "results" / "bob.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["report", str(out), "--workers", "2", "--canvas-column", "HW 2 (17)"])
    assert result.exit_code == 0, result.output
    assert "rendered 5 reports" in result.output and "ms each" in result.output
    for rid in ("alice", "bob", "carol", "dave", "erin"):
        assert (out / "feedback" / f"{rid}.html").stat().st_size > 1000
        assert (out / "feedback" / f"{rid}.md").is_file()
        assert (out / "gradescope" / rid / "results.json").is_file()
    assert (out / "summary.html").is_file() and (out / "grades.csv").is_file()
    assert "HW 2 (17)" in (out / "canvas.csv").read_text(encoding="utf-8").splitlines()[0]
    fixed = json.loads((out / "results" / "bob.json").read_text())
    assert fixed["feedback"] == {"html": "feedback/bob.html", "md": "feedback/bob.md"}
    assert {d["id"]: d.get("feedback") for d in iter_jsonl(out / "results.jsonl")}["bob"] == fixed["feedback"]


def test_report_refuses_an_empty_directory_and_an_unsafe_id(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "no result documents" in result.output
    out = make_out(tmp_path / "o")
    doc = json.loads((out / "results" / "erin.json").read_text())
    doc["id"] = "../../escape"
    (out / "results" / "erin.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 1 and "is not a safe file name" in result.output
    assert not (tmp_path / "escape.html").exists()


def test_summary_of_no_results_still_renders(tmp_path: Path) -> None:
    html = render_summary([], tmp_path).read_text(encoding="utf-8")
    assert "0 submissions, 0 graded" in html and "Every submission was graded." in html
