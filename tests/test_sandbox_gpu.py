"""GPU passthrough: the sandbox command line against a stand-in /dev (no GPU on CI machines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.limits import Limits
from grader.sandbox import SandboxConfig, SandboxError
from grader.sandbox.bwrap import BwrapSandbox
from grader.sandbox.docker import DockerSandbox
from grader.sandbox.gpu import GpuError, parse_nvidia_smi_list, plan_gpu

SMI = """\
GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-11111111-2222-3333-4444-555555555555)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)
  MIG 1g.5gb      Device  0: (UUID: MIG-01234567-89ab-cdef-0123-456789abcdef)
  MIG 1g.5gb      Device  1: (UUID: MIG-fedcba98-7654-3210-fedc-ba9876543210)
"""
GPUS = parse_nvidia_smi_list(SMI)


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    root = tmp_path / "dev"
    root.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"):
        (root / name).touch()
    (root / "nvidia-caps").mkdir()
    return root


def test_parse_nvidia_smi_list():
    assert [(g.index, g.uuid, len(g.mig)) for g in GPUS] == [
        (0, "GPU-11111111-2222-3333-4444-555555555555", 0),
        (1, "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 2),
    ]


def test_plan_by_index_names_the_uuid(dev):
    plan = plan_gpu("1", dev_root=dev, gpus=GPUS)
    assert plan.visible == "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert [inside for _, inside in plan.devices] == [
        "/dev/nvidia1",
        "/dev/nvidiactl",
        "/dev/nvidia-uvm",
        "/dev/nvidia-uvm-tools",
    ]
    assert plan.devices[0][0] == dev / "nvidia1"
    assert not plan.mig


def test_plan_by_uuid_and_mig(dev):
    assert plan_gpu("GPU-11111111-2222-3333-4444-555555555555", dev_root=dev, gpus=GPUS).index == 0
    mig = plan_gpu("MIG-fedcba98-7654-3210-fedc-ba9876543210", dev_root=dev, gpus=GPUS)
    assert mig.index == 1 and mig.mig
    assert mig.visible == "MIG-fedcba98-7654-3210-fedc-ba9876543210"
    assert (dev / "nvidia-caps", "/dev/nvidia-caps") in mig.devices


def test_plan_without_nvidia_smi_uses_the_index(dev):
    assert plan_gpu("0", dev_root=dev, gpus=[]).visible == "0"


@pytest.mark.parametrize(
    "gpu, message",
    [
        ("7", "GPU 7 does not exist"),
        ("GPU-deadbeef", "no GPU with UUID"),
        ("MIG-nope", "no MIG slice"),
        ("fast", "bad GPU"),
    ],
)
def test_plan_refuses_unknown_gpus(dev, gpu, message):
    with pytest.raises(GpuError, match=message):
        plan_gpu(gpu, dev_root=dev, gpus=GPUS)


def test_plan_refuses_a_missing_device_node(dev):
    (dev / "nvidia1").unlink()
    with pytest.raises(GpuError, match="nvidia1 does not exist"):
        plan_gpu("1", dev_root=dev, gpus=GPUS)


def _staged_sources(cmd: list[str]) -> dict[str, str]:
    """Map staged paths back to host paths (when root, the launcher stages every bind source)."""
    out = {}
    root = cmd[cmd.index("--stage-root") + 1] if "--stage-root" in cmd else None
    for i, arg in enumerate(cmd):
        if arg == "--stage" and root:
            out[f"{root}/{cmd[i + 2]}"] = cmd[i + 1]
        if arg == "--":
            break
    return out


def _dev_binds(cmd: list[str]) -> list[tuple[str, str]]:
    staged = _staged_sources(cmd)
    bw = cmd[cmd.index("--") + 1 :]
    return [(staged.get(bw[i + 1], bw[i + 1]), bw[i + 2]) for i, a in enumerate(bw) if a == "--dev-bind"]


def _config(tmp_path: Path, gpu: str | None) -> SandboxConfig:
    work, ipc = tmp_path / "work", tmp_path / "ipc"
    work.mkdir(exist_ok=True)
    ipc.mkdir(mode=0o700, exist_ok=True)
    return SandboxConfig(workdir=work, ipc_dir=ipc, data_dir=None, gpu=gpu, limits=Limits(memory_mb=2048))


def test_bwrap_command_line_binds_only_the_assigned_gpu(tmp_path, dev):
    sb = BwrapSandbox(_config(tmp_path, "1"), dev_root=dev, gpus=GPUS, use_cgroups=False)
    sb.prepare()
    try:
        cmd = sb.wrap(["/bin/true"])
        binds = _dev_binds(cmd)
        assert binds == [
            (str(dev / "nvidia1"), "/dev/nvidia1"),
            (str(dev / "nvidiactl"), "/dev/nvidiactl"),
            (str(dev / "nvidia-uvm"), "/dev/nvidia-uvm"),
            (str(dev / "nvidia-uvm-tools"), "/dev/nvidia-uvm-tools"),
        ]
        assert not any("nvidia0" in a for a in cmd)
        assert sb.environment()["CUDA_VISIBLE_DEVICES"] == "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        launcher = cmd[: cmd.index("--")]
        assert not any(a.startswith("as=") for a in launcher)  # no address-space limit for CUDA
        assert "fsize=104857600" in launcher
    finally:
        sb.cleanup()


def test_bwrap_without_gpu_hides_all_gpus_and_limits_address_space(tmp_path, dev):
    sb = BwrapSandbox(_config(tmp_path, None), dev_root=dev, gpus=GPUS, use_cgroups=False)
    sb.prepare()
    try:
        cmd = sb.wrap(["/bin/true"])
        assert _dev_binds(cmd) == []
        assert sb.environment()["CUDA_VISIBLE_DEVICES"] == ""
        assert f"as={2048 << 20}" in cmd[: cmd.index("--")]
    finally:
        sb.cleanup()


def test_bwrap_mig_slice_binds_caps(tmp_path, dev):
    sb = BwrapSandbox(
        _config(tmp_path, "MIG-01234567-89ab-cdef-0123-456789abcdef"),
        dev_root=dev,
        gpus=GPUS,
        use_cgroups=False,
    )
    sb.prepare()
    try:
        assert (str(dev / "nvidia-caps"), "/dev/nvidia-caps") in _dev_binds(sb.wrap(["/bin/true"]))
        assert sb.environment()["CUDA_VISIBLE_DEVICES"] == "MIG-01234567-89ab-cdef-0123-456789abcdef"
    finally:
        sb.cleanup()


def test_bwrap_unknown_gpu_is_a_sandbox_error(tmp_path, dev):
    sb = BwrapSandbox(_config(tmp_path, "5"), dev_root=dev, gpus=GPUS)
    with pytest.raises(SandboxError, match="GPU 5 does not exist"):
        sb.prepare()


def test_docker_gpu_flag_uses_the_uuid(tmp_path, dev, monkeypatch):
    sb = DockerSandbox(_config(tmp_path, "0"), gpus=GPUS, dev_root=dev)
    # No container engine here: pretend one is installed; only the command line is checked.
    monkeypatch.setattr("grader.sandbox.docker.shutil.which", lambda name: f"/usr/bin/{name}")
    sb.prepare()
    cmd = sb.wrap(["/usr/bin/python3", "-m", "ipykernel_launcher"])
    i = cmd.index("--gpus")
    assert cmd[i + 1] == "device=GPU-11111111-2222-3333-4444-555555555555"
