"""The marks store: every decision a person makes about a grade, in one SQLite file beside the results.

``OUT/marks.sqlite`` holds manual marks of free-text answers, overrides of automatic items, an
append-only audit log and regrade requests. Result documents are the scorer's output; this store
is the source of truth for what people decided, and ``grader.marks.overlay`` lays it over them.

Why SQLite, used this way:
- WAL mode with ``synchronous=FULL``: a save is acknowledged only after its transaction is on
  disk, so a server killed mid-request loses nothing it has confirmed.
- One short ``BEGIN IMMEDIATE`` transaction per save: several markers (several threads, or
  several ``grader review`` processes on one folder) serialise on the write lock.
- Optimistic concurrency: each decision has a version; a save names the version its marker
  saw, and a save against a newer version is refused, naming who saved it and when.
- A connection per operation: cheap for SQLite, safe across threads, nothing to leak.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

STORE_NAME = "marks.sqlite"
SCHEMA_VERSION = 1
KINDS = ("manual", "override")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    student TEXT NOT NULL,
    item TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('manual', 'override')),
    points REAL,                       -- NULL: withdrawn (back to pending / to the automatic points)
    comment TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    marker TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    marked_at TEXT NOT NULL,
    PRIMARY KEY (student, item)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    marker TEXT NOT NULL,
    action TEXT NOT NULL,
    student TEXT NOT NULL,
    item TEXT NOT NULL,
    before_points REAL,
    after_points REAL,
    comment TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    version INTEGER
);
CREATE INDEX IF NOT EXISTS audit_by_student ON audit (student, item);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS regrades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    student TEXT NOT NULL,
    item TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    response TEXT NOT NULL DEFAULT '',
    resolved_by TEXT NOT NULL DEFAULT '',
    resolved_at TEXT NOT NULL DEFAULT '',
    UNIQUE (student, item, text)
);
"""


class StoreError(RuntimeError):
    """The store cannot be opened or written (not a marks store, newer schema, disk error)."""


class ConflictError(StoreError):
    """A save named an older version than the stored one: someone else saved in between."""

    def __init__(self, message: str, current: Decision | None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class Decision:
    """A person's current decision on one item of one submission."""

    student: str
    item: str
    kind: str  # manual | override
    points: float | None  # None: withdrawn
    comment: str
    reason: str
    marker: str
    version: int
    marked_at: str


@dataclass(frozen=True)
class NewDecision:
    """One save: what the marker decided and which version of the decision they saw.

    ``seen_version`` is 0 when the marker saw no decision yet, None to save regardless (the CSV
    route, which has no versions). ``baseline`` is the item's points before any decision (the
    scorer's points, None for a pending answer): the audit log's "before" for a first decision.
    """

    student: str
    item: str
    kind: str
    points: float | None
    comment: str = ""
    reason: str = ""
    seen_version: int | None = 0
    baseline: float | None = None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    marker: str
    action: str
    student: str
    item: str
    before_points: float | None
    after_points: float | None
    comment: str
    reason: str
    version: int | None


@dataclass(frozen=True)
class Regrade:
    id: int
    student: str
    item: str
    text: str
    source: str
    imported_at: str
    status: str
    response: str
    resolved_by: str
    resolved_at: str


def now_utc() -> str:
    """Timestamps in the store: UTC, ISO 8601, to the millisecond (sortable as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def store_path(out_dir: Path) -> Path:
    return Path(out_dir) / STORE_NAME


def _fmt(points: float | None) -> str:
    return "withdrawn" if points is None else f"{points:g} points"


class MarksStore:
    """``OUT/marks.sqlite``. Create one per use; every method opens and closes its own connection."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(f"{self.path}: no marks store here")
        try:
            with self._connect() as db:
                db.executescript(_SCHEMA)
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                found = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable marks store ({exc})") from exc
        if int(found) > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer grader (schema {found} > {SCHEMA_VERSION})")

    @classmethod
    def for_out(cls, out_dir: Path, *, create: bool = True) -> MarksStore:
        return cls(store_path(out_dir), create=create)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA busy_timeout = 30000")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken before anything is read."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------ decisions

    def decisions(self) -> dict[tuple[str, str], Decision]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT student, item, kind, points, comment, reason, marker, version, marked_at FROM decisions"
            ).fetchall()
        return {(r[0], r[1]): Decision(*r) for r in rows}

    def decision(self, student: str, item: str) -> Decision | None:
        with self._connect() as db:
            return _current(db, student, item)

    def save(self, new: NewDecision, *, marker: str) -> Decision:
        """Save one decision; raise ConflictError when someone saved a newer version meanwhile."""
        return self.save_many([new], marker=marker)[0]

    def save_many(self, entries: Iterable[NewDecision], *, marker: str) -> list[Decision]:
        """Save several decisions in one transaction: all of them, or (on a conflict) none."""
        if not marker.strip():
            raise StoreError("a decision needs the marker's name")
        saved = []
        try:
            with self._write() as db:
                stamp = now_utc()
                for new in entries:
                    saved.append(_save_one(db, new, marker.strip(), stamp))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: the save failed and nothing was written ({exc})") from exc
        return saved

    # ------------------------------------------------------------------ audit

    def audit(self, *, student: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """The audit log, newest first (one student's lines when ``student`` is given)."""
        query = "SELECT * FROM audit"
        args: list[object] = []
        if student is not None:
            query += " WHERE student = ?"
            args.append(student)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._connect() as db:
            return [AuditEntry(*row) for row in db.execute(query, args).fetchall()]

    # ------------------------------------------------------------------ regrade requests

    def add_regrades(self, requests: Iterable[tuple[str, str, str]], *, source: str, marker: str) -> int:
        """Add requests (student, item, text); return how many were new (repeats are skipped)."""
        added = 0
        with self._write() as db:
            stamp = now_utc()
            for student, item, text in requests:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO regrades (student, item, text, source, imported_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (student, item, text, source, stamp),
                )
                if cursor.rowcount:
                    added += 1
                    _audit(
                        db, stamp, marker, "regrade_request", student, item, None, None, text, source, None
                    )
        return added

    def regrades(self, *, status: str | None = None) -> list[Regrade]:
        query = "SELECT * FROM regrades" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        with self._connect() as db:
            return [Regrade(*row) for row in db.execute(query, (status,) if status else ()).fetchall()]

    def resolve_regrade(self, request_id: int, *, marker: str, response: str) -> Regrade:
        """Close a request with the marker's response (audited); resolving twice is refused."""
        with self._write() as db:
            row = db.execute("SELECT * FROM regrades WHERE id = ?", (request_id,)).fetchone()
            if row is None:
                raise StoreError(f"no regrade request {request_id}")
            request = Regrade(*row)
            if request.status == "resolved":
                raise ConflictError(
                    f"regrade request {request_id} was already resolved by {request.resolved_by} "
                    f"at {request.resolved_at}",
                    None,
                )
            stamp = now_utc()
            db.execute(
                "UPDATE regrades SET status = 'resolved', response = ?, resolved_by = ?, resolved_at = ? "
                "WHERE id = ?",
                (response, marker, stamp, request_id),
            )
            _audit(
                db,
                stamp,
                marker,
                "regrade_resolved",
                request.student,
                request.item,
                None,
                None,
                response,
                "",
                None,
            )
            row = db.execute("SELECT * FROM regrades WHERE id = ?", (request_id,)).fetchone()
        return Regrade(*row)


def _current(db: sqlite3.Connection, student: str, item: str) -> Decision | None:
    row = db.execute(
        "SELECT student, item, kind, points, comment, reason, marker, version, marked_at "
        "FROM decisions WHERE student = ? AND item = ?",
        (student, item),
    ).fetchone()
    return Decision(*row) if row else None


def _audit(
    db: sqlite3.Connection,
    at: str,
    marker: str,
    action: str,
    student: str,
    item: str,
    before: float | None,
    after: float | None,
    comment: str,
    reason: str,
    version: int | None,
) -> None:
    db.execute(
        "INSERT INTO audit (at, marker, action, student, item, before_points, after_points, comment, reason, "
        "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at, marker, action, student, item, before, after, comment, reason, version),
    )


def _save_one(db: sqlite3.Connection, new: NewDecision, marker: str, stamp: str) -> Decision:
    if new.kind not in KINDS:
        raise StoreError(f"unknown decision kind {new.kind!r}")
    current = _current(db, new.student, new.item)
    current_version = current.version if current else 0
    if new.seen_version is not None and new.seen_version != current_version:
        if current is None:
            raise ConflictError(
                f"{new.student} / {new.item}: the decision you saw (version {new.seen_version}) no longer exists",
                None,
            )
        raise ConflictError(
            f"{new.student} / {new.item} was saved by {current.marker} at {current.marked_at} "
            f"({_fmt(current.points)}) after you opened it; your save was not applied. "
            "Reload to see their decision, then save again if you still disagree.",
            current,
        )
    before = current.points if current is not None and current.points is not None else new.baseline
    decision = Decision(
        student=new.student,
        item=new.item,
        kind=new.kind,
        points=new.points,
        comment=new.comment,
        reason=new.reason,
        marker=marker,
        version=current_version + 1,
        marked_at=stamp,
    )
    db.execute(
        "INSERT OR REPLACE INTO decisions (student, item, kind, points, comment, reason, marker, version, "
        "marked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            decision.student,
            decision.item,
            decision.kind,
            decision.points,
            decision.comment,
            decision.reason,
            decision.marker,
            decision.version,
            decision.marked_at,
        ),
    )
    action = new.kind if new.points is not None else f"{new.kind}_withdrawn"
    _audit(
        db,
        stamp,
        marker,
        action,
        new.student,
        new.item,
        before,
        new.points,
        new.comment,
        new.reason,
        decision.version,
    )
    return decision
