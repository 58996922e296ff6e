"""What the sandbox costs: start-up of ``python -c pass`` and of an IPC kernel, plain vs sandboxed.

Run: ``.venv/bin/python benchmarks/sandbox_overhead.py [--runs N] [--kernels K]``.
Backends are measured side by side, interleaved, so machine load affects them alike; the
output is medians and ratios to the plain run. Also times prepare()+cleanup() per run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.sandbox import SandboxConfig, available_backends, make_sandbox  # noqa: E402


def _dirs(tmp: Path, name: str) -> tuple[Path, Path]:
    work, ipc = tmp / f"{name}-work", tmp / f"{name}-ipc"
    work.mkdir()
    ipc.mkdir(mode=0o700)
    return work, ipc


def time_python(backend: str | None, tmp: Path, i: int) -> tuple[float, float]:
    """(seconds to run python -c pass, seconds for prepare+cleanup) for one fresh sandbox."""
    argv = [sys.executable, "-c", "pass"]
    if backend is None:
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        return time.perf_counter() - t0, 0.0
    work, ipc = _dirs(tmp, f"{backend}-py-{i}")
    t0 = time.perf_counter()
    sb = make_sandbox(backend, SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None))
    sb.prepare()
    t1 = time.perf_counter()
    subprocess.run(sb.wrap(argv), env=sb.environment(), check=True, capture_output=True)
    t2 = time.perf_counter()
    sb.cleanup()
    t3 = time.perf_counter()
    return t2 - t1, (t1 - t0) + (t3 - t2)


def time_kernel(backend: str | None, tmp: Path, i: int) -> float:
    """Seconds from launching ipykernel (IPC transport) to its kernel_info reply."""
    from jupyter_client.blocking import BlockingKernelClient
    from jupyter_client.connect import write_connection_file

    work, ipc = _dirs(tmp, f"{backend}-k-{i}")
    conn, _ = write_connection_file(str(ipc / "kernel.json"), transport="ipc", ip=str(ipc / "k"))
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", conn]
    sb = None
    if backend is not None:
        sb = make_sandbox(backend, SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None))
        sb.prepare()
        argv, env = sb.wrap(argv), sb.environment()
    else:
        env = None
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work)
    kc = BlockingKernelClient(connection_file=conn)
    kc.load_connection_file()
    kc.start_channels(hb=False)  # the heartbeat's 1 s grace misreads a slow start under load
    try:
        kc.wait_for_ready(timeout=120)
        elapsed = time.perf_counter() - t0
        kc.shutdown()
        proc.wait(timeout=30)
    finally:
        kc.stop_channels()
        proc.kill()
        proc.wait()
        if sb is not None:
            sb.cleanup()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--kernels", type=int, default=5)
    args = parser.parse_args()
    backends: list[str | None] = [None] + [b for b in ("process", "bwrap") if b in available_backends()]
    label = {None: "plain"}
    py: dict[str | None, list[float]] = {b: [] for b in backends}
    setup: dict[str | None, list[float]] = {b: [] for b in backends}
    kern: dict[str | None, list[float]] = {b: [] for b in backends}
    with tempfile.TemporaryDirectory(prefix="mlag-bench-") as t:
        tmp = Path(t)
        for i in range(args.runs):
            for b in backends:
                run, prep = time_python(b, tmp, i)
                py[b].append(run)
                setup[b].append(prep)
        for i in range(args.kernels):
            for b in backends:
                kern[b].append(time_kernel(b, tmp, i))
    base_py, base_k = statistics.median(py[None]), statistics.median(kern[None])
    print(f"python -c pass, median of {args.runs}; kernel start to kernel_info, median of {args.kernels}")
    print(f"{'backend':8} {'python':>9} {'ratio':>6} {'prep+clean':>11} {'kernel':>9} {'ratio':>6}")
    for b in backends:
        p, s, k = statistics.median(py[b]), statistics.median(setup[b]), statistics.median(kern[b])
        print(
            f"{label.get(b, b):8} {p * 1000:7.1f}ms {p / base_py:6.2f} {s * 1000:9.1f}ms "
            f"{k * 1000:7.0f}ms {k / base_k:6.2f}"
        )


if __name__ == "__main__":
    main()
