"""The outside half of the harvest: plan the stages and stage input files (``harvest_read``
reads the results back).

Inside the kernel, ``grader/engine/kernel/harvest_kernel.py`` writes one JSON file per stage (the
answers; then one per model and input set). Here we choose unguessable file names and copy the
input files (never labels of hidden sets) into the sandbox's working directory only for the
harvest, through a directory descriptor so that student code cannot redirect the copy.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KERNEL_SOURCE_PATH = Path(__file__).with_name("kernel") / "harvest_kernel.py"
ADAPTERS = {"torch_classifier", "sklearn_predict", "row_predicate", "sklearn_cv"}


class HarvestError(Exception):
    """A stage's output could not be used; the message says why (size, format, missing)."""


@dataclass
class Stage:
    """One request sent into the kernel: the answers, or one model on one input set."""

    name: str  # "answers" or "<model>/<input>"
    config: dict[str, Any]
    out_file: str  # file name inside the outputs directory
    max_bytes: int = 2_000_000  # the most the stage's output file may hold
    model: str | None = None
    input: str | None = None
    adapter: str | None = None
    hidden: bool = False  # the input set is hidden: nothing the kernel says about it is shown
    rows: int | None = None  # how many predictions to expect (set when the input is staged)


@dataclass
class HarvestPlan:
    """Everything one harvest needs. Inputs are copied in only when their stage is about to run.

    ``inputs_dir`` is owned by the grader and not writable from the sandbox; files are created
    in it through a directory descriptor with O_EXCL|O_NOFOLLOW, so student code that renames
    directories or plants symbolic links cannot make the grader write anywhere else.
    ``outputs_dir`` belongs to the sandbox's uid (the kernel writes there).
    """

    inputs_dir: Path
    outputs_dir: Path
    inside_inputs: str
    inside_outputs: str
    data_dir: Path
    stages: list[Stage] = field(default_factory=list)
    skipped: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _input_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _staged: dict[str, dict[str, Any]] = field(default_factory=dict)
    _inputs_fd: int | None = None

    def prepare(self, stage: Stage) -> None:
        """Copy the stage's input set (and public labels) in, once; complete its config."""
        if stage.input is None:
            return
        if stage.input not in self._staged:
            self._staged[stage.input] = self._stage(stage.input, self._input_specs[stage.input])
        staged = self._staged[stage.input]
        stage.config["input"] = staged["input"]
        stage.rows = staged["rows"]
        if staged.get("labels_path"):
            stage.config["model"]["labels_path"] = staged["labels_path"]

    def _stage(self, input_id: str, ispec: dict[str, Any]) -> dict[str, Any]:
        source = (self.data_dir / str(ispec["file"])).resolve()
        if not source.is_file():
            raise HarvestError(
                f"input set {input_id}: {source} does not exist (is the data directory complete?)"
            )
        name = f"{input_id}{source.suffix}"
        self._copy_in(source, name)
        staged: dict[str, Any] = {
            "input": {
                "path": f"{self.inside_inputs}/{name}",
                "format": _input_format(source),
                "key": ispec.get("key"),
            },
            "rows": count_rows(source, ispec.get("key")),
        }
        labels = ispec.get("labels")
        if labels and not _is_hidden(str(labels)):
            label_source = (self.data_dir / str(labels)).resolve()
            if label_source.is_file():
                label_name = f"{input_id}-labels{label_source.suffix}"
                self._copy_in(label_source, label_name)
                staged["labels_path"] = f"{self.inside_inputs}/{label_name}"
        return staged

    def _copy_in(self, source: Path, name: str) -> None:
        if self._inputs_fd is None:
            raise HarvestError("harvest inputs directory is closed")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(name, flags, 0o444, dir_fd=self._inputs_fd)
        with os.fdopen(fd, "wb") as target, source.open("rb") as handle:
            shutil.copyfileobj(handle, target, 1 << 20)

    def cleanup(self) -> None:
        """Remove staged inputs and outputs (hidden inputs never outlive the harvest)."""
        if self._inputs_fd is not None:
            for name in os.listdir(self._inputs_fd):
                try:
                    os.unlink(name, dir_fd=self._inputs_fd)
                except OSError:
                    pass
            os.close(self._inputs_fd)
            self._inputs_fd = None
        shutil.rmtree(self.inputs_dir, ignore_errors=True)
        shutil.rmtree(self.outputs_dir, ignore_errors=True)


def count_rows(path: Path, key: str | None = None) -> int:
    """Rows of an input file, read outside the sandbox (to check the number of predictions).

    A CSV is counted with the csv module as pandas would read it (a header row, blank lines
    skipped, quoted newlines kept), so the harvest does not import pandas for it."""
    fmt = _input_format(path)
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return max(0, sum(1 for row in csv.reader(handle) if row) - 1)
    import numpy as np  # lazy: start-up (only model stages with array inputs need it)

    if fmt == "npz":
        with np.load(path, allow_pickle=False) as archive:
            return int(archive[key or "X"].shape[0])
    return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])


def kernel_source() -> str:
    return KERNEL_SOURCE_PATH.read_text(encoding="utf-8")


def kernel_code(config: dict[str, Any]) -> str:
    """Source text for one stage: run harvest_kernel.main in a private namespace.

    The call is one expression, so no helper name is left in (or read from) the student's
    namespace; ``globals()`` there is the kernel's user namespace.
    """
    source = repr(kernel_source())
    cfg = repr(json.dumps(config))
    return (
        "(lambda __ns: (exec(compile("
        + source
        + ", '<grader-harvest>', 'exec'), __ns), __ns['main'](globals(), __import__('json').loads("
        + cfg
        + "))))({'__name__': '__grader_harvest__'})"
    )


def _input_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".npz":
        return "npz"
    if suffix == ".npy":
        return "npy"
    raise HarvestError(f"input file {path.name}: unsupported format (csv, npy, npz)")


def _is_hidden(relative: str) -> bool:
    return Path(relative).parts[:1] == ("hidden",)


def plan_harvest(
    assignment: Any,
    data_dir: Path,
    workdir: Path,
    inside_home: str,
    *,
    public_only: bool = False,
    max_items: int = 250_000,
    answer_bytes: int = 2_000_000,
) -> HarvestPlan:
    """List the kernel requests to make; create the (empty) inputs and outputs directories.

    ``inside_home`` is where the kernel sees ``workdir``. Order: the answers first (before any
    input file exists in the sandbox), then models on public inputs, then on hidden inputs, so
    nothing read after a hidden file arrives can carry it back out. Hidden input sets are
    skipped when ``public_only``; a label file is copied only when it lives under ``public/``.
    Each answer (and each prediction set) may take ``answer_bytes`` as JSON.
    """
    token = secrets.token_hex(12)
    inputs_dir = workdir / f".grader-harvest-in-{token}"
    outputs_dir = workdir / f".grader-harvest-out-{secrets.token_hex(12)}"
    inputs_dir.mkdir(mode=0o755)
    outputs_dir.mkdir(mode=0o755)
    owner = workdir.stat()
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(outputs_dir, owner.st_uid, owner.st_gid)  # the sandbox's uid writes the outputs
    home = inside_home.rstrip("/")
    plan = HarvestPlan(
        inputs_dir=inputs_dir,
        outputs_dir=outputs_dir,
        inside_inputs=f"{home}/{inputs_dir.name}",
        inside_outputs=f"{home}/{outputs_dir.name}",
        data_dir=data_dir,
    )
    plan._inputs_fd = os.open(inputs_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    plan.stages.append(
        Stage(
            name="answers",
            out_file=f"answers-{secrets.token_hex(8)}.json",
            config={
                "kind": "answers",
                "names": list(assignment.answers),
                "models": sorted({str(spec["variable"]) for spec in assignment.models.values()}),
                "max_items": max_items,
                "max_bytes": answer_bytes,
            },
        )
    )
    from grader.engine.harvest_calls import plan_function_stage  # lazy: it imports this module

    plan.stages.extend(plan_function_stage(assignment, max_items, answer_bytes))  # before any input set
    from grader.engine.harvest_audits import plan_audit_stage  # lazy: it imports this module

    plan.stages.extend(plan_audit_stage(assignment, max_items, answer_bytes))  # before any input set
    inputs = assignment.inputs
    model_stages: list[Stage] = []
    for model_id, spec in assignment.models.items():
        adapter = spec.get("adapter")
        if adapter not in ADAPTERS:
            raise HarvestError(f"model {model_id}: unknown adapter {adapter!r}; known: {sorted(ADAPTERS)}")
        for input_id in spec.get("inputs", []):
            if input_id not in inputs:
                raise HarvestError(f"model {model_id}: unknown input set {input_id!r}")
            ispec = inputs[input_id]
            hidden = _is_hidden(str(ispec["file"]))
            if public_only and hidden:
                plan.skipped.setdefault(model_id, {})[input_id] = {
                    "status": "skipped",
                    "message": "hidden input set not run in a self-check",
                }
                continue
            plan._input_specs[input_id] = ispec
            model_cfg = {
                "variable": str(spec["variable"]),
                "adapter": adapter,
                "features_variable": spec.get("features_variable"),
                "label_column": spec.get("label_column") or ispec.get("target"),
                "folds": int(spec.get("folds", 5)),
            }
            model_stages.append(
                Stage(
                    name=f"{model_id}/{input_id}",
                    model=model_id,
                    input=input_id,
                    adapter=adapter,
                    hidden=hidden,
                    out_file=f"pred-{secrets.token_hex(8)}.json",
                    config={"kind": "model", "model": model_cfg, "max_items": max_items},
                )
            )
    plan.stages.extend(sorted(model_stages, key=lambda stage: stage.hidden))  # stable: public first
    for stage in plan.stages:
        stage.config["out"] = f"{plan.inside_outputs}/{stage.out_file}"
        names = len(stage.config.get("names", [])) or 1
        stage.max_bytes = answer_bytes * names + 64 * 1024
    return plan
