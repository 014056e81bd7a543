"""A trace's events as the Trace.events structs (DESIGN §2), from the tracer's event lists
[step, kind, lineno, func, depth, changes, value]: when each event's changes take effect, and the
dicts of a change and of an event."""

from __future__ import annotations

from typing import Any


def effects_at(events: list) -> list[int]:
    """For each event, the step at which its changes take effect: a call's at once, any other
    event's at the next event of its frame, which is the next one no deeper than it (the events
    in between are the calls it made); len(events) when the program ended first."""
    n = len(events)
    out = [n] * n
    waiting: list[int] = []  # events whose frame has not had its next event yet, depths rising
    for i, e in enumerate(events):
        d = e[4]
        while waiting and events[waiting[-1]][4] >= d:
            out[waiting.pop()] = i
        if e[1] == "call":
            out[i] = i
        else:
            waiting.append(i)
    return out


def change_dict(c) -> dict[str, Any]:
    """A change tuple as the Trace change struct: a variable's has base == name and no old."""
    if len(c) == 3:
        return {"name": c[0], "value": c[1], "elided": c[2], "base": c[0], "old": None}
    return {"name": c[0], "value": c[1], "elided": c[2], "base": c[3], "old": c[4]}


def event_dict(e: list) -> dict[str, Any]:
    """One compact event (events_compact) as the Trace.events struct."""
    step, kind, lineno, func, depth, changes, value = e[:7]
    return {"step": step, "event": kind, "lineno": lineno, "func": func, "depth": depth,
            "changes": [change_dict(c) for c in changes], "value": value,
            "effects_at": e[7] if len(e) > 7 else step + 1}
