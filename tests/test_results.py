"""Result documents on disk: what a killed grader leaves behind is always repairable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from grader.results import iter_jsonl, load_results, rebuild_jsonl, save_result, write_json_atomic


def _doc(i: str, score: float) -> dict:
    return {"schema_version": 1, "id": i, "student": i, "status": "graded", "score": score}


def test_save_writes_the_document_and_one_jsonl_line(tmp_path: Path) -> None:
    save_result(tmp_path, _doc("ada", 3.0))
    save_result(tmp_path, _doc("bob", 1.0))
    assert [d["id"] for d in load_results(tmp_path)] == ["ada", "bob"]
    assert [d["score"] for d in iter_jsonl(tmp_path / "results.jsonl")] == [3.0, 1.0]
    mode = stat.S_IMODE((tmp_path / "results" / "ada.json").stat().st_mode)
    assert mode & stat.S_IRGRP, "course staff in the owner's group must be able to read results"


def test_rebuild_repairs_duplicates_and_a_half_written_line(tmp_path: Path) -> None:
    save_result(tmp_path, _doc("ada", 1.0))
    save_result(tmp_path, _doc("ada", 2.0))  # a regrade appends a second line
    with (tmp_path / "results.jsonl").open("a") as handle:
        handle.write('{"id": "bob", "sco')  # killed in the middle of an append
    rebuild_jsonl(tmp_path)
    rows = list(iter_jsonl(tmp_path / "results.jsonl"))
    assert [(r["id"], r["score"]) for r in rows] == [("ada", 2.0)]


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "x" / "doc.json"
    write_json_atomic(target, {"a": 1})
    write_json_atomic(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["doc.json"]


def test_unreadable_result_files_are_skipped(tmp_path: Path) -> None:
    save_result(tmp_path, _doc("ada", 1.0))
    (tmp_path / "results" / "broken.json").write_text("{not json")
    assert [d["id"] for d in load_results(tmp_path)] == ["ada"]


def test_results_jsonl_is_current_only_when_newer_than_every_result_with_a_line_each(tmp_path: Path) -> None:
    import os

    from grader.results import jsonl_current, rebuild_jsonl, write_json_atomic

    for rid in ("a", "b"):
        write_json_atomic(tmp_path / "results" / f"{rid}.json", {"id": rid, "score": 1.0})
    assert not jsonl_current(tmp_path)  # no results.jsonl yet
    rebuild_jsonl(tmp_path)
    assert jsonl_current(tmp_path)
    lines = (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == [(tmp_path / "results" / f"{r}.json").read_text(encoding="utf-8") for r in ("a", "b")]
    # a killed rescore saved b's new result after the last rebuild
    write_json_atomic(tmp_path / "results" / "b.json", {"id": "b", "score": 2.0})
    later = (tmp_path / "results.jsonl").stat().st_mtime_ns + 1_000_000
    os.utime(tmp_path / "results" / "b.json", ns=(later, later))
    assert not jsonl_current(tmp_path)
    # an unreadable result is skipped, an indented one written as one line
    (tmp_path / "results" / "c.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "results" / "d.json").write_text('{\n "id": "d"\n}', encoding="utf-8")
    rebuild_jsonl(tmp_path)
    lines = (tmp_path / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b", "d"] and lines[2] == '{"id": "d"}'
    assert not jsonl_current(tmp_path)  # four files, three lines: c needs a person, not a rescore
