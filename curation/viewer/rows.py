"""What the viewer shows, read from a run folder or a published dataset folder.

A viewer row is one narration joined with its trace (events included), or a trace that has no
narration. The index needs only small columns, so traces are read twice: once without their events
(to sort and number the rows), then batch by batch with them (to write one data file per row), so
a large run is never held in memory whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from tracegen.errors import UserError

from ..timeline import effective_times

_TRACE_INDEX_COLUMNS = ["trace_id", "problem_id", "solution_id", "test_id", "source", "status", "n_events"]
_SORT = ("source", "problem_id", "solution_id", "test_id", "trace_id")


class ViewerInputError(UserError):
    """The folder given to `selfexec view` is not something the viewer can read."""


@dataclass(slots=True)
class Layout:
    """Where the parquet files of one run or dataset folder are."""

    kind: str  # "run" | "dataset"
    traces: list[Path]
    verdicts: list[Path]  # curated + rejected rows (run) or the narrated config (dataset)
    narrations: list[Path]  # a run that was narrated but not curated: narrations without verdicts


@dataclass(slots=True)
class IndexEntry:
    """One line of the site's index page."""

    key: str  # the row's data file name (without .js)
    problem_id: str
    solution_id: str
    test_id: str
    source: str
    status: str  # the trace's status (ok, runtime_error, ...), "missing" when the trace is absent
    verdict: str  # kept | rejected | unchecked (narrated, not curated) | none (no narration)
    reject_reason: str
    narrator: str
    n_events: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def find_layout(folder: Path) -> Layout:
    """A run folder has traces/; a published dataset folder has data/traces/."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ViewerInputError(f"{folder} is not a folder: pass a run folder (from `selfexec trace --out`) "
                               f"or a published dataset folder (from `selfexec publish --out`)")
    if (folder / "traces").is_dir():
        verdicts = _files(folder / "curated") + _files(folder / "rejects")
        return Layout("run", _files(folder / "traces"), verdicts, [] if verdicts else _files(folder / "narrations"))
    if (folder / "data" / "traces").is_dir():
        return Layout("dataset", _files(folder / "data" / "traces"), _files(folder / "data" / "narrated"), [])
    raise ViewerInputError(f"{folder} holds neither traces/ (a run folder) nor data/traces/ (a published dataset "
                           f"folder): pass the folder `selfexec trace --out` or `selfexec publish --out` wrote")


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.parquet")) if folder.is_dir() else []


def read_narrations(layout: Layout) -> dict[str, list[dict[str, Any]]]:
    """trace_id -> its narration rows (with verdicts where the run was curated), in a stable order."""
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for path in layout.verdicts + layout.narrations:
        for row in _read_rows(path):
            if path in layout.narrations:  # not curated yet: no verdict
                row["kept"] = None
            by_trace.setdefault(row.get("trace_id") or "", []).append(row)
    for rows in by_trace.values():
        rows.sort(key=lambda r: (str(r.get("narrator")), str(r.get("prompt_sha")), str(r.get("text"))))
    return by_trace


def _read_rows(path: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    try:
        pf = pq.ParquetFile(path)
        have = set(pf.schema_arrow.names)
        return pf.read(columns=[c for c in columns if c in have] if columns else None).to_pylist()
    except Exception as exc:  # a truncated or foreign file: say which one
        raise ViewerInputError(f"cannot read {path}: {exc}; rerun the stage that wrote it") from exc


def plan_rows(layout: Layout, narrations: dict[str, list[dict[str, Any]]]) -> list[tuple[IndexEntry, str, int]]:
    """The index entries in display order, each with its trace_id and the narration's position
    among that trace's narrations (-1: the trace has none)."""
    traces = [r for path in layout.traces for r in _read_rows(path, _TRACE_INDEX_COLUMNS)]
    seen = {t["trace_id"] for t in traces}
    items: list[tuple[tuple, dict[str, Any], dict[str, Any] | None, int]] = []
    for t in traces:
        rows = narrations.get(t["trace_id"]) or [None]
        for i, n in enumerate(rows):
            items.append((_sort_key(t), t, n, i if n else -1))
    for trace_id, rows in narrations.items():  # narrations whose trace is not in the folder
        if trace_id not in seen:
            for i, n in enumerate(rows):
                stub = {k: n.get(k) for k in _TRACE_INDEX_COLUMNS}
                stub.update(trace_id=trace_id, status="missing", n_events=0)
                items.append((_sort_key(stub), stub, n, i))
    items.sort(key=lambda it: (it[0], it[3]))
    out = []
    for num, (_, t, n, i) in enumerate(items):
        entry = IndexEntry(
            key=f"r{num:06d}", problem_id=str(t.get("problem_id") or ""), solution_id=str(t.get("solution_id") or ""),
            test_id=str(t.get("test_id") or ""), source=str(t.get("source") or ""), status=str(t.get("status") or ""),
            verdict=_verdict(n), reject_reason=str((n or {}).get("reject_reason") or ""),
            narrator=str((n or {}).get("narrator") or ""), n_events=int(t.get("n_events") or 0))
        out.append((entry, t["trace_id"], i))
    return out


def _sort_key(row: dict[str, Any]) -> tuple:
    """Ids in natural order: sample_2 before sample_10 (digit runs compare as numbers).

    >>> sorted(["s_10", "s_2", "s_1b"], key=lambda p: _sort_key({"problem_id": p}))
    ['s_1b', 's_2', 's_10']
    """
    return tuple([int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(row.get(k) or ""))]
                 for k in _SORT)


def _verdict(n: dict[str, Any] | None) -> str:
    if n is None:
        return "none"
    if n.get("kept") is None:
        return "unchecked"
    return "kept" if n["kept"] else "rejected"


def iter_traces(layout: Layout) -> Iterator[dict[str, Any]]:
    """Full trace rows (events included), one parquet batch in memory at a time."""
    for path in layout.traces:
        try:
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=64):
                yield from batch.to_pylist()
        except (OSError, pa.ArrowException) as exc:  # a file truncated since the index pass read it
            raise ViewerInputError(f"cannot read {path}: {exc}; rerun the stage that wrote it") from exc


def row_payload(entry: IndexEntry, trace: dict[str, Any] | None, narration: dict[str, Any] | None) -> dict[str, Any]:
    """Everything the row page shows, in the compact form row.js reads (see the comment there)."""
    t = trace or {}
    n = narration or {}
    events = list(t.get("events") or [])
    out: dict[str, Any] = {
        "entry": entry.to_dict(),
        "trace_id": t.get("trace_id") or n.get("trace_id"),
        "kind": t.get("kind") or n.get("kind"),
        "code": t.get("code") if t.get("code") is not None else n.get("code"),
        "input": t.get("input") if trace else n.get("input"),
        "expected_output": t.get("expected_output") if trace else n.get("expected_output"),
        "status": t.get("status") or "missing",
        "reason": t.get("reason") or "",
        "stdout": t.get("stdout"),
        "return_repr": t.get("return_repr"),
        "exception": t.get("exception"),
        "matches_expected": t.get("matches_expected"),
        "sandbox": t.get("sandbox"),
        "tracer_version": t.get("tracer_version"),
        "license": t.get("license") or n.get("license"),
        **_events_payload(events),
        "divergence": _divergence(t, n),
        "narration": _narration_payload(n, t, events) if narration else None,
    }
    return out


def _events_payload(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Events as arrays [lineno, event, func, depth, frame, eff, changes, value], changes as
    [name, value, elided, base] (base: the variable an element path like `dp[3][4]` belongs to); frames as [func, depth, first event, end]. `eff` is when an event's changes
    take effect (curation.timeline's time, the one claim steps use): a line's effects show at its
    frame's next event. A frame is on the stack from its call up to (not including) `end`."""
    eff = effects(events)
    n = len(events)
    frames: list[list[Any]] = []
    current: dict[int, int] = {}  # depth -> frame number
    rows = []
    for j, e in enumerate(events):
        d = int(e.get("depth") or 0)
        if e.get("event") == "call" or d not in current:
            current[d] = len(frames)
            frames.append([e.get("func") or "", d, j, n + 1])
        f = current[d]
        if e.get("event") == "return":
            frames[f][3] = eff[j]
        changes = [[c.get("name"), c.get("value"), bool(c.get("elided")), c.get("base") or c.get("name")]
                   for c in e.get("changes") or []]
        rows.append([e.get("lineno"), e.get("event"), e.get("func"), d, f, eff[j], changes, e.get("value")])
    return {"events": rows, "frames": frames, "n_events": n}


def effects(events: list[dict[str, Any]]) -> list[int]:
    """When each event's changes take effect: the tracer's own `effects_at` (tracer >= 0.2), else
    computed the same way (curation.timeline.effective_times) for traces of older tracers."""
    recorded = [e.get("effects_at") for e in events]
    if events and all(isinstance(t, int) for t in recorded):
        return recorded
    return effective_times(events) if events else []


def _divergence(*rows: dict[str, Any]) -> dict[str, Any] | None:
    """A mutant's first divergent step, from any field whose name says "diverg" (in the row or its meta)."""
    for row in rows:
        meta = row.get("meta") or {}
        if isinstance(meta, list):  # stored as a list of {key, value} (tracegen.narrate.records.META_TYPE)
            meta = {m["key"]: m["value"] for m in meta if isinstance(m, dict) and "key" in m}
        for name, value in list(row.items()) + [(f"meta.{k}", v) for k, v in meta.items()]:
            if "diverg" not in name.lower() or value is None or value == "":
                continue
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            step = value if isinstance(value, int) and not isinstance(value, bool) else None
            if isinstance(value, dict):  # e.g. {"test_id": "3", "step": 12, "lineno": 4, ...} (tracegen/mutants)
                if value.get("test_id") not in (None, row.get("test_id")):
                    continue  # the mutant diverges on another test: nothing to mark in this trace
                step = next((v for k, v in value.items() if "step" in k and isinstance(v, int)), None)
            return {"field": name, "step": step, "value": value if step is None else None}
    return None


def place_claims(claims: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[int | None]:
    """Where in the run each claim without a step of its own was made, so a click on it still lands
    somewhere useful: the next change of its subject after the story's position (the step of the
    claim before it), else that position. None for claims that have a step.

    >>> ev = [{"depth": 0, "event": "call", "changes": []}, {"depth": 0, "event": "line", "changes": [{"name": "y"}]},
    ...       {"depth": 0, "event": "return", "changes": []}]
    >>> place_claims([{"start": 0, "step": 1, "subject": "x"}, {"start": 9, "step": None, "subject": "y"}], ev)
    [None, 2]
    """
    eff = effects(events)
    changed: dict[str, list[int]] = {}  # name -> times its changes take effect
    for j, e in enumerate(events):
        for c in e.get("changes") or []:
            changed.setdefault(c.get("name") or "", []).append(eff[j])
    for times in changed.values():
        times.sort()
    cursor, out = 0, []
    for c in claims:
        if c.get("step") is not None:
            cursor = max(cursor, c["step"])
            out.append(None)
            continue
        later = [t for t in changed.get(c.get("subject") or "", []) if t >= cursor]
        out.append(later[0] if later else cursor)
    return out


def _narration_payload(n: dict[str, Any], t: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    claims = sorted(n.get("claim_checks") or [], key=lambda c: c.get("start") or 0)
    true_output = n.get("true_output")
    if true_output is None and t:
        true_output = t.get("stdout") if t.get("kind") == "stdio" else t.get("return_repr")
    return {
        "narrator": n.get("narrator"), "model": n.get("model"), "text": n.get("text") or "",
        "status": n.get("narration_status") or n.get("status"), "kept": n.get("kept"),
        "reject_reason": n.get("reject_reason") or "", "reject_detail": n.get("reject_detail") or "",
        "predicted_output": n.get("predicted_output"), "true_output": true_output, "output_ok": n.get("output_ok"),
        # the last item: where a claim with no step of its own was made (place_claims)
        "claims": [[c.get("start"), c.get("end"), c.get("kind"), c.get("subject"), c.get("stated"), c.get("actual"),
                    c.get("step"), c.get("status"), where] for c, where in zip(claims, place_claims(claims, events))],
        "counts": {k: n.get(k) for k in ("claims", "claims_checked", "claims_wrong", "claims_unchecked",
                                         "claims_unknown", "literals", "literals_accounted") if n.get(k) is not None},
    }
