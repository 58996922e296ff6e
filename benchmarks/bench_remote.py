"""What the wire costs on the Dask paths (grader.remote), measured in one run on this machine.

1. Once per batch, on the coordinator: packing the assignment's files and the data archive
   (time, size), and one task's pickled size for a bundled example notebook.
2. Once per worker machine: obtaining the data by building it (hw2's builder) and by fetching
   the coordinator's archive through a real Dask scheduler Variable, each into a fresh cache and
   checked against the manifest; then the same call once the data is there (what every later
   task pays, checked once per process).

    .venv/bin/python benchmarks/bench_remote.py

Timings depend on the machine and its load; compare numbers from the same run only.
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "submissions" / "hw2" / "barbara_liskov.ipynb"


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def fetch_in_a_task(name: str) -> tuple[int, float]:
    """On a Dask worker: fetch the archive the coordinator published; its size and seconds."""
    from grader.remote.worker import fetch_from_scheduler

    data, seconds = timed(fetch_from_scheduler, name)
    return len(data), seconds


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    os.environ["ML_AUTOGRADER_CACHE"] = str(root / "coordinator-cache")
    from distributed import Client, LocalCluster, Variable

    from grader.assignment import load_assignment
    from grader.grading import GradeOptions, grade_one
    from grader.remote.coordinator import describe_data, make_task, pack_assignment, pack_data
    from grader.remote.provision import provide_data
    from grader.submission import Submission

    hw2 = load_assignment("hw2")
    options, resolve_s = timed(GradeOptions(assignment=hw2, out_dir=root / "out").resolved)
    context = options.context
    assert context is not None
    print(f"coordinator: data built and context resolved in {resolve_s:.2f} s (once per batch, as before)")
    files, pack_files_s = timed(pack_assignment, context)
    archive, pack_data_s = timed(pack_data, context.data_dir)
    print(f"  assignment files: {files.size / 1e3:.0f} kB packed in {pack_files_s * 1e3:.1f} ms")
    print(f"  data archive: {len(archive) / 1e6:.1f} MB packed (and checked) in {pack_data_s:.2f} s")
    source = describe_data(context, "bench-data")
    submission = Submission(id="barbara", student="barbara", path=EXAMPLE)
    task = make_task(grade_one, submission, options, files, source)
    pickled = pickle.dumps(task)
    print(
        f"  one task ({EXAMPLE.name}, {len(task.notebook) / 1e3:.0f} kB notebook): {len(pickled) / 1e3:.0f} kB pickled"
    )

    os.environ["ML_AUTOGRADER_CACHE"] = str(root / "builder-cache")
    built, build_s = timed(provide_data, hw2, source, lambda name: b"")
    _, again_s = timed(provide_data, hw2, source, lambda name: b"")
    print(
        f"worker, build path: hw2 built and checked in {build_s:.2f} s; found and rechecked in {again_s:.2f} s"
    )

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        variable = Variable("bench-data", client=client)
        _, publish_s = timed(variable.set, archive)
        size, fetch_s = client.submit(fetch_in_a_task, "bench-data", pure=False).result()
        variable.delete()
    assert size == len(archive)
    print(
        f"worker, fetch path: {size / 1e6:.1f} MB published in {publish_s:.2f} s, fetched by a worker in {fetch_s:.2f} s"
    )
    os.environ["ML_AUTOGRADER_CACHE"] = str(root / "fetcher-cache")
    source = describe_data(context, "bench-data")
    unbuildable = type(source)(**{**vars(source), "buildable": False})
    _, unpack_s = timed(provide_data, hw2, unbuildable, lambda name: archive)
    print(f"  unpacked and checked against the manifest in {unpack_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
