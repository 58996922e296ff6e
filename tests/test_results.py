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
