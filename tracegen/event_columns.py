"""Events as columns, from the sandboxed child to the parquet file without a Python object per event.

The child turns its event lists into one list per field (`to_columns`, transposed by zip at C
speed) and sends them as JSON; the parent parses that (C) and builds the Arrow `events` struct
array from the lists directly (`to_arrow`, C), then the Trace row carries it as `ArrowEvents`,
which behaves as the list of dicts DESIGN §2 promises (built only if someone reads it) and which
`records.traces_to_table` writes as it is. Making a dict per event and letting Arrow infer them back
took two thirds of the time of a long trace. The Arrow half is event_arrow.py.

Columns: kind, lineno, func, depth, value, effects_at (one entry per event; step is the index),
offsets (len + 1 entries: event i's changes are c_* [offsets[i]:offsets[i + 1]]), and c_name,
c_value, c_elided, c_base (null: the variable itself, base == name), c_old.
"""

from __future__ import annotations

from itertools import accumulate, chain
from typing import Any

# (no pyarrow here: this runs in every sandboxed child, which must not pay for importing it)
EVENT_FIELDS = ("kind", "lineno", "func", "depth", "value", "effects_at")
CHANGE_FIELDS = ("c_name", "c_value", "c_elided", "c_base", "c_old")


def to_columns(events: list[list], effects: list[int]) -> dict[str, list]:
    """Event lists (step, kind, lineno, func, depth, changes, value) as columns."""
    if not events:
        return {name: [] for name in (*EVENT_FIELDS, *CHANGE_FIELDS)} | {"offsets": [0]}
    # one list comprehension per field: zip(*events) makes an iterator per event, 8x slower
    changes = [e[5] for e in events]
    cols: dict[str, Any] = {"kind": [e[1] for e in events], "lineno": [e[2] for e in events],
                            "func": [e[3] for e in events], "depth": [e[4] for e in events],
                            "value": [e[6] for e in events], "effects_at": effects,
                            "offsets": [0, *accumulate(map(len, changes))]}
    flat = list(chain.from_iterable(changes))
    cols["c_name"] = [c[0] for c in flat]
    cols["c_value"] = [c[1] for c in flat]
    cols["c_elided"] = [c[2] for c in flat]
    cols["c_base"] = [c[3] if len(c) == 5 else None for c in flat]
    cols["c_old"] = [c[4] if len(c) == 5 else None for c in flat]
    return cols


def to_rows(cols: dict[str, Any]) -> list[dict[str, Any]]:
    """The Trace.events dicts of a short trace (Arrow's fixed cost per array outweighs this below
    a few hundred events). Raises ValueError (or TypeError) on columns that do not fit together."""
    kind, lineno, func, depth, value, eff = (cols[k] for k in EVENT_FIELDS)
    names, texts, elided, bases, olds = (cols[k] for k in CHANGE_FIELDS)
    off = cols["offsets"]
    n, m = len(kind), len(names)
    if any(len(cols[k]) != n for k in EVENT_FIELDS) or len(off) != n + 1 or off[0] != 0 or off[-1] != m \
            or any(len(cols[k]) != m for k in CHANGE_FIELDS) or any(a > b for a, b in zip(off, off[1:])):
        raise ValueError("event columns that do not fit together")
    changes = [{"name": names[j], "value": texts[j], "elided": elided[j],
                "base": names[j] if bases[j] is None else bases[j], "old": olds[j]} for j in range(m)]
    return [{"step": i, "event": kind[i], "lineno": lineno[i], "func": func[i], "depth": depth[i],
             "changes": changes[off[i]:off[i + 1]], "value": value[i], "effects_at": eff[i]} for i in range(n)]


def n_events(cols: dict[str, Any]) -> int:
    return len(cols.get("kind") or ())


def cut(cols: dict[str, list], keep: int) -> dict[str, list]:
    """The first `keep` events."""
    end = cols["offsets"][keep]
    out = {k: list(cols[k][:keep]) for k in EVENT_FIELDS}
    out.update({k: list(cols[k][:end]) for k in CHANGE_FIELDS})
    out["offsets"] = list(cols["offsets"][: keep + 1])
    return out
