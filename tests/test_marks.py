"""The marks store (real SQLite) and its overlay on result documents."""

from __future__ import annotations

import copy
import csv
import json
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.marks import ConflictError, MarksStore, NewDecision, StoreError, apply_store, overlay_marks
from grader.results import iter_jsonl, load_results

FIXTURES = Path(__file__).parent / "fixtures" / "results"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def item(doc: dict, item_id: str) -> dict:
    return next(i for i in doc["items"] if i["id"] == item_id)


@pytest.fixture()
def store(tmp_path: Path) -> MarksStore:
    return MarksStore.for_out(tmp_path)


def mark(points: float | None, seen: int | None = 0, **extra) -> NewDecision:
    return NewDecision("alice", "p1_why_boosting", "manual", points, seen_version=seen, **extra)


# ---------------------------------------------------------------- the store


def test_saves_are_versioned_and_a_stale_save_is_refused_naming_who_and_when(store: MarksStore) -> None:
    first = store.save(mark(15, comment="good"), marker="Ann")
    assert (first.version, first.points, first.marker) == (1, 15.0, "Ann")
    with pytest.raises(ConflictError) as refused:
        store.save(mark(12, seen=0), marker="Ben")
    message = str(refused.value)
    assert "saved by Ann at " + first.marked_at in message and "15 points" in message
    assert "not applied" in message
    assert refused.value.current == first
    second = store.save(mark(12, seen=1), marker="Ben")
    assert second.version == 2
    assert store.decision("alice", "p1_why_boosting") == second


def test_a_first_save_against_a_decision_that_never_existed_is_refused(store: MarksStore) -> None:
    with pytest.raises(ConflictError, match="no longer exists"):
        store.save(mark(3, seen=4), marker="Ann")
    assert store.decisions() == {}


def test_every_save_is_audited_with_before_and_after_and_the_log_is_append_only(store: MarksStore) -> None:
    store.save(mark(15, comment="good", baseline=None), marker="Ann")
    store.save(mark(18, seen=1, comment="better"), marker="Ben")
    store.save(
        NewDecision("alice", "p2_val_error", "override", 15, reason="rounding", baseline=12.5), marker="Ann"
    )
    store.save(
        NewDecision("alice", "p2_val_error", "override", None, seen_version=1, baseline=12.5), marker="Cy"
    )
    lines = [(a.marker, a.action, a.item, a.before_points, a.after_points) for a in reversed(store.audit())]
    assert lines == [
        ("Ann", "manual", "p1_why_boosting", None, 15.0),
        ("Ben", "manual", "p1_why_boosting", 15.0, 18.0),
        ("Ann", "override", "p2_val_error", 12.5, 15.0),
        ("Cy", "override_withdrawn", "p2_val_error", 15.0, None),
    ]
    assert store.audit()[1].reason == "rounding"
    db = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit SET marker = 'Mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit")
    db.close()


def test_save_many_is_all_or_nothing(store: MarksStore) -> None:
    store.save(NewDecision("bob", "p1_why_boosting", "manual", 5), marker="Ann")
    batch = [
        NewDecision("alice", "p1_why_boosting", "manual", 10),
        NewDecision("bob", "p1_why_boosting", "manual", 7, seen_version=0),  # stale: bob is at version 1
    ]
    with pytest.raises(ConflictError):
        store.save_many(batch, marker="Ben")
    assert set(store.decisions()) == {("bob", "p1_why_boosting")}
    assert len(store.audit()) == 1


def test_store_is_wal_with_full_sync_and_refuses_a_foreign_file(tmp_path: Path, store: MarksStore) -> None:
    store.save(mark(1), marker="Ann")
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not a database at all, just text " * 100, encoding="utf-8")
    with pytest.raises(StoreError, match="not a usable marks store"):
        MarksStore(bogus)
    with pytest.raises(StoreError, match="needs the marker"):
        store.save(mark(2, seen=1), marker="  ")


def test_two_threads_saving_the_same_version_one_wins(store: MarksStore) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            store.save(mark(float(n), seen=0), marker=f"m{n}")
            outcomes.append("saved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["saved"]
    assert store.decision("alice", "p1_why_boosting").version == 1
    assert len(store.audit()) == 1


def test_regrade_requests_are_deduplicated_and_resolved_once(store: MarksStore) -> None:
    rows = [("alice", "p1_why_boosting", "Please look again"), ("bob", "p2_val_error", "My error was 6%")]
    assert store.add_regrades(rows, source="a.csv", marker="Ann") == 2
    assert store.add_regrades(rows, source="a.csv", marker="Ann") == 0
    first = store.regrades(status="open")[0]
    done = store.resolve_regrade(first.id, marker="Ben", response="Raised to 18")
    assert (done.status, done.resolved_by, done.response) == ("resolved", "Ben", "Raised to 18")
    with pytest.raises(ConflictError, match="already resolved by Ben"):
        store.resolve_regrade(first.id, marker="Cy", response="again")
    assert [r.student for r in store.regrades(status="open")] == ["bob"]
    assert [a.action for a in store.audit()][:1] == ["regrade_resolved"]


# ---------------------------------------------------------------- the overlay


def decisions(store: MarksStore) -> dict:
    return store.decisions()


def test_overlay_marks_a_pending_answer_and_moves_every_total(store: MarksStore) -> None:
    alice = fixture("alice")
    store.save(mark(15, comment="Good; mention bias."), marker="Ann")
    done = overlay_marks([alice], decisions(store))
    doc = done.results[0]
    assert done.changed == ["alice"] and alice["score"] == 73.9  # the input is not changed
    marked = item(doc, "p1_why_boosting")
    assert (marked["status"], marked["points"], marked["message"]) == ("partial", 15.0, "Good; mention bias.")
    assert marked["evidence"]["manual"]["marker"] == "Ann"
    assert marked["evidence"]["scored"] == {"points": 0, "status": "pending", "message": "awaiting a person"}
    assert (doc["score"], doc["pending_manual"], doc["auto_score"]) == (88.9, 0.0, 73.9)
    assert (doc["parts"][0]["score"], doc["parts"][0]["pending_manual"]) == (24.4, 0.0)


def test_overlay_override_changes_points_and_says_so_and_withdrawal_restores(store: MarksStore) -> None:
    alice = fixture("alice")
    store.save(
        NewDecision("alice", "p2_val_error", "override", 15, reason="7.0% rounds to the full-marks bar"),
        marker="Ann",
    )
    doc = overlay_marks([alice], decisions(store)).results[0]
    changed = item(doc, "p2_val_error")
    assert (changed["points"], changed["status"]) == (15.0, "passed")
    assert "Points changed by a marker from 12.5 to 15 of 15: 7.0% rounds" in changed["message"]
    assert changed["evidence"]["override"]["auto_points"] == 12.5
    assert changed["evidence"]["value"] == 7.0  # the scorer's evidence stays
    assert (doc["score"], doc["parts"][1]["score"], doc["pending_manual"]) == (76.4, 30.0, 20)

    store.save(NewDecision("alice", "p2_val_error", "override", None, seen_version=1), marker="Ann")
    back = overlay_marks([doc], decisions(store)).results[0]
    restored = item(back, "p2_val_error")
    assert restored == item(alice, "p2_val_error")
    assert (back["score"], back["parts"][1]["score"]) == (73.9, 27.5)


def test_overlay_of_extra_credit_moves_the_extra_credit_total(store: MarksStore) -> None:
    store.save(
        NewDecision("alice", "pe_image", "override", 5, reason="PSNR measured on the wrong crop"), marker="A"
    )
    doc = overlay_marks([fixture("alice")], decisions(store)).results[0]
    assert (doc["score"], doc["extra_credit"], doc["parts"][3]["score"]) == (74.9, 5.0, 5.0)


def test_overlay_is_idempotent_and_survives_a_rescore(store: MarksStore) -> None:
    store.save(mark(15, comment="ok"), marker="Ann")
    store.save(NewDecision("alice", "p2_val_error", "override", 15, reason="r"), marker="Ann")
    once = overlay_marks([fixture("alice")], decisions(store)).results[0]
    twice = overlay_marks([copy.deepcopy(once)], decisions(store))
    assert twice.changed == [] and twice.results[0] == once
    # a rescore writes a fresh document (here the scorer now gives p2_val_error 10 points)
    rescored = fixture("alice")
    item(rescored, "p2_val_error")["points"] = 10.0
    rescored["score"], rescored["parts"][1]["score"] = 71.4, 25.0
    again = overlay_marks([rescored], decisions(store)).results[0]
    assert item(again, "p2_val_error")["evidence"]["override"]["auto_points"] == 10.0
    assert (again["score"], again["pending_manual"]) == (71.4 + 15 + 5, 0.0)


def test_decisions_on_unknown_items_are_orphans_not_errors(store: MarksStore) -> None:
    store.save(NewDecision("alice", "gone_item", "manual", 3), marker="Ann")
    store.save(NewDecision("zed", "p1_why_boosting", "manual", 3), marker="Ann")
    done = overlay_marks([fixture("alice")], decisions(store))
    assert done.changed == [] and sorted((d.student, d.item) for d in done.orphans) == [
        ("alice", "gone_item"),
        ("zed", "p1_why_boosting"),
    ]


# ---------------------------------------------------------------- publishing and the CLI


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    from review_out import make_out

    return make_out(tmp_path)


def test_apply_store_without_a_store_changes_nothing(out: Path) -> None:
    results = load_results(out)
    assert apply_store(out, results) == [] and not (out / "marks.sqlite").exists()


def test_grader_report_and_a_rescore_keep_every_mark_and_override(out: Path) -> None:
    store = MarksStore.for_out(out)
    store.save(mark(15, comment="Good"), marker="Ann")
    store.save(NewDecision("dave", "p2_val_error", "override", 2, reason="r"), marker="Ann")
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results" / "alice.json").read_text())["score"] == 88.9
    assert {d["id"]: d["score"] for d in iter_jsonl(out / "results.jsonl")}["alice"] == 88.9
    grades = {r["id"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline=""))}
    dave_before = float(grades["dave"]["total"])
    assert float(grades["alice"]["total"]) == 88.9

    # a rescore rewrites every result document from scratch, without the marks
    for name in ("alice", "dave"):
        (out / "results" / f"{name}.json").write_text(json.dumps(fixture(name)), encoding="utf-8")
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0, result.output
    grades = {r["id"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline=""))}
    assert float(grades["alice"]["total"]) == 88.9 and float(grades["dave"]["total"]) == dave_before
    html = (out / "feedback" / "dave.html").read_text(encoding="utf-8")
    assert 'data-override="yes"' in html and "Points changed by a marker" in html
    from test_exports import agreement

    agreement(out, load_results(out))


def test_manual_sheet_reads_pending_state_from_the_store(out: Path) -> None:
    MarksStore.for_out(out).save(mark(15), marker="Ann")  # marked in the app, not yet published
    result = CliRunner().invoke(main, ["manual", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "manual" / "marks.csv").open(encoding="utf-8", newline="")))
    assert sorted(r["student"] for r in rows) == ["bob", "dave", "mallory"]


def test_manual_merge_writes_into_the_store_with_the_marker(out: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "filled.csv"
    sheet.write_text("student,item,points,comment\nbob,p1_why_boosting,4,short\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["manual", str(out), "--merge", str(sheet), "--marker", "Dee"])
    assert result.exit_code == 0, result.output
    saved = MarksStore.for_out(out).decision("bob", "p1_why_boosting")
    assert (saved.points, saved.comment, saved.marker) == (4.0, "short", "Dee")


def test_regrades_command_imports_all_or_nothing_and_lists(out: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "student,item,text\nalice,p1_why_boosting,please\nzed,p1_why_boosting,x\n", encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["regrades", str(out), "--import", str(bad)])
    assert result.exit_code == 1 and "row 3: unknown student 'zed'" in result.output
    assert "nothing was imported" in result.output and not (out / "marks.sqlite").exists()
    good = tmp_path / "good.csv"
    good.write_text(
        'student,item,text\nalice,p1_why_boosting,"Please look again,\nI explained bias"\n'
        "dave,p2_val_error,My error is 6.1%\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["regrades", str(out), "--import", str(good)])
    assert result.exit_code == 0 and "imported 2 regrade requests" in result.output
    result = CliRunner().invoke(main, ["regrades", str(out), "--import", str(good)])
    assert "imported 0 regrade requests" in result.output and "2 already imported" in result.output
    result = CliRunner().invoke(main, ["regrades", str(out)])
    assert "alice p1_why_boosting: Please look again, I explained bias" in result.output


def test_a_regrade_keeps_marks_in_results_feedback_and_exports(out: Path) -> None:
    """`grader grade --force` re-renders each student's feedback without the store, then publishes
    with feedback=False: that publish lays the store over the results and renders fresh feedback
    for every student it changed."""
    from grader.publish import publish

    MarksStore.for_out(out).save(mark(15, comment="Good"), marker="Ann")
    for name in ("alice", "dave"):  # what a regrade leaves: scorer's documents and pages, no marks
        (out / "results" / f"{name}.json").write_text(json.dumps(fixture(name)), encoding="utf-8")
    (out / "feedback").mkdir(exist_ok=True)
    (out / "feedback" / "alice.html").write_text("stale page", encoding="utf-8")
    done = publish(load_results(out), out, feedback=False)
    assert done.failures == []
    assert json.loads((out / "results" / "alice.json").read_text())["score"] == 88.9
    page = (out / "feedback" / "alice.html").read_text(encoding="utf-8")
    assert "stale page" not in page and "Good" in page
    grades = {r["id"]: r for r in csv.DictReader((out / "grades.csv").open(encoding="utf-8", newline=""))}
    assert float(grades["alice"]["total"]) == 88.9
