"""The parent's half of event_columns.py: the child's packed events as the Arrow `events` array of
one Trace row, wrapped without a copy and checked in full (they come from an untrusted process),
and `ArrowEvents`, which carries that array in the Trace record and reads as the list of event
dicts of DESIGN §2."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .event_columns import EVENT_FIELDS, FIELDS, layout, to_rows
from .records import CHANGE_TYPE, EVENT_TYPE
from .event_dicts import event_dict


class MalformedEvents(ValueError):
    """A blob from the untrusted child that does not make events."""


def read_events(raw) -> Sequence[dict[str, Any]]:
    """Trace.events from what the sandboxed child sent: a long trace's packed blob as ArrowEvents
    (checked in full), a short one's columns as dicts (event_columns.to_rows), event lists as
    dicts. ValueError (or TypeError, KeyError, IndexError) on anything that is not events."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        return ArrowEvents(from_packed(raw))
    if isinstance(raw, dict):
        return to_rows(raw)
    return [event_dict(e) if isinstance(e, list) else e for e in raw]


_TYPES = {"i": pa.int32(), "s": pa.string(), "b": pa.bool_()}


def from_packed(blob) -> pa.StructArray:
    """The Trace.events values of one trace from event_columns' blob: Arrow arrays over the blob's
    own buffers (no copy), validated in full (offsets in order and in range, UTF-8)."""
    try:
        n, m, buffers = layout(blob)
        it = iter(buffers)
        arrays = []
        for i, (_, kind) in enumerate(FIELDS):
            k = n if i < EVENT_FIELDS else m
            if kind == "o":
                arrays.append(pa.py_buffer(next(it)))  # the changes' offsets: used below
                continue
            valid = next(it)
            bufs = [pa.py_buffer(valid) if len(valid) else None, pa.py_buffer(next(it))]
            if kind == "s":
                bufs.append(pa.py_buffer(next(it)))
            arrays.append(pa.Array.from_buffers(_TYPES[kind], k, bufs))
        event, lineno, func, depth, value, effects_at, offsets, name, c_value, elided, base, old = arrays
        changes = pa.Array.from_buffers(CHANGE_TYPE, m, [None], children=[name, c_value, elided, base, old])
        listed = pa.Array.from_buffers(EVENT_TYPE.field("changes").type, n, [None, offsets], children=[changes])
        events = pa.Array.from_buffers(
            EVENT_TYPE, n, [None],
            children=[_steps(n), event, lineno, func, depth, listed, value, effects_at])
        events.validate(full=True)
        return events
    except (ValueError, TypeError, pa.ArrowException) as exc:
        raise MalformedEvents(str(exc)[:200]) from None


_STEPS = pa.py_buffer(b"")


def _steps(n: int) -> pa.Array:
    """0..n-1 as int32: a slice of one buffer kept for all traces (grown as needed). (pyarrow
    turns a range through pandas, slowly; numpy costs a second to import in a cold CLI.)"""
    global _STEPS
    if _STEPS.size < 4 * n:
        _STEPS = pa.py_buffer(array("i", range(max(n, 2 * _STEPS.size // 4))).tobytes())
    return pa.Array.from_buffers(pa.int32(), n, [None, _STEPS])


class ArrowEvents(Sequence):
    """Trace.events held as the Arrow array that goes into the parquet file; reads as the list of
    event dicts (made once, on first read)."""

    __slots__ = ("array", "_rows")

    def __init__(self, array: pa.StructArray):
        self.array = array
        self._rows: list[dict[str, Any]] | None = None

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = self.array.to_pylist()
        return self._rows

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i):
        return self.rows()[i]

    def __iter__(self):
        return iter(self.rows())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Sequence)) else NotImplemented

    def __repr__(self) -> str:
        return f"ArrowEvents({len(self)} events)"
