"""A real single-node SLURM cluster (munged, slurmctld, slurmd) in a temporary folder.

The SLURM tests grade through real ``sbatch`` jobs, so they need real daemons, not a stub. This
module writes a munge key and a minimal ``slurm.conf`` for this host (the node as ``slurmd -C``
sees it, state, spool, logs and sockets under one folder, free ports), starts the three daemons
in the foreground as children of the caller, waits until ``sinfo`` shows the node idle, and at
the end cancels every job, stops the daemons and kills what the jobs left behind. Nothing in
``/etc`` is read or changed: clients find the cluster through ``SLURM_CONF`` (see ``env()``).

The node offers ``gpus`` stand-in GPUs (gres/gpu backed by empty files), so GPU requests are
scheduled and visible in ``scontrol show job``, though no job gets a real device.

It needs the Debian packages slurm-wlm and munge (scripts/setup installs them) and root (the
daemons run as root, like ``SlurmUser=root``). By hand, to try ``grader grade --slurm``::

    .venv/bin/python tests/slurm_cluster.py        # prints the SLURM_CONF to export; Ctrl-C stops it
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel", "scontrol")
PARTITION = "grader"


class ClusterError(RuntimeError):
    """The test cluster could not start (its daemons' log tails are in the message)."""


def unavailable() -> str | None:
    """Why this machine cannot run the test cluster, or None when it can."""
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not installed (Debian packages slurm-wlm and munge; scripts/setup installs them)"
    if os.geteuid() != 0:
        return "the SLURM daemons of the test cluster run as root (SlurmUser=root); run the tests as root"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node_line(name: str, gpus: int) -> str:
    """This host's hardware as slurmd itself detects it (CPUs, sockets, cores, RealMemory).

    Declaring more than slurmd finds would drain the node ("Low RealMemory"), so the node line
    comes from ``slurmd -C`` rather than from our own guess.
    """
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True, timeout=30).stdout
    first = out.splitlines()[0].split()
    fields = [item for item in first if not item.startswith(("NodeName=", "UpTime="))]
    gres = f" Gres=gpu:{gpus}" if gpus else ""
    return f"NodeName={name} NodeAddr=127.0.0.1 {' '.join(fields)}{gres} State=UNKNOWN"


@dataclass
class SlurmTestCluster:
    """One node, one partition (``grader``, the default), daemons as this process's children."""

    root: Path
    node: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    kill_wait_s: int = 5  # SIGTERM to SIGKILL when a job is cancelled (SLURM's default is 30)
    # GPUs SLURM hands out (gres/gpu). There are none: each stands for an empty file under
    # ``root/dev`` (slurmd drops a GPU without a device file), so GPU requests reach the scheduler
    # and ``scontrol show job`` shows them, while nothing can use one.
    gpus: int = 2
    _daemons: dict[str, subprocess.Popen] = field(default_factory=dict, init=False, repr=False)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def env(self) -> dict[str, str]:
        """What SLURM clients (sbatch, squeue, dask-jobqueue) need to use this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    # ------------------------------------------------------------------------ configuration

    def write_config(self) -> None:
        root = self.root
        for sub in ("state", "spool", "log", "run"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        key_dir = root / "munge-key"
        key_dir.mkdir(mode=0o700, exist_ok=True)
        key = key_dir / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        (root / "munge").mkdir(mode=0o755, exist_ok=True)
        lines = ["ClusterName=gradertest"]
        if self.gpus:
            (root / "dev").mkdir(exist_ok=True)
            for index in range(self.gpus):
                (root / "dev" / f"nvidia{index}").touch()
            devices = f"{root / 'dev'}/nvidia[0-{self.gpus - 1}]"
            (root / "gres.conf").write_text(
                f"NodeName={self.node} Name=gpu File={devices}\n", encoding="utf-8"
            )
            lines.append("GresTypes=gpu")
        lines += [
            f"SlurmctldHost={self.node}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "MpiDefault=none",
            "ReturnToService=2",
            f"KillWait={self.kill_wait_s}",
            _node_line(self.node, self.gpus),
            f"PartitionName={PARTITION} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    # ---------------------------------------------------------------------------- lifecycle

    def start(self, timeout_s: float = 60.0) -> None:
        """Write the configuration, start the daemons, wait until the node is idle."""
        reason = unavailable()
        if reason:
            raise ClusterError(reason)
        self.write_config()
        deadline = time.monotonic() + timeout_s
        root = self.root
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",  # the key and socket live under /tmp, which munged distrusts by default
                f"--socket={self.munge_socket}",
                f"--key-file={root / 'munge-key' / 'munge.key'}",
                f"--log-file={root / 'log' / 'munged.log'}",
                f"--pid-file={root / 'run' / 'munged.pid'}",
                f"--seed-file={root / 'run' / 'munged.seed'}",
            ],
        )
        self._wait(lambda: self.munge_socket.exists(), deadline, "munged did not create its socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.node, "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", deadline, "the node did not become idle")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.root / "log" / f"{name}.out").open("ab")
        env = {**os.environ, **self.env()}
        self._daemons[name] = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C reaches us, and we stop them in order (jobs first)
        )
        log.close()

    def _wait(self, ready: Callable[[], bool], deadline: float, what: str) -> None:
        while not ready():
            dead = [name for name, proc in self._daemons.items() if proc.poll() is not None]
            if dead or time.monotonic() > deadline:
                problem = f"{', '.join(dead)} exited" if dead else "timed out"
                raise ClusterError(f"{what} ({problem}).\n{self.log_tails()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Cancel every job, stop the daemons, kill what jobs left behind; safe to call twice."""
        if self._daemons.get("slurmctld") is not None and self._daemons["slurmctld"].poll() is None:
            jobs = self.jobs()
            if jobs:
                self.command("scancel", *jobs, check=False)
                deadline = time.monotonic() + self.kill_wait_s + 15
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._daemons.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        self._kill_leftover_job_processes()

    def _kill_leftover_job_processes(self) -> None:
        """Processes of this cluster's jobs that outlived slurmd: their environment names our
        SLURM_CONF and a job id (the coordinator has the former but never the latter)."""
        marker = f"SLURM_CONF={self.conf}".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in environ and any(item.startswith(b"SLURM_JOB_ID=") for item in environ):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    # ------------------------------------------------------------------------------ clients

    def command(self, *argv: str, check: bool = True, timeout: float = 30.0) -> str:
        """Run a SLURM client (squeue, scontrol, ...) against this cluster; its stdout."""
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env()}
        )
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def node_state(self) -> str:
        try:
            out = self.command("sinfo", "-h", "-N", "-n", self.node, "-o", "%t", check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return ""
        return out.strip().rstrip("*~#!%$@^-")  # flags: not responding, powered down, drain pending...

    def jobs(self, state: str | None = None) -> list[str]:
        """Ids of this cluster's jobs (all states squeue still lists, or only ``state``)."""
        argv = ["squeue", "-h", "-o", "%i"] + (["-t", state] if state else [])
        return self.command(*argv, check=False).split()

    def show_job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o`` as a dict (JobState, NumCPUs, TimeLimit, MinMemoryNode, TRES...)."""
        line = self.command("scontrol", "show", "job", "-o", job_id).strip()
        fields: dict[str, str] = {}
        for item in line.split():
            key, sep, value = item.partition("=")
            if sep:
                fields[key] = value
        return fields

    def log_tails(self, lines: int = 15) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Start a cluster, print how to use it, stop it on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir", type=Path, default=None, help="Folder for its files (default: a new temp folder)."
    )
    args = parser.parse_args(argv)
    root = args.dir or Path(tempfile.mkdtemp(prefix="slurm-test-"))
    cluster = SlurmTestCluster(root.resolve())
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        cluster.start()
        print(
            f"SLURM test cluster up in {time.monotonic() - started:.1f} s: node {cluster.node}, partition {PARTITION}"
        )
        print(f"  export SLURM_CONF={cluster.conf}")
        print("Ctrl-C stops it (running jobs are cancelled).", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except ClusterError as exc:
        print(f"slurm_cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
