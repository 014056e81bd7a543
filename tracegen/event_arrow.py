"""The parent's half of event_columns.py: columns from the sandboxed child as the Arrow `events`
array of one Trace row (checked: they come from an untrusted process), and `ArrowEvents`, which
carries that array in the Trace record and reads as the list of event dicts of DESIGN §2."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .event_columns import CHANGE_FIELDS, EVENT_FIELDS
from .records import CHANGE_TYPE, EVENT_TYPE


class MalformedEvents(ValueError):
    """Columns from the untrusted child that do not make events."""


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
        steps = _steps(n)
        arrays = [steps, pa.array(cols["kind"], pa.string()),
                  pa.array(cols["lineno"], pa.int32()), pa.array(cols["func"], pa.string()),
                  pa.array(cols["depth"], pa.int32()), listed, pa.array(cols["value"], pa.string()),
                  pa.array(cols["effects_at"], pa.int32())]
        return pa.StructArray.from_arrays(arrays, fields=list(EVENT_TYPE))
    except (KeyError, TypeError, pa.ArrowException) as exc:
        raise MalformedEvents(str(exc)[:200]) from None


def _steps(n: int) -> pa.Array:
    """0..n-1 as int32 (pyarrow converts a range object through pandas, slowly; numpy is fast)."""
    try:
        import numpy as np
    except ImportError:  # numpy is optional for pyarrow
        return pa.array(list(range(n)), pa.int32())
    return pa.array(np.arange(n, dtype=np.int32))


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
