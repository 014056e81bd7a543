"""Incremental reruns: rows of an earlier run, or of a dataset published from one, that a new run
takes as they are instead of computing them again (`selfexec run --reuse PREVIOUS`).

Both are content-addressed, so a reused row is the row the new run would have computed:
- a **trace** is reused when an earlier row has the same trace_id (a hash of code, input, kind,
  entry point, check, tracer version and limits) and the same problem, solution and test ids and
  expected output. Transient failures (`timeout`, `internal_error`) are never reused: a rerun on a
  quieter machine may well finish.
- a **narration** is reused when an earlier row narrates the same trace row with the same
  narrator, model and revision, and its `prompt_sha` is the sha of what the narrator would send
  now (the template narrator: of its settings and the trace_id), and the earlier run's sampling
  settings equal this run's. Transport failures are never reused.

PREVIOUS may be a run folder (`traces/`, `narrations/`, `logs/narrate/settings.json`) or a
published dataset folder (`data/traces/`, `data/narrated/`, `selfexec.json`). A dataset holds only
the narrations curation kept; the others are narrated again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .errors import UserError
from . import layout
from .narrate.records import TRANSPORT_FAILURES, narration_from_row
from .records import Trace, trace_from_row

NEVER_REUSED = ("timeout", "internal_error")


class ReuseError(UserError):
    """--reuse names something that is not a run folder nor a published dataset folder."""


def reuse_files(path: str | Path, what: str) -> list[Path]:
    """The parquet files of `what` ("traces" | "narrations") in a run or dataset folder."""
    path = Path(path)
    if not path.is_dir():
        raise ReuseError(f"--reuse {path}: no such folder; pass an earlier run folder or a published dataset folder")
    run_dir, ds_dir = path / what, path / layout.DATASET_DATA / layout.DATASET_CONFIG_OF[what]
    if run_dir.is_dir():
        return sorted(run_dir.glob("*.parquet"))
    if ds_dir.is_dir():
        return sorted(ds_dir.glob("*.parquet"))
    if what == layout.NARRATIONS and ((path / layout.TRACES).is_dir() or
                                      (path / layout.DATASET_DATA / layout.DATASET_CONFIG_OF[layout.TRACES]).is_dir()):
        return []  # an earlier run stopped before narrating: its traces are still reusable
    raise ReuseError(f"--reuse {path}: neither a run folder (with traces/) nor a published dataset folder "
                     f"(with data/traces/); pass a folder written by `selfexec run` or `selfexec publish`")


def trace_key(trace_id: str, problem_id: str, solution_id: str, test_id: str, expected_output: str | None) -> tuple:
    return (trace_id, problem_id, solution_id, test_id, expected_output)


class _Index:
    """Where each reusable key sits (file, row), read from a few columns only; rows are read
    on demand, one file at a time, so an earlier run with large traces costs little memory."""

    def __init__(self, files: list[Path], key_cols: list[str], usable):
        self.files = files
        self.where: dict[tuple, tuple[int, int]] = {}
        for fi, f in enumerate(files):
            names = set(pq.read_schema(f).names)
            cols = [c if c in names else _ALIASES.get(c, c) for c in key_cols]
            t = pq.read_table(f, columns=cols)
            values = [t.column(c).to_pylist() for c in cols]
            for ri, row in enumerate(zip(*values)):
                if usable(row):
                    self.where.setdefault(tuple(row[: len(key_cols) - 1]), (fi, ri))

    def rows(self, keys: list[tuple]) -> dict[tuple, dict[str, Any]]:
        by_file: dict[int, list[tuple[int, tuple]]] = defaultdict(list)
        for k in keys:
            loc = self.where.get(k)
            if loc is not None:
                by_file[loc[0]].append((loc[1], k))
        out = {}
        for fi, items in sorted(by_file.items()):
            table = pq.read_table(self.files[fi]).take([r for r, _ in items])
            for (_, k), row in zip(items, table.to_pylist()):
                out[k] = row
        return out


# a published `narrated` config names two narration columns after the curated row
_ALIASES = {"status": "narration_status", "reason": "narration_reason"}


class TraceReuse:
    def __init__(self, path: str | Path):
        cols = ["trace_id", "problem_id", "solution_id", "test_id", "expected_output", "status"]
        self.index = _Index(reuse_files(path, "traces"), cols, lambda row: row[-1] not in NEVER_REUSED)

    def take(self, keys: list[tuple]) -> dict[tuple, Trace]:
        return {k: trace_from_row(r) for k, r in self.index.rows(keys).items()}


def previous_narrate_settings(path: str | Path) -> dict[str, Any] | None:
    """The narrate settings the earlier run (or the run behind a dataset) was made with."""
    path = Path(path)
    settings = path / layout.LOGS / "narrate" / "settings.json"
    if settings.is_file():
        return json.loads(settings.read_text())
    manifest = path / layout.DATASET_MANIFEST
    if manifest.is_file():
        return json.loads(manifest.read_text()).get("narrate_settings")
    return None


class NarrationReuse:
    """Earlier narrations a narrator may take as its own; `usable` is False (and `why_not` says
    why) when the earlier run narrated with other settings."""

    def __init__(self, path: str | Path, settings: dict[str, Any]):
        prev = previous_narrate_settings(path)
        ignore = ("max_traces",)
        mine = {k: v for k, v in settings.items() if k not in ignore}
        theirs = {k: v for k, v in (prev or {}).items() if k not in ignore}
        self.why_not = ""
        if prev is None:
            self.why_not = f"{path} does not say which narrate settings it used"
        elif mine != theirs:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            self.why_not = f"{path} was narrated with other settings ({', '.join(diff)})"
        self.usable = not self.why_not
        cols = ["trace_id", "problem_id", "solution_id", "test_id", "status"]
        files = reuse_files(path, "narrations") if self.usable else []
        self.index = _Index(files, cols, lambda row: row[-1] not in TRANSPORT_FAILURES)

    def take(self, traces: list[Trace], narrator: Any) -> dict[int, Any]:
        """{position in `traces`: Narration} for the traces an earlier narration fits exactly."""
        keys = [(t.trace_id, t.problem_id, t.solution_id, t.test_id) for t in traces]
        rows = self.index.rows(keys)
        out = {}
        for i, (t, k) in enumerate(zip(traces, keys)):
            r = rows.get(k)
            if r is None or r["narrator"] != narrator.name or r["model"] != narrator.model:
                continue
            if r["revision"] != narrator.revision or r["prompt_sha"] != narrator.prompt_sha(t):
                continue
            for ours, theirs in _ALIASES.items():
                if ours not in r and theirs in r:
                    r[ours] = r[theirs]
            out[i] = narration_from_row(r)
        return out
