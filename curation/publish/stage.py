"""The publish stage: a curated run in, a Hugging Face dataset folder out (DESIGN §3).

Reads top to bottom: validate the config, read the run's traces and kept rows, resolve each
source's licence, build the four configs and split them by problem, find the parent version,
write everything (data files, manifest, plots, card) into a temporary folder and swap it in,
note the result in the run, and push when a repo id is given.

Publishing is deterministic: no clock, no random state, rows sorted by their ids, so the same run
gives byte-identical files. Publishing the same content into a folder that already holds it
keeps its version and parent, so a rerun changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from tracegen import layout
from tracegen.records import TRACE_SCHEMA

from ..records import CURATED_SCHEMA
from .card import write_card
from .input_prediction import INPUT_PREDICTION_SCHEMA, input_prediction_rows
from .configs import CONFIGS, RL_SCHEMA, SFT_SCHEMA, SPLITS, problem_statements, rl_rows, sft_rows, sha, split_of
from .manifest import ConfigError, build_manifest, parent_of, parse_version, read_manifest

STAGE = "publish"
_SORT = ["source", "problem_id", "solution_id", "test_id", "trace_id"]


@dataclass
class PublishConfig:
    run: str
    out: str
    version: str | None = None  # default: 1.0.0, or the parent's next minor version
    parent: str | None = None  # the previous version's folder; default: found from OUT or the run
    repo_id: str | None = None  # ORG/NAME on the Hub: push after writing
    private: bool = False
    name: str = ""  # the card's title; default: the folder's name
    seed: int = 0  # of the problem -> split assignment
    splits: dict[str, float] = field(default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05})
    licenses: dict[str, str] = field(default_factory=dict)  # source -> licence, where the problems carry none
    rows_per_file: int = 10_000
    trace_rows_per_file: int = 1_000  # trace rows hold their events: smaller files
    allow_partial: bool = False  # publish what a run that stopped part-way curated
    with_viewer: bool = False  # also write the static viewer site (`selfexec view`) into OUT/viewer

    def validate(self) -> None:
        self.check_settings()
        run, out = Path(self.run), Path(self.out)
        if not (run / layout.TRACES).is_dir():
            raise ConfigError(f"no traces in {run / 'traces'}: publish needs a run folder (from `selfexec run` or "
                              f"`selfexec trace/narrate/curate`)")
        if not (run / layout.CURATED).is_dir():
            raise ConfigError(f"no curated rows in {run / 'curated'}: run `selfexec curate {run}` first")
        if out.resolve() == run.resolve() or out.resolve().parent == run.resolve() and out.name in layout.RUN_FOLDERS:
            raise ConfigError(f"--out {out} would overwrite the run's own files; pick another folder")
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file; pick a folder")
        if not out.parent.is_dir() and out.parent.exists():
            raise ConfigError(f"--out {out}: {out.parent} is a file, not a folder; pick another place")
        if out.is_dir() and any(out.iterdir()) and not (out / layout.DATASET_MANIFEST).is_file():
            raise ConfigError(f"--out {out} is not empty and holds no selfexec dataset (no selfexec.json); "
                              f"pick an empty or new folder, or an earlier version's folder to replace")

    def check_settings(self) -> None:
        """What can be checked before the run exists."""
        bad = sorted(set(self.splits) - set(SPLITS))
        if bad or not self.splits or any(v < 0 for v in self.splits.values()):
            raise ConfigError(f"splits must map {', '.join(SPLITS)} to fractions >= 0 (got {self.splits})")
        if abs(sum(self.splits.values()) - 1) > 1e-9 or self.splits.get("train", 0) <= 0:
            raise ConfigError(f"split fractions must add up to 1 with train > 0 (got {self.splits})")
        if self.version is not None:
            parse_version(self.version)
        if self.repo_id is not None and self.repo_id.count("/") != 1:
            raise ConfigError(f"repo_id must look like ORG/NAME (got {self.repo_id!r})")
        if self.parent is not None and not (Path(self.parent) / layout.DATASET_MANIFEST).is_file():
            raise ConfigError(f"--parent {self.parent} is not a published dataset folder (no selfexec.json)")
        if self.rows_per_file < 1 or self.trace_rows_per_file < 1:
            raise ConfigError("rows_per_file and trace_rows_per_file must be >= 1")

    def settings(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("run")
        d.pop("allow_partial")  # says nothing about the dataset's content
        d.pop("with_viewer")  # says nothing about the rows: the viewer is derived from them
        return d


def run_publish_stage(cfg: PublishConfig) -> dict[str, Any]:
    """Write the dataset folder; returns the stats also written to RUN/stats/publish.json.
    Pushing is separate (`push_published`) so a failed push never undoes the folder."""
    cfg.validate()
    run, out = Path(cfg.run), Path(cfg.out)
    with layout.hold_run(run):
        return _publish_locked(cfg, run, out)


def _publish_locked(cfg: PublishConfig, run: Path, out: Path) -> dict[str, Any]:
    for stage, rerun in (("trace", f"selfexec trace ... --out {run}"), ("narrate", f"selfexec narrate {run}"),
                         ("curate", f"selfexec curate {run}")):
        layout.require_complete(run, stage, "publish", rerun, cfg.allow_partial)
    with layout.disk_errors(STAGE, out):
        out.parent.mkdir(parents=True, exist_ok=True)
        recover_interrupted(out)
        return _publish(cfg, run, out)


def _publish(cfg: PublishConfig, run: Path, out: Path) -> dict[str, Any]:
    t0 = time.monotonic()
    trace_files = sorted((run / layout.TRACES).glob("*.parquet"))
    traces = _trace_index(trace_files)  # the events stay on disk until their output file is written
    narrated = _read(sorted((run / layout.CURATED).glob("*.parquet")), CURATED_SCHEMA)
    if narrated.num_rows == 0:
        raise ConfigError(f"nothing to publish: curate kept 0 rows of {run} ({traces.num_rows} traces); see "
                          f"{run / 'stats' / 'curate.json'} for why rows were rejected, and fix the inputs or settings")
    licenses = _licenses(cfg, traces)
    narrated = _with_provenance(narrated, licenses)
    narrated_rows = narrated.to_pylist()
    tables = {
        "traces": traces,
        "narrated": narrated,
        "sft": pa.Table.from_pylist(sft_rows(narrated_rows), schema=SFT_SCHEMA),
        "input_prediction": pa.Table.from_pylist(input_prediction_rows(narrated_rows), schema=INPUT_PREDICTION_SCHEMA),
        "rl": pa.Table.from_pylist(rl_rows(narrated_rows, traces, problem_statements(run)), schema=RL_SCHEMA),
    }
    parent_dir = parent_of(cfg, run, out)
    parent = read_manifest(parent_dir) if parent_dir else None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.resolve().parent))
    try:
        def gather(index: pa.Table) -> pa.Table:
            where = zip(index.column("_file").to_pylist(), index.column("_row").to_pylist())
            return _gather(trace_files, list(where), licenses)

        files = {c: _write_config(tmp, c, tables[c], cfg, gather if c == "traces" else None) for c in CONFIGS}
        manifest = build_manifest(cfg, run, tmp, files, tables, parent_dir, parent, read_manifest(out))
        (tmp / layout.DATASET_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        write_card(tmp, cfg, run, manifest, tables, licenses)
        if cfg.with_viewer:
            from ..viewer import build_site

            build_site(tmp, tmp / "viewer", title=cfg.name or out.name)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    diff = manifest.get("diff_vs_parent") or {}
    stats = {
        "stage": STAGE, "out": str(out.resolve()), "version": manifest["version"],
        "parent_version": manifest["parent_version"],
        "rows": {c: manifest["configs"][c]["rows"] for c in CONFIGS},
        # a row is "reused" when the parent version already had it, "computed" when it is new
        "computed": sum(d["added"] for d in diff.values()) if parent else sum(
            m["total"] for m in manifest["configs"].values()),
        "reused": sum(d["kept"] for d in diff.values()) if parent else 0,
        "diff_vs_parent": diff,
        "wall_s_this_call": round(time.monotonic() - t0, 3),
    }
    layout.write_atomic(run / layout.PUBLISHED, json.dumps({"out": str(out.resolve()), "version": manifest["version"]},
                                                          indent=2, sort_keys=True))
    recipe = run / layout.RECIPE
    doc = (yaml.safe_load(recipe.read_text()) or {}) if recipe.exists() else {}
    doc[STAGE] = cfg.settings()
    layout.write_atomic(recipe, yaml.safe_dump(doc, sort_keys=True))
    layout.stage_finished(run, STAGE, stats)
    return stats


def push_published(cfg: PublishConfig, stats: dict[str, Any]) -> dict[str, Any]:
    """Push the folder `run_publish_stage` wrote; raises hub.PushError with what to do."""
    from .hub import push_folder

    res = push_folder(Path(cfg.out), cfg.repo_id, stats["version"], private=cfg.private)
    return dataclasses.asdict(res)


def _conform(t: pa.Table, schema: pa.Schema) -> pa.Table:
    """`t` in `schema` (columns a run made by an older version lacks are null)."""
    for name in schema.names:
        if name not in t.column_names:
            t = t.append_column(name, pa.nulls(t.num_rows, schema.field(name).type))
    return t.select(schema.names).cast(schema)


def _sort_keys(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(c, "ascending") for c in _SORT + (["narrator", "prompt_sha"] if "narrator" in schema.names else [])]


def _read(files: list[Path], schema: pa.Schema) -> pa.Table:
    """The files as one table in `schema`, sorted by `_SORT` (Arrow's sort is stable: ties keep file order)."""
    tables = [_conform(pq.read_table(f), schema) for f in files]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return table.sort_by(_sort_keys(schema))


# the traces' columns the card, the manifest, the licences and the rl tests read: everything but the events and
# the program's streams, so the driver holds per trace a few ids and strings, never its events
TRACE_INDEX = pa.schema([f for f in TRACE_SCHEMA if f.name not in ("events", "code", "stdout", "stderr",
                                                                   "return_repr", "exception")])


def _trace_index(files: list[Path]) -> pa.Table:
    """The traces' small columns (TRACE_INDEX) in the order of the `traces` config, with where each row
    lives: `_file` (index into `files`) and `_row`. File and row are the last sort keys, which is the
    order a stable sort of the files read one after the other gives (what `_read` does)."""
    tables = []
    for i, f in enumerate(files):
        have = set(pq.read_schema(f).names)
        t = _conform(pq.read_table(f, columns=[c for c in TRACE_INDEX.names if c in have]), TRACE_INDEX)
        tables.append(t.append_column("_file", pa.array([i] * t.num_rows, pa.int32()))
                      .append_column("_row", pa.array(range(t.num_rows), pa.int64())))
    if not tables:
        return TRACE_INDEX.empty_table().append_column("_file", pa.array([], pa.int32())).append_column(
            "_row", pa.array([], pa.int64()))
    return pa.concat_tables(tables).sort_by(_sort_keys(TRACE_INDEX) + [("_file", "ascending"), ("_row", "ascending")])


def _gather(files: list[Path], where: list[tuple[int, int]], licenses: dict[str, str]) -> pa.Table:
    """The full trace rows at `where` ((file, row) pairs), in that order, with their provenance: one
    file read at a time, so memory holds one input file and one output file's rows."""
    by_file: dict[int, list[tuple[int, int]]] = {}
    for k, (f, r) in enumerate(where):
        by_file.setdefault(f, []).append((r, k))
    pieces, order = [], []
    for f, items in sorted(by_file.items()):
        pieces.append(_conform(pq.read_table(files[f]), TRACE_SCHEMA).take([r for r, _ in items]))
        order.extend(k for _, k in items)
    table = pa.concat_tables(pieces) if pieces else TRACE_SCHEMA.empty_table()
    position = [0] * len(order)
    for i, k in enumerate(order):
        position[k] = i
    # one chunk per column, as the sorted whole table gave: the writer's pages, hence the bytes, follow chunks
    return _with_provenance(table.take(position).combine_chunks(), licenses)


def _licenses(cfg: PublishConfig, traces: pa.Table) -> dict[str, str]:
    """source -> licence: the recipe's `licenses` first, else what the problems carried."""
    found: dict[str, set[str]] = {}
    for src, lic in zip(traces.column("source").to_pylist(), traces.column("license").to_pylist()):
        found.setdefault(src or "", set()).add(lic or "")
    out, missing, mixed = {}, [], []
    for src, lics in sorted(found.items()):
        lics.discard("")
        if src in cfg.licenses:
            out[src] = cfg.licenses[src]
        elif len(lics) == 1:
            out[src] = lics.pop()
        elif not lics:
            missing.append(src)
        else:
            mixed.append(f"{src} ({', '.join(sorted(lics))})")
    if missing or mixed:
        what = []
        if missing:
            what.append(f"no licence for source(s) {', '.join(missing)}")
        if mixed:
            what.append(f"several licences within {'; '.join(mixed)}")
        example = (missing or [m.split(' (')[0] for m in mixed])[0]
        raise ConfigError(f"{' and '.join(what)}: add a `license` field to those problems, or set it in the "
                          f"recipe (publish: {{licenses: {{{example}: MIT}}}}) or with --license {example}=MIT")
    return out


# how long a run took on the machine that ran its shard: the run folder keeps it, the dataset gets 0.0 so
# its bytes do not depend on where or how fast it was built (the same recipe, the same files on every engine)
MEASURED = ("wall_ms", "latency_ms")


def _with_provenance(table: pa.Table, licenses: dict[str, str]) -> pa.Table:
    for name in MEASURED:
        if name in table.column_names:
            i = table.schema.get_field_index(name)
            table = table.set_column(i, table.schema.field(i), pa.array([0.0] * table.num_rows, pa.float64()))
    if "cached" in table.column_names:  # whether an answer came from the request cache depends on where a
        i = table.schema.get_field_index("cached")  # killed run was resumed, not on the row: False in the dataset
        table = table.set_column(i, table.schema.field(i), pa.array([False] * table.num_rows, pa.bool_()))
    src = table.column("source").to_pylist()
    table = table.set_column(table.schema.get_field_index("license"), "license",
                             pa.array([licenses.get(s or "", "") for s in src], type=pa.string()))
    table = table.append_column("solution_sha", pa.array([sha(c) for c in table.column("code").to_pylist()], pa.string()))
    return table.append_column("input_sha", pa.array([sha(i) for i in table.column("input").to_pylist()], pa.string()))


def _write_config(root: Path, config: str, table: pa.Table, cfg: PublishConfig,
                  gather: Callable[[pa.Table], pa.Table] | None = None) -> dict[str, list[str]]:
    """data/<config>/<split>-NNNNN-of-NNNNN.parquet; returns {split: [relative paths]}. Empty splits get
    no file (and no entry in the card's configs); a config with no rows at all gets one empty train file,
    so it still loads. With `gather`, `table` is an index and each file's rows are `gather(its slice)`."""
    per = cfg.trace_rows_per_file if config == "traces" else cfg.rows_per_file
    names = [split_of(s or "", p, cfg.seed, cfg.splits) for s, p in
             zip(table.column("source").to_pylist(), table.column("problem_id").to_pylist())]
    out: dict[str, list[str]] = {}
    for split in SPLITS:
        part = table.filter(pa.array([n == split for n in names], type=pa.bool_()))
        if part.num_rows == 0 and (split != "train" or table.num_rows):
            continue
        n_files = max(1, -(-part.num_rows // per))
        out[split] = []
        for i in range(n_files):
            rel = f"{layout.DATASET_DATA}/{config}/{split}-{i:05d}-of-{n_files:05d}.parquet"
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            chunk = part.slice(i * per, per)
            if gather is not None:
                chunk = gather(chunk)
            with pq.ParquetWriter(dest, chunk.schema, compression="zstd") as w:
                if chunk.num_rows:  # an empty file holds no row group: `datasets` fails on an empty one
                    w.write_table(chunk)
            out[split].append(rel)
    return out


def _temp_folders(out: Path) -> list[Path]:
    """`.NAME.XXXXXXXX` folders beside OUT: what mkdtemp made for a publish that was killed."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.[a-z0-9_]{{8}}")
    return sorted(p for p in out.parent.iterdir() if pattern.fullmatch(p.name) and p.is_dir())


def recover_interrupted(out: Path) -> None:
    """Undo what a publish killed part-way left beside OUT: the previous version hidden in
    `.NAME.old` between the two renames goes back (so the parent chain holds), a git checkout's
    .git that was carried into a temp folder goes back, and the temp folders are removed."""
    old = out.with_name(f".{out.name}.old")
    if old.is_dir():
        if out.exists():
            shutil.rmtree(old)  # the swap finished; only the cleanup was cut short
        else:
            os.replace(old, out)
    temps = _temp_folders(out)
    for t in temps:
        if (t / ".git").exists() and out.is_dir() and not (out / ".git").exists():
            os.replace(t / ".git", out / ".git")
    for t in temps:
        shutil.rmtree(t)


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace OUT by the finished folder in two renames; a git checkout's .git is carried over.
    A kill anywhere in here is undone by `recover_interrupted` on the next call."""
    if (out / ".git").exists():
        os.replace(out / ".git", tmp / ".git")
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out, old)
        if os.environ.get("SELFEXEC_TEST_PAUSE_BETWEEN_RENAMES"):  # lets the crash test kill -9 right here
            time.sleep(float(os.environ["SELFEXEC_TEST_PAUSE_BETWEEN_RENAMES"]))
    os.replace(tmp, out)
    os.chmod(out, 0o755)  # mkdtemp made it 0700
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
