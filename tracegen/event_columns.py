"""Events from the sandboxed child to the parent as Arrow-layout buffers: no Python object per event.

The child packs `Tracer.events` (lists [step, kind, lineno, func, depth, changes, value], changes
3-tuples (name, text, elided) or 5-tuples (path, text, elided, base, old)) into one bytes blob
(`pack`): each field is the buffers of an Arrow array (validity bitmap, int32 values or int32
offsets + UTF-8 data, a bitmap for bools), so the parent wraps them zero-copy
(event_arrow.from_packed, then validates them fully: the child is untrusted) instead of parsing
JSON into millions of objects. `pack` is C (`_packcols.c`, built by `pip install -e .`) where it
was built, and the pure-Python `pack_py` otherwise; both give the same bytes (tested).

Short traces (up to SHORT_TRACE events: a CRUXEval trace has ~14) travel as before, as plain
columns in the result's JSON (`to_columns`, read back as dicts by `to_rows`): for them the fixed
costs of a blob (30 buffers to frame, check and wrap) outweigh what it saves.

Blob: b"SXEV", u32 n (events), u32 m (changes), u32 len(BUFFERS), one u32 length per buffer, then
the buffers in BUFFERS order, each padded to 8 bytes. Little-endian. An empty validity buffer
means no nulls. A variable's change has base == name (written out), old null; the step of an
event is its index; effects_at is computed here (event_dicts.effects_at: a call's changes take effect
at once, any other event's at its frame's next event).

The whole result the child sends (`payload_head`, then `pack`): b"\\0SX1", u32 length of the
JSON of the result without its events, that JSON, padding to 8, the blob. A payload starting with
"{" is a plain JSON result: a short trace's (its events as columns), or the worker's report of
its own failure.

No pyarrow here: this runs in every sandboxed child, which must not pay for importing it.
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from itertools import accumulate
from typing import Any

try:  # the C packer; SELFEXEC_PURE_PACKER=1 (read at import) keeps the pure-Python one
    import os as _os

    if _os.environ.get("SELFEXEC_PURE_PACKER"):
        raise ImportError
    from . import _packcols
except ImportError:
    _packcols = None

# Traces up to this many events travel as JSON columns, longer ones packed
SHORT_TRACE = 256
MAGIC = b"SXEV"
PAYLOAD_MAGIC = b"\0SX1"
# (field, layout) in blob order: "i" int32 (validity, values), "s" string (validity, offsets,
# data), "b" bool (validity, bits), "o" the changes' list offsets (values only)
FIELDS = (("event", "s"), ("lineno", "i"), ("func", "s"), ("depth", "i"), ("value", "s"),
          ("effects_at", "i"), ("changes", "o"), ("name", "s"), ("c_value", "s"), ("elided", "b"),
          ("base", "s"), ("old", "s"))
EVENT_FIELDS = 7  # FIELDS[:7] have one entry per event, the rest one per change
N_BUFFERS = sum({"i": 2, "s": 3, "b": 2, "o": 1}[layout] for _, layout in FIELDS)
HEADER = struct.Struct(f"<4sIII{N_BUFFERS}I")
_LITTLE = sys.byteorder == "little"


def pack(events: list, prefix: bytes = b"") -> bytes:
    """`prefix`, then `Tracer.events` as the blob (C where built). (The child's payload is the
    result's head then the blob: one allocation of tens of MB rather than two.)"""
    if _packcols is not None:
        return _packcols.pack(events, prefix)
    return pack_py(events, prefix)


def pack_py(events: list, prefix: bytes = b"") -> bytes:
    """The pure-Python packer: the same bytes as _packcols.pack."""
    from .event_dicts import effects_at

    changes = [c for e in events for c in e[5]]
    cols = [[e[1] for e in events], [e[2] for e in events], [e[3] for e in events],
            [e[4] for e in events], [e[6] for e in events], effects_at(events),
            [0, *accumulate(len(e[5]) for e in events)],
            [c[0] for c in changes], [c[1] for c in changes], [c[2] for c in changes],
            [c[3] if len(c) == 5 else c[0] for c in changes], [c[4] if len(c) == 5 else None for c in changes]]
    buffers: list[bytes] = []
    for (_, layout), col in zip(FIELDS, cols):
        if layout == "o":
            buffers.append(_int32(col))
            continue
        valid = b""
        if None in col:
            valid = _bitmap([x is not None for x in col])
            col = [_NULL[layout] if x is None else x for x in col]
        buffers.append(valid)
        if layout == "i":
            buffers.append(_int32(col))
        elif layout == "b":
            if not all(isinstance(x, int) for x in col):  # bools (as the C packer)
                raise TypeError("a bool is required")
            buffers.append(_bitmap([bool(x) for x in col]))
        else:
            buffers.extend(_strings(col))
    return _assemble(len(events), len(changes), buffers, prefix)


_NULL = {"i": 0, "b": False, "s": ""}


def _int32(values: list) -> bytes:
    a = array("i", values)  # OverflowError past int32, TypeError for what is no int
    if not _LITTLE:
        a.byteswap()
    return a.tobytes()


def _bitmap(flags: list[bool]) -> bytes:
    """Arrow's bit order (element i is bit i % 8 of byte i // 8): the flags as a binary number,
    element 0 the least significant bit (int() reads a power-of-two base in linear time)."""
    if not flags:
        return b""
    digits = bytes(flags).translate(_DIGITS)[::-1]
    return int(digits, 2).to_bytes((len(flags) + 7) // 8, "little")


_DIGITS = bytes.maketrans(b"\0\1", b"01")


def _strings(col: list[str]) -> tuple[bytes, bytes]:
    """int32 offsets and UTF-8 data (surrogatepass: a lone surrogate makes invalid UTF-8, which
    the parent rejects, as the JSON road did)."""
    joined = "".join(col)  # TypeError for what is no str
    data = joined.encode("utf-8", "surrogatepass")
    if len(data) == len(joined):  # all ASCII: characters are bytes
        lengths = map(len, col)
    else:
        lengths = (len(s.encode("utf-8", "surrogatepass")) for s in col)
    return _int32(list(accumulate(lengths, initial=0))), data


def _assemble(n: int, m: int, buffers: list[bytes], prefix: bytes) -> bytes:
    parts = [prefix, HEADER.pack(MAGIC, n, m, len(buffers), *map(len, buffers))]
    for b in buffers:
        parts.append(b)
        parts.append(b"\0" * (-len(b) % 8))
    return b"".join(parts)


# what each buffer holds, in blob order: (role, per event or per change)
_ROLES = tuple((role, i < EVENT_FIELDS) for i, (_, kind) in enumerate(FIELDS) for role in
               {"i": ("valid", "int32"), "s": ("valid", "offsets", "data"), "b": ("valid", "bits"),
                "o": ("offsets",)}[kind])


def layout(blob) -> tuple[int, int, list[memoryview]]:
    """(n, m, buffers) of a blob; ValueError when its framing is wrong. The buffers' sizes are
    checked against n and m; their contents are the reader's to check."""
    view = memoryview(blob).cast("B")
    if len(view) < HEADER.size:
        raise ValueError("event blob shorter than its header")
    magic, n, m, nbuf, *sizes = HEADER.unpack_from(view)
    if magic != MAGIC or nbuf != N_BUFFERS:
        raise ValueError("not an event blob of this version")
    buffers = []
    pos = HEADER.size
    for size, (role, per_event) in zip(sizes, _ROLES):
        k = n if per_event else m
        if role == "offsets":
            ok = size == 4 * (k + 1)
        elif role == "int32":
            ok = size == 4 * k
        elif role == "bits":
            ok = size == (k + 7) // 8
        elif role == "valid":
            ok = size in (0, (k + 7) // 8)  # absent (no nulls), or a bit each
        else:
            ok = True  # strings' data: their offsets say how much
        if not ok:
            raise ValueError(f"event blob with a {role} buffer of the wrong size")
        if pos + size > len(view):
            raise ValueError("event blob shorter than its buffers")
        buffers.append(view[pos:pos + size])
        pos += size + (-size % 8)
    if pos != len(view):
        raise ValueError("event blob with bytes past its buffers")
    return n, m, buffers


def to_rows(cols: dict[str, Any]) -> list[dict[str, Any]]:
    """The Trace.events dicts of a short trace's columns (to_columns, through JSON). Raises
    ValueError (or TypeError) on columns that do not fit together."""
    kind, lineno, func, depth, value, eff = (cols[k] for k in COLUMN_FIELDS)
    names, texts, elided, bases, olds = (cols[k] for k in CHANGE_COLUMNS)
    off = cols["offsets"]
    n, m = len(kind), len(names)
    if any(len(cols[k]) != n for k in COLUMN_FIELDS) or len(off) != n + 1 or off[0] != 0 or off[-1] != m \
            or any(len(cols[k]) != m for k in CHANGE_COLUMNS) or any(a > b for a, b in zip(off, off[1:])):
        raise ValueError("event columns that do not fit together")
    changes = [{"name": names[j], "value": texts[j], "elided": elided[j],
                "base": names[j] if bases[j] is None else bases[j], "old": olds[j]} for j in range(m)]
    return [{"step": i, "event": kind[i], "lineno": lineno[i], "func": func[i], "depth": depth[i],
             "changes": changes[off[i]:off[i + 1]], "value": value[i], "effects_at": eff[i]} for i in range(n)]


def payload_head(result: dict[str, Any]) -> bytes:
    """What the child sends before the event blob: the result (its events aside) as JSON, framed
    and padded so that the blob starts 8-aligned."""
    head = json.dumps(result, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
    pad = -(len(PAYLOAD_MAGIC) + 4 + len(head)) % 8
    return b"".join((PAYLOAD_MAGIC, struct.pack("<I", len(head) + pad), head, b" " * pad))


def result_payload(result: dict[str, Any], blob: bytes) -> bytes:
    """A whole packed payload from a blob made apart (tests, benchmarks; the child packs its events
    straight after payload_head)."""
    return payload_head(result) + blob


def split_payload(payload: bytes) -> tuple[Any, memoryview | None]:
    """(result, event blob or None) of what the child sent; ValueError when it is not JSON.
    The blob is a view into `payload` (no copy); the result's events key is the caller's to set."""
    if len(payload) and payload[0] == 0x7B:  # "{": plain JSON
        return json.loads(payload if isinstance(payload, bytes) else bytes(payload)), None
    if len(payload) < 8 or bytes(payload[:4]) != PAYLOAD_MAGIC:
        raise ValueError("a result that is neither JSON nor a packed result")
    (k,) = struct.unpack_from("<I", payload, 4)
    if 8 + k > len(payload):
        raise ValueError("a packed result shorter than its header")
    view = memoryview(payload)
    return json.loads(bytes(view[8:8 + k])), view[8 + k:]


COLUMN_FIELDS = ("kind", "lineno", "func", "depth", "value", "effects_at")
CHANGE_COLUMNS = ("c_name", "c_value", "c_elided", "c_base", "c_old")


def to_columns(events: list[list], effects: list[int]) -> dict[str, list]:
    """Event lists as plain columns: how a short trace travels, in the result's JSON (offsets:
    event i's changes are c_*[offsets[i]:offsets[i + 1]]; c_base null: the variable itself)."""
    changes = [c for e in events for c in e[5]]
    return {"kind": [e[1] for e in events], "lineno": [e[2] for e in events],
            "func": [e[3] for e in events], "depth": [e[4] for e in events],
            "value": [e[6] for e in events], "effects_at": effects,
            "offsets": [0, *accumulate(len(e[5]) for e in events)],
            "c_name": [c[0] for c in changes], "c_value": [c[1] for c in changes],
            "c_elided": [c[2] for c in changes], "c_base": [c[3] if len(c) == 5 else None for c in changes],
            "c_old": [c[4] if len(c) == 5 else None for c in changes]}
