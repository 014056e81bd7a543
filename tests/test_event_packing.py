"""Events packed for the sandbox pipe (tracegen/event_columns.py, _packcols.c, event_arrow.py): the C
and the Python packer give the same bytes; Arrow reads them as the tracer recorded them, and so
does the short traces' road (JSON columns); a forged or damaged result from the sandboxed child
is a `sandbox_violation` row, never a crash."""

from __future__ import annotations

import json
import random
import struct

import pytest

from tracegen import event_columns
from tracegen.event_arrow import MalformedEvents, from_packed
from tracegen.event_columns import HEADER, SHORT_TRACE, pack_py, to_columns, to_rows
from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox
from tracegen.event_dicts import effects_at, event_dict
from tracegen.tracer import Tracer

PROGRAM = '''
def f(n):
    grid = [[0] * 3 for _ in range(3)]
    seen = {"naïve": "ü"}
    out = []
    for i in range(n):
        grid[i % 3][i % 2] += i
        seen[i] = str(i) * 40
        out.append(g(i))
        if i == 3:
            del seen[i]
    try:
        {}["missing"]
    except KeyError:
        pass
    return "é✓", out

def g(x):
    return x * x
'''


def traced_events(code: str = PROGRAM, n: int = 6) -> list:
    g = {"__name__": "__main__"}
    exec(compile(code, "<solution>", "exec"), g)
    t = Tracer(code, max_events=10**6, max_bytes=10**9, repr_chars=60)
    t.start()
    try:
        g["f"](n)
    finally:
        t.stop()
    return t.events


def expected(events: list) -> list[dict]:
    return [event_dict([*e[:7], at]) for e, at in zip(events, effects_at(events))]


def short_road(events: list) -> list[dict]:
    """A short trace's road: columns, through JSON, read back as dicts."""
    return to_rows(json.loads(json.dumps(to_columns(events, effects_at(events)))))


# events as no tracer makes them, but as the packers must take them: nulls, a lone surrogate,
# a 4-tuple change (a variable's), 5-tuples with and without an old text, an empty list of changes
ODD = [
    [0, "call", None, "f", 0, [("x", "é\udc80", True, "x", None), ("y", "1", None)], None],
    [1, "line", 3, "f", 1, (), "v"],
    [2, "line", 4, "f", 1, [("a[0]", "2", False, "a", "1"), ("z", "3", 1, "w")], None],
    [3, "return", 5, "f", 0, [], "None"],
]


def c_packer():
    if event_columns._packcols is None:
        pytest.skip("the C packer is not built here (pip install -e . builds it)")
    return event_columns._packcols.pack


def test_the_c_and_python_packers_give_the_same_bytes():
    pack_c = c_packer()
    events = traced_events(n=40)
    assert len(events) > SHORT_TRACE
    # many changes to few events: the C packer's change columns grow past their first guess
    many = [[i, "line", 1, "f", 0, [(f"v{j}", "é" * j, j % 3 == 0) for j in range(50)], None] for i in range(3)]
    for evs in (events, events[:7], events[:1], [], ODD, ODD[1:2], many):
        assert pack_c(evs) == pack_py(evs)
        assert pack_c(evs, b"head1234") == pack_py(evs, b"head1234") == b"head1234" + pack_py(evs)
    assert from_packed(pack_c(many)).to_pylist() == expected(many)


def test_packed_events_read_back_as_the_tracer_recorded_them():
    events = traced_events(n=40)
    for evs in (events, events[:SHORT_TRACE], events[:3], []):
        assert from_packed(pack_py(evs)).to_pylist() == short_road(evs) == expected(evs)
    # element changes, non-ASCII text, return values and an exception are all there
    rows = from_packed(pack_py(events)).to_pylist()
    names = {c["name"] for e in rows for c in e["changes"]}
    assert {"grid[0][0]", "out[39]", "seen[39]", "seen"} <= names
    assert any(c["value"] == "{'naïve': 'ü'}" for e in rows for c in e["changes"])
    assert rows[-1]["event"] == "return" and "é✓" in rows[-1]["value"]


def test_odd_values_survive_or_are_refused():
    # the lone surrogate makes invalid UTF-8: refused (the JSON road did too, at the parquet write)
    with pytest.raises(MalformedEvents):
        from_packed(pack_py(ODD))
    rows = from_packed(pack_py(ODD[1:])).to_pylist()
    assert rows == short_road(ODD[1:])
    row = rows[1]
    assert row["changes"] == [{"name": "a[0]", "value": "2", "elided": False, "base": "a", "old": "1"},
                              {"name": "z", "value": "3", "elided": True, "base": "z", "old": None}]


def buffer_starts(blob: bytes) -> list[tuple[int, int]]:
    _, n, m, nbuf, *sizes = HEADER.unpack_from(blob)
    out, pos = [], HEADER.size
    for size in sizes:
        out.append((pos, size))
        pos += size + (-size % 8)
    return out


def damaged(blob: bytes) -> dict[str, bytes]:
    """Ways a hostile child could hand over events that are no events."""
    b = buffer_starts(blob)
    # buffers (FIELDS): event 0-2 (validity, offsets, data), lineno 3-4, func 5-7, depth 8-9,
    # value 10-12, effects_at 13-14, the changes' offsets 15
    kind_off, kind_data, changes_off = b[1][0], b[2][0], b[15][0]

    def put(at: int, data: bytes) -> bytes:
        return blob[:at] + data + blob[at + len(data):]

    return {
        "bad utf-8": put(kind_data, b"\xff"),
        "offsets backwards": put(kind_off + 4, struct.pack("<i", 10**6)),
        "changes past the end": put(changes_off + 4, struct.pack("<i", 10**6)),
        "truncated": blob[:-8],
        "bad magic": b"XXXX" + blob[4:],
        "header only": blob[:HEADER.size],
        "wrong count": blob[:4] + struct.pack("<I", struct.unpack_from("<I", blob, 4)[0] + 1) + blob[8:],
    }


@pytest.mark.parametrize("size", [5, SHORT_TRACE + 50])
def test_damaged_blobs_are_refused(size):
    events = traced_events(n=40)[:size]
    for what, bad in damaged(pack_py(events)).items():
        with pytest.raises(MalformedEvents):
            from_packed(bad)


def test_random_damage_is_refused_or_reads_as_events():
    """Any bit of a blob flipped: refused (MalformedEvents), or events that read back in full;
    never another error, never a crash."""
    blob = pack_py(traced_events(n=40))
    n = len(traced_events(n=40))
    rng = random.Random(0)
    refused = 0
    for _ in range(300):
        at = rng.randrange(len(blob))
        bad = blob[:at] + bytes([blob[at] ^ (1 << rng.randrange(8))]) + blob[at + 1:]
        try:
            rows = from_packed(bad).to_pylist()
        except MalformedEvents:
            refused += 1
            continue
        assert len(rows) == n and all(isinstance(r["changes"], list) for r in rows)
    assert 0 < refused < 300


FORGER = '''import os, struct
payload = {payload!r}
fd = max(int(x) for x in os.listdir("/proc/self/fd"))  # the result pipe is the highest descriptor
os.write(fd, struct.pack(">I", len(payload)) + payload)
os._exit(0)
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox("auto") as sb:
        yield sb


def forged(sb: Sandbox, blob: bytes | None, columns=None):
    head = {"status": "ok", "exception": None, "return_repr": None, "reason": ""}
    if blob is None:  # a short trace's road: the events as columns in the JSON
        payload = json.dumps({**head, "events": columns}).encode()
    else:
        payload = event_columns.result_payload(head, blob)
    problem = Problem(problem_id="p", source="test", kind="stdio")
    code = FORGER.format(payload=payload)
    return trace_one(problem, Solution(solution_id="s", code=code), Test(test_id="t", input="", output=None),
                     Limits(), sb)


@pytest.mark.parametrize("size", [5, SHORT_TRACE + 50])
def test_a_child_that_forges_its_events_gets_a_sandbox_violation_row(sandbox, size):
    events = traced_events(n=40)[:size]
    good = forged(sandbox, pack_py(events))
    assert good.status == "ok" and list(good.events) == expected(events)  # the channel is as we think
    for what in ("bad utf-8", "offsets backwards", "truncated", "bad magic"):
        tr = forged(sandbox, damaged(pack_py(events))[what])
        assert tr.status == "sandbox_violation" and tr.n_events == 0 and list(tr.events) == [], what


def test_a_child_that_forges_short_columns_gets_a_sandbox_violation_row(sandbox):
    events = traced_events(n=1)
    cols = to_columns(events, effects_at(events))
    good = forged(sandbox, None, cols)
    assert good.status == "ok" and list(good.events) == expected(events)
    for bad in ({**cols, "offsets": cols["offsets"][::-1]}, {**cols, "kind": cols["kind"][1:]},
                {k: v for k, v in cols.items() if k != "c_old"}, [[0, "line"]], "events"):
        tr = forged(sandbox, None, bad)
        assert tr.status == "sandbox_violation" and tr.n_events == 0, bad


def test_long_and_short_traces_go_to_parquet_as_recorded(tmp_path):
    """One shard holding an Arrow-backed trace between two short ones (dicts): each keeps its
    events; the writer dictionary-encodes the repeating strings only (TRACE_PARQUET_OPTIONS)."""
    import pyarrow.parquet as pq

    from tracegen.event_arrow import ArrowEvents
    from tracegen.records import TRACE_PARQUET_OPTIONS, TRACE_SCHEMA, Trace, traces_to_table

    long_events, short_events = traced_events(n=40), traced_events(n=1)
    assert len(long_events) > SHORT_TRACE

    def row(i: int, events) -> Trace:
        return Trace(trace_id=str(i), problem_id="p", solution_id="s", test_id=str(i), kind="function",
                     code="", input="", expected_output=None, status="ok", stdout="", return_repr=None,
                     exception=None, matches_expected=None, n_events=len(events), events=events,
                     tracer_version="t", python_version="3", wall_ms=0.0)

    rows = [row(0, short_road(short_events)), row(1, ArrowEvents(from_packed(pack_py(long_events)))),
            row(2, short_road(short_events))]
    path = tmp_path / "traces.parquet"
    with pq.ParquetWriter(path, TRACE_SCHEMA, **TRACE_PARQUET_OPTIONS) as writer:
        writer.write_table(traces_to_table(rows))
    back = pq.read_table(path).to_pylist()
    assert [r["events"] for r in back] == [expected(short_events), expected(long_events), expected(short_events)]
    chunks = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {chunks.column(i).path_in_schema: chunks.column(i).has_dictionary_page
                 for i in range(chunks.num_columns)}
    assert encodings["events.list.element.event"] and encodings["trace_id"]
    assert not encodings["events.list.element.changes.list.element.value"]


def test_a_result_too_big_for_the_channel_keeps_its_first_events():
    """harness.result_bytes: past the cap the last events go (packed, or as columns once few are
    left), the status says byte_budget, and what is kept reads back as recorded."""
    from tracegen.event_arrow import read_events
    from tracegen.event_columns import split_payload
    from tracegen.harness import result_bytes

    events = traced_events(n=40)
    full = result_bytes({"status": "ok", "reason": "", "events": events}, 10**9)
    for cap in (len(full) // 2, 6_000):
        data = result_bytes({"status": "ok", "reason": "", "events": events}, cap)
        head, blob = split_payload(data)
        kept = list(read_events(blob if blob is not None else head["events"]))
        assert len(data) <= cap and head["status"] == "byte_budget" and "result channel" in head["reason"]
        assert 0 < len(kept) < len(events) and kept == expected(events[:len(kept)])
    assert (blob is None) and len(kept) <= SHORT_TRACE  # the small cap left a short trace: columns
