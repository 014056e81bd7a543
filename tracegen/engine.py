"""All engine glue: stages run as sharded datatrove pipelines (DESIGN §4).

A stage supplies a plain function `shard_fn(rank, world_size, ctx)` that does the work for one
shard and writes its own outputs (temp name, then rename). This module wraps it in a datatrove
PipelineStep and runs it on the executor the recipe's `engine:` section names: `local`
(`LocalPipelineExecutor`, worker processes on this machine, the default), `ray`
(`RayPipelineExecutor` on an existing cluster, or a local one) or `slurm` (`SlurmPipelineExecutor`:
one sbatch array job per stage). Every executor leaves completion markers in
`RUN/logs/<stage>/completions/`, so rerunning the same command skips finished shards, and a shard
writes the same bytes wherever it runs, so every engine publishes the same dataset files.

The process that runs `selfexec run` is the driver on every engine: between stages it does the
small whole-run steps (planning shards, dedup, publish), and it waits for a stage's shards to
finish before the next stage starts (on Slurm by polling the completion markers). While a stage
runs we poll per-shard progress files to drive one progress bar, and keep datatrove's own log
lines in `RUN/logs/<stage>/` instead of the user's terminal.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from datatrove.pipeline.base import PipelineStep

from .errors import PipelineError, UserError

ENGINES = ("local", "ray", "slurm")
STAGES = ("trace", "narrate", "curate")


@dataclass
class StageResources:
    """What one task (shard) of a stage asks the cluster for (ray and slurm; local ignores it)."""

    cpus: int = 1
    mem_gb: int = 2  # per CPU, as datatrove counts it (whole GB: sbatch reads "--mem-per-cpu=2G")
    gpus: int = 0
    partition: str | None = None  # slurm: this stage's partition (default: engine.partition)
    time: str | None = None  # slurm: this stage's per-job limit, HH:MM:SS (default: engine.time)
    setup: str = ""  # slurm: shell lines run on the node before the shard, e.g. start a `vllm serve` there


@dataclass
class EngineConfig:
    """The recipe's `engine:` section: where the stages' shards run.

    The number of tasks is the data's (trace.shards; one narrate and curate task per trace shard), never
    the engine's, so the same recipe writes the same files everywhere; `workers` caps how many run at once.
    """

    name: str = "local"
    workers: int | None = None  # concurrent tasks per stage; None: each stage's own `workers`
    address: str | None = None  # ray: an existing cluster ("auto", "ray://head:10001"); None starts a local one
    partition: str = "cpu"  # slurm
    time: str = "24:00:00"  # slurm: per-job limit
    qos: str = ""  # slurm
    env_command: str | None = None  # slurm: run before each job; None activates this interpreter's venv
    sbatch_args: dict[str, Any] = field(default_factory=dict)  # slurm: extra #SBATCH lines, e.g. {account: X}
    poll_s: float = 30.0  # slurm: how often the driver looks for finished shards
    stages: dict[str, StageResources] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise UserError(f"engine.name {self.name!r} is not an engine: use one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise UserError(f"engine.workers must be 1 or more (got {self.workers})")
        resources = {}
        for stage, res in (self.stages or {}).items():
            if stage not in STAGES:
                raise UserError(f"engine.stages.{stage}: not a sharded stage; use {', '.join(STAGES)}")
            if isinstance(res, dict):
                known = set(StageResources.__dataclass_fields__)
                if set(res) - known:
                    raise UserError(f"engine.stages.{stage}: unknown keys {sorted(set(res) - known)}; "
                                    f"valid: {sorted(known)}")
                res = StageResources(**res)
            resources[stage] = res
        self.stages = resources

    def resources(self, stage: str) -> StageResources:
        return self.stages.get(stage) or StageResources()

    def check_here(self) -> None:
        """Fail before any work when this machine cannot drive the engine."""
        if self.name == "ray" and importlib.util.find_spec("ray") is None:
            raise UserError("engine.name ray needs the ray package: pip install 'selfexec[ray]'")
        if self.name == "slurm" and not shutil.which("sbatch"):
            raise UserError("engine.name slurm needs Slurm's sbatch on PATH: run `selfexec run` on a login node "
                            "of the cluster, or use engine.name local or ray")


_active = EngineConfig()


@contextlib.contextmanager
def using_engine(engine: EngineConfig) -> Iterator[EngineConfig]:
    """Run the stages called inside this block on `engine` (the stages themselves stay engine-free)."""
    global _active
    saved, _active = _active, engine
    try:
        yield engine
    finally:
        _active = saved


@dataclass
class ShardContext:
    """What a shard function gets besides its rank: where to report progress and stats."""

    run_dir: str
    stage: str
    rank: int

    @property
    def log_dir(self) -> Path:
        return Path(self.run_dir) / "logs" / self.stage

    def report_progress(self, done: int) -> None:
        p = self.log_dir / "progress" / f"{self.rank:05d}"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(str(done))
        os.replace(tmp, p)

    def write_stats(self, stats: dict[str, Any]) -> None:
        p = self.log_dir / "shard_stats" / f"{self.rank:05d}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats, sort_keys=True))
        os.replace(tmp, p)


class _ShardStep(PipelineStep):
    name = "selfexec shard"
    type = "selfexec"

    def __init__(self, shard_fn: Callable[[int, int, ShardContext], None], run_dir: str, stage: str):
        super().__init__()
        self.shard_fn = shard_fn
        self.run_dir = run_dir
        self.stage = stage

    def run(self, data, rank: int = 0, world_size: int = 1):
        self.shard_fn(rank, world_size, ShardContext(self.run_dir, self.stage, rank))
        return
        yield  # a generator step with no documents flowing on


def run_shards(
    stage: str,
    run_dir: str | Path,
    shard_fn: Callable[[int, int, ShardContext], None],
    tasks: int,
    workers: int,
    total: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Run `shard_fn` over `tasks` shards, at most `workers` at once, on the active engine; skips completed
    shards. Raises PipelineError (with the end of the engine log) when a shard fails."""
    engine = _active
    run_dir = str(Path(run_dir).resolve())
    log_dir = Path(run_dir) / "logs" / stage
    log_dir.mkdir(parents=True, exist_ok=True)
    error: list[BaseException] = []
    with _stderr_to(log_dir / "engine.log"):
        if engine.name == "ray":
            _start_ray(engine)  # in this (main) thread: ray.init installs signal handlers
        executor = make_executor(engine, stage, run_dir, shard_fn, tasks, workers)

        def target() -> None:
            try:
                executor.run()
                if engine.name == "slurm":
                    _wait_for_slurm(executor, engine.poll_s)
            except BaseException as exc:  # re-raised in the caller's thread, with context
                error.append(exc)

        th = threading.Thread(target=target, daemon=True)
        th.start()
        while th.is_alive():
            th.join(0.25)
            if on_progress is not None:
                on_progress(progress_done(run_dir, stage))
        if on_progress is not None:
            on_progress(progress_done(run_dir, stage))
    missing = [] if error else executor.get_incomplete_ranks()
    if error or missing:
        why = repr(error[0]) if error else f"{len(missing)} of {tasks} shards did not finish (e.g. shard {missing[0]})"
        tail = _tail(log_dir / "engine.log") + _tail_task_logs(log_dir)
        raise PipelineError(f"the {stage} stage failed on the {engine.name} engine: {why}\n"
                            f"--- last lines of the logs in {log_dir}:\n{tail}") from (error[0] if error else None)


def make_executor(engine: EngineConfig, stage: str, run_dir: str, shard_fn: Callable[[int, int, ShardContext], None],
                  tasks: int, workers: int):
    """The datatrove executor of one stage on `engine`; its logs and completion markers go to RUN/logs/<stage>/."""
    step = _ShardStep(shard_fn, run_dir, stage)
    log_dir = str(Path(run_dir) / "logs" / stage)
    workers = min(engine.workers or workers, tasks)
    res = engine.resources(stage)
    if engine.name == "local":
        from datatrove.executor import LocalPipelineExecutor

        return LocalPipelineExecutor(pipeline=[step], tasks=tasks, workers=workers, logging_dir=log_dir,
                                     start_method="fork" if workers > 1 else "forkserver")
    if engine.name == "ray":
        from datatrove.executor import RayPipelineExecutor

        return RayPipelineExecutor(pipeline=[step], tasks=tasks, workers=workers, logging_dir=log_dir,
                                   cpus_per_task=res.cpus, mem_per_cpu_gb=res.mem_gb, gpus_per_task=res.gpus)
    from datatrove.executor import SlurmPipelineExecutor

    return SlurmPipelineExecutor(
        pipeline=[step], tasks=tasks, workers=workers, logging_dir=log_dir, job_name=f"selfexec-{stage}",
        partition=res.partition or engine.partition, time=res.time or engine.time, qos=engine.qos,
        cpus_per_task=res.cpus, mem_per_cpu_gb=res.mem_gb, gpus_per_task=res.gpus,
        env_command="\n".join(filter(None, [engine.env_command if engine.env_command is not None
                                             else _venv_activation(), res.setup.strip()])),
        sbatch_args=dict(engine.sbatch_args), requeue=False, mail_type="NONE",
    )


def slurm_launch_script(executor) -> str:
    """The sbatch script `executor.run()` submits for the shards still to do (datatrove writes the same text
    to RUN/logs/<stage>/launch_script.slurm when it submits); for review before submitting, and for tests."""
    todo = executor.get_incomplete_ranks()
    pickled = executor.logging_dir.resolve_paths("executor.pik")
    return executor.get_launch_file_contents(executor.get_sbatch_args(max(1, len(todo))),
                                             f"srun  -l -n {executor.nodes_per_task} launch_pickled_pipeline {pickled}")


def _venv_activation() -> str:
    activate = Path(sys.prefix) / "bin" / "activate"
    return f"source {activate}" if activate.is_file() else ""


def _start_ray(engine: EngineConfig) -> None:
    engine.check_here()
    import ray

    if not ray.is_initialized():
        # workers import our packages from the same interpreter; their output stays in Ray's session logs
        ray.init(address=engine.address, log_to_driver=False, include_dashboard=False, configure_logging=False)


def _wait_for_slurm(executor, poll_s: float) -> None:
    """The driver waits for the array job's shards; a job that left the queue with shards undone failed."""
    job = executor.job_id
    while executor.get_incomplete_ranks():
        if job not in (None, -1) and shutil.which("squeue"):
            queued = subprocess.run(["squeue", "-h", "-j", str(job)], capture_output=True, text=True).stdout.strip()
            if not queued and executor.get_incomplete_ranks():
                return  # run_shards reports the missing shards with the logs
        time.sleep(poll_s)


def _tail_task_logs(log_dir: Path, n: int = 10) -> str:
    """The end of the first failed task's log (ray and slurm write one per task under logs/)."""
    for p in sorted((log_dir / "logs").glob("task_*.log")):
        text = _tail(p, n)
        if "Traceback" in text or "ERROR" in text:
            return f"\n--- {p.name}:\n{text}"
    return ""


def progress_done(run_dir: str | Path, stage: str) -> int:
    total = 0
    for p in (Path(run_dir) / "logs" / stage / "progress").glob("[0-9]*"):
        try:
            total += int(p.read_text() or 0)
        except (OSError, ValueError):
            pass
    return total


def merged_shard_stats(run_dir: str | Path, stage: str) -> dict[str, Any]:
    """Sum the per-shard stats: numbers add, dicts of numbers add key-wise."""
    out: dict[str, Any] = {}
    for p in sorted((Path(run_dir) / "logs" / stage / "shard_stats").glob("*.json")):
        _add_into(out, json.loads(p.read_text()))
    return out


def _add_into(acc: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict):
            _add_into(acc.setdefault(k, {}), v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            acc[k] = acc.get(k, 0) + v
        else:
            acc.setdefault(k, v)


def counter_dict(c: Counter) -> dict[str, int]:
    return {k: int(v) for k, v in sorted(c.items())}


class _stderr_to:
    """Point fd 2 at a log file (datatrove's loguru sinks and worker processes write there)."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        import sys

        sys.stderr.flush()
        self.saved = os.dup(2)
        self.f = open(self.path, "a")
        os.dup2(self.f.fileno(), 2)
        return self

    def __exit__(self, *exc):
        import sys

        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.f.close()


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""

