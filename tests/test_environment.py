"""Kernel environments: declared in the rubric, built once from the package index, mounted
read-only as the kernel's interpreter, part of the content hash and of expected.json's
provenance; grading never installs anything and says which command builds a missing one."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.assignment import load_assignment
from grader.environment import EnvironmentNotBuilt, KernelEnvironmentError, assignment_spec, for_assignment
from grader.environment.spec import spec_from_mapping
from grader.sandbox import available_backends

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"
# The grader's own packages (and the data packages it builds hw2's data from): none may be
# importable inside hw2's environment.
GRADER_PACKAGES = [
    "grader",
    "nbclient",
    "nbformat",
    "jsonschema",
    "dask",
    "distributed",
    "click",
    "yaml",
    "uv",
    "mlxtend",
    "palmerpenguins",
    "vega_datasets",
    "skimage",
]


# ---- the declaration ------------------------------------------------------------------------


def test_a_declaration_is_normalised_and_hashed(tmp_path: Path) -> None:
    listed = spec_from_mapping(
        {"python": "3.11", "requirements": ["Seaborn == 0.13.2", "# plots", "", "numpy>=2", "scikit_learn"]},
        base_dir=tmp_path,
    )
    assert listed.requirements == ("ipykernel>=6.29,<8", "numpy>=2", "scikit-learn", "seaborn==0.13.2")
    assert listed.torch == "cpu" and listed.key == f"py3.11-{listed.sha256[:16]}"
    (tmp_path / "requirements.txt").write_text("numpy>=2\nscikit-learn  # trees\nseaborn==0.13.2\n")
    from_file = spec_from_mapping({"python": "3.11", "requirements": "requirements.txt"}, base_dir=tmp_path)
    assert from_file.sha256 == listed.sha256  # same packages, same environment: shared in the cache
    other = spec_from_mapping({"python": "3.11", "requirements": ["numpy>=2"]}, base_dir=tmp_path)
    gpu = spec_from_mapping({"python": "3.11", "requirements": ["numpy>=2"]}, base_dir=tmp_path, gpu=True)
    assert len({listed.sha256, other.sha256, gpu.sha256}) == 3 and gpu.torch == "cuda"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"python": "3", "requirements": []}, "python must be major.minor"),
        ({"python": "3.11", "requirements": ["-r other.txt"]}, "installer options are not allowed"),
        ({"python": "3.11", "requirements": ["--index-url https://x"]}, "installer options are not allowed"),
        ({"python": "3.11", "requirements": ["numpy", "NumPy==2"]}, "NumPy is listed twice"),
        ({"python": "3.11", "requirements": ["numpy ==="]}, "is not a requirement"),
        ({"python": "3.11", "requirements": "missing.txt"}, "cannot read"),
        ({"python": "3.11", "requirements": ["numpy"], "torch": "rocm"}, "torch must be one of cpu, cuda"),
    ],
)
def test_a_bad_declaration_says_what_is_wrong(tmp_path: Path, block: dict, message: str) -> None:
    with pytest.raises(KernelEnvironmentError, match=message):
        spec_from_mapping(block, base_dir=tmp_path)


def test_hw2_declares_torchvision_and_seaborn() -> None:
    spec = assignment_spec(load_assignment("hw2"))
    assert spec is not None
    assert {"torchvision==0.29.1", "seaborn==0.13.2", "torch==2.14.1"} <= set(spec.requirements)


# ---- grading never installs; a missing environment names the command --------------------------


def _toy_with_environment(tmp_path: Path) -> Path:
    copy = tmp_path / "toy"
    shutil.copytree(TOY, copy)
    rubric = copy / "toy.yaml"
    rubric.write_text(
        rubric.read_text() + '\nenvironment:\n  python: "3.11"\n  requirements: [scikit-learn, pandas]\n'
    )
    return rubric


def test_a_missing_environment_is_a_clear_error_and_nothing_is_installed(tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from grader.cli import main
    from grader.engine import run_notebook

    envs = tmp_path / "envs"
    envs.mkdir()
    monkeypatch.setenv("ML_AUTOGRADER_ENVS", str(envs))
    rubric = _toy_with_environment(tmp_path)
    with pytest.raises(EnvironmentNotBuilt, match=r"run `grader env build toy` once"):
        for_assignment(load_assignment(rubric))
    result = CliRunner().invoke(
        main,
        ["grade", str(TOY / "toy_template.ipynb"), "--assignment", str(rubric), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2, result.output
    assert "the grading environment of toy is not built on this machine" in result.output
    assert "run `grader env build toy` once" in result.output
    record = run_notebook(
        TOY / "toy_template.ipynb", load_assignment(rubric), TOY / "data", tmp_path / "run", run_id="t"
    )
    assert record["status"] == "sandbox_error" and "grader env build toy" in record["message"]
    assert list(envs.iterdir()) == []  # nothing was built or installed


def test_the_environment_is_in_the_content_hash_and_in_staleness(tmp_path: Path) -> None:
    from grader.context import resolve_context
    from grader.environment import environment_hash
    from grader.expected import check_current
    from grader.keys import ExecutionBasis

    toy = load_assignment(TOY / "toy.yaml")
    context = resolve_context(toy)
    assert context.environment is None and context.environment_sha256 is None
    notebook = TOY / "toy_template.ipynb"
    assert context.basis is not None and context.basis.environment is None
    hashes = {  # the environment's spec hash is part of the execution key (grader.keys)
        dataclasses.replace(context, basis=dataclasses.replace(context.basis, environment=sha)).content_hash(
            notebook
        )
        for sha in (None, "a" * 64, "b" * 64)
    }
    assert len(hashes) == 3
    declared = load_assignment(_toy_with_environment(tmp_path))
    declared_basis = ExecutionBasis.of(declared, context.data_dir)
    assert declared_basis.environment == environment_hash(declared) and declared_basis.environment is not None

    spec = assignment_spec(declared)
    assert spec is not None
    expected = json.loads((TOY / "expected.json").read_text(encoding="utf-8"))
    reasons = check_current(declared, expected, TOY / "data")
    assert (
        f"the rubric declares kernel environment {spec.key}; expected.json was calibrated without it"
        in " ".join(reasons)
    )
    expected["provenance"]["environment"] = {"sha256": "0" * 64, "key": "py3.11-0000000000000000"}
    reasons = check_current(declared, expected, TOY / "data")
    assert any(
        r.startswith("the kernel environment changed since calibration") and r.endswith(f"{spec.key} now")
        for r in reasons
    ), reasons
    expected["provenance"]["environment"] = {"sha256": spec.sha256, "key": spec.key}
    assert not [r for r in check_current(declared, expected, TOY / "data") if "environment" in r]


def test_hw2s_calibration_records_its_environment() -> None:
    hw2 = load_assignment("hw2")
    spec = assignment_spec(hw2)
    assert spec is not None and hw2.expected_path is not None
    provenance = json.loads(hw2.expected_path.read_text(encoding="utf-8"))["provenance"]["environment"]
    assert provenance["sha256"] == spec.sha256
    assert provenance["packages"]["torchvision"] == "0.29.1"


# ---- hw2's environment, built from the registry, in the sandbox --------------------------------

PROBE_CELLS = [
    "import seaborn, torch, torchvision\n"
    "assert seaborn.__version__ == '0.13.2', seaborn.__version__\n"
    "assert torchvision.__version__.startswith('0.29.1'), torchvision.__version__\n"
    "import seaborn as sns, pandas as pd\n"
    "sns.scatterplot(data=pd.DataFrame({'x': [1, 2], 'y': [2, 1]}), x='x', y='y')",
    "import torchvision.transforms as T\n"
    "image = T.ToTensor()(__import__('numpy').zeros((4, 4, 3), dtype='uint8'))\n"
    "assert tuple(image.shape) == (3, 4, 4)",
    "import importlib\n"
    "leaked = []\n"
    "for name in NAMES:\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "        leaked.append(name)\n"
    "    except ModuleNotFoundError:\n"
    "        pass\n"
    "assert leaked == [], leaked",
    "import os, sys\nassert not os.path.exists(VENV), 'the grader venv is visible'\nprint(sys.prefix)",
]


def _probe_notebook(path: Path) -> Path:
    cells = [c.replace("NAMES", repr(GRADER_PACKAGES)).replace("VENV", repr(sys.prefix)) for c in PROBE_CELLS]
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in cells]), str(path))
    return path


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.skipif("bwrap" not in available_backends(), reason="bubblewrap cannot run here")
def test_hw2s_environment_runs_seaborn_and_torchvision_without_the_graders_packages(
    tmp_path: Path, hw2_environment, hw2_data: Path
) -> None:
    from grader.engine import run_notebook

    # built at test time by `grader env build hw2` (the fixture), from the package index
    manifest = json.loads((hw2_environment.prefix / "environment.json").read_text(encoding="utf-8"))
    assert (
        manifest["steps"]["torch"]["installer"] == "pip"
    )  # the torch family: pip, with the machine's config
    assert manifest["steps"]["packages"]["installer"] == "uv"  # everything else: uv (a dependency)
    assert manifest["packages"]["seaborn"] == "0.13.2" and manifest["packages"]["torchvision"] == "0.29.1"
    assert not (set(manifest["packages"]) & {"ml-autograder", "nbclient", "jsonschema", "dask"})

    hw2 = load_assignment("hw2")
    notebook = _probe_notebook(tmp_path / "probe.ipynb")
    record = run_notebook(notebook, hw2, hw2_data, tmp_path / "out", run_id="probe", backend="bwrap")
    assert [c["status"] for c in record["cells"]] == ["ok"] * 4, [c.get("error") for c in record["cells"]]
    assert record["environment"]["key"] == hw2_environment.key
    executed = nbformat.read(tmp_path / "out" / "executed" / "probe.ipynb", as_version=4)
    assert executed.cells[3].outputs[0]["text"].strip() == "/opt/kernel-env"  # mounted, read-only

    # the process backend runs the same interpreter in place (it isolates nothing: the host's
    # files, the grader's venv among them, stay visible, so only the import checks apply)
    record = run_notebook(notebook, hw2, hw2_data, tmp_path / "out", run_id="process", backend="process")
    assert [c["status"] for c in record["cells"][:3]] == ["ok"] * 3, [c.get("error") for c in record["cells"]]

    # the same probe on the grader's own interpreter fails: the check can tell the difference
    record = run_notebook(
        notebook, hw2, hw2_data, tmp_path / "out", run_id="own", backend="bwrap", kernel=None
    )
    leak = record["cells"][2]
    assert leak["status"] == "error" and "'nbclient'" in leak["error"]["evalue"], leak


@pytest.mark.slow
def test_env_show_lists_the_packages(hw2_environment) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grader", "env", "show", "hw2"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "  seaborn==0.13.2" in done.stdout and "  torchvision==0.29.1" in done.stdout
    assert f"installed in {hw2_environment.prefix}" in done.stdout


def test_the_docker_backend_mounts_the_environment(tmp_path: Path) -> None:
    from grader.sandbox import SANDBOX_ENV, KernelInterpreter, SandboxConfig
    from grader.sandbox.docker import DockerSandbox

    (tmp_path / "w").mkdir()
    (tmp_path / "i").mkdir()
    kernel = KernelInterpreter(prefix=tmp_path / "env", base_prefix=Path("/opt/python3.11"))
    config = SandboxConfig(workdir=tmp_path / "w", ipc_dir=tmp_path / "i", data_dir=None, kernel=kernel)
    sandbox = DockerSandbox(config)
    argv = sandbox.wrap([sandbox.kernel_python(), "-m", "ipykernel_launcher"])
    line = " ".join(argv)
    assert (
        f"-v {tmp_path / 'env'}:{SANDBOX_ENV}:ro" in line and "-v /opt/python3.11:/opt/python3.11:ro" in line
    )
    assert argv[argv.index(sandbox.image) + 1] == f"{SANDBOX_ENV}/bin/python"
    assert sandbox.environment()["PATH"].startswith(f"{SANDBOX_ENV}/bin:")


# ---- what other parts of the grader use: the spec hash and a worker's own build --------------


def test_environment_hash_needs_no_build_and_follows_the_declaration(tmp_path: Path, monkeypatch) -> None:
    from grader.environment import environment_hash

    monkeypatch.setenv("ML_AUTOGRADER_ENVS", str(tmp_path / "nothing-built-here"))
    assert environment_hash(load_assignment(TOY / "toy.yaml")) is None
    declared = load_assignment(_toy_with_environment(tmp_path))
    spec = assignment_spec(declared)
    assert spec is not None and environment_hash(declared) == spec.sha256
    rubric = tmp_path / "toy" / "toy.yaml"
    rubric.write_text(rubric.read_text().replace("[scikit-learn, pandas]", "[scikit-learn, pandas, seaborn]"))
    changed = environment_hash(load_assignment(rubric))
    assert changed is not None and changed != spec.sha256


@pytest.mark.slow
def test_a_worker_uses_its_own_build_of_the_same_environment(
    tmp_path: Path, monkeypatch, hw2_environment
) -> None:
    """provision.provide_environment (the remote workers' hook): the coordinator's context names
    its environment by key and hash; a worker finds its own build under its cache, or is refused
    with the command to run."""
    from grader.context import resolve_context
    from grader.remote.provision import WorkerSetupError, provide_environment

    context = resolve_context(load_assignment("hw2"))
    assert context.environment is not None and context.environment.sha256 == context.environment_sha256
    worker_envs = tmp_path / "worker-envs"
    worker_envs.mkdir()
    monkeypatch.setenv("ML_AUTOGRADER_ENVS", str(worker_envs))
    with pytest.raises(WorkerSetupError, match=r"not built on this worker: run `grader env build hw2` there"):
        provide_environment(context)
    shipped = worker_envs / hw2_environment.key
    shipped.symlink_to(hw2_environment.prefix)  # the built folder, shipped to the worker's cache
    local = provide_environment(context)
    assert local.environment is not None and local.environment.prefix == shipped
    assert local.environment.python == shipped / "bin" / "python"
    assert local.content_hash(REPO / "student_template" / "hw2" / "hw2.ipynb") == context.content_hash(
        REPO / "student_template" / "hw2" / "hw2.ipynb"
    )
    other = dataclasses.replace(context.environment, sha256="0" * 64)  # same folder name, other build
    with pytest.raises(WorkerSetupError):
        provide_environment(dataclasses.replace(context, environment=other))
