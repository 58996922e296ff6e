"""Read harvest results back from the sandbox safely, and check their shape.

Each stage's JSON file was written by code running as the student's uid, so it is read with a
size limit, without following links, with strict JSON parsing (no pickle, no NaN, no duplicate
keys), and checked against what the stage asked for before it enters the RunRecord.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grader.engine.harvest_plan import HarvestError, Stage

ANSWER_STATUSES = {"ok", "none", "missing", "refused"}
PREDICTION_STATUSES = {"ok", "none", "missing", "refused", "error"}
MESSAGE_CHARS = 1000


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


MODEL_PRESENCE = {"missing", "none", "present"}


def model_presence(document: dict[str, Any], variables: list[str]) -> dict[str, str]:
    """Which model variables the answers stage found absent ("missing") or still None ("none").
    Only those are returned; anything malformed counts as present (its stage then runs)."""
    raw = document.get("models")
    if not isinstance(raw, dict):
        return {}
    return {name: raw[name] for name in variables if raw.get(name) in ("missing", "none")}


def absent_model_entry(variable: str, presence: str) -> dict[str, Any]:
    """The prediction entry of a stage whose model variable is absent: what the kernel would say."""
    if presence == "missing":
        return {"status": "missing", "message": f"{variable} is not defined"}
    return {"status": "none", "message": f"{variable} is still None"}


HIDDEN_MESSAGES = {
    "error": "the model raised an exception on the hidden inputs (its message is withheld: it could "
    "contain hidden data); check that it runs on the public inputs",
    "refused": "the model's output on the hidden inputs was not usable (details withheld); check its "
    "output type and length on the public inputs",
}
MAX_LABEL_CHARS = 100


def explain_withheld(result: Mapping[str, Any], stages: list[Stage]) -> None:
    """Give a hidden input set's withheld message its public reason where one is known.

    A model whose column list (``features_variable``) is unusable fails on every input set; on the
    hidden one its message is withheld, and "check its output type and length" would send the
    student the wrong way. The answers stage read that variable on its own, so what it said is
    public and is said instead.
    """
    answers = result.get("answers") or {}
    for stage in stages:
        if not stage.hidden or stage.model is None or stage.input is None:
            continue
        entry = (result.get("predictions") or {}).get(stage.model, {}).get(stage.input)
        if not isinstance(entry, dict) or entry.get("message") not in HIDDEN_MESSAGES.values():
            continue
        name = (stage.config.get("model") or {}).get("features_variable")
        found = answers.get(name) if name else None
        if not isinstance(found, dict):
            continue
        value = found.get("value")
        if (
            found.get("status") == "ok"
            and isinstance(value, list)
            and value
            and all(isinstance(v, str) for v in value)
        ):
            continue
        why = found.get("message") or "it is not a list of column names"
        entry["message"] = (
            f"the model could not be run: its columns, {name}, are not usable ({why}); "
            f"set {name} to the list of column names the model takes"
        )


def validate_prediction(document: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """One model-on-input result, checked against its adapter: ``{"status", "value"?, "message"?}``.

    For a hidden input set, messages from the kernel are replaced by the grader's own: the
    student's exception text could quote the hidden rows, and would reach their feedback.
    """
    entry = document.get("prediction")
    if not isinstance(entry, dict) or entry.get("status") not in PREDICTION_STATUSES:
        raise HarvestError("harvest output has no usable 'prediction' entry")
    status = entry["status"]
    if status in ("missing", "none"):
        return absent_model_entry(str(stage.config.get("model", {}).get("variable", stage.model)), status)
    if status != "ok":
        if stage.hidden:
            return {"status": status, "message": HIDDEN_MESSAGES[status]}
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
