"""Intake: notebooks, folders, Canvas and Gradescope exports, safe zip extraction."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from grader import intake, unzip
from grader.intake import IntakeError, collect
from grader.submission import safe_id

NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def write_nb(path: Path, marker: str = "", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = dict(NOTEBOOK, cells=[{"cell_type": "markdown", "metadata": {}, "source": marker}])
    path.write_text(json.dumps(doc), encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def nb_bytes(marker: str = "") -> bytes:
    return json.dumps(
        dict(NOTEBOOK, cells=[{"cell_type": "markdown", "metadata": {}, "source": marker}])
    ).encode()


def by_id(found: intake.Intake) -> dict[str, object]:
    return {s.id: s for s in found.submissions}


def test_single_notebooks_and_student_folders(tmp_path: Path) -> None:
    a = write_nb(tmp_path / "in" / "alice.ipynb")
    write_nb(tmp_path / "in" / "bob" / "hw2.ipynb")
    write_nb(tmp_path / "in" / "bob" / ".ipynb_checkpoints" / "hw2-checkpoint.ipynb")
    found = collect([tmp_path / "in"], tmp_path / "work")
    subs = by_id(found)
    assert sorted(subs) == ["alice", "bob"]
    assert subs["alice"].path == a.resolve()
    assert subs["bob"].path.name == "hw2.ipynb"
    assert found.rejected == []


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(IntakeError, match="no such file"):
        collect([tmp_path / "nope.ipynb"], tmp_path / "work")


def test_non_notebooks_become_rejected_rows(tmp_path: Path) -> None:
    txt = tmp_path / "carol.txt"
    txt.write_text("hello")
    found = collect([txt], tmp_path / "work")
    assert found.submissions == []
    (row,) = found.rejected
    assert row.id == "carol" and row.status == "invalid_notebook" and "not a Jupyter notebook" in row.message


def test_notebook_content_is_judged_when_it_runs_not_at_intake(tmp_path: Path) -> None:
    """Broken JSON (even 100,000 nested brackets) goes on to execute.load_notebook's precise
    message instead of stopping intake."""
    (tmp_path / "dave.ipynb").write_text("{not json")
    (tmp_path / "erin.ipynb").write_bytes(b'{"cells": [], "nbformat": 4, "metadata": ' + b"[" * 100_000)
    found = collect([tmp_path / "dave.ipynb", tmp_path / "erin.ipynb"], tmp_path / "work")
    assert sorted(s.id for s in found.submissions) == ["dave", "erin"]
    assert found.rejected == []


def test_a_failure_on_one_input_is_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_nb(tmp_path / "ok" / "alice.ipynb")
    (tmp_path / "boom").mkdir()

    real = intake._scan_dir

    def scan(root: Path, *args, **kwargs):  # a genuine bug stand-in: scanning this folder fails
        if root.name == "boom":
            raise RuntimeError("scanner exploded")
        return real(root, *args, **kwargs)

    monkeypatch.setattr(intake, "_scan_dir", scan)
    found = collect([tmp_path / "boom", tmp_path / "ok"], tmp_path / "work")
    assert [s.id for s in found.submissions] == ["alice"]
    assert found.rejected[0].status == "error" and "scanner exploded" in found.rejected[0].message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file_is_a_row(tmp_path: Path) -> None:
    path = write_nb(tmp_path / "frank.ipynb")
    path.chmod(0)
    found = collect([path], tmp_path / "work")
    assert found.rejected[0].status == "error" and "cannot be read" in found.rejected[0].message


def test_newest_wins_and_others_are_noted(tmp_path: Path) -> None:
    write_nb(tmp_path / "s" / "gina" / "draft.ipynb", mtime=2_000_000_000)
    write_nb(tmp_path / "s" / "gina" / "final.ipynb", mtime=1_000_000_000)
    write_nb(tmp_path / "s" / "hal" / "a.ipynb", mtime=1_000_000_000)
    write_nb(tmp_path / "s" / "hal" / "b.ipynb", mtime=2_000_000_000)
    subs = by_id(collect([tmp_path / "s"], tmp_path / "work", preferred_name="final.ipynb"))
    assert subs["gina"].path.name == "final.ipynb"  # the template's name beats a newer draft
    assert subs["hal"].path.name == "b.ipynb"  # otherwise the newest
    assert any("not graded: a.ipynb" in note for note in subs["hal"].notes)


def test_canvas_export_zip(tmp_path: Path) -> None:
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            zipfile.ZipInfo("smithjane_12345_67890_hw2.ipynb", (2026, 1, 1, 10, 0, 0)), nb_bytes("old")
        )
        zf.writestr(
            zipfile.ZipInfo("smithjane_12345_67999_hw2-1.ipynb", (2026, 1, 2, 10, 0, 0)), nb_bytes("new")
        )
        zf.writestr(zipfile.ZipInfo("doejohn_LATE_222_333_hw2.ipynb", (2026, 1, 3, 0, 0, 0)), nb_bytes())
    found = collect([archive], tmp_path / "work", preferred_name="hw2.ipynb")
    subs = by_id(found)
    assert sorted(subs) == ["doejohn", "smithjane"]
    jane = subs["smithjane"]
    assert jane.path.name == "smithjane_12345_67999_hw2-1.ipynb"  # resubmission is newer
    assert "user_id=12345" in jane.source and "submission_id=67999" in jane.source
    assert any("2 notebooks found" in n for n in jane.notes)
    assert "LATE" in subs["doejohn"].source
    assert found.rejected == []


def test_gradescope_export(tmp_path: Path) -> None:
    root = tmp_path / "gs"
    write_nb(root / "submission_111" / "hw2.ipynb")
    write_nb(root / "submission_111" / "scratch.ipynb")
    write_nb(root / "submission_222" / "hw2.ipynb")
    write_nb(root / "submission_333" / "hw2.ipynb")
    (root / "submission_444").mkdir()
    (root / "submission_444" / "notes.txt").write_text("forgot")
    (root / "submission_metadata.yml").write_text(
        """
submission_111:
  :submitters:
  - :name: Ann Lee
    :sid: '9001'
    :email: ann@example.edu
  :created_at: 2026-01-01 10:00:00.123456789 -08:00
submission_222:
  :submitters:
  - :name: Ann Lee
    :sid: '9001'
  :created_at: 2026-01-02 10:00:00.000000000 -08:00
submission_333:
  :submitters:
  - :name: Bo Chan
    :email: bo@example.edu
  :created_at: 2026-01-01 09:00:00.000000000 -08:00
submission_444:
  :submitters:
  - :name: Cy
    :sid: '7'
"""
    )
    found = collect([root], tmp_path / "work", preferred_name="hw2.ipynb")
    subs = by_id(found)
    assert sorted(subs) == ["9001", "bo"]
    assert subs["9001"].path.parent.name == "submission_222"  # the later submission wins
    assert "Ann Lee" in subs["9001"].source
    assert [(r.id, r.status) for r in found.rejected] == [("7", "invalid_notebook")]
    assert "holds no .ipynb" in found.rejected[0].message


def _zip_with(tmp_path: Path, name: str, entries: list[tuple[zipfile.ZipInfo, bytes]]) -> Path:
    archive = tmp_path / name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return archive


def test_unsafe_zip_entries_are_rejected_not_extracted(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("link.ipynb")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = _zip_with(
        tmp_path,
        "export.zip",
        [
            (zipfile.ZipInfo("../../escape.ipynb"), nb_bytes()),
            (zipfile.ZipInfo("/etc/abs.ipynb"), nb_bytes()),
            (link, b"/etc/passwd"),
            (zipfile.ZipInfo("ok.ipynb"), nb_bytes()),
        ],
    )
    work = tmp_path / "work"
    found = collect([archive], work)
    assert [s.id for s in found.submissions] == ["ok"]
    messages = sorted(r.message for r in found.rejected)
    assert len(messages) == 3
    assert any("climbs out" in m for m in messages)
    assert any("absolute path" in m for m in messages)
    assert any("symbolic link" in m for m in messages)
    assert all(r.status == "error" for r in found.rejected)
    assert not (tmp_path / "escape.ipynb").exists() and not (work.parent / "escape.ipynb").exists()
    extracted = [p for p in work.rglob("*") if p.is_file()]
    assert [p.name for p in extracted] == ["ok.ipynb"]


def test_zip_bomb_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unzip, "RATIO_FLOOR", 1024)
    archive = _zip_with(tmp_path, "bomb.zip", [(zipfile.ZipInfo("bomb.ipynb"), b"\0" * 5_000_000)])
    found = collect([archive], tmp_path / "work")
    assert found.submissions == []
    assert "zip bomb" in found.rejected[0].message


def test_lying_header_is_caught_while_streaming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A header that under-states the size yields a clear row and no (partial) file on disk."""
    monkeypatch.setattr(unzip, "MAX_ENTRY_BYTES", 100_000)
    archive = _zip_with(tmp_path, "liar.zip", [(zipfile.ZipInfo("big.ipynb"), os.urandom(300_000))])
    raw = bytearray(archive.read_bytes())
    # Patch the declared uncompressed size (local header offset 22, central directory +24).
    declared = (300_000).to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    raw = raw.replace(declared, fake)
    archive.write_bytes(bytes(raw))
    found = collect([archive], tmp_path / "work")
    assert found.submissions == []
    assert found.rejected and found.rejected[0].status == "error"
    assert "cannot be extracted" in found.rejected[0].message
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("big.ipynb"))


def test_not_a_zip(tmp_path: Path) -> None:
    fake = tmp_path / "export.zip"
    fake.write_bytes(b"PK but not really")
    found = collect([fake], tmp_path / "work")
    assert "cannot be opened as a zip" in found.rejected[0].message


def test_gpu_glob_marks_submissions(tmp_path: Path) -> None:
    write_nb(tmp_path / "in" / "gpu_alice.ipynb")
    write_nb(tmp_path / "in" / "bob.ipynb")
    subs = by_id(collect([tmp_path / "in"], tmp_path / "w", gpu_glob="gpu_*"))
    assert subs["gpu_alice"].needs_gpu and not subs["bob"].needs_gpu
    subs = by_id(collect([tmp_path / "in"], tmp_path / "w", all_need_gpu=True))
    assert all(s.needs_gpu for s in subs.values())


def test_ids_are_safe_and_unique(tmp_path: Path) -> None:
    assert safe_id("../../etc passwd") == "etc-passwd"
    assert safe_id("...") == "submission"
    write_nb(tmp_path / "in" / "a b.ipynb")
    write_nb(tmp_path / "in" / "a?b.ipynb")
    ids = sorted(by_id(collect([tmp_path / "in"], tmp_path / "w")))
    assert ids == ["a-b", "a-b-2"]


def test_wrapped_gradescope_zip(tmp_path: Path) -> None:
    """Gradescope's export zip wraps everything in one top-level folder."""
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "assignment_42_export/submission_metadata.yml", "submission_1:\n  :submitters:\n  - :sid: 'A7'\n"
        )
        zf.writestr("assignment_42_export/submission_1/hw2.ipynb", nb_bytes())
        zf.writestr("assignment_42_export/submission_2/hw2.ipynb", nb_bytes())
    subs = by_id(collect([archive], tmp_path / "work"))
    assert sorted(subs) == ["2", "A7"]  # no metadata for submission_2: its folder id
