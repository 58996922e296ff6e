"""Rescoring a class after a rubric edit: 300 stored hw2 runs, reports included, nothing executed.

The class is synthesised from real hw2 run records (the graded examples): each synthetic student
is a copy of one real run with its numeric answers moved by a few percent and a few of its
predictions changed, so every student's curves, metrics and plots differ. Then, each measured in
a fresh `grader rescore` process (startup included), with the coordinator's memory sampled from
outside:

1. cold: the first scoring of all 300 with every page and plot drawn (what grading pays once);
2. edit A: one threshold and one value band edited: rescored, pages rewritten, plots from cache;
3. edit B: one threshold and one curve band edited: that item's plot is drawn again for everyone;
4. the coordinator's peak memory at 100 and at 300 students (flat: it streams results), measured
   without reports (the coordinator renders nothing; workers do).

Each line prints the wall time and the CPU time of the whole process tree (coordinator and
workers): on a machine shared with other work, CPU time is the steadier of the two.

    .venv/bin/python benchmarks/bench_rescore.py --from grading-out/hw2   # an OUT of `grader grade` on hw2
    .venv/bin/python benchmarks/bench_rescore.py                          # grades 3 examples first (minutes)

Runs made by a grader older than execution keys are stamped as if graded now. Timings depend on
the machine and its load (2 shared cores here): compare numbers from the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "submissions" / "hw2"
QUICK_EXAMPLES = ("alan_turing", "grace_hopper", "john_mccarthy")
THRESHOLD = (
    "p2_tuned_test_error",
    "threshold: {full_at: 0.08, zero_at: 0.15}",
    "threshold: {full_at: 0.09, zero_at: 0.15}",
)
VALUE_BAND = ("p2_sgd_val_error", "band: {k: 3, abs: 0.02, rel: 0.05}", "band: {k: 2, abs: 0.015, rel: 0.05}")
CURVE_BAND = ("p1_dt_val_curve", "band: {k: 3, abs: 0.05, rel: 0.03}", "band: {k: 2, abs: 0.04, rel: 0.03}")


def real_runs(source: Path | None, work: Path) -> Path:
    """An OUT of `grader grade` on hw2: the one given, or three examples graded now."""
    if source is not None:
        return source
    out = work / "examples-out"
    subs = work / "examples"
    subs.mkdir(parents=True)
    for name in QUICK_EXAMPLES:
        (subs / f"{name}.ipynb").write_bytes((EXAMPLES / f"{name}.ipynb").read_bytes())
    print(f"grading {len(QUICK_EXAMPLES)} hw2 examples for real run records (a few minutes) ...", flush=True)
    grader = Path(sys.executable).with_name("grader")
    cmd = [
        str(grader),
        "grade",
        str(subs),
        "--assignment",
        "hw2",
        "--out",
        str(out),
        "--workers",
        "2",
        "--timeout",
        "60",
    ]
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    return out


def _jiggle(value: Any, rng: random.Random) -> Any:
    """Numbers moved by a few percent (integers kept: depths, counts); lists element-wise."""
    if isinstance(value, bool) or isinstance(value, int) or value is None:
        return value
    if isinstance(value, float):
        return value * (1.0 + rng.gauss(0.0, 0.03))
    if isinstance(value, list) and len(value) <= 64:
        return [_jiggle(v, rng) for v in value]
    return value  # large arrays (an image) stay as they are


def _change_some(values: list[Any], rng: random.Random, share: float = 0.03) -> list[Any]:
    """A few predictions replaced by another value the model also predicted."""
    choices = sorted({json.dumps(v) for v in values})
    if len(choices) < 2:
        return values
    out = list(values)
    for i in rng.sample(range(len(out)), k=max(1, int(share * len(out)))):
        out[i] = json.loads(rng.choice(choices))
    return out


def synthesise(source: Path, out: Path, count: int) -> None:
    """``count`` run records in OUT/run/, each a perturbed copy of a real one, stamped as now."""
    from grader.assignment import load_assignment
    from grader.context import resolve_context
    from grader.keys import execution_stamp
    from grader.limits import Limits

    assignment = load_assignment("hw2")
    data = resolve_context(assignment).data_dir
    real = [json.loads(p.read_text()) for p in sorted((source / "run").glob("*.json"))]
    real = [r for r in real if r.get("status") == "completed"]
    if not real:
        sys.exit(f"no completed run records in {source / 'run'}")
    stamps = {}
    rng = random.Random(14)
    shutil.rmtree(out, ignore_errors=True)  # every measurement starts from a fresh class
    (out / "run").mkdir(parents=True)
    for n in range(count):
        base = real[n % len(real)]
        key = base["id"]
        if key not in stamps:
            stamps[key] = base.get("execution") or execution_stamp(
                Path(base["notebook"]),
                assignment,
                data,
                limits=Limits(cell_timeout=60),
                env=None,
                public_only=False,
            )
        run = json.loads(json.dumps(base))
        run["id"] = f"student{n:03d}"
        run["execution"] = stamps[key]
        for entry in run["harvest"]["answers"].values():
            if entry.get("status") == "ok":
                entry["value"] = _jiggle(entry["value"], rng)
        for per_input in run["harvest"]["predictions"].values():
            for entry in per_input.values():
                if entry.get("status") == "ok" and isinstance(entry.get("value"), list):
                    entry["value"] = _change_some(entry["value"], rng)
        (out / "run" / f"{run['id']}.json").write_text(json.dumps(run))


def edited_rubric(work: Path, name: str, edits: list[tuple[str, str, str]]) -> Path:
    """A copy of rubrics/hw2.yaml (paths made absolute) with each item's line edited."""
    text = (REPO / "rubrics" / "hw2.yaml").read_text(encoding="utf-8").replace("../", f"{REPO}/")
    for item, old, new in edits:
        start = text.index(f"- id: {item}\n")
        at = text.index(old, start)
        text = text[:at] + new + text[at + len(old) :]
    path = work / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def rescore(out: Path, rubric: Path, label: str, count: int, *, reports: bool = True) -> dict[str, float]:
    """Run `grader rescore` in its own process; its wall and CPU time, the coordinator's memory."""
    import psutil

    grader = Path(sys.executable).with_name("grader")
    cmd = [str(grader), "rescore", str(out), "--assignment", str(rubric), "--workers", "2"]
    log = out / f"rescore-{label.split(':')[0].replace(' ', '-')}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w") as sink:  # a file, not a pipe: the diff of a whole class is long
        process = subprocess.Popen(cmd + ([] if reports else ["--no-reports"]), stdout=sink, stderr=sink)
    # the child holds its own copy of the file; this one is closed
    watched = psutil.Process(process.pid)
    samples: list[tuple[int, int]] = []  # (results saved so far, coordinator RSS)
    jsonl = out / "results.jsonl"
    while process.poll() is None:
        try:
            rss = watched.memory_info().rss
            lines = jsonl.read_bytes().count(b"\n") if jsonl.is_file() else 0
        except (psutil.Error, OSError):
            break
        samples.append((lines, rss))
        time.sleep(0.02)
    process.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the process and the workers it waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = log.read_text(encoding="utf-8")
    if process.returncode != 0:
        sys.exit(f"grader rescore failed ({process.returncode}):\n{output[-4000:]}")
    moved = next((line for line in output.splitlines() if "stored run(s):" in line), "")
    peak = max((rss for _, rss in samples), default=0)
    print(
        f"{label:<44} wall {wall:6.2f} s ({1000 * wall / count:5.1f} ms/submission)  "
        f"cpu {cpu:6.1f} s ({1000 * cpu / count:5.1f} ms/submission)  "
        f"coordinator peak {peak / 2**20:4.0f} MiB  [{moved.strip()}]",
        flush=True,
    )
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--from", dest="source", type=Path, default=None, help="An OUT of `grader grade` on hw2."
    )
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--small", type=int, default=100, help="Class size for the memory comparison.")
    parser.add_argument("--work", type=Path, default=None, help="Keep the synthetic class here.")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-rescore-"))
    work.mkdir(parents=True, exist_ok=True)
    source = real_runs(args.source, work)
    original = edited_rubric(work, "hw2-original", [])
    edit_a = edited_rubric(work, "hw2-edit-a", [THRESHOLD, VALUE_BAND])
    edit_b = edited_rubric(work, "hw2-edit-b", [THRESHOLD, CURVE_BAND])
    print(f"{args.count} synthetic hw2 students from the run records in {source / 'run'}; work dir {work}")
    results = {}
    for count in (args.small, args.count):
        out = work / f"class-{count}"
        synthesise(source, out, count)
        results[f"memory-{count}"] = rescore(
            out, original, f"no reports, {count} students", count, reports=False
        )
        if count == args.small:
            continue
        results["cold"] = rescore(out, original, f"cold: every page and plot drawn ({count})", count)
        results["a"] = rescore(out, edit_a, "edit A: a threshold and a value band", count)
        results["b"] = rescore(out, edit_b, "edit B: a threshold and a curve band", count)
        results["again"] = rescore(out, edit_b, "edit B again: nothing moves", count)
    small, large = results[f"memory-{args.small}"]["peak_mb"], results[f"memory-{args.count}"]["peak_mb"]
    print(
        f"coordinator peak memory: {small:.0f} MiB at {args.small} students, {large:.0f} MiB at "
        f"{args.count} ({large - small:+.0f} MiB)"
    )
    print(
        f"target: at most 10 s for {args.count} after an edit; edit A {results['a']['wall_s']:.1f} s, edit B {results['b']['wall_s']:.1f} s"
    )


if __name__ == "__main__":
    main()
