"""The narrate stage: RUN/traces/*.parquet in, RUN/narrations/*.parquet and RUN/stats/narrate.json out.

Reads top to bottom: validate the config, check the run's earlier narrate settings (resuming with
other settings would mix two narrators' rows), run one shard per traces file on the engine,
merge the shard stats, write them.

Which traces: status `ok` only. A trace stopped by `event_budget` / `byte_budget` has a true
output but its events end early, so any narration would have to skip or invent the untraced part
of the run; such traces (and failed runs) are counted under `skipped_by_trace_status` instead.

The `import` narrator (import_narrator.py) computes nothing: it reads narrations made elsewhere
from `--input FILE.jsonl`, checks the whole file and matches every line to a trace before
anything is written, then writes them as one shard per traces file. Its settings fingerprint
holds the file's sha256, so a rerun with the same file is a no-op and one with a changed file is
refused unless --overwrite.

Resume: a finished shard is skipped (the engine's completion markers). A shard in which requests
failed for transport reasons (endpoint down, 5xx / 429 / timeouts after retries) still writes its
rows, with those statuses, and then fails, so the stage ends with a clear error and a rerun
redoes that shard: answers already received come from the request cache, so only the failed
requests are sent again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pyarrow.parquet as pq
import yaml

from .. import layout
from ..engine import ShardContext, counter_dict, merged_shard_stats, run_shards
from ..errors import PipelineError, UserError
from ..records import trace_from_row, write_parquet_atomic
from ..reuse import NarrationReuse, ReuseError, reuse_files
from .import_narrator import ImportFileError, file_sha256, import_settings, import_shard, plan_import
from .narrators import FACTORIES, make_narrator
from .records import TRANSPORT_FAILURES, narrations_to_table

NARRATORS = (*FACTORIES, "import")  # import reads narrations made elsewhere (import_narrator.py)
STAGE = "narrate"


class ConfigError(UserError):
    """A setting is wrong; the message says which and what to change."""


class NarrateIncomplete(PipelineError):
    """Requests failed for transport or endpoint reasons (or most rows failed for one reason); the
    rows are written with those statuses and the message names the cause in one line."""

    def __init__(self, message: str, stats: dict[str, Any]):
        super().__init__(message)
        self.stats = stats


@dataclass
class NarrateConfig:
    run: str
    narrator: str = "template"
    model: str = ""  # openai: the served model name; transformers: a local model folder
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    tokenizer: str | None = None  # openai: a local tokenizer folder for exact prompt budgets
    max_prompt_tokens: int = 6000
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0  # sampling seed; the template narrator's phrasing seed
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 4
    batch_size: int = 8
    device: str = "auto"
    workers: int = 1
    max_traces: int | None = None  # only the first N ok traces (in file order)
    cache_dir: str | None = None  # default RUN/cache
    overwrite: bool = False  # drop this run's narrations (not the cache) and start over
    reuse: str | None = None  # an earlier run or dataset folder: its fitting narrations are taken as they are
    input: str | None = None  # import: a JSONL file of narrations made elsewhere (import_narrator.py)
    allow_partial: bool = False  # narrate the traces of a trace stage that stopped part-way

    def validate(self) -> None:
        if self.narrator not in NARRATORS:
            raise ConfigError(f"unknown narrator {self.narrator!r}: use one of {', '.join(NARRATORS)}")
        if not trace_files(self.run):
            raise ConfigError(f"no traces in {Path(self.run) / 'traces'}: run `selfexec trace ... --out {self.run}` first")
        if self.narrator == "import":
            if not self.input:
                raise ConfigError("--narrator import needs --input FILE.jsonl: the narrations to import, one JSON "
                                  "object per line with `text` and `trace_id` (or problem_id, solution_id, test_id)")
            if not Path(self.input).is_file():
                raise ConfigError(f"--input {self.input}: no such file; pass the JSONL file of narrations to import")
            if self.max_traces is not None:
                raise ConfigError("--max-traces does not apply to --narrator import (every line of --input is "
                                  "imported); drop it")
        elif self.input:
            raise ConfigError(f"--input is only read by --narrator import (got --narrator {self.narrator}); drop "
                              f"--input, or pass --narrator import to import narrations made elsewhere")
        if self.narrator == "openai":
            if not self.base_url or not self.model:
                raise ConfigError("the openai narrator needs --base-url (e.g. http://127.0.0.1:8000/v1) and --model")
            if self.tokenizer and not Path(self.tokenizer).is_dir():
                raise ConfigError(f"--tokenizer must be a local folder with the model's tokenizer: {self.tokenizer}")
        if self.narrator == "transformers" and not (Path(self.model) / "config.json").is_file():
            raise ConfigError(f"--model must be a local model folder (with config.json) for the transformers "
                              f"narrator: {self.model!r}")
        for name in ("max_prompt_tokens", "max_tokens", "concurrency", "batch_size", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.reuse:
            try:
                reuse_files(self.reuse, layout.NARRATIONS)
            except ReuseError as exc:
                raise ConfigError(str(exc)) from None
        if self.timeout_s <= 0 or self.max_retries < 0 or not 0 <= self.temperature <= 5 or not 0 < self.top_p <= 1:
            raise ConfigError("need timeout > 0, retries >= 0, 0 <= temperature <= 5 and 0 < top_p <= 1")

    def output_settings(self) -> dict[str, Any]:
        """The settings that change what the rows say; resuming with others is refused. The
        endpoint's address is not one of them: a server may come back on another port."""
        keep = ("narrator", "model", "max_prompt_tokens", "max_tokens", "temperature", "top_p",
                "seed", "max_traces")
        d = {k: getattr(self, k) for k in keep}
        if self.narrator == "template":
            d = {"narrator": "template", "seed": self.seed, "max_traces": self.max_traces}
        if self.narrator == "import":  # the file's content, not its name: a changed file is other rows
            d = import_settings(self.model, file_sha256(self.input))
        return d

    def cache_path(self) -> Path:
        return Path(self.cache_dir or Path(self.run) / "cache") / "requests.sqlite"


def trace_files(run: str | Path) -> list[Path]:
    return sorted((Path(run) / layout.TRACES).glob("traces-*.parquet"))


def run_narrate_stage(cfg: NarrateConfig, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Narrate every ok trace of the run; returns the stats also written to RUN/stats/narrate.json.
    Raises NarrateIncomplete (after writing rows and stats) when requests failed in transport."""
    cfg.validate()
    run = Path(cfg.run)
    with layout.hold_run(run):
        layout.require_complete(run, "trace", "narrate", f"selfexec trace ... --out {run}", cfg.allow_partial)
        with layout.disk_errors(STAGE, run):
            return _run(cfg, run, on_progress)


def _run(cfg: NarrateConfig, run: Path, on_progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    files = trace_files(run)
    plan = None
    if cfg.narrator == "import":  # the whole file is read and checked before anything is written
        try:
            plan = plan_import(cfg.input, files, run, cfg.model)
        except ImportFileError as exc:
            raise ConfigError(str(exc)) from None
    # an import's settings hold the sha of the bytes it read (the file may be growing meanwhile)
    _check_same_settings(run, cfg, import_settings(cfg.model, plan.sha256) if plan is not None else None)
    for sub in (layout.NARRATIONS, layout.STATS, layout.LOGS):
        (run / sub).mkdir(parents=True, exist_ok=True)
    layout.stage_started(run, STAGE)
    reuse = None
    if plan is not None:
        total, workers = plan.rows, 1  # nothing to compute: writing the rows is quick
        shard_fn = functools.partial(import_shard, str(run), [str(f) for f in files], plan.shards, plan.trace_not_ok)
    else:
        limits = _per_file_limits([_ok_count(f) for f in files], cfg.max_traces)
        total, workers = sum(limits), cfg.workers
        reuse = NarrationReuse(cfg.reuse, cfg.output_settings()) if cfg.reuse else None  # indexed once
        shard_fn = functools.partial(_narrate_shard, cfg, [str(f) for f in files], limits, reuse)
    t0 = time.time()
    error: RuntimeError | None = None
    try:
        run_shards(STAGE, run, shard_fn, tasks=len(files), workers=workers,
                   on_progress=(lambda done: on_progress(done, total)) if on_progress else None)
    except RuntimeError as exc:
        error = exc
    stats = merged_shard_stats(run, STAGE)
    this_call = _stats_since(run, t0)
    stats.update(stage=STAGE, narrator=cfg.narrator, model=cfg.model, shards=len(files), traces_to_narrate=total,
                 wall_s_this_call=round(time.time() - t0, 3), shards_run_this_call=this_call.pop("_shards", 0),
                 this_call=this_call)
    if reuse is not None and not reuse.usable:
        stats["reuse_refused"] = [reuse.why_not]
    if plan is not None:
        stats.update(plan.stats())
        if cfg.reuse:
            stats["reuse_refused"] = ["imported narrations all come from --input; --reuse does not apply"]
    if cfg.narrator == "openai" and not cfg.tokenizer:
        stats["warnings"] = ["no --tokenizer: prompt budgets were estimated from characters"]
    for k in ("rows", "computed", "reused"):
        stats.setdefault(k, 0)
    if error is not None and not _has_transport_failures(stats):  # a failure of ours, not the endpoint's
        layout.stage_finished(run, STAGE, stats, incomplete=f"a shard failed: {str(error).splitlines()[0]}")
        raise error
    failure = _failure(cfg, stats)
    layout.stage_finished(run, STAGE, stats, incomplete=failure)
    if failure:
        raise NarrateIncomplete(failure, stats) from None
    return stats


def _has_transport_failures(stats: dict[str, Any]) -> bool:
    return any(k in TRANSPORT_FAILURES for k in stats.get("by_status", {}))


_FIXES = {
    "auth_error": "the endpoint refused the API key: set {key} (or --api-key-env) and rerun the same command",
    "not_found": "the endpoint answered 404: check --base-url (it usually ends in /v1) and --model, then rerun "
                 "the same command",
    "bad_response": "the endpoint at {url} answered with something that is not a chat completion: point --base-url "
                    "at an OpenAI-compatible server (it usually ends in /v1) and rerun the same command",
    "connection_error": "cannot reach the endpoint at {url}: start the server (or fix --base-url) and rerun the "
                        "same command",
    "timeout": "requests to {url} timed out: raise --timeout or lower --concurrency, then rerun the same command",
    "server_error": "the endpoint kept failing (5xx): check the server's log, then rerun the same command",
    "rate_limited": "the endpoint kept rate-limiting (429): lower --concurrency, then rerun the same command",
    "aborted": "the endpoint failed many requests in a row, so the rest were not sent: rerun the same command",
    "request_error": "the endpoint rejected the requests: fix the setting it names, then rerun with --overwrite",
    "generation_error": "the local model failed while generating: fix it, then rerun with --overwrite",
}


def _failure(cfg: NarrateConfig, stats: dict[str, Any]) -> str:
    """One line when rows failed for the endpoint's sake (a rerun retries those) or when most rows
    failed for one reason of ours; "" when the stage is done."""
    by_status = stats.get("by_status", {})
    rows = sum(by_status.values())
    retried = {k: v for k, v in by_status.items() if k in TRANSPORT_FAILURES}
    final = {k: v for k, v in by_status.items() if k in ("request_error", "generation_error") and 2 * v > rows}
    if not retried and not final:
        return ""
    status = max(retried or final, key=lambda k: (retried or final)[k])
    example = (stats.get("failure_examples") or {}).get(status, "")
    fix = _FIXES.get(status, "rerun the same command").format(key=cfg.api_key_env, url=cfg.base_url)
    failed = sum((retried or final).values())
    counts = ", ".join(f"{k} {v}" for k, v in sorted((retried or final).items()))
    then = "; the rerun retries them, answers already received are cached" if retried else ""
    example = " ".join(example.split())[:200]  # one line, whatever the endpoint said
    return f"{fix} ({failed} of {rows} narrations failed: {counts}{then})" + (f". The endpoint said: {example}" if example else "")


def _ok_count(path: Path) -> int:
    col = pq.read_table(path, columns=["status"]).column("status").to_pylist()
    return sum(1 for s in col if s == "ok")


def _per_file_limits(ok_counts: list[int], max_traces: int | None) -> list[int]:
    if max_traces is None:
        return ok_counts
    out, left = [], max_traces
    for n in ok_counts:
        out.append(min(n, left))
        left -= out[-1]
    return out


def _check_same_settings(run: Path, cfg: NarrateConfig, mine: dict[str, Any] | None = None) -> None:
    mine = mine or cfg.output_settings()
    settings_file = run / layout.LOGS / STAGE / "settings.json"
    if cfg.overwrite:
        shutil.rmtree(run / layout.NARRATIONS, ignore_errors=True)
        shutil.rmtree(run / layout.LOGS / STAGE, ignore_errors=True)
        layout.stats_path(run, STAGE).unlink(missing_ok=True)
    elif settings_file.exists():
        old = json.loads(settings_file.read_text())
        if old != mine and old.get("narrator") == mine["narrator"] == "import" \
                and old.get("input_sha256") != mine["input_sha256"]:
            raise ConfigError(
                f"{run} already holds narrations imported from a file with other content (sha256 "
                f"{str(old.get('input_sha256'))[:12]}…, now {mine['input_sha256'][:12]}…); pass --overwrite to "
                f"replace them with the rows of {cfg.input}, or use another run folder")
    try:
        layout.check_settings(run, STAGE, mine, "pass --overwrite to replace them (the request cache is kept), "
                                               "or use another run folder")
    except UserError as exc:
        raise ConfigError(str(exc)) from None
    # the recipe records it for people; settings.json above is what resuming checks
    recipe = run / layout.RECIPE
    doc = (yaml.safe_load(recipe.read_text()) or {}) if recipe.exists() else {}
    doc[STAGE] = {k: v for k, v in dataclasses.asdict(cfg).items()
                  if k not in ("run", "overwrite", "workers", "allow_partial")}
    doc[STAGE]["reuse"] = str(Path(cfg.reuse).resolve()) if cfg.reuse else None
    layout.write_atomic(recipe, yaml.safe_dump(doc, sort_keys=True))


def _stats_since(run: Path, t0: float) -> dict[str, Any]:
    """The shard stats written during this call: what this call itself did (zero on a full resume)."""
    out: dict[str, Any] = {"_shards": 0, "rows": 0, "requests": 0, "cache_hits": 0, "tokens_in": 0, "tokens_out": 0}
    for p in sorted((run / "logs" / STAGE / "shard_stats").glob("*.json")):
        if p.stat().st_mtime >= t0 - 0.001:
            s = json.loads(p.read_text())
            out["_shards"] += 1
            for k in ("rows", "requests", "cache_hits", "tokens_in", "tokens_out"):
                out[k] = out.get(k, 0) + s.get(k, 0)
    return out


def _narrate_shard(cfg: NarrateConfig, files: list[str], limits: list[int], reuse: NarrationReuse | None,
                   rank: int, world: int,
                   ctx: ShardContext) -> None:
    t0 = time.monotonic()
    src = Path(files[rank])
    rows = pq.read_table(src).to_pylist()
    skipped = Counter(r["status"] for r in rows if r["status"] != "ok")
    traces = [trace_from_row(r) for r in rows if r["status"] == "ok"][: limits[rank]]
    del rows
    # no model is loaded for a shard with nothing to narrate
    narrator = make_narrator(cfg) if traces else None
    done = [0]
    last = [0.0]

    def on_done(n: int) -> None:
        done[0] += n
        if time.monotonic() - last[0] > 0.3:
            ctx.report_progress(done[0])
            last[0] = time.monotonic()

    reused = reuse.take(traces, narrator) if reuse is not None and reuse.usable and narrator is not None else {}
    if reused:
        on_done(len(reused))
    todo = [t for i, t in enumerate(traces) if i not in reused]
    fresh = iter(narrator.narrate_batch(todo, on_done) if todo else [])
    out = [reused[i] if i in reused else next(fresh) for i in range(len(traces))]
    name = src.name.replace("traces-", "narrations-", 1)
    dest = Path(cfg.run) / layout.NARRATIONS / name
    write_parquet_atomic(narrations_to_table(out), dest)
    ctx.report_progress(len(out))
    cache = getattr(narrator, "cache", None)
    by_status = Counter(r.status for r in out)
    extra = narrator.stats() if hasattr(narrator, "stats") else {}
    stats = {
        "rows": len(out),
        "computed": len(out) - len(reused),
        "reused": len(reused),
        "by_status": counter_dict(by_status),
        "skipped_by_trace_status": counter_dict(skipped),
        "tokens_in": sum(r.tokens_in for r in out),
        "tokens_out": sum(r.tokens_out for r in out),
        "cached_rows": sum(1 for r in out if r.cached),
        "cache_hits": cache.hits if cache is not None else 0,
        "requests": int(extra.get("requests", extra.get("generated", 0))),
        "retries": int(extra.get("retries", 0)),
        "folded": sum(1 for r in out if r.folded),
        "latency_ms": round(sum(r.latency_ms for r in out if not r.cached), 3),
        "failure_examples": {st: next(r.reason for r in out if r.status == st) for st in sorted(by_status)
                             if st in (*TRANSPORT_FAILURES, "request_error", "generation_error")},
        "shard_seconds": round(time.monotonic() - t0, 3),
    }
    ctx.write_stats(stats)
    if cache is not None:
        cache.close()
    failed = {k: v for k, v in by_status.items() if k in TRANSPORT_FAILURES}
    if failed:  # the shard is not marked done, so a plain rerun narrates it again (answers come from the cache)
        raise RuntimeError(f"shard {rank} ({src.name}): requests failed {failed}; rows written to {dest}")

