"""The hostile-submission corpus, graded together in one batch, and the guarantees it proves.

tests/corpus/inputs/ holds the inputs (built by tests/corpus/build_inputs.py), expected.yaml the
outcome each must get; a few inputs (a 100 MB notebook, a zip with path-traversal entries) are
written at test time. The whole corpus is graded ONCE, by the real ``grader grade`` command in a
subprocess (so a grader crash or hang is caught), against tests/corpus/assignment/ with small
limits; then:

* every input has one result row with its expected status, message, score and item outcomes;
* nothing is written outside the output directory, the public data is unchanged, no process of
  the batch outlives it, nothing reached a loopback listener;
* no canary (hidden inputs, hidden labels, expected.json, the reference notebook, a file planted
  outside OUT, an environment variable) appears in any file under OUT;
* the well-behaved submissions get exactly the scores they get when graded alone;
* the grader exits 0, or 3 ("some submissions could not be graded"), with a summary.

See docs/SECURITY.md for the threat model behind each input.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus"
sys.path.insert(0, str(CORPUS))

import build_inputs  # noqa: E402

RUBRIC = CORPUS / "assignment" / "corpus.yaml"
GRADER = REPO / ".venv" / "bin" / "grader"
PYTHON = REPO / ".venv" / "bin" / "python"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text(encoding="utf-8"))
ALONE = ("good_full", "good_partial", "good_close", "error_cell")
OUTER_TIMEOUT_S = 2400
EXIT_INCOMPLETE = 3

# Canaries planted in the committed assignment (tests/corpus/assignment/).
STATIC_CANARIES = {
    "hidden inputs": "CANARY-HIDDEN-INPUTS-4d1e8b",
    "hidden labels": "CANARY-HIDDEN-LABELS-9b27f0",
    "expected.json": "CANARY-EXPECTED-JSON-c5a31d",
    "expected.json item": "CANARY-EXPECTED-ITEM-e02f77",
    "reference notebook": "CANARY-REFERENCE-NOTEBOOK-a8d4e2",
}
# Host places where a leftover of a hostile notebook would show.
WATCHED_DIRS = [Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path.home(), REPO, CORPUS / "assignment"]
LEFTOVER = re.compile(r"^(corpus-late-write-|corpus-planted-|corpus-zip-|filler-)")

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="bubblewrap is not installed")


# ---------------------------------------------------------------------------------------------
# helpers


def tree_digest(root: Path) -> dict[str, str]:
    """path -> sha256 of every file under root (mode and content)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[str(path.relative_to(root))] = f"{oct(path.stat().st_mode)}:{digest}"
    return out


def leftovers() -> list[str]:
    found = []
    for place in WATCHED_DIRS:
        try:
            names = os.listdir(place)
        except OSError:
            continue
        found += [str(place / n) for n in names if LEFTOVER.match(n)]
    for site in (REPO / ".venv").glob("lib/python*/site-packages/sitecustomize.py"):
        found.append(str(site))
    return sorted(found)


def marked_processes(marker: str) -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline and str(os.getpid()) != pid:
            shown = cmdline.replace(b"\0", b" ")[:200]
            found.append(f"{pid}: {shown!r}")
    return found


class Listener:
    """TCP and UDP listeners on the loopback port the network notebooks aim at."""

    def __init__(self, port: int) -> None:
        self.received: list[str] = []
        self.bound = False
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        try:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("127.0.0.1", port))
            tcp.listen(8)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", port))
        except OSError:
            return
        for s in (tcp, udp):
            s.settimeout(0.5)
        self._socks = [tcp, udp]
        self.bound = True
        threading.Thread(target=self._tcp, args=(tcp,), daemon=True).start()
        threading.Thread(target=self._udp, args=(udp,), daemon=True).start()

    def _tcp(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = sock.accept()
            except OSError:
                continue
            self.received.append(f"tcp connection from {addr}")
            conn.close()

    def _udp(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except OSError:
                continue
            self.received.append(f"udp {data!r} from {addr}")

    def close(self) -> None:
        self._stop.set()
        time.sleep(0.6)
        for s in self._socks:
            s.close()


def grader_command(paths: list[Path], out: Path, data: Path) -> tuple[list[str], str]:
    """``grader grade`` with the corpus limits when the CLI takes them, else the API driver."""
    limits = build_inputs_limits()
    try:
        help_text = subprocess.run(
            [str(GRADER), "grade", "--help"], capture_output=True, text=True, timeout=120
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        help_text = ""
    wanted = {
        "--timeout": limits["cell_timeout"],
        "--notebook-timeout": 300,  # the CLI has no --harvest-timeout: its 120 s must fit
        "--memory-mb": limits["memory_mb"],
        "--max-processes": limits["max_processes"],
        "--file-size-mb": limits["file_size_mb"],
        "--harvest-timeout": limits["harvest_timeout"],
    }
    essential = ("--timeout", "--memory-mb")
    if "--out" in help_text and all(re.search(rf"{opt}\b", help_text) for opt in essential):
        cmd = [str(GRADER), "grade", *map(str, paths), "--assignment", str(RUBRIC), "--out", str(out)]
        cmd += ["--data", str(data), "--workers", "2"]
        for opt, value in wanted.items():
            if re.search(rf"{opt}\b", help_text):
                cmd += [opt, str(value)]
        if "--no-progress" in help_text:
            cmd.append("--no-progress")
        return cmd, "cli"
    driver = [str(PYTHON), str(CORPUS / "run_batch.py"), str(RUBRIC), str(out), str(data), *map(str, paths)]
    return driver + ["--workers", "2"], "api-driver"


def build_inputs_limits() -> dict[str, Any]:
    from run_batch import LIMITS

    return dict(LIMITS)


@dataclass
class CorpusRun:
    base: Path
    out: Path
    data: Path
    returncode: int
    stdout: str
    stderr: str
    runner: str
    wall_s: float
    rows: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]]
    canaries: dict[str, str]
    data_before: dict[str, str]
    data_after: dict[str, str]
    static_before: dict[str, str]
    static_after: dict[str, str]
    leftovers_before: list[str]
    leftovers_after: list[str]
    survivors: list[str]
    tmpdir_left: list[str]
    network: list[str]
    listener_bound: bool
    alone: dict[str, dict[str, Any]] = field(default_factory=dict)
    alone_returncode: int | None = None
    killers: dict[str, tuple[int, list[dict[str, Any]], str]] = field(default_factory=dict)


def load_rows(out: Path) -> list[dict[str, Any]]:
    path = out / "results.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_grader(
    paths: list[Path], out: Path, data: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, str]:
    cmd, runner = grader_command(paths, out, data)
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=OUTER_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the grader did not finish the corpus batch in {OUTER_TIMEOUT_S} s: {exc}")
    return proc, runner


# ---------------------------------------------------------------------------------------------
# the one batch


@pytest.fixture(scope="module")
def corpus() -> CorpusRun:
    if not Path("/usr/bin/bwrap").exists():
        pytest.skip("bubblewrap is not installed")
    base = Path(tempfile.mkdtemp(prefix="corpus-batch-", dir="/tmp"))
    base.chmod(0o755)
    token = secrets.token_hex(6)
    canaries = dict(STATIC_CANARIES)
    canaries["planted file"] = f"CANARY-FILE-{token}"
    canaries["environment"] = f"CANARY-ENV-{token}"
    planted = [Path(f"/tmp/corpus-canary-{token}") / "canary.txt", Path.home() / f".corpus-canary-{token}"]
    try:
        for path in planted:
            path.parent.mkdir(exist_ok=True)
            path.write_text(canaries["planted file"] + "\n")

        subs = base / "subs"
        build_inputs.write_committed(subs)  # the committed inputs, for this checkout's path
        build_inputs.huge_notebook(subs / "huge_100mb.ipynb")
        isolated = base / "isolated"
        isolated.mkdir()
        killers = [name for name, spec in EXPECTED.items() if spec.get("batch_killer")]
        for name in killers:
            shutil.move(subs / f"{name}.ipynb", isolated / f"{name}.ipynb")
        export = build_inputs.traversal_zip(
            base / "corpus_export.zip", build_inputs.solved(), build_inputs.SOURCES["good_partial"]
        )
        data = base / "data"
        made = subprocess.run(
            [str(GRADER), "data", str(RUBRIC), "--out", str(data)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert made.returncode == 0, made.stderr
        tmpdir = base / "tmp"
        tmpdir.mkdir(mode=0o755)
        env = {**os.environ, "TMPDIR": str(tmpdir), "CORPUS_SECRET_ENV": canaries["environment"]}

        static_before, data_before = tree_digest(CORPUS / "assignment"), tree_digest(data)
        leftovers_before = leftovers()
        listener = Listener(build_inputs.LOOPBACK_PORT)
        started = time.monotonic()
        out = base / "out"
        proc, runner = run_grader([subs, export], out, data, env)
        wall = time.monotonic() - started
        time.sleep(3)  # a daemon that outlived its kernel writes within a second
        survivors = marked_processes(build_inputs.BG_MARKER)
        listener.close()
        rows = load_rows(out)
        run = CorpusRun(
            base=base,
            out=out,
            data=data,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            runner=runner,
            wall_s=wall,
            rows=rows,
            by_id={row["id"]: row for row in rows},
            canaries=canaries,
            data_before=data_before,
            data_after=tree_digest(data),
            static_before=static_before,
            static_after=tree_digest(CORPUS / "assignment"),
            leftovers_before=leftovers_before,
            leftovers_after=leftovers(),
            survivors=survivors,
            tmpdir_left=sorted(os.listdir(tmpdir)),
            network=list(listener.received),
            listener_bound=listener.bound,
        )
        # the well-behaved submissions, graded alone with the same options
        alone_dir = base / "alone"
        alone_dir.mkdir()
        for name in ALONE:
            shutil.copy2(CORPUS / "inputs" / f"{name}.ipynb", alone_dir / f"{name}.ipynb")
        alone_proc, _ = run_grader([alone_dir], base / "alone-out", data, env)
        run.alone_returncode = alone_proc.returncode
        run.alone = {row["id"]: row for row in load_rows(base / "alone-out")}
        for name in killers:  # each batch-killing input in a batch of its own
            killer_out = base / f"killer-{name}"
            killer_proc, _ = run_grader([isolated / f"{name}.ipynb"], killer_out, data, env)
            run.killers[name] = (killer_proc.returncode, load_rows(killer_out), killer_proc.stderr[-2000:])
        print(f"corpus batch: runner={runner} exit={proc.returncode} wall={wall:.0f}s rows={len(rows)}")
        yield run
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
        shutil.rmtree(planted[0].parent, ignore_errors=True)
        for proc_line in marked_processes(build_inputs.BG_MARKER):  # never leave a daemon running
            try:
                os.kill(int(proc_line.split(":")[0]), 9)
            except (OSError, ValueError):
                pass
        if not os.environ.get("CORPUS_KEEP"):
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# corpus shape (fast, no grading)


def test_corpus_has_forty_inputs_each_with_an_expectation() -> None:
    committed = {p.stem for p in (CORPUS / "inputs").glob("*.ipynb")} | {
        p.name for p in (CORPUS / "inputs").iterdir() if p.is_dir()
    }
    generated = {name for name, spec in EXPECTED.items() if spec.get("generated")}
    assert len(committed | generated) >= 40
    assert committed | generated == set(EXPECTED), (
        "every input needs an entry in expected.yaml and vice versa"
    )
    for name, spec in EXPECTED.items():
        assert spec["status"] in {"graded", "error", "timeout", "invalid_notebook", "sandbox_error"}, name
        assert spec.get("guarantees"), f"{name}: say which guarantee it exercises"


def test_committed_inputs_match_their_builder(tmp_path: Path) -> None:
    """The notebooks in inputs/ are what build_inputs.py writes (edit the builder, not the files)."""
    for name, nb in build_inputs.SOURCES.items():
        on_disk = json.loads((CORPUS / "inputs" / f"{name}.ipynb").read_text(encoding="utf-8"))
        built = json.loads(json.dumps(nb).replace(str(REPO), "/work/main"))
        assert on_disk == built, name
    for name, data in build_inputs.RAW.items():
        assert (CORPUS / "inputs" / name).read_bytes() == data, name


def test_no_input_carries_a_canary() -> None:
    """The canaries must come from the grader's side, never from the inputs themselves."""
    for path in (CORPUS / "inputs").rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            for canary in STATIC_CANARIES.values():
                assert canary.encode() not in text, (path, canary)


# ---------------------------------------------------------------------------------------------
# guarantee 1: a row with a clear status for every input, and the batch finishes


@needs_bwrap
def test_every_input_yields_one_row_with_a_status_and_message(corpus: CorpusRun) -> None:
    ids = [row["id"] for row in corpus.rows]
    assert len(ids) == len(set(ids)), "results.jsonl holds one line per submission"
    missing = sorted(
        set(EXPECTED) - set(ids) - {n for n, spec in EXPECTED.items() if spec.get("batch_killer")}
    )
    assert not missing, f"no result row for {missing}\nstderr tail:\n{corpus.stderr[-3000:]}"
    for row in corpus.rows:
        assert row["status"] in {"graded", "error", "timeout", "invalid_notebook", "sandbox_error"}, row["id"]
        assert isinstance(row.get("message"), str) and row["message"].strip(), f"{row['id']}: empty message"
        assert (corpus.out / "results" / f"{row['id']}.json").is_file(), row["id"]
        if row["status"] == "graded":
            assert (corpus.out / "executed" / f"{row['id']}.ipynb").is_file(), row["id"]
            assert (corpus.out / "feedback" / f"{row['id']}.html").is_file(), row["id"]


def _outputs_text(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    chunks = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []) or []:
            text = output.get("text")
            chunks.append("".join(text) if isinstance(text, list) else str(text or ""))
            data = output.get("data") or {}
            plain = data.get("text/plain")
            chunks.append("".join(plain) if isinstance(plain, list) else str(plain or ""))
            chunks.append(str(output.get("evalue", "")))
    return "\n".join(chunks)


def _check_expectation(run: CorpusRun, name: str, spec: dict[str, Any]) -> None:
    if spec.get("batch_killer"):
        returncode, rows, stderr = run.killers[name]
        assert returncode in (0, EXIT_INCOMPLETE), f"{name}: its batch exited {returncode}:\n{stderr}"
        row = {r["id"]: r for r in rows}.get(name)
    else:
        row = run.by_id.get(name)
    assert row is not None, f"{name}: no result row"
    where = f"{name}: {row['status']} {row.get('score')} {row.get('message')!r}"
    assert row["status"] == spec["status"], where
    if "message" in spec:
        assert re.search(spec["message"], row["message"], re.I), where
    if "score" in spec:
        assert row["score"] == pytest.approx(spec["score"]), where
    if "score_max" in spec:
        assert row["score"] <= spec["score_max"], where
    items = {item["id"]: item for item in row.get("items", [])}
    for item_id, status in (spec.get("items") or {}).items():
        item = items.get(item_id)
        assert item is not None and item["status"] == status, f"{where}; item {item_id}: {item}"
    for item_id, pattern in (spec.get("item_messages") or {}).items():
        item = items.get(item_id) or {}
        assert re.search(pattern, item.get("message", ""), re.I), f"{where}; item {item_id}: {item}"
    fired = {entry.get("limit") for entry in row.get("limits_fired") or []}
    for limit in spec.get("limits") or []:
        assert limit in fired, f"{where}; limits fired: {sorted(fired)}"
    executed = run.out / "executed" / f"{name}.ipynb"
    if "output" in spec:
        assert re.search(spec["output"], _outputs_text(executed)), (
            f"{where}; outputs do not match {spec['output']!r}"
        )
    if "max_executed_bytes" in spec:
        assert executed.stat().st_size < spec["max_executed_bytes"], (
            f"{where}; {executed.stat().st_size} bytes"
        )
    if "notes" in spec:
        assert any(re.search(spec["notes"], note) for note in row.get("notes", [])), (
            f"{where}; {row.get('notes')}"
        )


def _known_bug(spec: dict[str, Any]) -> Any:
    reason = spec.get("xfail") or spec.get("batch_killer")
    return pytest.mark.xfail(strict=True, reason=reason) if reason else ()


@needs_bwrap
@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=_known_bug(spec)) for name, spec in EXPECTED.items()],
)
def test_input_gets_its_expected_outcome(corpus: CorpusRun, name: str) -> None:
    _check_expectation(corpus, name, EXPECTED[name])


@needs_bwrap
def test_zip_traversal_entries_are_rejected_rows(corpus: CorpusRun) -> None:
    rejected = [
        row
        for row in corpus.rows
        if str(row.get("submission", "")).startswith(str(corpus.base / "corpus_export.zip"))
    ]
    messages = " | ".join(row["message"] for row in rejected)
    for reason in ("climbs out", "absolute path", "symbolic link", "Windows path"):
        assert reason in messages, messages
    assert all(row["status"] == "error" for row in rejected), messages
    for escaped in ("/tmp/corpus-zip-escape.ipynb", "/tmp/corpus-zip-absolute.ipynb"):
        assert not Path(escaped).exists()


# ---------------------------------------------------------------------------------------------
# guarantee 2: no file outside OUT is written; the public data is unchanged


@needs_bwrap
def test_public_data_and_assignment_unchanged(corpus: CorpusRun) -> None:
    assert corpus.data_after == corpus.data_before
    assert corpus.static_after == corpus.static_before
    manifest = json.loads((corpus.data / "MANIFEST.json").read_text())
    assert manifest, "MANIFEST.json is intact"


@needs_bwrap
def test_nothing_written_outside_out(corpus: CorpusRun) -> None:
    new = sorted(set(corpus.leftovers_after) - set(corpus.leftovers_before))
    assert not new, f"files left outside OUT by submissions: {new}"
    assert corpus.tmpdir_left == [], f"run directories left in TMPDIR: {corpus.tmpdir_left}"


@needs_bwrap
def test_no_process_outlives_the_batch(corpus: CorpusRun) -> None:
    assert corpus.survivors == []


@needs_bwrap
def test_nothing_reached_the_loopback_listener(corpus: CorpusRun) -> None:
    if not corpus.listener_bound:
        pytest.skip(f"port {build_inputs.LOOPBACK_PORT} was busy")
    assert corpus.network == []


# ---------------------------------------------------------------------------------------------
# guarantee 3: no secret content in any output


def canary_hits(run: CorpusRun) -> dict[str | None, list[str]]:
    """Canaries found under OUT, by the submission id a file (or results.jsonl line) belongs to.

    None collects files that belong to no single submission (summary.html, grades.csv, ...).
    """
    ids = sorted(run.by_id, key=len, reverse=True)
    hits: dict[str | None, list[str]] = {}

    def owner(path: Path) -> str | None:
        relative = path.relative_to(run.out)
        names = [relative.parts[1] if len(relative.parts) > 2 else path.stem] if relative.parts else []
        for name in names:
            for sub_id in ids:
                if name == sub_id or name.startswith(sub_id + "."):
                    return sub_id
        return None

    for path in sorted(run.out.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name == "results.jsonl":
            pieces = [
                (json.loads(line).get("id"), line.encode()) for line in data.decode().splitlines() if line
            ]
        else:
            pieces = [(owner(path), data)]
        for sub_id, chunk in pieces:
            for what, canary in run.canaries.items():
                if canary.encode() in chunk:
                    hits.setdefault(sub_id, []).append(f"{path.relative_to(run.out)}: {what}")
    return hits


@needs_bwrap
def test_no_canary_in_any_output(corpus: CorpusRun) -> None:
    hits = canary_hits(corpus)
    assert not hits, f"secret content reached the outputs: {hits}"


# ---------------------------------------------------------------------------------------------
# guarantee 4: the others get exactly the scores they get alone


@needs_bwrap
def test_well_behaved_submissions_score_as_when_graded_alone(corpus: CorpusRun) -> None:
    assert set(corpus.alone) == set(ALONE), corpus.alone.keys()
    for name in ALONE:
        together, alone = corpus.by_id[name], corpus.alone[name]
        assert together["status"] == alone["status"] == "graded", name
        assert together["score"] == alone["score"], name
        assert [(i["id"], i["points"], i["status"]) for i in together["items"]] == [
            (i["id"], i["points"], i["status"]) for i in alone["items"]
        ], name


# ---------------------------------------------------------------------------------------------
# guarantee 5: exit code and summary


@needs_bwrap
def test_grader_exits_with_a_documented_code_and_a_summary(corpus: CorpusRun) -> None:
    not_graded = [row["id"] for row in corpus.rows if row["status"] in {"error", "sandbox_error"}]
    expected = EXIT_INCOMPLETE if not_graded else 0
    assert corpus.returncode == expected, f"exit {corpus.returncode}\n{corpus.stderr[-3000:]}"
    summary = corpus.stdout + corpus.stderr
    assert re.search(rf"{len(corpus.rows)} submission\(s\)", summary), summary[-2000:]
    if not_graded:
        assert "could not be graded" in summary.lower()
    assert corpus.alone_returncode == 0
    assert (corpus.out / "summary.html").is_file()
    assert (corpus.out / "grades.csv").is_file()
