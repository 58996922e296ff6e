"""`grader worker`: a Dask worker that grades one submission at a time.

A worker runs one task at a time (one thread) because each task is a whole notebook with its own
sandboxed kernel. With ``--gpu ID`` the worker is pinned to that GPU (``CUDA_VISIBLE_DEVICES``,
and ``GRADER_GPU`` so grade_one binds that GPU into the sandbox) and advertises the resource
``GPU=1``, so only submissions that need a GPU are routed to it by resource, and CPU submissions
may still use it when it is idle. A nanny process restarts the worker if a notebook kills it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import click

from grader.executors import GPU_ENV, THREAD_VARS


@click.command()
@click.option(
    "--scheduler",
    required=True,
    metavar="ADDRESS|FILE",
    help="The scheduler's address (tcp://host:8786) or a scheduler file written by `dask scheduler`.",
)
@click.option("--gpu", metavar="ID", default=None, help="Pin this worker to one GPU (index or UUID).")
@click.option("--name", default=None, help="A name for the worker in the dashboard and logs.")
@click.option(
    "--memory-limit",
    default="auto",
    show_default=True,
    help="Restart the worker above this much memory (e.g. 8GB); 'auto' is the machine's memory.",
)
@click.option(
    "--lifetime",
    default=None,
    metavar="DURATION",
    help="Retire gracefully after this long (e.g. 1h50m), to stay under a batch job's walltime.",
)
def worker(
    scheduler: str, gpu: str | None, name: str | None, memory_limit: str, lifetime: str | None
) -> None:
    """Start a Dask worker for `grader grade --scheduler ADDRESS`."""
    if gpu is not None:
        if not gpu.strip() or "," in gpu:
            raise click.BadParameter("give exactly one GPU id or UUID", param_hint="--gpu")
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        os.environ[GPU_ENV] = gpu
    for var in THREAD_VARS:  # the worker's own numeric work; kernels get one thread from execute
        os.environ[var] = "1"
    kwargs: dict[str, object] = {
        "nthreads": 1,
        "resources": {"GPU": 1} if gpu is not None else {},
        "name": name,
        "memory_limit": memory_limit,
        "lifetime": lifetime,
    }
    address: str | None = scheduler
    if Path(scheduler).is_file():
        kwargs["scheduler_file"] = scheduler
        address = None
    try:
        asyncio.run(_serve(address, kwargs))
    except OSError as exc:
        raise click.ClickException(f"cannot reach the scheduler {scheduler}: {exc}") from exc


async def _serve(address: str | None, kwargs: dict[str, Any]) -> None:
    """Run a nanny (which runs the worker) until the scheduler or a signal closes it."""
    from distributed import Nanny

    async with Nanny(address, **kwargs) as nanny:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(nanny.close()))
        click.echo(f"grader worker {nanny.worker_address} serving {nanny.scheduler.address}", err=True)
        await nanny.finished()
