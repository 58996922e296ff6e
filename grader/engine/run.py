"""``run_notebook``: execute one student notebook in a sandbox and harvest its answers.

The stages, each in its own module: load the notebook (``notebook``), make the sandbox
(``grader.sandbox``), run the cells (``runner``, over a ``session`` with the kernel), harvest
(``harvest_driver``), assemble and write the RunRecord (``record``). Nothing a student does
makes this function raise; a grader bug becomes the record's ``error`` status.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from grader import free_text, notebook_parts
from grader.engine import record as records
from grader.engine.cell_notes import annotate_cells, diagnostician
from grader.engine.harvest_driver import harvest
from grader.engine.notebook import InvalidNotebook, load_notebook_with_counts
from grader.engine.runner import CellRunner
from grader.engine.session import STARTUP_TIMEOUT_S
from grader.engine.tracebacks import path_names
from grader.environment import KernelEnvironment, KernelEnvironmentError, for_assignment
from grader.keys import execution_stamp
from grader.limits import Limits
from grader.records import RunRecord
from grader.sandbox import make_sandbox
from grader.sandbox.base import SANDBOX_ENV, KernelInterpreter, Sandbox, SandboxConfig
from grader.submission import check_id

log = logging.getLogger(__name__)

DEFAULT_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    # a `!pip install` cell fails at once rather than retrying an index it can never reach
    "PIP_RETRIES": "0",
    "PIP_TIMEOUT": "2",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}
FROM_ASSIGNMENT = "assignment"  # run_notebook's default: the kernel environment the rubric declares


def run_notebook(
    notebook: Path,
    assignment: Any,
    data_dir: Path,
    out_dir: Path,
    *,
    run_id: str,
    backend: str = "auto",
    gpu: str | None = None,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
    public_only: bool = False,
    kernel: KernelEnvironment | str | None = FROM_ASSIGNMENT,
) -> RunRecord:
    """Execute ``notebook`` in a sandbox, harvest it, write OUT/executed/<id>.ipynb and
    OUT/run/<id>.json, and return the RunRecord. Student faults never raise; a bad ``run_id``
    (a grader bug) does.

    ``kernel`` is the kernel's environment: by default the one the assignment declares (found
    built, never installed: a missing one is a ``sandbox_error`` naming `grader env build`),
    ``None`` for the grader's own interpreter."""
    check_id(run_id, what="run_id")  # UnsafeId (a ValueError): a grader bug, not the student's
    notebook, data_dir, out_dir = Path(notebook), Path(data_dir).resolve(), Path(out_dir)
    limits = limits or Limits()
    started = time.perf_counter()
    name = getattr(assignment, "name", str(assignment))
    record = records.new_record(notebook, name, run_id, backend, gpu)
    # what this run was executed and harvested for: grader.reuse reads it before scoring it again
    record["execution"] = execution_stamp(
        notebook, assignment, data_dir, limits=limits, env=env, public_only=public_only
    )
    try:
        nb, saved_counts = load_notebook_with_counts(notebook)
    except InvalidNotebook as exc:
        record["status"], record["message"] = "invalid_notebook", str(exc)
        record["harvest"]["message"] = "not run: invalid notebook"
        records.write_outputs(record, None, out_dir)
        return record
    try:
        environment = for_assignment(assignment) if kernel == FROM_ASSIGNMENT else kernel
        if isinstance(environment, KernelEnvironment) and not environment.python.exists():
            # resolved on the coordinator, missing here (a cluster worker without it)
            raise KernelEnvironmentError(
                f"the grading environment of {environment.name} is not built on this machine "
                f"({environment.prefix}): run `grader env build {environment.name}` here too"
            )
    except KernelEnvironmentError as exc:
        record["status"], record["message"] = "sandbox_error", str(exc)
        record["harvest"]["message"] = "not run: no kernel environment"
        records.write_outputs(record, None, out_dir)
        return record
    assert environment is None or isinstance(environment, KernelEnvironment)
    if environment is not None:
        record["environment"] = environment.summary()

    part_of = notebook_parts.assign_parts(nb.cells, assignment.parts)
    record["harvest"]["free_text"] = free_text.free_text_answers(
        nb.cells, assignment.free_text, free_text.assignment_template_text(assignment)
    )
    root = Path(tempfile.mkdtemp(prefix=f"grader-run-{run_id}-"))
    workdir, ipc_dir = root / "work", root / "ipc"
    workdir.mkdir()
    ipc_dir.mkdir(mode=0o700)
    public = data_dir / "public"
    config = SandboxConfig(
        workdir=workdir,
        ipc_dir=ipc_dir,
        data_dir=public if public.is_dir() else None,
        limits=limits,
        gpu=gpu,
        env={**DEFAULT_ENV, **(env or {})},
        kernel=None
        if environment is None
        else KernelInterpreter(
            prefix=environment.prefix,
            base_prefix=environment.base_prefix,
            reserved_address_space_mb=environment.reserved_address_space_mb,
        ),
    )
    sandbox: Sandbox | None = None
    runner: CellRunner | None = None
    limits_log = records.LimitLog()
    sandbox_peak_mb: float | None = None
    try:
        try:
            sandbox = make_sandbox(backend, config)
            sandbox.prepare()
        except Exception as exc:
            record["status"] = "sandbox_error"
            record["message"] = f"the sandbox could not be set up: {exc}"
            return record
        record["backend"] = sandbox.name
        record["isolated"] = bool(sandbox.isolated)
        if sandbox.notes:
            record["notes"] = list(sandbox.notes)
        runner = CellRunner(nb, part_of, sandbox, limits, workdir, ipc_dir, limits_log)
        _run_sync(_drive(runner, record, assignment, data_dir, public_only))
    except Exception as exc:  # a grader bug: report it in the record rather than lose the run
        log.exception("run_notebook failed for %s", run_id)
        record["status"], record["message"] = "error", f"grader error: {type(exc).__name__}: {exc}"
    finally:
        if runner is not None:
            runner.sampler.stop()
        if sandbox is not None:
            # the backend's own measurements, before cleanup() removes the cgroup that holds them
            sandbox_peak_mb = _backend_facts(sandbox, limits_log)
            for step in (sandbox.kill_all, sandbox.cleanup):
                try:
                    step()
                except Exception as exc:
                    log.warning("sandbox %s: %s", step.__name__, exc)
        shutil.rmtree(root, ignore_errors=True)
        wall_s = time.perf_counter() - started
        records.count_figures(record, nb, part_of)
        if runner is not None:
            _describe_cells(runner, nb, saved_counts, environment, name, config)
        if runner is None:
            record["telemetry"]["wall_s"] = round(wall_s, 3)
        else:
            records.finish(
                record,
                cells=runner.state.cells,
                limits=limits_log,
                wall_s=wall_s,
                peak_rss_mb=max(runner.sampler.peak, sandbox_peak_mb or 0.0),
                restarts=runner.state.restarts,
                watchdog_fired=runner.state.watchdog_fired,
                kernel_dead=runner.state.kernel_dead,
                notebook_timeout=limits.notebook_timeout,
            )
        records.write_outputs(record, nb, out_dir)
    return record


async def _drive(
    runner: CellRunner, record: RunRecord, assignment: Any, data_dir: Path, public_only: bool
) -> None:
    """Start the kernel, run the cells under the watchdog, then harvest if the kernel survived."""
    runner.sampler.start()
    runner.deadline = time.monotonic() + runner.limits.notebook_timeout
    watchdog = asyncio.ensure_future(runner.watchdog())
    try:
        try:
            await asyncio.wait_for(runner.start(), timeout=STARTUP_TIMEOUT_S + 10)
        except Exception as exc:
            log_text = runner.session.log_text()
            record["status"] = "sandbox_error"
            record["message"] = f"the kernel did not start in the sandbox: {type(exc).__name__}: {exc}"
            if log_text:
                record["kernel_log"] = log_text[-4000:]
            return
        await runner.run_cells()
        # the notebook's budget ends with its cells; the harvest has its own (harvest_timeout)
        watchdog.cancel()
        if runner.kernel_usable:
            free_text = record["harvest"]["free_text"]  # read from the notebook, not the kernel
            record["harvest"] = await harvest(
                runner.session,
                runner.sandbox,
                runner.limits_log,
                runner.limits,
                assignment,
                data_dir,
                public_only=public_only,
                draw_key=str(record.get("execution", {}).get("inputs", {}).get("notebook", "")),
            )
            record["harvest"]["free_text"] = free_text
        else:
            record["harvest"]["message"] = "not run: the kernel was not available after the notebook"
            record["harvest"]["answers"] = {}
    finally:
        watchdog.cancel()
        await runner.session.stop()


def _describe_cells(
    runner: CellRunner,
    nb: Any,
    saved_counts: list[int | None],
    environment: KernelEnvironment | None,
    name: str,
    config: SandboxConfig,
) -> None:
    """Cell names, readable tracebacks and diagnoses (grader.engine.cell_notes); never fails the run."""
    try:
        names = path_names(
            env_prefixes=[str(environment.prefix), SANDBOX_ENV] if environment is not None else [],
            base_prefixes=[str(environment.base_prefix)] if environment is not None else [],
            workdir=str(config.workdir),
            python_version=".".join(environment.python_version.split(".")[:2]) if environment else None,
        )
        doctor = diagnostician(environment, name, config.data_dir)
        annotate_cells(runner.state.cells, nb, saved_counts, names, doctor)
    except Exception:  # a grader bug here must not lose the run
        log.exception("describing the cells failed")


def _backend_facts(sandbox: Sandbox, limits_log: records.LimitLog) -> float | None:
    """The backend's cgroup peak memory, and the limits it saw fire (added to the log)."""
    peak = None
    try:
        peak = sandbox.peak_memory_mb()
    except Exception as exc:
        log.warning("sandbox peak_memory_mb: %s", exc)
    try:
        limits_log.add_backend(sandbox.limits_fired())
    except Exception as exc:
        log.warning("sandbox limits_fired: %s", exc)
    return peak


def _run_sync(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to completion, from sync code or from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
        return
    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="grader-run-notebook")
    thread.start()
    thread.join()
    if error:
        raise error[0]
