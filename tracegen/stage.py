"""The trace stage: problems in, `RUN/traces/*.parquet` and `RUN/stats/trace.json` out.

Reads top to bottom: validate the config, load the problems once (so bad input fails before any
work), run the shards on the engine, merge the shard stats, write them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq
import yaml

from . import TRACER_VERSION, layout
from .engine import ShardContext, counter_dict, merged_shard_stats, run_shards
from .errors import PipelineError, UserError
from .loaders import LoadReport, load_many
from .records import TRACE_PARQUET_OPTIONS, TRACE_SCHEMA, Limits, Problem, traces_to_table
from .reuse import ReuseError, TraceReuse, reuse_files, trace_key
from .runner import trace_id, trace_one
from .sandbox import Sandbox, resolve_mode

FLUSH_ROWS = 128


class ConfigError(UserError):
    """A setting is wrong; the message says which and what to change."""


@dataclass
class TraceConfig:
    inputs: list[str]
    out: str
    format: str = "auto"
    workers: int = 1
    shards: int = 8
    sandbox: str = "auto"
    max_problems: int | None = None
    limits: Limits = field(default_factory=Limits)
    reuse: str | None = None  # an earlier run or dataset folder: its traces are taken, not recomputed
    # canonical field -> column of an unknown set (loaders/columns.py), or the CLI's "f=col,..." text
    columns: dict[str, str] | str | None = None

    def validate(self) -> None:
        if not self.inputs:
            raise ConfigError("no problem files given: pass one or more paths (JSONL, JSON, parquet)")
        for p in self.inputs:
            if not Path(p).exists():
                raise ConfigError(f"problem file not found: {p}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise ConfigError(f"--out {self.out} is a file, not a run folder: pass a new or existing folder")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1 (got {self.workers})")
        if self.shards < 1:
            raise ConfigError(f"shards must be >= 1 (got {self.shards})")
        lim = self.limits
        if lim.timeout_s <= 0 or lim.memory_mb < 64:
            raise ConfigError("timeout must be > 0 s and memory at least 64 MB")
        if lim.max_events < 1 or lim.max_bytes < 1000:
            raise ConfigError("max_events must be >= 1 and max_bytes >= 1000")
        if self.reuse:
            try:
                reuse_files(self.reuse, layout.TRACES)
            except ReuseError as exc:
                raise ConfigError(str(exc)) from None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["inputs"] = [str(Path(p).resolve()) for p in self.inputs]
        d["out"] = str(Path(self.out).resolve())
        d["reuse"] = str(Path(self.reuse).resolve()) if self.reuse else None
        return d


def load_config_problems(cfg: TraceConfig, report: LoadReport | None = None) -> list[Problem]:
    problems = load_many(cfg.inputs, cfg.format, cfg.columns, report)
    return problems[: cfg.max_problems] if cfg.max_problems else problems


def run_trace_stage(cfg: TraceConfig, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Trace every (solution, test) pair; returns the stats also written to RUN/stats/trace.json."""
    cfg.validate()
    sandbox_mode = resolve_mode(cfg.sandbox)  # fails early if bwrap was asked for and is missing
    load_report = LoadReport()  # rows of lenient sets that were skipped, solutions dropped: counted
    problems = load_config_problems(cfg, load_report)
    total = sum(len(p.solutions) * len(p.tests) for p in problems)
    without = _problems_without_pairs(problems)
    if total == 0:
        what = f" ({', '.join(f'{n} with {k.replace(chr(95), chr(32))}' for k, n in without.items())})" if without else ""
        raise ConfigError(f"the inputs hold no (solution, test) pair to trace: {len(problems)} problems{what} in "
                          f"{', '.join(map(str, cfg.inputs))}; check the files and --format")
    run = Path(cfg.out)
    with layout.disk_errors("trace", run), layout.hold_run(run):
        return _run(cfg, run, sandbox_mode, problems, total, without, load_report, on_progress)


def _run(cfg: TraceConfig, run: Path, sandbox_mode: str, problems: list[Problem], total: int,
         without: dict[str, int], load_report: LoadReport, on_progress) -> dict[str, Any]:
    _check_same_settings(run, cfg)
    for sub in (layout.TRACES, layout.STATS, layout.LOGS):
        (run / sub).mkdir(parents=True, exist_ok=True)
    layout.stage_started(run, "trace")
    shards = min(cfg.shards, max(1, len(problems)))
    _redo_shards_with_internal_errors(run, shards)
    reuse = TraceReuse(cfg.reuse) if cfg.reuse else None  # indexed once, shared by every shard
    t0 = time.monotonic()
    run_shards(
        "trace", run, functools.partial(_trace_shard, cfg, sandbox_mode, reuse), tasks=shards,
        workers=cfg.workers, on_progress=(lambda done: on_progress(done, total)) if on_progress else None,
    )
    stats = merged_shard_stats(run, "trace")
    stats.update(
        stage="trace", tracer_version=TRACER_VERSION, sandbox=sandbox_mode, shards=shards,
        problems=len(problems), pairs=total, load=load_report.to_dict(), wall_s_this_call=round(time.monotonic() - t0, 3),
    )
    for k in ("rows", "computed", "reused"):
        stats.setdefault(k, 0)
    if without:
        stats["problems_without_pairs"] = without
        stats.setdefault("warnings", []).append(
            f"{sum(without.values())} problems have nothing to trace and were left out: " +
            ", ".join(f"{n} with {k.replace('_', ' ')}" for k, n in without.items()))
    internal = stats.get("by_status", {}).get("internal_error", 0)
    failure = ""
    if internal:
        stats.setdefault("warnings", []).append(
            f"{internal} traces failed inside our sandbox (internal_error, e.g. {stats.get('internal_example', '?')}); "
            f"a rerun of the same command traces them again")
        if 2 * internal > stats["rows"]:
            failure = (f"{internal} of {stats['rows']} traces failed inside our sandbox, not in the programs "
                       f"(internal_error, e.g. {stats.get('internal_example', '?')}): fix the sandbox settings "
                       f"(limits, --sandbox) and rerun the same command; those rows are traced again")
    layout.stage_finished(run, "trace", stats, incomplete=failure)
    if failure:
        raise PipelineError(failure)
    return stats


def _problems_without_pairs(problems: list[Problem]) -> dict[str, int]:
    """Problems that give no (solution, test) pair, by why: counted, never dropped silently."""
    out: Counter = Counter()
    for p in problems:
        if not p.solutions:
            out["no_solutions"] += 1
        elif not p.tests:
            out["no_tests"] += 1
    return counter_dict(out)


def _redo_shards_with_internal_errors(run: Path, shards: int) -> None:
    """A shard with `internal_error` rows (a failure of ours) is not done: drop its completion
    mark so this call traces it again, whatever the engine's markers say."""
    log = run / layout.LOGS / "trace"
    for p in sorted((log / "shard_stats").glob("*.json")):
        try:
            st = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if st.get("by_status", {}).get("internal_error"):
            (log / "completions" / p.stem).unlink(missing_ok=True)


def _check_same_settings(run: Path, cfg: TraceConfig) -> None:
    """Resuming with other settings would mix rows of two configs in one run: refuse."""
    recipe = run / layout.RECIPE
    # reuse only saves work (a reused row is the row it would compute), so it may change on resume
    mine = {k: v for k, v in cfg.to_dict().items() if k not in ("workers", "out", "reuse")}
    whole = (yaml.safe_load(recipe.read_text()) or {}) if recipe.exists() else {}
    older = {k: v for k, v in (whole.get("trace") or {}).items() if k != "reuse"}  # a run from before settings.json
    try:
        layout.check_settings(run, "trace", mine, f"use a new --out folder, or delete {run} to start over", older)
    except UserError as exc:
        raise ConfigError(str(exc)) from None
    whole["trace"] = dict(mine, reuse=cfg.to_dict()["reuse"])  # for people; other stages keep their sections
    layout.write_atomic(recipe, yaml.safe_dump(whole, sort_keys=True))


def _trace_shard(cfg: TraceConfig, sandbox_mode: str, reuse: TraceReuse | None, rank: int, world: int,
                 ctx: ShardContext) -> None:
    problems = load_config_problems(cfg)
    mine = [p for i, p in enumerate(problems) if i % world == rank]
    out = Path(cfg.out) / layout.TRACES / f"traces-{rank:05d}-of-{world:05d}.parquet"
    tmp = out.with_name(f".{out.name}.tmp")
    by_status: Counter = Counter()
    by_source: Counter = Counter()
    by_source_status: dict[str, Counter] = {}
    reused = _reused_traces(cfg, mine, reuse)
    computed = 0
    internal_example = ""
    events = 0
    wall_ms = 0.0
    done = 0
    buf = []
    t0 = time.monotonic()
    last_report = 0.0
    writer = pq.ParquetWriter(tmp, TRACE_SCHEMA, **TRACE_PARQUET_OPTIONS)
    try:
        with Sandbox(sandbox_mode) as sandbox:
            for problem in mine:
                for solution in problem.solutions:
                    for test in problem.tests:
                        # (the key is a content hash: only worth making when there is something to reuse)
                        tr = reused.pop(_key(problem, solution, test, cfg.limits), None) if reused else None
                        if tr is None:
                            tr = trace_one(problem, solution, test, cfg.limits, sandbox)
                            computed += 1
                        else:
                            tr.source, tr.license = problem.source, problem.license
                        buf.append(tr)
                        by_status[tr.status] += 1
                        if tr.status == "internal_error" and not internal_example:
                            internal_example = (tr.reason or "?")[:200]
                        by_source[problem.source] += 1
                        by_source_status.setdefault(problem.source, Counter())[tr.status] += 1
                        events += tr.n_events
                        wall_ms += tr.wall_ms
                        done += 1
                        if len(buf) >= FLUSH_ROWS:
                            writer.write_table(traces_to_table(buf))
                            buf = []
                        if time.monotonic() - last_report > 0.3:
                            ctx.report_progress(done)
                            last_report = time.monotonic()
            if buf:
                writer.write_table(traces_to_table(buf))
        writer.close()
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, out)
    ctx.report_progress(done)
    ctx.write_stats({
        "rows": done,
        "computed": computed,
        "reused": done - computed,
        "by_status": counter_dict(by_status),
        "by_source": counter_dict(by_source),
        "by_source_status": {k: counter_dict(v) for k, v in by_source_status.items()},
        "events": events,
        "sandbox_wall_ms": round(wall_ms, 3),
        "shard_seconds": round(time.monotonic() - t0, 3),
        **({"internal_example": internal_example} if internal_example else {}),
    })


def _key(problem: Problem, solution, test, limits: Limits) -> tuple:
    tid = trace_id(solution.code, test.input, problem.kind, problem.entry_point, test.check, limits)
    return trace_key(tid, problem.problem_id, solution.solution_id, test.test_id, test.output)


def _reused_traces(cfg: TraceConfig, problems: list[Problem], reuse: TraceReuse | None) -> dict[tuple, object]:
    """The earlier traces of this shard's pairs, by key (empty without --reuse)."""
    if reuse is None:
        return {}
    return reuse.take([_key(p, s, t, cfg.limits) for p in problems for s in p.solutions for t in p.tests])
