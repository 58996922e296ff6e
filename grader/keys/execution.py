"""The execution key: everything that decides what running a notebook produces.

The notebook's bytes, the data (its manifest), the kernel environment where the assignment
declares one, the harvest plan, the limits, the extra kernel environment variables (the seed)
and whether hidden inputs were withheld (a self-check). A stored run whose execution inputs
equal the current ones (or whose plan covers the current one: ``grader.keys.plan``) need not
run again; ``differences`` says in words why one must.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.environment import environment_hash
from grader.keys.plan import canonical, harvest_plan, plan_fingerprint
from grader.limits import Limits
from grader.records import ExecutionStamp

if TYPE_CHECKING:
    from grader.assignment import Assignment

SEED_VARIABLE = "GRADER_SEED"  # grader.expected.SEED_ENV, named here without importing scoring


def kernel_environment_fingerprint(assignment: Assignment) -> str | None:
    """The spec hash of the kernel environment the assignment's kernels run in (its declared Python,
    requirements and torch build; grader.environment.environment_hash), or None while the kernel
    runs the grader's own interpreter. Every execution key includes it, so a changed declaration
    re-executes and a rubric edit elsewhere does not."""
    return environment_hash(assignment)


def sha256_file(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def limits_mapping(limits: Limits | None) -> dict[str, Any]:
    return dataclasses.asdict(limits or Limits())


@dataclass(frozen=True)
class ExecutionBasis:
    """The parts of an execution key that are the same for every submission of a batch
    (resolved once, with the grading context)."""

    data: str | None  # sha256 of the data's MANIFEST.json
    environment: str | None
    plan: dict[str, Any]

    @classmethod
    def of(cls, assignment: Assignment, data_dir: Path) -> ExecutionBasis:
        return cls(
            data=sha256_file(Path(data_dir) / "MANIFEST.json"),
            environment=kernel_environment_fingerprint(assignment),
            plan=harvest_plan(assignment.rubric),
        )

    def inputs(
        self,
        notebook_sha256: str | None,
        *,
        limits: Limits | None,
        env: dict[str, str] | None,
        public_only: bool,
    ) -> dict[str, Any]:
        """The execution inputs of one notebook (the plan by its fingerprint)."""
        return {
            "notebook": notebook_sha256,
            "data": self.data,
            "environment": self.environment,
            "plan": plan_fingerprint(self.plan),
            "limits": limits_mapping(limits),
            "env": dict(sorted((env or {}).items())),
            "public_only": bool(public_only),
        }


def execution_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(b"execution\0" + canonical(inputs)).hexdigest()


def execution_stamp(
    notebook: Path,
    assignment: Assignment,
    data_dir: Path,
    *,
    limits: Limits | None,
    env: dict[str, str] | None,
    public_only: bool,
) -> ExecutionStamp:
    """What a RunRecord carries as ``execution``: its key, the inputs and the plan itself, so a
    later rubric can be checked against exactly what this run was harvested for."""
    basis = ExecutionBasis.of(assignment, data_dir)
    inputs = basis.inputs(sha256_file(notebook), limits=limits, env=env, public_only=public_only)
    return {"key": execution_key(inputs), "inputs": inputs, "plan": basis.plan}


_WHAT = {
    "notebook": "the notebook changed",
    "data": "the data changed (its MANIFEST.json)",
    "environment": "the kernel environment changed",
    "public_only": "self-check mode changed (hidden inputs withheld or not)",
}


def differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Why a run with execution inputs ``stored`` cannot stand for ``current``, leaving the plan
    aside (``grader.keys.plan.plan_gaps`` judges that); [] when nothing else differs."""
    reasons = [text for name, text in _WHAT.items() if stored.get(name) != current.get(name)]
    old_limits, new_limits = stored.get("limits") or {}, current.get("limits") or {}
    changed = sorted(k for k in set(old_limits) | set(new_limits) if old_limits.get(k) != new_limits.get(k))
    if changed:
        reasons.append(
            "the limits changed: "
            + ", ".join(f"{k} {old_limits.get(k)} -> {new_limits.get(k)}" for k in changed)
        )
    old_env, new_env = stored.get("env") or {}, current.get("env") or {}
    if old_env.get(SEED_VARIABLE) != new_env.get(SEED_VARIABLE):
        reasons.append(
            f"the seed changed ({SEED_VARIABLE} {old_env.get(SEED_VARIABLE)} -> {new_env.get(SEED_VARIABLE)})"
        )
    others = sorted(
        k for k in set(old_env) | set(new_env) if k != SEED_VARIABLE and old_env.get(k) != new_env.get(k)
    )
    if others:
        reasons.append(f"the kernel's environment variables changed ({', '.join(others)})")
    return reasons
