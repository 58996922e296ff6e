"""A `grader review` server killed (SIGKILL) in the middle of saves loses no acknowledged mark.

Twelve clients save over and over, each on its own (student, item), each save naming the
version it saw. The server is killed while saves are in flight, restarted on the same folder,
and every save it acknowledged must be in the store: the decision at that version or a later
one, and the audit line of that version with the acknowledged points.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from review_out import Server, make_out

from grader.marks import MarksStore

CLIENTS = 12


def post(server: Server, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        server.base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"token {server.token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def get(server: Server, path: str) -> dict:
    request = urllib.request.Request(server.base + path, headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_killed_server_loses_no_acknowledged_save(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    docs = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    targets = []  # (api, student, item, max points)
    for student in ("alice", "dave"):
        for item in docs[student]["items"]:
            api = "mark" if item["kind"] == "free_text" else "override"
            targets.append((api, student, item["id"], item["max_points"]))
    targets = targets[:CLIENTS]
    assert len(targets) == CLIENTS

    server = Server(out, "--marker", "robot")
    acknowledged: dict[tuple[str, str], list[tuple[int, float]]] = {(t[1], t[2]): [] for t in targets}
    in_flight = [0]
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[str] = []

    def client(api: str, student: str, item: str, max_points: float) -> None:
        version = 0
        while not stop.is_set():
            points = float((version * 7) % (int(max_points) + 1))
            body = {
                "student": student,
                "item": item,
                "points": points,
                "version": version,
                "comment": f"save {version + 1}",
                "reason": f"save {version + 1}",
            }
            with lock:
                in_flight[0] += 1
            try:
                status, reply = post(server, f"/api/{api}", body)
            except (OSError, urllib.error.URLError):
                return  # the server is gone; this save was never acknowledged
            finally:
                with lock:
                    in_flight[0] -= 1
            if status != 200:
                errors.append(f"{student}/{item}: {status} {reply}")
                return
            version = reply["decision"]["version"]
            acknowledged[(student, item)].append((version, points))

    threads = [threading.Thread(target=client, args=t) for t in targets]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while sum(len(v) for v in acknowledged.values()) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    with lock:
        busy = in_flight[0]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert busy > 0, "no save was in flight when the server was killed"
    total = sum(len(v) for v in acknowledged.values())
    assert total >= 150

    db = sqlite3.connect(out / "marks.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    restarted = Server(out, "--marker", "robot")
    try:
        stored = {(d["student"], d["item"]): d for d in get(restarted, "/api/marks")["decisions"]}
    finally:
        restarted.stop()
    audit = {(a.student, a.item, a.version): a.after_points for a in MarksStore.for_out(out).audit()}
    for key, saves in acknowledged.items():
        if not saves:
            continue
        last_version, last_points = saves[-1]
        assert stored[key]["version"] >= last_version, key
        if stored[key]["version"] == last_version:
            assert stored[key]["points"] == last_points, key
        for version, points in saves:
            assert audit[(*key, version)] == points, (key, version)
    print(f"{total} acknowledged saves, {busy} in flight at the kill, all found after the restart")
