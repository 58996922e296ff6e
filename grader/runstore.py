"""Reference runs kept by execution key, so recalibrating after a rubric edit runs nothing.

``grader reference`` and ``grader release-check`` execute the reference (per seed) and the
template through ``run_or_reuse``: a completed run whose execution inputs (notebook, data, kernel
environment, limits, seed) match and whose harvest plan covers the current rubric's is taken
from the store; anything else runs and is kept. The store lives in the cache
(``$ML_AUTOGRADER_CACHE/<assignment>/runs/<slot>/``, the slot being the hash of the execution
inputs without the plan, so a run harvested for a larger plan still serves a smaller one), and
every write is atomic: a slot holds a whole record or none.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.datasets import cache_root
from grader.engine import run_notebook
from grader.keys import ExecutionBasis
from grader.keys.execution import sha256_file
from grader.keys.plan import canonical
from grader.limits import Limits
from grader.records import RunRecord
from grader.results import write_json_atomic
from grader.reuse import read_json, run_reasons

# The reference and the template run with these limits in calibration and in the release check
# alike, so each can reuse the other's runs (a slow machine needs more than the default 600 s).
REFERENCE_LIMITS = Limits(cell_timeout=900.0)


class NotStored(LookupError):
    """``reuse_only`` was asked and no stored run fits; the message says why."""


def slot_key(inputs: dict[str, Any]) -> str:
    """The store's name for a run: its execution inputs without the harvest plan."""
    rest = {k: v for k, v in inputs.items() if k != "plan"}
    return hashlib.sha256(b"run-slot\0" + canonical(rest)).hexdigest()


@dataclass
class RunStore:
    """Completed runs by slot: ``<root>/<slot>/run.json`` and ``executed.ipynb``."""

    root: Path

    @classmethod
    def for_assignment(cls, assignment: Assignment) -> RunStore:
        return cls(cache_root() / assignment.name / "runs")

    def _slot(self, inputs: dict[str, Any]) -> Path:
        return self.root / slot_key(inputs)

    def lookup(self, inputs: dict[str, Any], plan: dict[str, Any]) -> tuple[RunRecord | None, list[str]]:
        """The stored run that can stand for these inputs and plan, or None and why not."""
        record = read_json(self._slot(inputs) / "run.json")
        if record is None:
            return None, ["no stored run with these inputs (notebook, data, limits, seed)"]
        reasons = run_reasons(record, inputs, plan)
        return (None, reasons) if reasons else (record, [])  # type: ignore[return-value]

    def keep(self, record: RunRecord, executed: Path | None) -> None:
        """Store a completed run (a failed one is never kept: it may not fail again)."""
        stamp = record.get("execution")
        if record.get("status") != "completed" or not isinstance(stamp, dict):
            return
        slot = self._slot(stamp["inputs"])
        if executed is not None and executed.is_file():
            slot.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".executed.", dir=slot)
            with open(fd, "wb") as target, executed.open("rb") as source:
                shutil.copyfileobj(source, target)
            Path(tmp).replace(slot / "executed.ipynb")
        write_json_atomic(slot / "run.json", record)  # last: the record is what lookup reads


def run_or_reuse(
    notebook: Path,
    assignment: Assignment,
    data_dir: Path,
    out_dir: Path,
    *,
    run_id: str,
    store: RunStore | None,
    env: dict[str, str] | None = None,
    backend: str = "auto",
    limits: Limits = REFERENCE_LIMITS,
    reuse_only: bool = False,
) -> tuple[RunRecord, bool]:
    """The run of ``notebook`` (as OUT/run/<run_id>.json, with its executed notebook), taken from
    ``store`` when a stored one fits, else executed and kept; and whether it was reused.
    Raises ``NotStored`` with the reasons when ``reuse_only`` and none fits."""
    out_dir = Path(out_dir)
    basis = ExecutionBasis.of(assignment, data_dir)
    inputs = basis.inputs(sha256_file(notebook), limits=limits, env=env, public_only=False)
    if store is not None:
        record, reasons = store.lookup(inputs, basis.plan)
        if record is not None:
            record["id"] = run_id
            executed = store._slot(inputs) / "executed.ipynb"
            if executed.is_file():
                (out_dir / "executed").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(executed, out_dir / "executed" / f"{run_id}.ipynb")
                record["executed_notebook"] = f"executed/{run_id}.ipynb"
            write_json_atomic(out_dir / "run" / f"{run_id}.json", record)
            return record, True
        if reuse_only:
            raise NotStored(f"{notebook.name} ({run_id}): " + "; ".join(reasons))
    elif reuse_only:
        raise NotStored(f"{notebook.name} ({run_id}): no run store")
    record = run_notebook(
        notebook, assignment, data_dir, out_dir, run_id=run_id, backend=backend, limits=limits, env=env
    )
    if store is not None:
        store.keep(record, out_dir / "executed" / f"{run_id}.ipynb")
    return record, False
