"""Intake: turn the PATHs given to ``grader grade`` into Submissions, one per student.

A PATH is a notebook, a folder, or an LMS export (a zip, or the folder it unpacks to):

* **Canvas** names every file ``<login>_<user id>_<submission id>_<original name>`` (with
  ``_LATE_`` after the login for late work). The student is ``<login>``; the Canvas ids go into
  ``source`` and ``notes``.
* **Gradescope** exports hold ``submission_metadata.yml`` and one ``submission_<id>/`` folder per
  submission. The student is the first submitter's SID (else e-mail, else name); the submission
  time comes from ``:created_at``.
* **A plain folder**: a notebook directly inside it is its own student (the file's stem); a
  notebook in a sub-folder belongs to the student named by that sub-folder. A zip is read as the
  folder it unpacks to; a zip whose content is a single folder is read as that folder.

Several notebooks of one student (the documented rule): a notebook named like the assignment's
template (``hw2.ipynb``) is preferred; among those the newest wins (Gradescope submission time,
else the file's modification time, which for zips is the entry's time); ties go to the path that
sorts last. The others are listed in the Submission's ``notes`` and so in the result.

Anything that cannot be graded (an unsafe or broken zip entry, a file that is not an ``.ipynb``,
an unreadable file, a Gradescope submission with no notebook) becomes a ``Rejected`` entry, which
the coordinator turns into a result row, so one bad input never stops a batch. Whether an
``.ipynb`` is a valid notebook is judged when it is run (``grader.engine.load_notebook``), so
the student reads one precise message whichever way the notebook reached the grader.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from grader.assignment import load_yaml
from grader.submission import Submission, safe_id
from grader.unzip import extract_zip

_CANVAS = re.compile(
    r"^(?P<login>[A-Za-z0-9-]+?)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<sub>\d+)_(?P<name>.+)$"
)
_SKIP_DIRS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}


class IntakeError(ValueError):
    """A PATH cannot be read at all (for instance it does not exist)."""


@dataclass(frozen=True)
class Rejected:
    """An input that cannot be graded; becomes a result row with ``status`` and ``message``."""

    id: str
    student: str
    source: str
    status: str  # "invalid_notebook" (the student's file) or "error" (unsafe or unreadable input)
    message: str
    content_hash: str


@dataclass
class Intake:
    """What intake found: submissions to grade and inputs that end as rejected rows."""

    submissions: list[Submission] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


@dataclass
class _Candidate:
    student: str
    path: Path
    when: float  # submission time (epoch seconds): newest wins
    source: str
    notes: tuple[str, ...] = ()
    direct: bool = False  # named on the command line itself (not found inside a folder or zip)
    holder: str | None = None  # lay directly in a folder or zip given on the command line: its name


def collect(
    paths: list[Path],
    work_dir: Path,
    *,
    preferred_name: str | None = None,
    gpu_glob: str | None = None,
    all_need_gpu: bool = False,
) -> Intake:
    """Normalise ``paths`` into one Submission per student plus Rejected rows.

    ``work_dir`` receives extracted zips. ``preferred_name`` is the template's file name.
    ``gpu_glob`` marks submissions whose id, student or file path matches it as needing a GPU;
    ``all_need_gpu`` marks every submission (the rubric profile says the assignment needs one).
    """
    candidates, rejected = gather(paths, work_dir)
    _name_direct_files(candidates, preferred_name)
    intake = _choose(candidates, rejected, preferred_name)
    marked = [
        replace(s, needs_gpu=True) if all_need_gpu or _matches(gpu_glob, s) else s for s in intake.submissions
    ]
    intake.submissions = marked
    return intake


def gather(paths: list[Path], work_dir: Path) -> tuple[list[_Candidate], list[Rejected]]:
    """Every notebook the PATHs hold, each with its student (before one is chosen per student),
    plus what cannot be graded; grader.notebook_set matches a set's notebooks from these."""
    candidates: list[_Candidate] = []
    rejected: list[Rejected] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise IntakeError(
                f"{path}: no such file or directory" + (" (a broken link)" if path.is_symlink() else "")
            )
    for raw in paths:
        path = Path(raw)
        try:
            _take(path, work_dir, candidates, rejected)
        except Exception as exc:  # intake's own failure on one input: a row, not a stopped batch
            message = f"the grader could not read this input ({type(exc).__name__}: {exc})"
            rejected.append(_reject(path.stem, str(path), "error", message, None))
    return candidates, rejected


def _take(path: Path, work_dir: Path, candidates: list[_Candidate], rejected: list[Rejected]) -> None:
    """Add what one PATH holds to ``candidates`` (or ``rejected``)."""
    if path.is_dir():
        _scan_dir(path, candidates, rejected)
    elif path.suffix.lower() == ".zip":
        extracted = _extract_zip(path, work_dir, rejected)
        if extracted is not None:
            _scan_dir(extracted, candidates, rejected, origin=path)
    elif path.suffix.lower() == ".ipynb":
        candidate = _file_candidate(path, student=None, source=str(path))
        candidate.direct = not _CANVAS.match(path.name)
        candidates.append(candidate)
    else:
        rejected.append(_reject(path.stem, str(path), "invalid_notebook", _not_notebook(path), path))


def _name_direct_files(candidates: list[_Candidate], preferred_name: str | None) -> None:
    """Notebooks named on the command line are each a student. When they share a file name
    (``a/hw1.ipynb b/hw1.ipynb``) or carry the template's name, the student is the folder that
    holds the file (then more of its path, while names still collide), never one merged "hw1"."""
    direct = [c for c in candidates if c.direct]
    stems: dict[str, int] = {}
    for c in direct:
        stems[c.student] = stems.get(c.student, 0) + 1
    preferred = (preferred_name or "").lower()
    renamed = [c for c in direct if stems[c.student] > 1 or c.path.name.lower() == preferred]
    for depth in (1, 2, 3):
        for c in renamed:
            folders = c.path.resolve().parent.parts[-depth:]
            c.student = "-".join(part for part in folders if part not in ("/", "")) or c.student
        names = [c.student for c in renamed]
        if len(set(names)) == len(names):
            break


def _matches(glob: str | None, submission: Submission) -> bool:
    if not glob:
        return False
    names = (submission.id, submission.student, str(submission.path), submission.path.name)
    return any(fnmatch.fnmatch(name, glob) for name in names)


def _not_notebook(path: Path) -> str:
    return f"{path.name} is not a Jupyter notebook (.ipynb); nothing to grade"


def _file_candidate(path: Path, *, student: str | None, source: str, when: float | None = None) -> _Candidate:
    """A notebook file; a Canvas-style name gives the student and the Canvas ids."""
    notes: tuple[str, ...] = ()
    match = _CANVAS.match(path.name)
    if student is None and match:
        student = match["login"]
        late = " (LATE)" if match["late"] else ""
        source = f"canvas user_id={match['user']} submission_id={match['sub']}{late}: {source}"
        if match["late"]:
            notes = ("Canvas marked this submission late",)
    if student is None:
        student = path.stem
    mtime = when if when is not None else _mtime(path)
    return _Candidate(student=student, path=path, when=mtime, source=source, notes=notes)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _walk_notebooks(root: Path, rejected: list[Rejected]) -> list[Path]:
    """Notebooks under ``root`` (no checkpoints, hidden or macOS folders, no symlinks)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if not name.lower().endswith(".ipynb") or name.startswith("."):
                continue
            path = Path(dirpath) / name
            if path.is_symlink():
                rejected.append(
                    _reject(
                        path.stem, str(path), "error", f"{path.name} is a symbolic link; not followed", None
                    )
                )
                continue
            found.append(path)
    return found


def _unwrap(root: Path) -> Path:
    """A zip whose content is one folder is read as that folder (exports wrap their content)."""
    for _ in range(3):
        entries = [p for p in root.iterdir() if p.name not in _SKIP_DIRS and not p.name.startswith(".")]
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            break
        if entries[0].name.startswith("submission_"):
            break  # a Gradescope submission folder is a student, not a wrapper
        root = entries[0]
    return root


def _scan_dir(
    root: Path, candidates: list[_Candidate], rejected: list[Rejected], origin: Path | None = None
) -> None:
    origin_text = f"{origin}:" if origin else ""
    if origin is not None:
        root = _unwrap(root)
    metadata = root / "submission_metadata.yml"
    if metadata.is_file():
        _scan_gradescope(root, metadata, candidates, rejected, origin_text)
        return
    for path in _walk_notebooks(root, rejected):
        relative = path.relative_to(root)
        student = None if len(relative.parts) == 1 or _CANVAS.match(path.name) else relative.parts[0]
        candidate = _file_candidate(path, student=student, source=f"{origin_text}{relative.as_posix()}")
        if len(relative.parts) == 1 and not _CANVAS.match(path.name):
            candidate.holder = origin.stem if origin is not None else root.resolve().name
        candidates.append(candidate)


def _scan_gradescope(
    root: Path, metadata: Path, candidates: list[_Candidate], rejected: list[Rejected], origin_text: str
) -> None:
    """A Gradescope export: the metadata names who submitted each ``submission_<id>/`` and when."""
    try:
        meta = load_yaml(metadata.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        meta = {}
        rejected.append(
            _reject(
                "gradescope-metadata",
                str(metadata),
                "error",
                f"submission_metadata.yml cannot be read ({exc}); folder names used as student ids",
                metadata,
            )
        )
    if not isinstance(meta, dict):
        meta = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("submission_")):
        entry = meta.get(folder.name)
        info: dict[str, Any] = entry if isinstance(entry, dict) else {}
        student, who = _gradescope_student(info, folder.name)
        when = _gradescope_time(info.get(":created_at"))
        notebooks = _walk_notebooks(folder, rejected)
        source = f"{origin_text}gradescope {folder.name}{who}"
        if not notebooks:
            rejected.append(
                _reject(student, source, "invalid_notebook", f"{folder.name} holds no .ipynb notebook", None)
            )
            continue
        for path in notebooks:
            candidate = _file_candidate(path, student=student, source=f"{source}: {path.relative_to(folder)}")
            if when is not None:
                candidate.when = when
            candidates.append(candidate)


def _gradescope_student(info: dict[str, Any], folder: str) -> tuple[str, str]:
    submitters = info.get(":submitters") or []
    if not isinstance(submitters, list) or not submitters or not isinstance(submitters[0], dict):
        return folder.removeprefix("submission_"), ""
    first = submitters[0]
    student = str(
        first.get(":sid") or str(first.get(":email") or "").split("@")[0] or first.get(":name") or ""
    )
    names = ", ".join(str(s.get(":name", "?")) for s in submitters if isinstance(s, dict))
    return (student or folder.removeprefix("submission_")), f" ({names})"


def _gradescope_time(value: Any) -> float | None:
    if isinstance(value, _dt.datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc).timestamp()
    if isinstance(value, str):
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())  # Ruby prints nanoseconds
        for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S.%f%z"):
            try:
                return _dt.datetime.strptime(text, fmt).timestamp()
            except ValueError:
                continue
    return None


def _choose(candidates: list[_Candidate], rejected: list[Rejected], preferred_name: str | None) -> Intake:
    """One notebook per student (see the module docstring), readable, with unique ids."""
    by_student: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_student.setdefault(candidate.student, []).append(candidate)
    intake = Intake(rejected=[])
    taken: set[str] = set()
    for student in sorted(by_student):
        group = by_student[student]
        preferred = preferred_name.lower() if preferred_name else None

        def rank(c: _Candidate, preferred: str | None = preferred) -> tuple[bool, float, str]:
            return (preferred is not None and _original_name(c.path) == preferred, c.when, str(c.path))

        group.sort(key=rank)
        chosen = group[-1]
        notes = list(chosen.notes)
        if len(group) > 1:
            others = ", ".join(c.path.name for c in group[:-1])
            notes.append(
                f"{len(group)} notebooks found for {student}; graded {chosen.path.name} "
                f"(the template's name first, then the newest); not graded: {others}"
            )
        sub_id = _unique(safe_id(student), taken)
        problem = _unreadable(chosen.path)
        if problem is not None:
            intake.rejected.append(
                Rejected(sub_id, student, chosen.source, "error", problem, _hash_file(None))
            )
            continue
        intake.submissions.append(
            Submission(
                id=sub_id,
                student=student,
                path=chosen.path.resolve(),
                source=chosen.source,
                notes=tuple(notes),
            )
        )
    for item in sorted(rejected, key=lambda r: (r.id, r.source)):
        intake.rejected.append(replace(item, id=_unique(item.id, taken)))
    return intake


def submitted_name(path: Path) -> str:
    """The file name a student gave a notebook (lower case; Canvas's prefix and resubmission
    suffix removed), which is what a template's or a set's notebook name is matched against."""
    return _original_name(path)


def _original_name(path: Path) -> str:
    match = _CANVAS.match(path.name)
    name = match["name"] if match else path.name
    return re.sub(r"-\d+(\.ipynb)$", r"\1", name.lower())  # Canvas renames resubmissions hw2-1.ipynb


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _unreadable(path: Path) -> str | None:
    """Why the file cannot be read, or None. Whether it is a valid notebook is decided when it
    is run (grader.engine.load_notebook), which gives the student the precise reason."""
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return f"{path.name} cannot be read: {exc.strerror or exc}"
    return None


def _hash_file(path: Path | None) -> str:
    digest = hashlib.sha256()
    try:
        if path is not None:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    except OSError:
        digest.update(b"<unreadable>")
    return digest.hexdigest()


def _reject(student: str, source: str, status: str, message: str, path: Path | None) -> Rejected:
    return Rejected(safe_id(student), student, source, status, message, _hash_file(path))


def _extract_zip(archive: Path, work_dir: Path, rejected: list[Rejected]) -> Path | None:
    """Extract ``archive`` safely (grader.unzip) into ``work_dir``; unsafe entries become Rejected rows."""
    fingerprint = _hash_file(archive)
    label = archive.stem
    target, problems = extract_zip(archive, work_dir / f"{safe_id(archive.stem)}-{fingerprint[:12]}")
    for name, message in problems:
        rejected.append(
            Rejected(safe_id(f"{label}-{name}"), label, f"{archive}:{name}", "error", message, fingerprint)
        )
    return target
