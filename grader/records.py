"""The typed records that cross stage lines: the RunRecord and the result document.

Both are JSON documents on disk (OUT/run/<id>.json, OUT/results/<id>.json), so they are
TypedDicts rather than classes: the engine writes a RunRecord, the scorer reads it; the scorer
writes a result document, the results store, reports, exports and marking read it. Keys marked
``NotRequired`` appear only in some documents (docs/ARCHITECTURE.md says when). The result
document's keys match grader/schemas/results.schema.json, which a test holds them to.
"""

from typing import Any, Literal

# typing_extensions' TypedDict reads NotRequired on Python 3.10 too; the module keeps its annotations
# evaluated (no `from __future__ import annotations`) so that required and optional keys are known
# at run time, where a test holds them to the JSON schema.
from typing_extensions import NotRequired, TypedDict

RUN_SCHEMA_VERSION = 1
RESULT_SCHEMA_VERSION = 1

RunStatus = Literal["completed", "timeout", "kernel_died", "error", "invalid_notebook", "sandbox_error"]
ResultStatus = Literal["graded", "not_on_template", "error", "timeout", "invalid_notebook", "sandbox_error"]
ItemStatus = Literal["passed", "partial", "failed", "pending", "error"]


# ----------------------------------------------------------------------------------------------
# RunRecord (grader.engine.run_notebook)


class CellError(TypedDict):
    ename: str
    evalue: str
    traceback: str


class CellDiagnosis(TypedDict):
    """Why a cell failed, in words a student can act on (grader.engine.diagnose)."""

    cause: str  # missing_module | colab | no_network | missing_file | pip_install
    message: str
    module: NotRequired[str]  # the module (missing_module, colab) or the file (missing_file)


class CellRecord(TypedDict):
    """One code cell's outcome, time and memory, and its name as the student sees it."""

    index: int
    cell_type: str
    part: str | None
    status: str  # ok | error | timeout | kernel_died | skipped | output_truncated
    wall_s: float
    peak_rss_mb: float
    figures: int
    output_bytes: int
    error: NotRequired[CellError]
    message: NotRequired[str]
    restarted: NotRequired[bool]
    replays: NotRequired[int]
    replay_status: NotRequired[str]
    code_cell: NotRequired[int]  # 1-based position among the code cells
    execution_count: NotRequired[int]  # the [n] the notebook was saved with, where it had one
    first_line: NotRequired[str]
    source_sha256: NotRequired[str]
    diagnosis: NotRequired[CellDiagnosis]
    plots: NotRequired[list[dict[str, Any]]]  # summaries of the figures it displayed (grader.engine.figures)


class LimitFired(TypedDict):
    limit: str
    cell: int | None
    message: str


class Telemetry(TypedDict):
    wall_s: float
    peak_rss_mb: float
    kernel_restarts: int


class HarvestedValue(TypedDict):
    """An answer, a prediction or a free-text answer as harvested: a status, then its value or
    why there is none."""

    status: str
    value: NotRequired[Any]
    message: NotRequired[str]
    cell: NotRequired[int]
    cells: NotRequired[list[int]]  # free text: the cells the answer was read from


class HarvestRecord(TypedDict):
    status: str  # ok | partial | failed
    message: str
    answers: dict[str, HarvestedValue]
    predictions: dict[str, dict[str, HarvestedValue]]
    free_text: dict[str, HarvestedValue]
    figures: dict[str, int]
    wall_s: float
    functions: NotRequired[dict[str, Any]]  # function items: item id -> {status, calls?, message?}
    tests: NotRequired[dict[str, Any]]  # in-kernel test items: item id -> {status, exception?, message?}
    audits: NotRequired[
        dict[str, Any]
    ]  # audit re-runs: audit id -> {configuration, index, params, status, ...}


class EnvironmentSummary(TypedDict):
    """The kernel environment a notebook ran in (grader.environment), as reports list it."""

    key: str
    sha256: str
    python: str
    declared: list[str]  # the requirements the rubric declares (what students were told)
    packages: dict[str, str]  # everything installed, dependencies included


class ExecutionStamp(TypedDict):
    """What a run was executed and harvested for (grader.keys.execution_stamp)."""

    key: str
    inputs: dict[str, Any]
    plan: dict[str, Any]


class RunRecord(TypedDict):
    schema_version: int
    id: str
    notebook: str
    assignment: str
    backend: str
    isolated: bool
    gpu: str | None
    status: RunStatus
    message: str
    cells: list[CellRecord]
    limits_fired: list[LimitFired]
    telemetry: Telemetry
    harvest: HarvestRecord
    executed_notebook: str | None
    notes: NotRequired[list[str]]
    kernel_log: NotRequired[str]
    student: NotRequired[str]
    environment: NotRequired[EnvironmentSummary]
    execution: NotRequired[ExecutionStamp]


# ----------------------------------------------------------------------------------------------
# result document (grader.scoring.score_run, completed by grader.grading)


class ItemResult(TypedDict):
    id: str
    part: str
    title: str
    kind: str
    points: float
    max_points: float
    status: ItemStatus
    message: str
    extra_credit: bool
    visibility: str
    evidence: dict[str, Any]


class PartResult(TypedDict):
    id: str
    title: str
    score: float
    max_score: float
    pending_manual: float
    extra_credit: NotRequired[bool]


class Timings(TypedDict, total=False):
    execute_s: float
    score_s: float
    report_s: float
    total_s: float


class ResultDocument(TypedDict):
    schema_version: int
    submission: str
    id: str
    student: str
    assignment: str
    status: ResultStatus
    message: str
    score: float
    max_score: float
    auto_score: float
    auto_max_score: float
    pending_manual: float
    extra_credit: float
    parts: list[PartResult]
    items: list[ItemResult]
    cells: list[CellRecord]
    limits_fired: list[LimitFired]
    telemetry: Telemetry | dict[str, Any]
    profile: NotRequired[str | None]
    pending_on_submission: NotRequired[float]
    backend: NotRequired[str | None]
    isolated: NotRequired[bool | None]
    timings: NotRequired[Timings]
    content_hash: NotRequired[str]
    execution_key: NotRequired[str]
    scoring_key: NotRequired[str]
    graded_at: NotRequired[str]
    grader_version: NotRequired[str]
    executed_notebook: NotRequired[str | None]
    feedback: NotRequired[dict[str, str]]
    warnings: NotRequired[list[str]]
    notes: NotRequired[list[str]]
    error_detail: NotRequired[str | None]
    environment: NotRequired[EnvironmentSummary]
    rubric: NotRequired[str]
