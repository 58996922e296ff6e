"""Worker health as the coordinator sees it: which workers a batch has and what each one runs.

The coordinator looks at its workers every couple of seconds (``Executor.watch``). The view feeds
the progress bar, so an instructor sees each worker and the notebook it is on, and a line when a
worker leaves or joins. (Replacing lost SLURM jobs happens in the same look: grader.slurm.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkerActivity:
    """One worker (a pool slot, a Dask worker, a SLURM job) and the submissions it runs now."""

    name: str
    running: tuple[str, ...] = ()


def pool_activity(slots: int, labels: Iterable[str]) -> list[WorkerActivity]:
    """The local pool: ``slots`` processes; the in-flight submissions are exactly the running ones
    (the coordinator never keeps more in flight than the pool has processes)."""
    running = list(labels)
    return [
        WorkerActivity(f"slot {i + 1}", (running[i],) if i < len(running) else ())
        for i in range(max(slots, len(running)))
    ]


def dask_activity(
    client: Any, labels_by_key: Mapping[str, str], jobs: Mapping[str, str]
) -> list[WorkerActivity]:
    """Every worker the scheduler knows, with the tasks it is processing, by label.

    ``labels_by_key`` names the coordinator's tasks (other clients' tasks are left out);
    ``jobs`` maps a worker name to its SLURM job id, shown beside the name when known.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    processing = client.processing()
    view = []
    for address, info in workers.items():
        name = str(info.get("name", address))
        if name in jobs:
            name = f"{name} (job {jobs[name]})"
        keys = processing.get(address, ())
        view.append(WorkerActivity(name, tuple(labels_by_key[k] for k in keys if k in labels_by_key)))
    return sorted(view, key=lambda worker: worker.name)
