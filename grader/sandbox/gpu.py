"""GPU passthrough: which device nodes one job may see, and how CUDA is told which GPU it has.

A job gets exactly one GPU: its ``/dev/nvidiaN`` plus the shared control nodes (``nvidiactl``,
``nvidia-uvm``, ``nvidia-uvm-tools``; ``nvidia-caps/`` for MIG slices). ``CUDA_VISIBLE_DEVICES``
names it by UUID where ``nvidia-smi -L`` gives one (indices can be renumbered by CUDA; UUIDs not).
The /dev root is a parameter so tests can check the plan against a stand-in directory.

Nothing here was run against a real GPU in development (no GPU was available); scripts/gpu-check
is the end-to-end check to run on a GPU machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")

_GPU_LINE = re.compile(r"^GPU (\d+): .*\(UUID: (GPU-[0-9a-fA-F-]+)\)")
_MIG_LINE = re.compile(r"^\s+MIG .*Device\s+(\d+): \(UUID: (MIG-[0-9a-zA-Z/-]+)\)")


class GpuError(ValueError):
    """The requested GPU does not exist here, or its device nodes are missing."""


@dataclass(frozen=True)
class GpuInfo:
    index: int
    uuid: str | None
    mig: tuple[str, ...] = ()  # UUIDs of MIG slices on this GPU


@dataclass
class GpuPlan:
    """What the sandbox must do for one job's GPU."""

    index: int
    visible: str  # CUDA_VISIBLE_DEVICES value
    devices: list[tuple[Path, str]] = field(default_factory=list)  # (host node, path inside)
    mig: bool = False


def parse_nvidia_smi_list(text: str) -> list[GpuInfo]:
    """Parse ``nvidia-smi -L`` output: ``GPU 0: NVIDIA H100 (UUID: GPU-...)`` and MIG lines."""
    gpus: list[GpuInfo] = []
    for line in text.splitlines():
        if m := _GPU_LINE.match(line):
            gpus.append(GpuInfo(int(m.group(1)), m.group(2)))
        elif (m := _MIG_LINE.match(line)) and gpus:
            last = gpus[-1]
            gpus[-1] = GpuInfo(last.index, last.uuid, (*last.mig, m.group(2)))
    return gpus


def list_gpus() -> list[GpuInfo] | None:
    """GPUs as nvidia-smi reports them; None when nvidia-smi is absent or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        r = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_nvidia_smi_list(r.stdout) if r.returncode == 0 else None


def plan_gpu(gpu: str, *, dev_root: Path = Path("/dev"), gpus: list[GpuInfo] | None = None) -> GpuPlan:
    """The device nodes and CUDA_VISIBLE_DEVICES for ``gpu`` (an index, a GPU UUID or a MIG UUID).

    ``gpus`` is the ``nvidia-smi -L`` listing (looked up when None); without one, only an index
    works and CUDA_VISIBLE_DEVICES is that index.
    """
    gpu = str(gpu).strip()
    if gpus is None:
        gpus = list_gpus() or []
    info: GpuInfo | None = None
    mig_uuid: str | None = None
    if gpu.isdigit():
        index = int(gpu)
        info = next((g for g in gpus if g.index == index), None)
        if gpus and info is None:
            raise GpuError(f"GPU {index} does not exist here (nvidia-smi lists {[g.index for g in gpus]})")
    elif gpu.startswith("GPU-"):
        info = next((g for g in gpus if g.uuid == gpu), None)
        if info is None:
            raise GpuError(f"no GPU with UUID {gpu} (nvidia-smi -L lists {[g.uuid for g in gpus]})")
        index = info.index
    elif gpu.startswith("MIG-"):
        info = next((g for g in gpus if gpu in g.mig), None)
        if info is None:
            raise GpuError(f"no MIG slice with UUID {gpu} on any GPU")
        index, mig_uuid = info.index, gpu
    else:
        raise GpuError(f"bad GPU {gpu!r}: expected an index (0), a GPU-... UUID or a MIG-... UUID")

    node = dev_root / f"nvidia{index}"
    if not node.exists():
        raise GpuError(f"GPU {index}: device node {node} does not exist")
    devices = [(node, f"/dev/nvidia{index}")]
    for name in CONTROL_NODES:
        path = dev_root / name
        if path.exists():
            devices.append((path, f"/dev/{name}"))
        elif name == "nvidiactl":
            raise GpuError(f"{path} does not exist: is the NVIDIA driver loaded?")
    mig = mig_uuid is not None
    if mig:
        caps = dev_root / "nvidia-caps"
        if not caps.is_dir():
            raise GpuError(f"MIG slice {mig_uuid} needs {caps}, which does not exist")
        devices.append((caps, "/dev/nvidia-caps"))
    visible = mig_uuid or (info.uuid if info and info.uuid else str(index))
    return GpuPlan(index=index, visible=visible, devices=devices, mig=mig)
