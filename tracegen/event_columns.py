"""Events as columns, from the sandboxed child to the parquet file without a Python object per event.

The child turns its event lists into one list per field (`to_columns`, transposed by zip at C
speed) and sends them as JSON; the parent parses that (C) and builds the Arrow `events` struct
array from the lists directly (`to_arrow`, C), then the Trace row carries it as `ArrowEvents`,
which behaves as the list of dicts DESIGN §2 promises (built only if someone reads it) and which
`records.traces_to_table` writes as it is. Making a dict per event and letting Arrow infer them back
took two thirds of the time of a long trace.

Columns: kind, lineno, func, depth, value, effects_at (one entry per event; step is the index),
offsets (len + 1 entries: event i's changes are c_* [offsets[i]:offsets[i + 1]]), and c_name,
c_value, c_elided, c_base (null: the variable itself, base == name), c_old.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate, chain
from typing import Any

import pyarrow as pa

from .records import CHANGE_TYPE, EVENT_TYPE

EVENT_FIELDS = ("kind", "lineno", "func", "depth", "value", "effects_at")
CHANGE_FIELDS = ("c_name", "c_value", "c_elided", "c_base", "c_old")


class MalformedEvents(ValueError):
    """Columns from the untrusted child that do not make events."""


def to_columns(events: list[list], effects: list[int]) -> dict[str, list]:
    """Event lists (step, kind, lineno, func, depth, changes, value) as columns."""
    if not events:
        return {name: [] for name in (*EVENT_FIELDS, *CHANGE_FIELDS)} | {"offsets": [0]}
    _steps, kinds, linenos, funcs, depths, changes, values = list(zip(*(e[:7] for e in events)))
    flat = [c if len(c) == 5 else (c[0], c[1], c[2], None, None) for c in chain.from_iterable(changes)]
    cols: dict[str, Any] = {"kind": kinds, "lineno": linenos, "func": funcs, "depth": depths, "value": values,
                            "effects_at": effects, "offsets": [0, *accumulate(map(len, changes))]}
    names = list(zip(*flat)) if flat else [(), (), (), (), ()]
    cols.update(zip(CHANGE_FIELDS, names))
    return cols


def n_events(cols: dict[str, Any]) -> int:
    return len(cols.get("kind") or ())


def cut(cols: dict[str, list], keep: int) -> dict[str, list]:
    """The first `keep` events."""
    end = cols["offsets"][keep]
    out = {k: list(cols[k][:keep]) for k in EVENT_FIELDS}
    out.update({k: list(cols[k][:end]) for k in CHANGE_FIELDS})
    out["offsets"] = list(cols["offsets"][: keep + 1])
    return out


def to_arrow(cols: dict[str, Any]) -> pa.StructArray:
    """The Trace.events values of one trace, checked (they come from the sandboxed child)."""
    import pyarrow.compute as pc

    try:
        n = len(cols["kind"])
        if any(len(cols[k]) != n for k in EVENT_FIELDS) or len(cols["offsets"]) != n + 1:
            raise MalformedEvents("event columns of different lengths")
        m = len(cols["c_name"])
        if any(len(cols[k]) != m for k in CHANGE_FIELDS) or cols["offsets"][0] != 0 or cols["offsets"][-1] != m:
            raise MalformedEvents("change columns that do not match their offsets")
        name = pa.array(cols["c_name"], pa.string())
        base = pc.coalesce(pa.array(cols["c_base"], pa.string()), name)
        changes = pa.StructArray.from_arrays(
            [name, pa.array(cols["c_value"], pa.string()), pa.array(cols["c_elided"], pa.bool_()), base,
             pa.array(cols["c_old"], pa.string())], fields=list(CHANGE_TYPE))
        offsets = pa.array(cols["offsets"], pa.int32())
        listed = pa.ListArray.from_arrays(offsets, changes)
        listed.validate(full=True)  # offsets that go backwards or out of range
        arrays = [pa.array(range(n), pa.int32()), pa.array(cols["kind"], pa.string()),
                  pa.array(cols["lineno"], pa.int32()), pa.array(cols["func"], pa.string()),
                  pa.array(cols["depth"], pa.int32()), listed, pa.array(cols["value"], pa.string()),
                  pa.array(cols["effects_at"], pa.int32())]
        return pa.StructArray.from_arrays(arrays, fields=list(EVENT_TYPE))
    except (KeyError, TypeError, pa.ArrowException) as exc:
        raise MalformedEvents(str(exc)[:200]) from None


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
