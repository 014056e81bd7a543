"""All engine glue: stages run as sharded datatrove pipelines (DESIGN §4).

A stage supplies a plain function `shard_fn(rank, world_size, ctx)` that does the work for one
shard and writes its own outputs (temp name, then rename). This module wraps it in a datatrove
PipelineStep and runs it on `LocalPipelineExecutor`, which gives us worker processes and
completion markers (`RUN/logs/<stage>/completions/`): rerunning the same command skips finished
shards. While it runs we poll per-shard progress files to drive one progress bar, and keep
datatrove's own log lines in `RUN/logs/<stage>/` instead of the user's terminal.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from datatrove.pipeline.base import PipelineStep


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
    """Run `shard_fn` over `tasks` shards with `workers` processes; skips completed shards."""
    from datatrove.executor import LocalPipelineExecutor

    run_dir = str(Path(run_dir).resolve())
    log_dir = Path(run_dir) / "logs" / stage
    log_dir.mkdir(parents=True, exist_ok=True)
    executor = LocalPipelineExecutor(
        pipeline=[_ShardStep(shard_fn, run_dir, stage)],
        tasks=tasks,
        workers=min(workers, tasks),
        logging_dir=str(log_dir),
        start_method="fork" if workers > 1 else "forkserver",
    )
    error: list[BaseException] = []

    def target() -> None:
        try:
            executor.run()
        except BaseException as exc:  # re-raised in the caller's thread, with context
            error.append(exc)

    with _stderr_to(log_dir / "engine.log"):
        th = threading.Thread(target=target, daemon=True)
        th.start()
        while th.is_alive():
            th.join(0.25)
            if on_progress is not None:
                on_progress(progress_done(run_dir, stage))
        if on_progress is not None:
            on_progress(progress_done(run_dir, stage))
    if error:
        tail = _tail(log_dir / "engine.log")
        raise RuntimeError(f"the {stage} stage failed: {error[0]!r}\n--- last lines of {log_dir / 'engine.log'}:\n{tail}") from error[0]


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

