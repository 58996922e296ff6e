"""The outside half of the harvest: plan the stages, stage input files, read results back safely.

Inside the kernel, ``grader/engine/kernel/harvest_kernel.py`` writes one JSON file per stage (the
answers; then one per model and input set). Here we choose unguessable file names, copy the
input files (never labels of hidden sets) into the sandbox's working directory only for the
harvest, read each result with a size limit and strict JSON parsing (no pickle, no NaN, no
duplicate keys, no symlinks followed), and check its shape before it enters the RunRecord.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KERNEL_SOURCE_PATH = Path(__file__).with_name("kernel") / "harvest_kernel.py"
ANSWER_STATUSES = {"ok", "none", "missing", "refused"}
PREDICTION_STATUSES = {"ok", "none", "missing", "refused", "error"}
ADAPTERS = {"torch_classifier", "sklearn_predict", "row_predicate", "sklearn_cv"}
MESSAGE_CHARS = 1000


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
    """Rows of an input file, read outside the sandbox (to check the number of predictions)."""
    import numpy as np

    fmt = _input_format(path)
    if fmt == "csv":
        import pandas as pd

        return len(pd.read_csv(path))
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
                "max_items": max_items,
                "max_bytes": answer_bytes,
            },
        )
    )
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


def read_stage_output(host_dir: Path, file_name: str, max_bytes: int) -> dict[str, Any]:
    """Read one stage's JSON document: a regular file, not a link, at most ``max_bytes``."""
    try:
        dir_fd = os.open(host_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise HarvestError(f"harvest directory unusable: {exc.strerror}") from exc
    try:
        try:
            fd = os.open(file_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except FileNotFoundError:
            raise HarvestError("the kernel wrote no harvest output") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise HarvestError("harvest output is a symbolic link; refused") from None
            raise HarvestError(f"harvest output unreadable: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise HarvestError("harvest output is not a regular file; refused")
            if info.st_size > max_bytes:
                raise HarvestError(f"harvest output is {info.st_size} bytes, over the {max_bytes}-byte limit")
            data = handle.read(max_bytes + 1)
    finally:
        os.close(dir_fd)
    if len(data) > max_bytes:
        raise HarvestError(f"harvest output is over the {max_bytes}-byte limit")
    return parse_strict(data)


def _reject_constant(name: str) -> Any:
    raise HarvestError(f"harvest output contains {name}, which is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise HarvestError(f"harvest output repeats the key {key[:40]!r}")
        result[key] = value
    return result


def parse_strict(data: bytes) -> dict[str, Any]:
    """Strict JSON: UTF-8, an object at the top, no NaN/Infinity, no duplicate keys."""
    try:
        text = data.decode("utf-8")
        document = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise HarvestError("harvest output is not UTF-8") from None
    except RecursionError:
        raise HarvestError("harvest output is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise HarvestError(f"harvest output is not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise HarvestError("harvest output is not a JSON object")
    return document


def _message(value: Any) -> str:
    return value[:MESSAGE_CHARS] if isinstance(value, str) else "no message"


def validate_answers(document: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]]:
    """Keep exactly the answers asked for, each with a known status; anything odd is refused."""
    raw = document.get("answers")
    if not isinstance(raw, dict):
        raise HarvestError("harvest output has no 'answers' object")
    result: dict[str, dict[str, Any]] = {}
    for name in names:
        entry = raw.get(name)
        if not isinstance(entry, dict) or entry.get("status") not in ANSWER_STATUSES:
            result[name] = {"status": "refused", "message": "the harvest returned no usable entry"}
            continue
        status = entry["status"]
        if status == "ok":
            if "value" not in entry:
                result[name] = {"status": "refused", "message": "the harvest returned no value"}
            else:
                result[name] = {"status": "ok", "value": entry["value"]}
        else:
            result[name] = {"status": status, "message": _message(entry.get("message"))}
    return result


HIDDEN_MESSAGES = {
    "error": "the model raised an exception on the hidden inputs (its message is withheld: it could "
    "contain hidden data); check that it runs on the public inputs",
    "refused": "the model's output on the hidden inputs was not usable (details withheld); check its "
    "output type and length on the public inputs",
}
MAX_LABEL_CHARS = 100


def validate_prediction(document: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """One model-on-input result, checked against its adapter: ``{"status", "value"?, "message"?}``.

    For a hidden input set, messages from the kernel are replaced by the grader's own: the
    student's exception text could quote the hidden rows, and would reach their feedback.
    """
    entry = document.get("prediction")
    if not isinstance(entry, dict) or entry.get("status") not in PREDICTION_STATUSES:
        raise HarvestError("harvest output has no usable 'prediction' entry")
    status = entry["status"]
    if status != "ok":
        if stage.hidden:
            variable = stage.config.get("model", {}).get("variable", stage.model)
            own = {"missing": f"{variable} is not defined", "none": f"{variable} is still None"}
            return {"status": status, "message": own.get(status) or HIDDEN_MESSAGES[status]}
        return {"status": status, "message": _message(entry.get("message"))}
    try:
        return {"status": "ok", "value": _check_value(entry.get("value"), stage)}
    except HarvestError as exc:
        message = HIDDEN_MESSAGES["refused"] if stage.hidden else str(exc)
        return {"status": "refused", "message": message}


def _check_value(value: Any, stage: Stage) -> Any:
    """The shape each adapter must return: one float (cv), else one plain item per input row."""
    if stage.adapter == "sklearn_cv":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise HarvestError("cross-validated accuracy must be a number in [0, 1]")
        return float(value)
    if not isinstance(value, list):
        raise HarvestError("predictions must be a list")
    if stage.rows is not None and len(value) != stage.rows:
        raise HarvestError(f"expected {stage.rows} predictions, got {len(value)}")
    if stage.adapter == "row_predicate":
        ok = all(isinstance(v, bool) for v in value)
    elif stage.adapter == "torch_classifier":
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    else:  # sklearn_predict: class labels (strings or numbers)
        ok = all(
            (isinstance(v, str) and len(v) <= MAX_LABEL_CHARS)
            or (isinstance(v, (int, float)) and not isinstance(v, bool))
            for v in value
        )
    if not ok:
        raise HarvestError(f"predictions of the wrong type for adapter {stage.adapter}")
    return value
