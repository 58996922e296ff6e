"""The outside half of the harvest: plan the stages, stage input files, read results back safely.

Inside the kernel, ``grader/kernel/harvest_kernel.py`` writes one JSON file per stage (the
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
    out_file: str  # file name inside the harvest directory
    max_bytes: int = 2_000_000  # the most the stage's output file may hold
    model: str | None = None
    input: str | None = None


@dataclass
class HarvestPlan:
    """Everything one harvest needs; ``inputs_dir`` is removed by ``cleanup``."""

    host_dir: Path  # the harvest directory on the host (inside the workdir)
    stages: list[Stage] = field(default_factory=list)
    skipped: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def cleanup(self) -> None:
        """Remove staged inputs and outputs (hidden inputs never outlive the harvest)."""
        shutil.rmtree(self.host_dir, ignore_errors=True)


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
    """Stage the input files into ``workdir`` and list the kernel requests to make.

    ``inside_home`` is where the kernel sees ``workdir``. Each answer (and each prediction set)
    may take ``answer_bytes`` as JSON; ``Stage.max_bytes`` bounds the file read back. Hidden input sets are skipped when
    ``public_only``; a label file is copied only when it lives under ``public/``.
    """
    token = secrets.token_hex(12)
    host_dir = workdir / f".grader-harvest-{token}"
    host_dir.mkdir(mode=0o755)
    owner = workdir.stat()
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        os.chown(host_dir, owner.st_uid, owner.st_gid)  # the sandbox's uid writes the outputs here
    inside_dir = f"{inside_home.rstrip('/')}/{host_dir.name}"
    plan = HarvestPlan(host_dir=host_dir)
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
    staged: dict[str, dict[str, Any]] = {}
    for model_id, spec in assignment.models.items():
        adapter = spec.get("adapter")
        if adapter not in ADAPTERS:
            raise HarvestError(f"model {model_id}: unknown adapter {adapter!r}; known: {sorted(ADAPTERS)}")
        for input_id in spec.get("inputs", []):
            if input_id not in inputs:
                raise HarvestError(f"model {model_id}: unknown input set {input_id!r}")
            ispec = inputs[input_id]
            if public_only and _is_hidden(str(ispec["file"])):
                plan.skipped.setdefault(model_id, {})[input_id] = {
                    "status": "skipped",
                    "message": "hidden input set not run in a self-check",
                }
                continue
            if input_id not in staged:
                staged[input_id] = _stage_input(input_id, ispec, data_dir, host_dir, inside_dir)
            model_cfg = {
                "variable": str(spec["variable"]),
                "adapter": adapter,
                "features_variable": spec.get("features_variable"),
                "label_column": spec.get("label_column") or ispec.get("target"),
                "folds": int(spec.get("folds", 5)),
            }
            if staged[input_id].get("labels_path"):
                model_cfg["labels_path"] = staged[input_id]["labels_path"]
            plan.stages.append(
                Stage(
                    name=f"{model_id}/{input_id}",
                    model=model_id,
                    input=input_id,
                    out_file=f"pred-{secrets.token_hex(8)}.json",
                    config={
                        "kind": "model",
                        "model": model_cfg,
                        "input": staged[input_id]["input"],
                        "max_items": max_items,
                    },
                )
            )
    for stage in plan.stages:
        stage.config["out"] = f"{inside_dir}/{stage.out_file}"
        names = len(stage.config.get("names", [])) or 1
        stage.max_bytes = answer_bytes * names + 64 * 1024
    return plan


def _stage_input(
    input_id: str, ispec: dict[str, Any], data_dir: Path, host_dir: Path, inside_dir: str
) -> dict[str, Any]:
    source = (data_dir / str(ispec["file"])).resolve()
    if not source.is_file():
        raise HarvestError(f"input set {input_id}: {source} does not exist (is the data directory complete?)")
    target = host_dir / f"{input_id}{source.suffix}"
    shutil.copyfile(source, target)
    target.chmod(0o444)
    staged: dict[str, Any] = {
        "input": {
            "path": f"{inside_dir}/{target.name}",
            "format": _input_format(source),
            "key": ispec.get("key"),
        }
    }
    labels = ispec.get("labels")
    if labels and not _is_hidden(str(labels)):
        label_source = (data_dir / str(labels)).resolve()
        if label_source.is_file():
            label_target = host_dir / f"{input_id}-labels{label_source.suffix}"
            shutil.copyfile(label_source, label_target)
            staged["labels_path"] = f"{inside_dir}/{label_target.name}"
    return staged


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


def validate_prediction(document: dict[str, Any]) -> dict[str, Any]:
    """One model-on-input result: ``{"status", "value"?, "message"?}`` with a known status."""
    entry = document.get("prediction")
    if not isinstance(entry, dict) or entry.get("status") not in PREDICTION_STATUSES:
        raise HarvestError("harvest output has no usable 'prediction' entry")
    if entry["status"] == "ok":
        value = entry.get("value")
        if not isinstance(value, (list, float, int)) or isinstance(value, bool):
            raise HarvestError("predictions must be a list (or one number for sklearn_cv)")
        return {"status": "ok", "value": value}
    return {"status": entry["status"], "message": _message(entry.get("message"))}
