"""The recipe's `engine:` section: the same recipe on the local executor, a local Ray cluster and Slurm."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import dill
import pytest

from selfexec.recipe import load_recipe, stage_configs
from tracegen.engine import (EngineConfig, ShardContext, make_executor, run_shards, slurm_launch_script,
                             using_engine)
from tracegen.errors import PipelineError, UserError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo.yaml"


def selfexec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=900)


def write_rank(out: str, rank: int, world_size: int, ctx: ShardContext) -> None:
    """A shard that leaves one file naming its rank (module level: a Slurm node unpickles it by name)."""
    Path(out, f"rank-{rank}").write_text(f"{rank}/{world_size}")


def fail_on_rank_one(rank: int, world_size: int, ctx: ShardContext) -> None:
    if rank == 1:
        raise ValueError("shard one broke")


def folder_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_ray_publishes_the_same_bytes_as_local(tmp_path):
    pytest.importorskip("ray")
    for engine in ("local", "ray"):
        res = selfexec("run", str(DEMO), "--set", f"run={tmp_path / engine}",
                       "--set", f"publish.out={tmp_path / (engine + '-ds')}", "--set", f"engine.name={engine}")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for stage in ("trace", "narrate", "curate"):  # each stage really ran on its engine
        ran = json.loads((tmp_path / "ray" / "logs" / stage / "executor.json").read_text())
        assert "log_first" in ran and "local_tasks" not in ran, stage  # RayPipelineExecutor's own settings
    local, ray = folder_bytes(tmp_path / "local-ds"), folder_bytes(tmp_path / "ray-ds")
    assert any(name.startswith("data/sft/") for name in local)
    assert local.keys() == ray.keys()
    assert [n for n in local if local[n] != ray[n]] == []


def test_slurm_job_scripts_name_each_stage_and_its_resources(tmp_path):
    recipe = tmp_path / "cluster.yaml"
    recipe.write_text(DEMO.read_text() + """
engine:
  name: slurm
  workers: 2
  partition: cpu
  time: "02:00:00"
  sbatch_args: {account: selfexec}
  env_command: source /opt/selfexec/bin/activate
  stages:
    trace: {cpus: 4, mem_gb: 1}
    narrate: {partition: gpu, gpus: 1, cpus: 8, time: "08:00:00", setup: "vllm serve my-model --port 8000 &"}
""")
    engine = stage_configs(load_recipe(recipe, [f"run={tmp_path / 'run'}"]))["engine"]
    run = str(tmp_path / "run")
    expected = {  # stage: lines its sbatch script must hold
        "trace": ["--array=0-3%2", "--cpus-per-task=4", "--mem-per-cpu=1G", "--partition=cpu", "--time=02:00:00"],
        "narrate": ["--array=0-3%2", "--cpus-per-task=8", "--mem-per-cpu=2G", "--partition=gpu", "--gpus=1",
                    "--time=08:00:00"],
        "curate": ["--array=0-3%2", "--cpus-per-task=1", "--partition=cpu", "--time=02:00:00"],
    }
    for stage, lines in expected.items():
        ex = make_executor(engine, stage, run, functools.partial(write_rank, str(tmp_path)), tasks=4, workers=8)
        script = slurm_launch_script(ex)
        sbatch = {line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH")}
        assert {f"{x}" for x in lines} <= sbatch, (stage, sorted(sbatch))
        assert f"--job-name=selfexec-{stage}" in sbatch and "--account=selfexec" in sbatch
        assert "--gpus=1" not in sbatch or stage == "narrate"
        # stages run in order: the driver waits for one stage's shards before it plans the next
        assert not any(line.startswith("--dependency") for line in sbatch)
        assert "source /opt/selfexec/bin/activate" in script
        assert ("vllm serve my-model --port 8000 &" in script) == (stage == "narrate")
        assert f"launch_pickled_pipeline {run}/logs/{stage}/executor.pik" in script


def test_the_pickled_slurm_job_carries_the_shard_work(tmp_path):
    """A compute node unpickles the executor the script names (datatrove pickles it with dill) and runs the
    ranks Slurm hands it; running a node needs Slurm's scontrol, so the step is run here as it would run."""
    out = tmp_path / "out"
    out.mkdir()
    ex = make_executor(EngineConfig(name="slurm"), "trace", str(tmp_path / "run"),
                       functools.partial(write_rank, str(out)), tasks=3, workers=3)
    on_node = dill.loads(dill.dumps(ex, fmode=dill.CONTENTS_FMODE))
    assert (on_node.world_size, on_node.cpus_per_task, on_node.job_name) == (3, 1, "selfexec-trace")
    for rank in range(3):
        list(on_node.pipeline[0].run(None, rank=rank, world_size=on_node.world_size))
    assert sorted(p.read_text() for p in out.iterdir()) == ["0/3", "1/3", "2/3"]


def test_a_failed_shard_is_one_pipeline_error_with_the_log(tmp_path):
    with using_engine(EngineConfig(name="local")), pytest.raises(PipelineError) as err:
        run_shards("trace", tmp_path, fail_on_rank_one, tasks=2, workers=1)
    assert "the trace stage failed on the local engine" in str(err.value)
    assert "shard one broke" in str(err.value)


def test_engine_settings_are_checked_with_the_fix_named(tmp_path):
    with pytest.raises(UserError, match="local, ray, slurm"):
        EngineConfig(name="spark")
    with pytest.raises(UserError, match="engine.stages.narrate: unknown keys"):
        EngineConfig(stages={"narrate": {"gpu": 1}})
    res = selfexec("run", str(DEMO), "--set", f"run={tmp_path / 'r'}", "--set", "engine.name=spark")
    assert res.returncode == 2 and "engine.name 'spark' is not an engine" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r").exists()


@pytest.mark.skipif(bool(__import__("shutil").which("sbatch")), reason="this machine has Slurm")
def test_slurm_without_sbatch_stops_before_any_work(tmp_path):
    res = selfexec("run", str(DEMO), "--set", f"run={tmp_path / 'r'}", "--set", "engine.name=slurm")
    assert res.returncode == 2, res.stdout + res.stderr
    assert "needs Slurm's sbatch on PATH" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
