"""What an item scorer may look at: the harvested answers and predictions, labels, expected.json.

Scorers never raise for something a student did. A missing, None or refused answer raises
``Unanswered`` with a message the student can act on; a hidden-data item in a self-check raises
``Pending``. Anything else that escapes a scorer is a grader bug and becomes that item's
``error`` status (see ``grader.scoring.score_run``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.records import RunRecord


# Run statuses where no student code ran at all: nothing was produced, so nothing "was scored".
NOT_RUN = frozenset({"invalid_notebook", "sandbox_error"})


class Unanswered(Exception):
    """The answer an item needs is absent or unusable; the message says what to do."""


class Pending(Exception):
    """The item cannot be scored now (hidden data in a self-check); not a failure."""


class NotCalibrated(Exception):
    """expected.json has no entry for an item that is scored against the reference."""


def fmt(value: float, *, percent: bool = False, unit: str | None = None) -> str:
    """A number the way a student reads it: 3 significant digits, optional % or unit."""
    if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return repr(value)
    if not math.isfinite(value):
        return str(value)
    if percent:
        return f"{value * 100:.1f}%"
    text = f"{value:.3g}" if abs(value) < 1e5 else f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def is_hidden_path(relative: str) -> bool:
    return Path(relative).parts[:1] == ("hidden",)


@dataclass
class ScoreContext:
    """One submission's run plus everything scoring reads outside the sandbox."""

    run: RunRecord
    assignment: Assignment
    expected: dict[str, Any] | None
    data_dir: Path
    profile: str
    public_only: bool = False
    _labels: dict[str, np.ndarray] = field(default_factory=dict)

    # ------------------------------------------------------------------ harvest access
    @property
    def harvest(self) -> dict[str, Any]:
        harvest: Any = self.run.get("harvest")  # a RunRecord read from disk may lack it
        return harvest if isinstance(harvest, dict) else {}

    def _where(self, name: str) -> str:
        """' Part 1' for an answer (or model variable) the rubric places in a part, else ''."""
        part_id = (self.assignment.answers.get(name) or {}).get("part")
        if part_id is None:  # a model variable: the part of the first item that uses it
            models = {m for m, spec in self.assignment.models.items() if spec.get("variable") == name}
            for item in self.assignment.items:
                if models & {m for m in _metric_models(item.get("metric") or {})}:
                    part_id = item["part"]
                    break
        for part in self.assignment.parts:
            if part["id"] == part_id:
                return f" {part.get('heading') or part['title']}"
        return ""

    def not_harvested(self, what: str) -> str:
        """Why nothing was harvested, when the run itself failed."""
        status = self.run.get("status", "completed")
        if status != "completed":
            reason = self.run.get("message") or status
            if status in NOT_RUN:
                return f"{what} could not be read because the notebook could not be run ({reason})"
            return f"{what} could not be read because the notebook did not finish ({reason})"
        harvest_message = self.harvest.get("message")
        if self.harvest.get("status") == "failed" and harvest_message:
            return f"{what} could not be read: {harvest_message}"
        return f"{what} was not harvested"

    def raw_answer(self, name: str) -> Any:
        """The harvested value of an answer, or ``Unanswered`` saying exactly what is wrong."""
        entry = (self.harvest.get("answers") or {}).get(name)
        if not isinstance(entry, dict):
            raise Unanswered(self.not_harvested(f"`{name}`"))
        status = entry.get("status")
        if status == "ok" and "value" in entry:
            value = entry["value"]
            if value is None:
                raise Unanswered(f"`{name}` is still None: fill it in{self._where(name)}")
            return value
        if status == "none":
            raise Unanswered(f"`{name}` is still None: fill it in{self._where(name)}")
        if status == "missing":
            if self.run.get("status", "completed") != "completed":
                raise Unanswered(self.not_harvested(f"`{name}`"))
            raise Unanswered(
                f"`{name}` is not defined: keep the template's variable name and set it in{self._where(name) or ' the notebook'}"
            )
        detail = entry.get("message") or "it is not a plain value"
        raise Unanswered(f"`{name}` could not be read ({detail}); store a plain number, string or list")

    def answer(self, name: str) -> Any:
        """The answer, checked against its declared type in the rubric's ``answers`` section.

        A rate (a number declared between 0 and 1) reported as a percentage (5.47 for 0.0547) is
        read as that percentage: it is the same number in a form students commonly write."""
        value = self.raw_answer(name)
        spec = self.assignment.answers.get(name) or {}
        if is_rate(spec) and _is_number(value) and 1 < value <= 100:
            value = value / 100
        check_answer_type(name, value, spec)
        return value

    def number(self, name: str) -> float:
        value = self.answer(name)
        if not _is_number(value):
            raise Unanswered(f"`{name}` should be a number; got {_describe(value)}")
        return float(value)

    def numbers(self, name: str) -> list[float]:
        value = self.answer(name)
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            raise Unanswered(f"`{name}` should be a list of numbers; got {_describe(value)}")
        return [float(v) for v in value]

    def prediction(self, model: str, input_name: str) -> Any:
        """What the student's model returned on an input set, run inside the sandbox."""
        spec = self.assignment.models.get(model) or {}
        variable = spec.get("variable", model)
        what = _input_words(self.assignment.inputs.get(input_name) or {}, input_name)
        if self.public_only and self.input_is_hidden(input_name):
            raise Pending("graded on submission (uses hidden data)")
        entry = ((self.harvest.get("predictions") or {}).get(model) or {}).get(input_name)
        if not isinstance(entry, dict):
            raise Unanswered(self.not_harvested(f"`{variable}` on {what}"))
        status = entry.get("status")
        if status == "ok":
            return entry.get("value")
        if status == "skipped":
            raise Pending("graded on submission (uses hidden data)")
        if status == "none":
            raise Unanswered(f"`{variable}` is still None: fill it in{self._where(variable)}")
        if status == "missing":
            raise Unanswered(f"`{variable}` is not defined: keep the template's variable name")
        detail = entry.get("message") or status
        raise Unanswered(f"`{variable}` could not be run on {what}: {detail}")

    def figures(self, part: str) -> int:
        """Figures drawn in a part: the harvest's count, or the executed cells' if that is missing."""
        harvested = (self.harvest.get("figures") or {}).get(part)
        from_cells = sum(
            int(cell.get("figures") or 0) for cell in self.run.get("cells") or [] if cell.get("part") == part
        )
        counts = [c for c in (harvested, from_cells) if isinstance(c, int)]
        return max(counts) if counts else 0

    def free_text(self, text_id: str) -> dict[str, Any] | None:
        entry = (self.harvest.get("free_text") or {}).get(text_id)
        return entry if isinstance(entry, dict) else None

    # ------------------------------------------------------------------ data outside the sandbox
    def input_is_hidden(self, input_name: str) -> bool:
        spec = self.assignment.inputs.get(input_name) or {}
        return any(is_hidden_path(str(spec[k])) for k in ("file", "labels") if k in spec)

    def data_file(self, relative: str) -> Path:
        path = (self.data_dir / relative).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"data file {relative} is missing from {self.data_dir}")
        return path

    def labels(self, input_name: str) -> np.ndarray:
        """Labels of an input set, read here and never given to the sandbox when hidden."""
        if input_name in self._labels:
            return self._labels[input_name]
        spec = self.assignment.inputs[input_name]
        if "labels" in spec:
            labels = load_labels(self.data_file(spec["labels"]), spec.get("labels_key"))
        elif "target" in spec:
            import pandas as pd

            labels = pd.read_csv(self.data_file(spec["file"]))[spec["target"]].to_numpy()
        else:
            raise ValueError(f"input {input_name!r} declares no 'labels' (or 'target') to score against")
        self._labels[input_name] = labels
        return labels

    # ------------------------------------------------------------------ expected.json
    def expected_item(self, item_id: str) -> dict[str, Any]:
        if self.expected is None:
            raise NotCalibrated(
                f"no expected.json for {self.assignment.name}: run `grader reference {self.assignment.command_ref}`"
            )
        calibrated_on = self.expected.get("profile")
        if calibrated_on not in (None, self.profile):
            raise NotCalibrated(
                f"expected.json was calibrated on the {calibrated_on!r} data, not {self.profile!r}: run "
                f"`grader reference {self.assignment.command_ref} --data <{self.profile} data>`"
            )
        entry = (self.expected.get("items") or {}).get(item_id)
        if not isinstance(entry, dict) or "observed" not in entry:
            raise NotCalibrated(
                f"expected.json has no calibrated values for {item_id}: rerun `grader reference "
                f"{self.assignment.command_ref}` (is it stale?)"
            )
        return entry

    def expected_or_none(self, item_id: str) -> dict[str, Any] | None:
        try:
            return self.expected_item(item_id)
        except NotCalibrated:
            return None


def _metric_models(metric: dict[str, Any]) -> list[str]:
    found = [metric["model"]] if "model" in metric else []
    for side in ("left", "right"):
        if isinstance(metric.get(side), dict):
            found += _metric_models(metric[side])
    return found


def load_labels(path: Path, key: str | None = None) -> np.ndarray:
    """Labels from .npy, an .npz member (``key``, default ``y``) or a CSV's column (first by default)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            member = key or "y"
            if member not in archive:
                raise KeyError(f"{path.name} has no member {member!r} (members: {', '.join(archive.files)})")
            return archive[member]
    if suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(path)
        return frame[key].to_numpy() if key else frame.iloc[:, 0].to_numpy()
    raise ValueError(f"labels file {path.name}: unsupported format (npy, npz, csv)")


def _input_words(spec: dict[str, Any], name: str) -> str:
    hidden = is_hidden_path(str(spec.get("file", "")))
    return f"the hidden input set {name!r}" if hidden else f"the input set {name!r}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a dict"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


def _shape(value: Any) -> tuple[int, ...]:
    shape: list[int] = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def is_rate(spec: dict[str, Any]) -> bool:
    """A number the rubric declares between 0 and 1: an accuracy, an error rate, a share."""
    return spec.get("type") == "number" and spec.get("minimum") == 0 and spec.get("maximum") == 1


def check_answer_type(name: str, value: Any, spec: dict[str, Any]) -> None:
    """Raise ``Unanswered`` when a value does not have the type the rubric declares."""
    kind = spec.get("type")
    if kind in ("number", "integer"):
        if not _is_number(value) or (kind == "integer" and float(value) != int(value)):
            raise Unanswered(
                f"`{name}` should be {'an integer' if kind == 'integer' else 'a number'}; got {_describe(value)}"
            )
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise Unanswered(f"`{name}` is {fmt(value)}; it should lie between {low} and {high}")
    elif kind == "string":
        if not isinstance(value, str):
            raise Unanswered(f"`{name}` should be a string; got {_describe(value)}")
        if "enum" in spec and value not in spec["enum"]:
            options = " or ".join(repr(o) for o in spec["enum"])
            raise Unanswered(f"`{name}` is {value!r}; it should be one of {options}")
    elif kind == "boolean" and not isinstance(value, bool):
        raise Unanswered(f"`{name}` should be True or False; got {_describe(value)}")
    elif kind == "list":
        if not isinstance(value, list):
            raise Unanswered(f"`{name}` should be a list; got {_describe(value)}")
        length = spec.get("length")
        if length is not None and len(value) != length:
            raise Unanswered(f"`{name}` has {len(value)} items; it should have {length}")
        if len(value) < spec.get("min_length", 0):
            raise Unanswered(f"`{name}` has {len(value)} items; it should have at least {spec['min_length']}")
        items = spec.get("items")
        if items in ("number", "integer") and not all(_is_number(v) for v in value):
            raise Unanswered(f"`{name}` should hold only finite numbers")
        if items == "string" and not all(isinstance(v, str) for v in value):
            raise Unanswered(f"`{name}` should hold only strings")
    elif kind == "object" and not isinstance(value, dict):
        raise Unanswered(f"`{name}` should be a dict; got {_describe(value)}")
    elif kind == "array":
        shape = tuple(spec.get("shape") or ())
        if not isinstance(value, list) or (shape and _shape(value) != shape):
            got = f"shape {_shape(value)}" if isinstance(value, list) else _describe(value)
            raise Unanswered(f"`{name}` should be an array of shape {shape}; got {got}")
