"""The records that flow out of the trace stage: Problem (canonical input) and Trace (one run).

Field names are a contract (DESIGN §2): tests, benchmarks and users' scripts read them.
Each record is a slotted dataclass with an explicit Arrow schema, so parquet files written by
different runs always have the same types, and an empty shard still has a schema.
"""

from __future__ import annotations

import dataclasses
from array import array
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

# 2: a change may name an element (`base`, `old`; `name` is then its path, `dp[3][4]`), and an
#    event says when its changes take effect (`effects_at`)
SCHEMA_VERSION = "2"

KINDS = ("stdio", "function")
LABELS = ("correct", "incorrect", "unknown")
STATUSES = (
    "ok",
    "runtime_error",
    "timeout",
    "memory",
    "output_limit",
    "event_budget",
    "byte_budget",
    "sandbox_violation",
    "internal_error",
)
EVENT_KINDS = ("call", "line", "return", "exception")


@dataclass(slots=True)
class Solution:
    solution_id: str
    code: str
    label: str = "unknown"  # correct | incorrect | unknown
    origin: str = ""  # how it was made when not upstream, e.g. "mutant of ref: flipped comparison at line 4"
    # mutants: the first step where its trace departs from the original's on a failing test
    # {test_id, step, lineno, variable, original, mutant} (tracegen/mutants/divergence.py)
    divergence: dict[str, Any] | None = None


@dataclass(slots=True)
class Test:
    __test__ = False  # not a pytest test class

    test_id: str
    input: str  # stdin text (stdio) or the Python source of the argument list (function)
    output: str | None = None  # expected stdout, or repr of the expected return value
    public: bool = False
    # Optional Python source run after the solution (function problems) with `candidate` bound to
    # the entry point; the test passes when it raises nothing. Used where a benchmark's tests are
    # assertions that are not a plain `f(args) == value` (HumanEval's random loops, tolerances).
    check: str | None = None
    origin: str = ""  # where a test came from when not upstream, e.g. "fuzz:0" (tracegen/synth)


@dataclass(slots=True)
class Problem:
    problem_id: str
    source: str
    kind: str  # stdio | function
    statement: str = ""
    entry_point: str = ""
    solutions: list[Solution] = field(default_factory=list)
    tests: list[Test] = field(default_factory=list)
    license: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        d = dict(d)
        d["solutions"] = [Solution(**s) for s in d.get("solutions") or []]
        d["tests"] = [Test(**t) for t in d.get("tests") or []]
        d["meta"] = dict(d.get("meta") or {})
        return cls(**d)


@dataclass(slots=True)
class Limits:
    """Resource limits of one sandboxed run; part of the trace_id, so changing one re-traces."""

    timeout_s: float = 10.0
    memory_mb: int = 2048
    max_events: int = 10_000
    max_bytes: int = 1_000_000
    max_stdout_bytes: int = 4_000_000
    max_file_bytes: int = 16_000_000
    max_open_files: int = 64
    max_processes: int = 32
    repr_chars: int = 120  # one rendered value is cut to about this many characters


@dataclass(slots=True)
class Trace:
    trace_id: str
    problem_id: str
    solution_id: str
    test_id: str
    kind: str
    code: str
    input: str
    expected_output: str | None
    status: str
    stdout: str
    return_repr: str | None
    exception: str | None
    matches_expected: bool | None
    n_events: int
    events: list[dict[str, Any]]
    tracer_version: str
    python_version: str
    wall_ms: float
    source: str = ""
    stderr: str = ""
    reason: str = ""  # why a non-ok status happened, in words
    sandbox: str = ""  # bwrap | rlimit
    license: str = ""  # of the problem set the program and input come from
    entry_point: str = ""  # the function called (function problems)
    public: bool = False  # the test is one the problem statement shows

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


# A change of a variable: name == base, old null. A change of an element: name is its path with
# concrete keys (`dp[3][4]`, `d['x']`), base the variable, old its text before the line (null when
# it did not exist). value "<deleted>" means deleted.
CHANGE_TYPE = pa.struct([("name", pa.string()), ("value", pa.string()), ("elided", pa.bool_()),
                         ("base", pa.string()), ("old", pa.string())])
EVENT_TYPE = pa.struct(
    [
        ("step", pa.int32()),
        ("event", pa.string()),
        ("lineno", pa.int32()),
        ("func", pa.string()),
        ("depth", pa.int32()),
        ("changes", pa.list_(CHANGE_TYPE)),
        ("value", pa.string()),
        # the step at which this event's changes take effect: a line's come after the events of
        # the calls it makes (which are listed after it), at its frame's next event
        ("effects_at", pa.int32()),
    ]
)

TRACE_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("problem_id", pa.string()),
        ("solution_id", pa.string()),
        ("test_id", pa.string()),
        ("kind", pa.string()),
        ("code", pa.string()),
        ("input", pa.string()),
        ("expected_output", pa.string()),
        ("status", pa.string()),
        ("stdout", pa.string()),
        ("return_repr", pa.string()),
        ("exception", pa.string()),
        ("matches_expected", pa.bool_()),
        ("n_events", pa.int32()),
        ("events", pa.list_(EVENT_TYPE)),
        ("tracer_version", pa.string()),
        ("python_version", pa.string()),
        ("wall_ms", pa.float64()),
        ("source", pa.string()),
        ("stderr", pa.string()),
        ("reason", pa.string()),
        ("sandbox", pa.string()),
        ("license", pa.string()),
        ("entry_point", pa.string()),
        ("public", pa.bool_()),
    ],
    metadata={"selfexec.record": "Trace", "selfexec.schema_version": SCHEMA_VERSION},
)


def traces_to_table(traces: list[Trace]) -> pa.Table:
    rows = [t.to_dict() for t in traces]
    if not any(hasattr(r["events"], "array") for r in rows):
        return pa.Table.from_pylist(rows, schema=TRACE_SCHEMA)
    # events that arrived as Arrow (event_columns.ArrowEvents) go in as they are, each trace's
    # its own chunk of the column (concatenating them copied every long trace once more)
    events_type = TRACE_SCHEMA.field("events").type
    chunks, plain = [], []
    for r in rows:
        events, r["events"] = r["events"], []
        if hasattr(events, "array"):
            if plain:
                chunks.append(pa.array(plain, events_type))
                plain = []
            # (from a buffer: pyarrow's first pa.array of a list imports pandas, most of a second)
            offsets = pa.Array.from_buffers(pa.int32(), 2, [None, pa.py_buffer(array("i", [0, len(events)]))])
            chunks.append(pa.ListArray.from_arrays(offsets, events.array, type=events_type))
        else:
            plain.append(list(events))
    if plain:
        chunks.append(pa.array(plain, events_type))
    table = pa.Table.from_pylist(rows, schema=TRACE_SCHEMA)
    column = pa.chunked_array(chunks, type=events_type)
    return table.set_column(table.schema.get_field_index("events"), TRACE_SCHEMA.field("events"), column)


# ParquetWriter settings of the trace shards. A long trace is one row whose events hold a million
# strings: dictionary-encoding all of them (Arrow's default: the dictionary overflows and falls back
# to plain pages anyway) and their min/max statistics took 60% of writing a 0.7M-event trace and
# made the file 1.7x larger. Dictionaries stay where values repeat (event kind, function, change
# names); statistics stay on the top-level columns, the ones a reader filters on.
_EVENTS = "events.list.element."
_TOP_COLUMNS = [f.name for f in TRACE_SCHEMA if f.name != "events"]
TRACE_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": [*_TOP_COLUMNS, *(_EVENTS + c for c in (
        "event", "func", "changes.list.element.name", "changes.list.element.base"))],
    "write_statistics": _TOP_COLUMNS,
}


def trace_from_row(row: dict[str, Any]) -> Trace:
    names = {f.name for f in dataclasses.fields(Trace)}
    return Trace(**{k: v for k, v in row.items() if k in names})


def write_parquet_atomic(table: pa.Table, dest) -> None:
    """Write `table` to `dest` through a temp name and a rename (readers never see half a file).

    An empty table is written as a schema with no row groups: `datasets.load_dataset` fails on a
    file holding one empty row group, and every output folder must load with it as it is.
    """
    import os
    from pathlib import Path

    import pyarrow.parquet as pq

    dest = Path(dest)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
        if table.num_rows:
            writer.write_table(table)
    os.replace(tmp, dest)
