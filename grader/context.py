"""The grading context: what every submission of a batch is graded against, resolved once.

An assignment, a data directory, the data profile, the expected.json for that profile (its path,
its document, and why it is stale if it is) used to be worked out again by every stage that
needed one of them, with two different profile rules. ``resolve_context`` works them out once
per batch (or per self-check); every later stage reads them from the ``GradingContext``, so an
error row, the GPU decision and the scored rows always name the same profile and calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.datasets import ensure_data, resolve_profile
from grader.environment import KernelEnvironment, assignment_spec, for_assignment
from grader.expected import check_current, expected_path_for, read_expected
from grader.keys import ExecutionBasis, SubmissionKeys, execution_key, scoring_key
from grader.keys.execution import sha256_file
from grader.limits import Limits


@dataclass(frozen=True)
class GradingContext:
    """Everything that is the same for every submission of one batch. Pickles (for workers)."""

    assignment: Assignment
    data_dir: Path
    profile: str
    expected_path: Path | None
    expected: dict[str, Any] | None
    stale: tuple[str, ...] = ()  # why expected.json does not match rubric, reference and data
    # The kernel environment the notebooks run in (None: the grader's own interpreter); its
    # hash enters the execution key through grader.keys.kernel_environment_fingerprint.
    environment: KernelEnvironment | None = None
    environment_sha256: str | None = None
    basis: ExecutionBasis | None = field(default=None, repr=False)  # data, environment, harvest plan
    scoring: str = ""  # the scoring key (grader.keys.scoring_key)

    @property
    def needs_gpu(self) -> bool:
        """Every submission needs a GPU when the rubric or its data profile says so."""
        spec = self.assignment.profiles.get(self.profile) or {}
        return bool(spec.get("gpu") or self.assignment.rubric.get("gpu"))

    def warnings(self) -> list[str]:
        """Say when the metrics students are scored against are missing or out of date."""
        path, name = self.expected_path, self.assignment.command_ref
        if path is None:
            return []
        if self.expected is None:
            return [
                f"{path.name} is missing: items scored against the reference were not "
                f"calibrated (run `grader reference {name}`)"
            ]
        if not self.stale:
            return []
        return [
            f"{path.name} is stale ("
            + "; ".join(self.stale[:5])
            + f"): recalibrate with `grader reference {name}`"
        ]

    def keys(
        self,
        notebook: Path,
        *,
        limits: Limits | None = None,
        env: dict[str, str] | None = None,
        public_only: bool = False,
    ) -> SubmissionKeys:
        """A notebook's execution key (its bytes, the data manifest, the kernel environment, the
        harvest plan, ``limits``, ``env`` with the seed, ``public_only``) and the scoring key (the
        rubric, expected.json, the profile), as they were when the context was resolved."""
        basis = self.basis or ExecutionBasis.of(self.assignment, self.data_dir)
        inputs = basis.inputs(sha256_file(Path(notebook)), limits=limits, env=env, public_only=public_only)
        return SubmissionKeys(execution=execution_key(inputs), scoring=self.scoring, inputs=inputs)

    def content_hash(
        self,
        notebook: Path,
        *,
        limits: Limits | None = None,
        env: dict[str, str] | None = None,
        public_only: bool = False,
    ) -> str:
        """What resume compares: equal exactly when both keys are (see ``keys``)."""
        return self.keys(notebook, limits=limits, env=env, public_only=public_only).content_hash


def _read(path: Path | None) -> bytes | None:
    if path is None or not path.is_file():
        return None
    return path.read_bytes()


def resolve_context(
    assignment: Assignment, data_dir: Path | None = None, profile: str | None = None
) -> GradingContext:
    """Resolve the data directory (the one given, or the profile's built-once cache), the profile
    (asked for, else the data's own, else the rubric's default), and that profile's expected.json.

    Raises ``grader.datasets.DataError`` when the data cannot be prepared, and
    ``grader.environment.EnvironmentNotBuilt`` (naming `grader env build`) when the assignment
    declares a kernel environment that is not built here: grading never installs anything.
    """
    environment = for_assignment(assignment)
    spec = assignment_spec(assignment)
    # a given directory is taken as it is (its manifest is checked where it is read)
    data = Path(data_dir if data_dir is not None else ensure_data(assignment, profile=profile)).resolve()
    profile = resolve_profile(assignment, data, profile)
    path = expected_path_for(assignment, profile)
    raw = _read(path)
    expected = read_expected(raw) if raw is not None else None
    stale = tuple(check_current(assignment, expected, data)) if expected is not None else ()
    return GradingContext(
        assignment=assignment,
        data_dir=data,
        profile=profile,
        expected_path=path,
        expected=expected,
        stale=stale,
        environment=environment,
        environment_sha256=spec.sha256 if spec is not None else None,
        basis=ExecutionBasis.of(assignment, data),
        scoring=scoring_key(assignment.rubric, raw, profile, stale),
    )
