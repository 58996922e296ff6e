"""The per-submission task every executor runs, and the wrapper that runs it on a worker.

A task is a module-level function ``(Submission, GradeOptions) -> result document``
(``grader.grading.grade_one``, or a stand-in in tests) so any worker can import it by name.
``run_task`` is what a worker actually calls, whether the task arrived through the local pool or
over the wire (grader.remote): it pins a GPU worker's GPU before the task starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.grading import GradeOptions
    from grader.submission import Submission

GPU_ENV = "GRADER_GPU"  # set on a GPU worker: the GPU it is pinned to (passed on as GradeOptions.gpu)

Task = Callable[["Submission", "GradeOptions"], dict[str, Any]]


def run_task(task: Task, submission: Submission, options: GradeOptions) -> dict[str, Any]:
    """What runs on a worker: ``task`` (grade_one), on this worker's pinned GPU if it needs one."""
    if submission.needs_gpu and options.gpu is None and os.environ.get(GPU_ENV):
        options = replace(options, gpu=os.environ[GPU_ENV])
    return task(submission, options)
