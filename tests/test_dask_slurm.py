"""The SLURM job script `grader grade --slurm` would submit (no SLURM here: only the script)."""

from __future__ import annotations

import pytest

from grader.slurm import SlurmError, SlurmOptions, slurm_cluster, walltime_seconds


def job_script(options: SlurmOptions) -> str:
    cluster = slurm_cluster(options)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def test_gpu_job_script() -> None:
    script = job_script(
        SlurmOptions(partition="gpu", account="cs189", walltime="01:00:00", memory="16GB", gpus_per_job=1)
    )
    assert "#SBATCH -p gpu" in script
    assert "#SBATCH -A cs189" in script
    assert "#SBATCH -t 01:00:00" in script
    assert "#SBATCH --gres=gpu:1" in script
    assert "#SBATCH --mem=15G" in script  # dask-jobqueue writes memory in GiB
    assert "--nthreads 1" in script  # one notebook at a time per worker
    assert "--resources GPU=1" in script
    assert "--lifetime 3000s" in script  # 10 minutes before the walltime
    assert "export OMP_NUM_THREADS=1" in script
    assert 'export GRADER_GPU="${CUDA_VISIBLE_DEVICES%%,*}"' in script


def test_cpu_job_script_has_no_gpu_resource() -> None:
    script = job_script(SlurmOptions(walltime="00:20:00"))
    assert "--gres" not in script and "GPU=" not in script and "GRADER_GPU" not in script
    assert "--lifetime 600s" in script  # short walltimes keep half of it


def test_walltime_parsing() -> None:
    assert walltime_seconds("1-02:00:00") == 26 * 3600
    assert walltime_seconds("30:00") == 1800
    with pytest.raises(SlurmError, match="walltime"):
        slurm_cluster(SlurmOptions(walltime="two hours"))
