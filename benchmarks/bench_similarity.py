"""Similarity across a large class: time and peak memory of `grader similarity` on N submissions.

N synthetic submissions (500 by default) are made from real graded ones, without executing
anything: each takes a graded example's executed notebook, run record and result document, and
changes what differs between students: its own code cells get other names and statements of
their own inserted or dropped, its reported numbers move within a few percent, its model fixes
some of the example's errors and makes others, its written answers have words replaced. A few
planted pairs (exact copies with renamed variables) must come out on top. Then
``grader.similarity.run_similarity`` runs in a fresh process on the synthetic output directory,
and the wall time (reading, comparing, writing the page) and the process's peak memory are
printed. Target: at most 15 s and 500 MB for 500 submissions.

    scripts/grade-examples                                    # once: the graded examples (no GPU needed)
    .venv/bin/python benchmarks/bench_similarity.py           # reads grading-out/hw2
    .venv/bin/python benchmarks/bench_similarity.py --source OUT --n 1000 --planted 20
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORDS = (
    "model tree depth error boosting forest bias variance validation training data feature network layer "
    "rate learning loss epoch digit penguin flipper bill mass species rule accuracy split noise residual "
    "shallow deep weak strong average ensemble overfit underfit curve plot"
).split()


def _names(source: str) -> set[str]:
    found = set()
    try:
        previous = ""
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and previous != "." and tok.string.isidentifier():
                found.add(tok.string)
            previous = tok.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def _statement(rng: random.Random, names: list[str]) -> str:
    """A line of code of a random shape (so that every synthetic student's code is its own)."""
    v = rng.choice(names) if names else "value"
    shapes = [
        lambda: f"{v}_{rng.randint(0, 99)} = {rng.choice(names or ['x'])}",
        lambda: (
            f"print({', '.join(rng.sample(names or ['x'], min(len(names or ['x']), rng.randint(1, 3))))})"
        ),
        lambda: f"{v}_tmp = [{', '.join(str(rng.randint(0, 9)) for _ in range(rng.randint(1, 4)))}]",
        lambda: f"assert {v} is not None, 'check {rng.choice(WORDS)}'",
        lambda: f"{v}_n = len({rng.choice(names or ['x'])}) * {rng.randint(2, 9)} - {rng.randint(0, 5)}",
        lambda: f"results_{rng.choice(WORDS)} = {{'{rng.choice(WORDS)}': {v}}}",
    ]
    return rng.choice(shapes)()


def mutate_code(source: str, rng: random.Random, insert: float = 0.3, drop: float = 0.08) -> str:
    """Rename the cell's own names and insert or drop statements, keeping indentation."""
    names = sorted(n for n in _names(source) if not n[0].isupper() and n not in {"print", "len", "range"})
    renames = {n: f"{n}_{rng.choice(WORDS)}" for n in names if rng.random() < 0.5}
    lines = []
    for line in source.split("\n"):
        for old, new in renames.items():
            line = _replace_word(line, old, new)
        if line.strip() and rng.random() < drop:
            continue
        lines.append(line)
        if (
            line.strip()
            and not line.rstrip().endswith((":", ",", "(", "[", "{", "\\"))
            and rng.random() < insert
        ):
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(indent + _statement(rng, list(renames.values()) or names))
    return "\n".join(lines)


def _replace_word(line: str, old: str, new: str) -> str:
    import re

    return re.sub(rf"(?<![\w.]){re.escape(old)}(?!\w)", new, line)


def mutate_text(text: str, rng: random.Random, share: float = 0.35) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < share else w for w in text.split())


def mutate_run(
    run: dict[str, Any], rng: random.Random, labels: dict[tuple[str, str], list[str]]
) -> dict[str, Any]:
    run = copy.deepcopy(run)
    harvest = run.get("harvest") or {}
    for entry in (harvest.get("answers") or {}).values():
        if entry.get("status") == "ok":
            entry["value"] = _jitter(entry["value"], rng)
    for model, by_input in (harvest.get("predictions") or {}).items():
        for input_name, entry in by_input.items():
            truth = labels.get((model, input_name))
            if entry.get("status") != "ok" or not isinstance(entry.get("value"), list) or truth is None:
                continue
            values = entry["value"]
            vocabulary = sorted({str(v) for v in values} | set(truth))
            for i, value in enumerate(values):
                wrong = str(value) != truth[i]
                if wrong and rng.random() < 0.4:
                    values[i] = type(value)(truth[i]) if not isinstance(value, bool) else not value
                elif not wrong and rng.random() < 0.02:
                    choice = rng.choice(vocabulary)
                    values[i] = (
                        (not value)
                        if isinstance(value, bool)
                        else (
                            int(choice) if isinstance(value, int) and choice.lstrip("-").isdigit() else choice
                        )
                    )
    for entry in (harvest.get("free_text") or {}).values():
        if entry.get("status") == "ok":
            entry["value"] = mutate_text(entry["value"], rng)
    return run


def _jitter(value: Any, rng: random.Random) -> Any:
    if isinstance(value, list):
        return [_jitter(v, rng) for v in value]
    if isinstance(value, float):
        return value * (1 + 0.03 * rng.gauss(0, 1))
    return value


def _labels(source: Path) -> dict[tuple[str, str], list[str]]:
    """Hidden labels per (model, input), spelled as the similarity check spells predictions."""
    from grader.assignment import load_assignment
    from grader.context import resolve_context
    from grader.similarity.predictions import prediction_targets

    assignment = load_assignment("hw2")
    targets, _ = prediction_targets(assignment, resolve_context(assignment).data_dir)
    return {(t.model, t.input): t.truth.tolist() for t in targets}


def _source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else str(cell["source"])


def _mixed_run(
    bases: list[Any], rng: random.Random, labels: dict[tuple[str, str], list[str]]
) -> dict[str, Any]:
    """A run record whose answers, each model's predictions and each written answer come from a
    randomly chosen graded submission, then changed as one student's own work differs."""
    run = copy.deepcopy(rng.choice(bases)[1])
    harvest = run.setdefault("harvest", {})
    for section in ("answers", "free_text"):
        donor = rng.choice(bases)[1].get("harvest", {}).get(section) or {}
        for key in list(harvest.get(section) or {}):
            if key in donor and rng.random() < 0.5:
                harvest[section][key] = copy.deepcopy(donor[key])
    for model, by_input in (harvest.get("predictions") or {}).items():
        donor = (rng.choice(bases)[1].get("harvest", {}).get("predictions") or {}).get(model)
        if donor:
            by_input.update(copy.deepcopy(donor))
    return mutate_run(run, rng, labels)


def synthesise(source: Path, out: Path, n: int, planted: int, seed: int) -> list[tuple[str, str]]:
    """Write N synthetic submissions into ``out``; return the planted (copy, original) pairs.

    Each one takes every code cell from a randomly chosen graded notebook (outputs included, as
    executed notebooks have them) and changes it: other names, statements of its own added or
    dropped. Its numbers, predictions and written answers are mixed and changed the same way."""
    rng = random.Random(seed)
    labels = _labels(source)
    template = json.loads((REPO / "student_template" / "hw2" / "hw2.ipynb").read_text(encoding="utf-8"))
    given = {_source(c) for c in template["cells"]}
    bases = []
    for path in sorted((source / "results").glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        rid = result["id"]
        run_path, nb_path = source / "run" / f"{rid}.json", source / "executed" / f"{rid}.ipynb"
        if run_path.is_file() and nb_path.is_file():
            bases.append((result, json.loads(run_path.read_text()), json.loads(nb_path.read_text())))
    if not bases:
        raise SystemExit(f"no graded submissions in {source}")
    by_id: dict[str, list[dict[str, Any]]] = {}
    for _, _, notebook in bases:
        for cell in notebook["cells"]:
            by_id.setdefault(str(cell.get("id")), []).append(cell)
    for sub in ("results", "run", "executed"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    made: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = []
    for i in range(n - planted):
        result, _, notebook = rng.choice(bases)
        notebook = copy.deepcopy(notebook)
        cells = []
        for cell in notebook["cells"]:
            cell = copy.deepcopy(rng.choice(by_id.get(str(cell.get("id")), [cell])))
            text = _source(cell)
            cell["source"] = (
                mutate_code(text, rng) if cell["cell_type"] == "code" and text not in given else text
            )
            cells.append(cell)
        notebook["cells"] = cells
        made.append((f"student{i:04d}", result, _mixed_run(bases, rng, labels), notebook))
    pairs = []
    for k in range(planted):
        original = made[rng.randrange(len(made))]
        notebook = copy.deepcopy(original[3])
        for cell in notebook["cells"]:  # the copier renames the variables it assigns, nothing else
            if cell["cell_type"] == "code" and cell["source"] not in given:
                cell["source"] = rename_assigned(cell["source"], rng)
        copy_id = f"copy{k:03d}"
        made.append((copy_id, original[1], copy.deepcopy(original[2]), notebook))
        pairs.append((copy_id, original[0]))
    for sid, result, run, notebook in made:
        result = dict(result, id=sid, student=sid, executed_notebook=f"executed/{sid}.ipynb")
        run = dict(run, id=sid)
        (out / "results" / f"{sid}.json").write_text(json.dumps(result))
        (out / "run" / f"{sid}.json").write_text(json.dumps(run))
        (out / "executed" / f"{sid}.ipynb").write_text(json.dumps(notebook))
    return pairs


def rename_assigned(source: str, rng: random.Random) -> str:
    """Rename the names a cell assigns (``name = ...``, ``for name in``, ``def name``)."""
    import re

    assigned = set(re.findall(r"^\s*([a-z_]\w*)\s*=[^=]", source, re.MULTILINE))
    assigned |= set(re.findall(r"\bfor\s+([a-z_]\w*)\s+in\b", source))
    assigned |= set(re.findall(r"\bdef\s+([a-z_]\w*)", source))
    for name in sorted(assigned):
        source = _replace_word(source, name, f"{name}_{rng.choice(WORDS)}")
    return source


MEASURE = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from grader.similarity import run_similarity
done = run_similarity(Path(sys.argv[1]))
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_mb = usage.ru_maxrss / 1024
ranks = {frozenset((p.a, p.b)): i for i, p in enumerate(done.report.pairs, start=1)}
print(json.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "compare_s": done.report.seconds, "peak_mb": peak_mb,
                  "candidates": done.report.candidates, "pairs_in_class": done.report.pairs_in_class,
                  "above_line": [[p.a, p.b] for p in done.report.above_line],
                  "ranks": {"|".join(sorted(k)): v for k, v in ranks.items()}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", type=Path, default=REPO / "grading-out" / "hw2", help="a graded output directory"
    )
    parser.add_argument("--n", type=int, default=500, help="synthetic submissions")
    parser.add_argument("--planted", type=int, default=10, help="planted copies among them")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write the synthetic class here and keep it")
    args = parser.parse_args(argv)
    if not (args.source / "results").is_dir():
        print(
            f"{args.source} has no graded results: run scripts/grade-examples first, or pass --source",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        out = args.keep or Path(tmp) / "out"
        started = __import__("time").perf_counter()
        planted = synthesise(args.source, out, args.n, args.planted, args.seed)
        print(
            f"synthesised {args.n} submissions ({args.planted} planted copies) from {args.source} "
            f"in {__import__('time').perf_counter() - started:.1f} s"
        )
        measured = subprocess.run(
            [sys.executable, "-c", MEASURE, str(out)], capture_output=True, text=True, check=False, cwd=REPO
        )
        if measured.returncode != 0:
            print(measured.stderr, file=sys.stderr)
            return 1
        figures = json.loads(measured.stdout.strip().splitlines()[-1])
    ranks = sorted(figures["ranks"].get("|".join(sorted(pair)), 10**9) for pair in planted)
    found = sum(1 for r in ranks if r <= len(planted))
    print(
        f"grader similarity on {args.n} submissions: {figures['wall_s']:.2f} s wall, {figures['cpu_s']:.2f} s CPU "
        f"(comparison {figures['compare_s']:.2f} s), peak memory {figures['peak_mb']:.0f} MB "
        f"(target: at most 15 s and 500 MB)"
    )
    load = os.getloadavg()[0]
    print(f"  load average while measuring: {load:.1f} on {os.cpu_count()} CPUs (wall time grows with it)")
    print(f"  candidate pairs compared in full: {figures['candidates']} of {figures['pairs_in_class']}")
    print(f"  planted copies in the top {len(planted)}: {found} of {len(planted)} (their ranks: {ranks})")
    print(f"  pairs at or above the 'look at this' line: {len(figures['above_line'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
