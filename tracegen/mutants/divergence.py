"""The first step where a mutant's trace departs from the original's on the same input.

Mutants keep every line number (operators.py), so two traces can be walked side by side: events agree
as long as they run the same line in the same function with the same variable changes. The first
event that does not is the divergence, recorded as

    {"test_id", "step", "lineno", "variable", "original", "mutant", "kind"}

kind "value": the same line gave `variable` another value (or bound it in one run only);
kind "control": the runs went to different lines (`original` / `mutant` say which, `variable` is null);
kind "event": the same line ended differently (a return value or an exception);
kind "output": every recorded step agrees and only the end differs (stdout, return value, status).
"""

from __future__ import annotations

from typing import Any

from ..records import Trace


def _timeline(trace: Trace) -> list[tuple]:
    """The run as things happened: each event's arrival, and its variable changes at the step where
    they took effect (tracer v2 puts a line's changes after the calls it makes: `effects_at`).

    Items: (when, order, step, kind, payload); kind "at" has (event, lineno, func, value), kind "set"
    the dict name -> value of the changes."""
    items = []
    for i, e in enumerate(trace.events):
        items.append((i, 1, i, "at", (e["event"], e["lineno"], e["func"], e.get("value"))))
        changes = {c["name"]: c["value"] for c in e.get("changes") or []}
        if changes:
            items.append((e.get("effects_at", i + 1), 0, i, "set", changes))
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    return items


def first_divergence(original: Trace, mutant: Trace) -> dict[str, Any] | None:
    """The first differing step of two traces of one input, or None when they agree entirely."""
    base = {"test_id": original.test_id}
    ta, tb = _timeline(original), _timeline(mutant)
    for a, b in zip(ta, tb):
        if a[3:] == b[3:]:
            continue
        if "set" in (a[3], b[3]):
            # everything before agreed, so the last line both ran changed something else, another value,
            # or (a dropped statement) nothing in one of the runs
            ca, cb = (a[4] if a[3] == "set" else {}), (b[4] if b[3] == "set" else {})
            names = [n for n in ca if ca[n] != cb.get(n)] + [n for n in cb if n not in ca]
            name = names[0]
            step = a[2] if a[3] == "set" else b[2]
            return dict(base, step=step, lineno=(original if a[3] == "set" else mutant).events[step]["lineno"],
                        variable=name, kind="value", original=ca.get(name), mutant=cb.get(name))
        if a[3] == b[3] == "at" and a[4][:3] == b[4][:3]:  # same line, another return value / exception
            return dict(base, step=a[2], lineno=a[4][1], variable=None, kind="event", original=a[4][3],
                        mutant=b[4][3])
        return dict(base, step=min(a[2], b[2]), lineno=_line(mutant, b), variable=None, kind="control",
                    original=_what(original, a), mutant=_what(mutant, b))
    ends = [(t.status, t.stdout, t.return_repr, t.exception) for t in (original, mutant)]
    if len(ta) == len(tb) and ends[0] == ends[1]:
        return None
    if len(ta) != len(tb):
        longer, tl = (original, ta) if len(ta) > len(tb) else (mutant, tb)
        nxt = tl[min(len(ta), len(tb))]
        what = _what(longer, nxt)
        return dict(base, step=nxt[2], lineno=_line(longer, nxt), variable=None, kind="control",
                    original=what if longer is original else f"ends ({original.status})",
                    mutant=what if longer is mutant else f"ends ({mutant.status})")
    return dict(base, step=len(original.events), lineno=(original.events or [{"lineno": 0}])[-1]["lineno"],
                variable=None, kind="output", original=_end(original), mutant=_end(mutant))


def _line(trace: Trace, item: tuple) -> int:
    return trace.events[item[2]]["lineno"]


def _what(trace: Trace, item: tuple) -> str:
    e = trace.events[item[2]]
    if item[3] == "set":
        return f"line {e['lineno']} sets " + ", ".join(f"{k} = {v}" for k, v in item[4].items())[:200]
    if e["event"] == "line":
        return f"goes to line {e['lineno']} in {e['func']}"
    return f"{e['event']} at line {e['lineno']} in {e['func']}"


def _end(t: Trace) -> str:
    """How a run ended: its output (budgets stop recording, not the program), or its failure."""
    if t.status in ("ok", "event_budget", "byte_budget"):
        out = t.return_repr if t.kind == "function" else t.stdout
        return (out or "")[:200]
    return f"{t.status}: {t.exception or t.reason}"[:200]
