"""The curate stage: RUN/traces + RUN/narrations in; RUN/curated/ (kept rows), RUN/rejects/ (rows
with their reject_reason) and RUN/stats/curate.json (the funnel) out.

Reads top to bottom: validate the config, note what this run's inputs and settings are (a
change redoes the work, an identical rerun resumes), build the benchmark index once, verify
every narration on the engine (one shard per narrations file: verify, per-row filters,
contamination, dedup keys), deduplicate across shards in this process, write the two row sets,
count the funnel and check that it adds up: in = kept + sum of rejects, per source too.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from tracegen import layout
from tracegen.engine import ShardContext, merged_shard_stats, run_shards
from tracegen.errors import UserError
from tracegen.narrate.records import narration_from_row
from tracegen.records import trace_from_row, write_parquet_atomic

from .decontam import DEFAULT_NGRAM, DEFAULT_THRESHOLD, BenchmarkIndex, build_index
from .dedup import DEFAULT_NEAR_THRESHOLD, exact_duplicates, minhash_from_values, minhash_of, near_duplicate_programs
from .filters import Drop, contaminated, duplicate, near_duplicate, token_counter
from .normalize import code_key, dedup_key
from .records import CURATED_SCHEMA, REASONS, curated_row, rows_to_table
from .reuse import VerdictReuse, text_sha
from .stats import FUNNEL_COLUMNS, funnel_stats
from .verify import VERIFIER_VERSION, verify

STAGE = "curate"
INPUTS = "inputs.json"  # RUN/logs/curate/inputs.json: the settings and input files the verdicts were made from
_PRIVATE = pa.schema([("_sort", pa.list_(pa.string())), ("_dedup_key", pa.string()), ("_code_key", pa.string()),
                      ("_minhash", pa.list_(pa.uint64()))])
PART_SCHEMA = pa.schema(list(CURATED_SCHEMA) + list(_PRIVATE), metadata=CURATED_SCHEMA.metadata)


class ConfigError(UserError):
    """A setting is wrong; the message says which and what to change."""


@dataclass
class Benchmark:
    name: str
    path: str


def parse_benchmark(spec: str) -> Benchmark:
    """`NAME=PATH`, or a path whose file name gives the name (`HumanEval.jsonl.gz` -> humaneval).

    >>> parse_benchmark("data/HumanEval.jsonl.gz"), parse_benchmark("lcb=x.jsonl").name
    (Benchmark(name='humaneval', path='data/HumanEval.jsonl.gz'), 'lcb')
    """
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        return Benchmark(name.strip(), path.strip())
    return Benchmark(Path(spec).name.split(".")[0].lower(), spec)


@dataclass
class CurateConfig:
    run: str
    benchmarks: list[Benchmark] = field(default_factory=list)
    ngram: int = DEFAULT_NGRAM  # decontamination n-gram size, in normalised tokens
    contamination_threshold: float = DEFAULT_THRESHOLD
    exact_dedup: bool = True
    near_dup_threshold: float | None = DEFAULT_NEAR_THRESHOLD  # None or 0: no near-duplicate removal
    tokenizer: str = "smollm2"  # smollm2 | a local folder with tokenizer.json | chars
    min_tokens: int = 16
    max_tokens: int = 8192
    workers: int = 1
    reuse: str | None = None  # an earlier run folder: its verdicts on the same narrations are taken
    allow_partial: bool = False  # curate the narrations of a narrate stage that stopped part-way

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CurateConfig:
        """From a recipe's `curate:` section; unknown keys are an error that names them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(f"unknown curate settings {unknown}; valid: {sorted(names)}")
        d = dict(d)
        d["benchmarks"] = [b if isinstance(b, Benchmark) else Benchmark(**b) if isinstance(b, dict) else parse_benchmark(b)
                           for b in d.get("benchmarks") or []]
        return cls(**d)

    def validate(self) -> None:
        if not narration_files(self.run):
            raise ConfigError(f"no narrations in {Path(self.run) / 'narrations'}: run `selfexec narrate {self.run}` first")
        if not (Path(self.run) / layout.TRACES).is_dir():
            raise ConfigError(f"no traces in {Path(self.run) / 'traces'}: the run folder must hold traces/ and narrations/")
        names = [b.name for b in self.benchmarks]
        if len(set(names)) != len(names):
            raise ConfigError(f"benchmark names must be unique (got {names}); name them with NAME=PATH")
        for b in self.benchmarks:
            if not b.name or ":" in b.name:
                raise ConfigError(f"bad benchmark name {b.name!r}: use letters, digits, - or _")
            if not Path(b.path).is_file():
                raise ConfigError(f"benchmark file not found: {b.path} (benchmark {b.name!r})")
        if self.ngram < 1 or not 0 < self.contamination_threshold <= 1:
            raise ConfigError("need ngram >= 1 and 0 < contamination_threshold <= 1")
        if self.near_dup_threshold is not None and not 0 <= self.near_dup_threshold <= 1:
            raise ConfigError(f"near_dup_threshold must be in [0, 1] (0 turns it off); got {self.near_dup_threshold}")
        if self.min_tokens < 0 or self.max_tokens < max(1, self.min_tokens):
            raise ConfigError(f"need 0 <= min_tokens <= max_tokens (got {self.min_tokens}, {self.max_tokens})")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1 (got {self.workers})")
        if self.reuse and not Path(self.reuse).is_dir():
            raise ConfigError(f"--reuse {self.reuse}: no such folder; pass an earlier run folder")
        if self.tokenizer not in ("smollm2", "chars") and not Path(self.tokenizer).exists():
            raise ConfigError(f"--tokenizer must be smollm2, chars or a local folder with tokenizer.json: {self.tokenizer}")

    @property
    def near(self) -> float | None:
        return self.near_dup_threshold or None

    def settings(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("workers", "run", "reuse", "allow_partial"):  # none of them changes a verdict
            d.pop(k)
        d["benchmarks"] = [{"name": b.name, "path": str(Path(b.path).resolve())} for b in self.benchmarks]
        d["verifier_version"] = VERIFIER_VERSION
        return d


def narration_files(run: str | Path) -> list[Path]:
    return sorted((Path(run) / layout.NARRATIONS).glob("*.parquet"))


def run_curate_stage(cfg: CurateConfig, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Verify, filter, decontaminate and deduplicate every narration of the run; returns the
    stats also written to RUN/stats/curate.json."""
    cfg.validate()
    run = Path(cfg.run)
    with layout.hold_run(run), layout.disk_errors(STAGE, run):
        partial = layout.require_complete(run, "narrate", "curate", f"selfexec narrate {run}", cfg.allow_partial)
        stats = _run(cfg, run, on_progress)
        if partial:
            stats["partial"] = f"the narrate stage was incomplete: {partial}"
        layout.stage_finished(run, STAGE, stats)
    return stats


def _run(cfg: CurateConfig, run: Path, on_progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    t0 = time.monotonic()
    files = narration_files(run)
    log = run / "logs" / STAGE
    _fresh_if_changed(run, cfg, files)
    layout.stage_started(run, STAGE)
    for sub in (layout.CURATED, layout.REJECTS, layout.STATS):
        (run / sub).mkdir(parents=True, exist_ok=True)
    (log / "verified").mkdir(parents=True, exist_ok=True)
    token_counter(cfg.tokenizer)  # fails here, before any work, when the tokenizer is missing
    index_path = None
    if cfg.benchmarks:
        # named by what it indexes: the loaded index is cached per process under this name
        index_path = log / f"benchmarks-{_digest(_fingerprint(run, cfg, [])['benchmark_files'], cfg.settings())}.pkl"
        if not index_path.exists():
            build_index([(b.name, b.path) for b in cfg.benchmarks], cfg.ngram, cfg.contamination_threshold).save(index_path)
    total = sum(pq.read_metadata(f).num_rows for f in files)
    # the earlier run's verdicts are indexed once here and shared by every shard
    reuse = VerdictReuse(cfg.reuse, _fingerprint(run, cfg, [])) if cfg.reuse else None
    run_shards(STAGE, run, functools.partial(_verify_shard, cfg, [str(f) for f in files], index_path, reuse),
               tasks=len(files), workers=cfg.workers,
               on_progress=(lambda done: on_progress(done, total)) if on_progress else None)
    parts = [log / "verified" / f"part-{r:05d}.parquet" for r in range(len(files))]
    decisions = _dedup(parts, cfg)
    written = _write_outputs(run, parts, decisions)
    stats = funnel_stats(written, REASONS)
    shard = merged_shard_stats(run, STAGE)
    stats.update(
        stage=STAGE, verifier_version=VERIFIER_VERSION, narration_files=len(files),
        traces=_trace_counts(run, written), settings=cfg.settings(), wall_s_this_call=round(time.monotonic() - t0, 3),
        verify_seconds=shard.get("shard_seconds", 0),
    )
    stats["computed"], stats["reused"] = shard.get("computed", 0), shard.get("reused", 0)
    if reuse is not None and reuse.why_not:
        stats["reuse_refused"] = [reuse.why_not]
    if index_path is not None:
        stats["benchmarks_indexed"] = BenchmarkIndex.load(index_path).counts
    return stats


# -- settings and resume ----------------------------------------------------------------------------
def _fingerprint(run: Path, cfg: CurateConfig, files: list[Path]) -> dict[str, Any]:
    def stamp(p: Path) -> list:
        st = p.stat()
        return [p.name, st.st_size, st.st_mtime_ns]

    traces = sorted((run / "traces").glob("*.parquet"))
    bench = [stamp(Path(b.path)) for b in cfg.benchmarks]
    return {"settings": cfg.settings(), "narrations": [stamp(f) for f in files],
            "traces": [stamp(f) for f in traces], "benchmark_files": bench}


def _fresh_if_changed(run: Path, cfg: CurateConfig, files: list[Path]) -> None:
    """Curation is derived data: when the settings or the input files changed since the last
    call, the earlier shard results are dropped and everything is redone; otherwise finished
    shards are skipped."""
    mine = _fingerprint(run, cfg, files)
    if layout.fingerprint_changed(run, STAGE, mine, INPUTS) is not None:
        shutil.rmtree(run / layout.LOGS / STAGE, ignore_errors=True)  # derived work of other inputs: redo it
        layout.fingerprint_changed(run, STAGE, mine, INPUTS)
    recipe = run / layout.RECIPE
    doc = (yaml.safe_load(recipe.read_text()) or {}) if recipe.exists() else {}
    doc[STAGE] = cfg.settings()
    layout.write_atomic(recipe, yaml.safe_dump(doc, sort_keys=True))


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


# -- phase 1: one shard per narrations file ----------------------------------------------------------
def _verify_shard(cfg: CurateConfig, files: list[str], index_path: Path | None, reuse: VerdictReuse | None,
                  rank: int, world: int,
                  ctx: ShardContext) -> None:
    t0 = time.monotonic()
    src = Path(files[rank])
    narrations = [narration_from_row(r) for r in pq.read_table(src).to_pylist()]
    traces = _load_traces(Path(cfg.run), src, {(n.trace_id, n.problem_id, n.solution_id, n.test_id) for n in narrations})
    count = token_counter(cfg.tokenizer)
    index = _load_index(str(index_path)) if index_path else None
    hits: dict[str, Any] = {}
    sigs_done: set[str] = set()
    rows = []
    last = 0.0
    earlier = reuse.take(narrations) if reuse is not None else {}
    for i, n in enumerate(narrations):
        t = trace_for(traces, n)
        ck, dk, contaminated_by = "", "", ""
        reused = earlier.get(i) if t is not None else None
        if reused is None:
            earlier.pop(i, None)  # a narration without its trace is verified (and rejected) afresh
            v = verify(t, n, count, cfg.min_tokens, cfg.max_tokens)
        else:
            v, contaminated_by, _ = reused  # a contamination drop is already part of the verdict
        if t is not None:
            ck, dk = code_key(t.code), dedup_key(t.code, t.input)
            if index is not None and reused is None:
                if ck not in hits:
                    hits[ck] = index.check(t.code)
                drop = contaminated(hits[ck])
                if drop is not None:
                    contaminated_by = hits[ck].describe()
                    v.drop(*drop)
        sig = None
        if t is not None and v.kept and cfg.near and ck not in sigs_done:  # one per program per shard
            sig = (reused and reused[2]) or [int(x) for x in minhash_of(t.code).hashvalues]
            sigs_done.add(ck)
        row = curated_row(t, n, v, VERIFIER_VERSION).to_dict()
        row["contaminated_by"] = contaminated_by
        row.update(_sort=sort_key(row), _dedup_key=dk, _code_key=ck, _minhash=sig)
        rows.append(row)
        if time.monotonic() - last > 0.3:
            ctx.report_progress(i + 1)
            last = time.monotonic()
    out = Path(cfg.run) / "logs" / STAGE / "verified" / f"part-{rank:05d}.parquet"
    tmp = out.with_name(f".{out.name}.tmp")
    table = rows_to_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
    for col in _PRIVATE:
        table = table.append_column(col, pa.array([r[col.name] for r in rows], type=col.type))
    pq.write_table(table.replace_schema_metadata(CURATED_SCHEMA.metadata), tmp, compression="zstd")
    os.replace(tmp, out)
    ctx.report_progress(len(rows))
    stats = {"rows": len(rows), "computed": len(rows) - len(earlier), "reused": len(earlier),
             "shard_seconds": round(time.monotonic() - t0, 3)}
    ctx.write_stats(stats)


def sort_key(row: dict[str, Any]) -> list[str]:
    """Which of two duplicates is kept: the smaller of these, field by field. The text's sha comes
    last: several narrations of one trace row (imported candidates) differ only there, and the
    one kept must not depend on the order of the rows."""
    return [str(row.get(k) or "") for k in ("source", "problem_id", "solution_id", "test_id", "narrator", "model",
                                            "revision", "prompt_sha", "trace_id")] + [text_sha(row.get("text"))]


@functools.lru_cache(maxsize=2)
def _load_index(path: str) -> BenchmarkIndex:
    return BenchmarkIndex.load(Path(path))


def _load_traces(run: Path, narr_file: Path, wanted: set[tuple[str, str, str, str]]) -> dict[Any, Any]:
    """The traces a narrations file refers to, by trace_id and by (trace_id, problem_id,
    solution_id, test_id): two tests with the same input share a trace_id (a content hash) but
    are two runs, whose events may differ (set order under hash randomisation). Read from the
    traces file of the same name first (narrations-00003-of-00008 <- traces-00003-of-00008),
    then from the others if needed."""
    import pyarrow.compute as pc

    files = sorted((run / "traces").glob("*.parquet"))
    twin = run / "traces" / narr_file.name.replace("narrations-", "traces-", 1)
    order = ([twin] if twin in files else []) + [f for f in files if f != twin]
    out: dict[Any, Any] = {}
    for f in order:
        missing = {k[0] for k in wanted if k not in out}
        if not missing:
            break
        table = pq.read_table(f)
        mask = pc.is_in(table.column("trace_id"), value_set=pa.array(sorted(missing), type=pa.string()))
        for r in table.filter(mask).to_pylist():
            t = trace_from_row(r)
            out.setdefault(t.trace_id, t)
            out.setdefault((t.trace_id, t.problem_id, t.solution_id, t.test_id), t)
    return out


def trace_for(traces: dict[Any, Any], n: Any) -> Any:
    """The trace a narration was made from: the exact row when its ids say which, else any row
    with its trace_id (None when there is none)."""
    return traces.get((n.trace_id, n.problem_id, n.solution_id, n.test_id)) or traces.get(n.trace_id)


# -- phase 2: deduplication across shards --------------------------------------------------------------
def _dedup(parts: list[Path], cfg: CurateConfig) -> dict[tuple[int, int], tuple[Drop, str]]:
    """{(part, row): (Drop, trace_id of the row kept in its place)} for the rows dedup drops."""
    cols = ["kept", "trace_id", "problem_id", "solution_id", "_sort", "_dedup_key", "_code_key", "_minhash"]
    rows = []
    for p_i, p in enumerate(parts):
        t = pq.read_table(p, columns=cols).to_pylist()
        rows.extend(((p_i, r_i), r) for r_i, r in enumerate(t) if r["kept"] and r["_code_key"])
    out: dict[tuple[int, int], tuple[Drop, str]] = {}
    by_id = dict(rows)
    if cfg.exact_dedup:
        dup = exact_duplicates((tuple(r["_sort"]), r["_dedup_key"], rid) for rid, r in rows)
        for rid, keep in dup.items():
            out[rid] = (duplicate(by_id[keep]), by_id[keep]["trace_id"])
    if cfg.near:
        alive = [(rid, r) for rid, r in rows if rid not in out]
        best: dict[str, tuple[tuple, tuple[int, int]]] = {}
        values: dict[str, list[int]] = {}
        for rid, r in alive:
            ck = r["_code_key"]
            if ck not in best or tuple(r["_sort"]) < best[ck][0]:
                best[ck] = (tuple(r["_sort"]), rid)
        for _rid, r in rows:  # the row that carries a program's signature may be an exact duplicate
            if r["_minhash"] is not None and r["_code_key"] in best and r["_code_key"] not in values:
                values[r["_code_key"]] = r["_minhash"]
        sigs = {ck: minhash_from_values(v) for ck, v in values.items()}
        near = near_duplicate_programs(sigs, {ck: best[ck][0] for ck in sigs}, cfg.near)
        for rid, r in alive:
            hit = near.get(r["_code_key"])
            if hit:
                k = by_id[best[hit[0]][1]]
                out[rid] = (near_duplicate(k, hit[1]), k["trace_id"])
    return out


# -- writing ----------------------------------------------------------------------------------------------
def _write_outputs(run: Path, parts: list[Path], decisions: dict[tuple[int, int], tuple[Drop, str]]) -> list[pa.Table]:
    """RUN/curated/curated-NNNNN-of-NNNNN.parquet and RUN/rejects/rejects-…, one shard at a time; returns
    what the stats read of every row (the funnel's columns and trace_id, kept and rejected together), so
    memory holds one shard's rows, not the run's."""
    world = len(parts)
    new: set[Path] = set()
    tables = []
    for p_i, p in enumerate(parts):
        rows = pq.read_table(p).to_pylist()
        for r_i, r in enumerate(rows):
            d = decisions.get((p_i, r_i))
            if d is not None and r["kept"]:
                (reason, detail), r["duplicate_of"] = d
                r["kept"], r["reject_reason"], r["reject_detail"] = False, reason, detail
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
        table = rows_to_table(public)
        tables.append(table.select(FUNNEL_COLUMNS + ["trace_id"]))
        kept = table.filter(pa.array([r["kept"] for r in public], type=pa.bool_()))
        rejected = table.filter(pa.array([not r["kept"] for r in public], type=pa.bool_()))
        for sub, t in ((layout.CURATED, kept), (layout.REJECTS, rejected)):
            dest = run / sub / f"{sub}-{p_i:05d}-of-{world:05d}.parquet"
            write_parquet_atomic(t, dest)
            new.add(dest)
    for sub in (layout.CURATED, layout.REJECTS):
        for old in (run / sub).glob("*.parquet"):
            if old not in new:
                old.unlink()  # from an earlier call with another number of narration files
    return tables


def _trace_counts(run: Path, tables: list[pa.Table]) -> dict[str, Any]:
    """Upstream context for the card: traces in the run, and those never narrated, by status."""
    narrated = set()
    for t in tables:
        narrated.update(t.column("trace_id").to_pylist())
    by_status: Counter = Counter()
    n = 0
    for f in sorted((run / "traces").glob("*.parquet")):
        t = pq.read_table(f, columns=["trace_id", "status"])
        n += t.num_rows
        for tid, st in zip(t.column("trace_id").to_pylist(), t.column("status").to_pylist()):
            if tid not in narrated:
                by_status[st] += 1
    return {"rows": n, "not_narrated_by_status": dict(sorted(by_status.items()))}

