"""`grader assign`: from one master notebook to a releasable assignment.

The loop: split the master into the template and the reference (``grader.authoring.master``);
with ``check`` only compare them with the committed files; else write them, run the reference
once to draft or update the rubric's ``answers:`` block (``grader.authoring.answers``),
recalibrate expected.json when it is missing or stale, and run the release check.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, AssignmentError, load_assignment, rubric_in_folder
from grader.authoring import answers as answer_draft
from grader.authoring.master import MasterError, Split, read_master, serialise, split_master


@dataclass
class Target:
    """One master and the files it derives (an assignment may have several notebooks)."""

    master: Path
    template: Path
    reference: Path


@dataclass
class Located:
    assignment: Assignment
    targets: list[Target] = field(default_factory=list)
    provisional: set[str] = field(default_factory=set)  # answers items name that the rubric lacks yet


def load_for_authoring(path: Path) -> tuple[Assignment, set[str]]:
    """The assignment, even when its items name answers the rubric does not declare yet (the
    answers block is what `grader assign` drafts): those are declared in memory only."""
    try:
        return load_assignment(path), set()
    except AssignmentError as first:
        from grader.assignment import find_rubric, load_yaml  # lazy: only for a rubric still missing answers
        from grader.rubric import item_references, validate_rubric  # lazy: as above

        rubric_path = find_rubric(path)
        rubric = load_yaml(rubric_path.read_text(encoding="utf-8"))
        if not isinstance(rubric, dict) or not isinstance(rubric.get("items"), list):
            raise first
        declared = dict(rubric.get("answers") or {})
        wanted = {
            name
            for item in rubric["items"]
            if isinstance(item, dict)
            for _, space, name in item_references(item)
            if space == "answers" and name not in declared
        }
        if not wanted:
            raise first
        rubric = {**rubric, "answers": {**declared, **{n: {"type": "object"} for n in sorted(wanted)}}}
        validate_rubric(rubric, source=rubric_path)  # anything else wrong is still reported
        base = rubric_path.parent
        loaded = Assignment(
            name=str(rubric["assignment"]),
            rubric_path=rubric_path,
            rubric=rubric,
            template=(base / rubric["template"]).resolve() if rubric.get("template") else None,
            reference=(base / rubric["reference"]).resolve() if rubric.get("reference") else None,
            expected_path=(base / rubric["expected"]).resolve() if rubric.get("expected") else None,
            base_dir=base,
        )
        return loaded, wanted


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def locate(given: Path) -> Located:
    """The assignment and its master(s), from a master notebook or the assignment's folder/rubric."""
    if given.suffix.lower() == ".ipynb":
        master = given.resolve()
        config = split_master(read_master(master)).config
        if config.get("rubric"):
            assignment, provisional = load_for_authoring((master.parent / str(config["rubric"])).resolve())
        else:
            try:
                assignment, provisional = load_for_authoring(rubric_in_folder(master.parent))
            except AssignmentError as exc:
                raise AssignmentError(
                    f"no rubric found for {given.name}: {exc}. Put the master in its assignment's folder, "
                    "or give the rubric's path in a '# grader config' raw cell (`rubric: PATH`)"
                ) from exc
        targets = [t for t in masters_of(assignment) if t.master == master]
        if not targets:
            raise AssignmentError(
                f"{_rel(assignment.rubric_path)} does not name {given.name} as its master: add "
                f"`master: {os.path.relpath(master, assignment.base_dir)}` to it"
            )
        return Located(assignment, targets, provisional)
    assignment, provisional = load_for_authoring(given)
    targets = masters_of(assignment)
    if not targets:
        raise AssignmentError(
            f"{_rel(assignment.rubric_path)} names no master notebook: add `master: FILE.ipynb` "
            "(see docs/AUTHORING.md)"
        )
    return Located(assignment, targets, provisional)


def masters_of(assignment: Assignment) -> list[Target]:
    """Every (master, template, reference) the rubric declares."""
    targets = []
    for entry in assignment.notebook_entries():
        if entry.get("master") and entry.get("template") and entry.get("reference"):
            targets.append(
                Target(
                    master=assignment.resolve(entry["master"]),
                    template=assignment.resolve(entry["template"]),
                    reference=assignment.resolve(entry["reference"]),
                )
            )
    return targets


def placeholders(assignment: Assignment) -> dict[str, str]:
    return {str(e["id"]): str(e["placeholder"]) for e in assignment.free_text if e.get("placeholder")}


def derive(assignment: Assignment, target: Target) -> tuple[Split, str, str]:
    split = split_master(read_master(target.master), placeholders(assignment))
    return split, serialise(split.template), serialise(split.reference)


def drift(assignment: Assignment, targets: list[Target]) -> list[str]:
    """Committed files that differ from what their master derives now."""
    stale = []
    for target in targets:
        _, template_text, reference_text = derive(assignment, target)
        for path, text in ((target.template, template_text), (target.reference, reference_text)):
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(_rel(path))
    return stale


def write_derived(assignment: Assignment, targets: list[Target]) -> tuple[list[str], list[Split]]:
    """Write each template and reference that changed; return the paths written and the splits."""
    written, splits = [], []
    for target in targets:
        split, template_text, reference_text = derive(assignment, target)
        splits.append(split)
        for path, text in ((target.template, template_text), (target.reference, reference_text)):
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(_rel(path))
    return written, splits


def observe_answers(
    assignment: Assignment,
    targets: list[Target],
    splits: list[Split],
    data_dir: Path,
    backend: str,
    provisional: set[str] | None = None,
) -> answer_draft.AnswersUpdate:
    """Run each reference once, harvesting every candidate answer, and plan the rubric's update."""
    from grader.engine import run_notebook  # lazy: the engine (and nbclient) only when running

    names: list[str] = []
    parts_of: dict[str, str] = {}
    observed: dict[str, dict[str, Any]] = {}
    for target, split in zip(targets, splits, strict=True):
        wanted = answer_draft.candidate_names(assignment.rubric, split.template.cells, split.solution_targets)
        names += [n for n in wanted if n not in names]
        probe_rubric = {**assignment.rubric, "answers": {n: {"type": "object"} for n in wanted}, "models": {}}
        probe = dataclasses.replace(assignment, rubric=probe_rubric)
        with tempfile.TemporaryDirectory(prefix="grader-assign-") as scratch:
            run = run_notebook(
                target.reference, probe, data_dir, Path(scratch), run_id="assign-probe", backend=backend
            )
        if run.get("status") != "completed":
            raise AssignmentError(
                f"the reference {_rel(target.reference)} did not run to the end ({run.get('status')}: "
                f"{run.get('message')}); fix the master and run `grader assign` again"
            )
        for name, entry in (run.get("harvest", {}).get("answers") or {}).items():
            if entry.get("status") == "ok" or name not in observed:
                observed[name] = dict(entry)
        parts_of.update(answer_draft.parts_of_names(split.reference.cells, assignment.parts, wanted))
    declared = {k: v for k, v in assignment.answers.items() if k not in (provisional or set())}
    return answer_draft.plan_update({**assignment.rubric, "answers": declared}, observed, parts_of, names)


Echo = Callable[[str], None]


def assign(
    given: Path,
    *,
    check: bool = False,
    run: bool = True,
    seeds: int = 3,
    data_dir: Path | None = None,
    backend: str = "auto",
    out_dir: Path | None = None,
    echo: Echo = print,
) -> int:
    """The whole `grader assign` loop; returns the exit status (0 ready, 1 something to fix).
    An assignment of several notebooks is assigned notebook by notebook."""
    try:
        notebooks = _set_members(given)
    except AssignmentError as exc:
        echo(f"error: {exc}")
        return 2
    if notebooks:
        worst = 0
        for name, rubric in notebooks:
            echo(f"== notebook {name}")
            one_out = out_dir / name if out_dir else None
            worst = max(
                worst,
                assign(
                    rubric, check=check, run=run, seeds=seeds, backend=backend, out_dir=one_out, echo=echo
                ),
            )
        return worst
    try:
        located = locate(given)
    except (AssignmentError, MasterError) as exc:
        echo(f"error: {exc}")
        return 2
    assignment, targets = located.assignment, located.targets
    ref = assignment.command_ref
    if check:
        try:
            stale = drift(assignment, targets)
        except MasterError as exc:
            echo(f"error: {exc}")
            return 1
        for path in stale:
            echo(f"drifted: {path} differs from its master (run `grader assign {_rel(given)}`)")
        if not stale:
            echo(f"{assignment.name}: template and reference match the master")
        return 1 if stale else 0
    try:
        written, splits = write_derived(assignment, targets)
    except MasterError as exc:
        echo(f"error: {exc}")
        return 1
    for path in written:
        echo(f"wrote {path}")
    if not written:
        echo("template and reference already match the master")
    if not run:
        echo(f"next: `grader reference {ref}` and `grader release-check {ref}`")
        return 0
    if located.provisional and not run:
        echo("the rubric's items name answers it does not declare yet: run without --no-run to draft them")
    return _run_loop(
        assignment, targets, splits, seeds, data_dir, backend, out_dir, echo, located.provisional
    )


def _run_loop(
    assignment: Assignment,
    targets: list[Target],
    splits: list[Split],
    seeds: int,
    data_dir: Path | None,
    backend: str,
    out_dir: Path | None,
    echo: Echo,
    provisional: set[str] | None = None,
) -> int:
    """Draft the answers, recalibrate when needed, release-check."""
    from grader.calibration import CalibrationError, calibrate  # lazy: the engine only when running
    from grader.context import resolve_context  # lazy: the engine only when running
    from grader.datasets import DataError  # lazy: the engine only when running
    from grader.release import run_release_check  # lazy: the engine only when running

    ref = assignment.command_ref
    try:
        context = resolve_context(assignment, data_dir)
        update = observe_answers(assignment, targets, splits, context.data_dir, backend, provisional)
    except (DataError, AssignmentError) as exc:
        echo(f"error: {exc}")
        return 1
    try:
        if answer_draft.write_answers(assignment.rubric_path, update):
            echo(f"updated the answers: block of {_rel(assignment.rubric_path)}")
        assignment = load_assignment(assignment.rubric_path)
    except (AssignmentError, ValueError) as exc:
        echo(f"error: the rubric's answers could not be updated: {exc}")
        return 1
    for line in update.lines():
        echo(line)
    context = resolve_context(assignment, context.data_dir)
    if context.expected is None or context.stale:
        why = "missing" if context.expected is None else "stale: " + "; ".join(context.stale[:3])
        echo(f"expected.json is {why}; calibrating the reference over {seeds} seed(s) ...")
        try:
            calibrate(assignment, seeds, data_dir=context.data_dir, backend=backend)
        except CalibrationError as exc:
            echo(f"error: {exc}")
            return 1
        context = resolve_context(assignment, context.data_dir)
    out = out_dir or Path(tempfile.mkdtemp(prefix=f"grader-assign-{assignment.name}-"))
    checks = run_release_check(context, out, backend=backend)
    for item in checks:
        echo(f"{'ok  ' if item.ok else 'FAIL'} {item.name}: {item.detail}")
    failed = [c for c in checks if not c.ok]
    echo(
        f"\n{assignment.name}: "
        + (
            "ready to release"
            if not failed
            else f"{len(failed)} check(s) failed (`grader release-check {ref}`)"
        )
    )
    return 1 if failed else 0


def _set_members(given: Path) -> list[tuple[str, Path]]:
    """Each notebook's name and rubric when ``given`` is an assignment of several notebooks."""
    from grader.notebook_set import is_notebook_set, members  # lazy: grader.batch is only needed here

    try:
        assignment = load_assignment(given)
    except AssignmentError:
        return []  # locate() reports it, or finds a master to start from
    if not is_notebook_set(assignment):  # a notebook's own problems are raised by members()
        return []
    return [(m.name, m.assignment.rubric_path) for m in members(assignment)]
