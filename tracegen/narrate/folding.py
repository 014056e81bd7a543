"""Events as a call tree, and deterministic folding of long loops and repeated calls.

`fold(events, facts, k)` flattens a trace's events into a listing of entries, in event order,
where every loop that ran more than 2k+1 iterations keeps its first k and last k iterations and
the middle becomes one `Fold` entry that counts what was left out and gives the last value of
each variable the folded iterations changed (so the state after the gap is still known). The
same holds for one line that calls a user function (or resumes a generator) many times. With
k=None nothing is folded. `truncate_middle` is the last resort when folding is not enough (deep
recursion has no loop to fold): it keeps a head and a tail of the listing.

Iterations are cut from the events, guided by the AST: a loop's run is the stretch of its
frame's events whose lines lie inside the loop, and an iteration starts at each visit of the
header line (or of the first body line, for loops whose header runs once). Comprehension frames
and runs of one repeated line (Python >= 3.12 inlines comprehensions) fold the same way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from .code_facts import COMPREHENSIONS, CodeFacts

STDOUT = "<stdout>"
ELLIPSIS = "…"  # render's elision mark: a value with it does not show every element


def told(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The changes a narration tells: a container changed element by element (`dp[3][4]`, an
    element change: name != base) is told by its elements, not as the whole value again."""
    bases = {c["base"] for c in changes if c.get("base") not in (None, c["name"])}
    if not bases:
        return changes
    return [c for c in changes if c["name"] not in bases]


@dataclass(slots=True)
class Item:
    """One event of a frame, with the frames called while it ran."""

    idx: int
    children: list[Frame] = field(default_factory=list)


@dataclass(slots=True)
class Frame:
    func: str
    depth: int
    items: list[Item] = field(default_factory=list)  # items[0] is the call event when there is one


@dataclass(slots=True)
class Fold:
    what: str  # loop | calls | steps
    lineno: int  # loop header; for calls, the line of the first folded call event (the def line)
    func: str  # the frame the loop runs in, or the function called
    depth: int
    skipped: int  # iterations, calls or steps left out
    total: int  # iterations or calls in all (steps: events in all)
    kept_before: int  # iterations or calls shown before the gap
    n_events: int  # trace events inside the gap
    last_values: list[tuple[str, str]] = field(default_factory=list)  # (name, value) after the gap
    prints: int = 0  # how many times the folded part wrote to stdout


@dataclass(slots=True)
class Entry:
    kind: str  # event | after | fold
    depth: int
    idx: int = -1  # event index (event / after)
    fold: Fold | None = None
    has_children: bool = False  # an event entry whose calls follow it in the listing


def build_frames(events: list[dict[str, Any]]) -> list[Frame]:
    """The call tree: top-level frames, each item owning the frames it called. Iterative, so a
    deep recursion in the program is no recursion here; robust to traces cut by a budget."""
    roots: list[Frame] = []
    stack: list[Frame] = []
    for i, e in enumerate(events):
        d = e["depth"]
        if e["event"] == "call":
            while stack and stack[-1].depth >= d:
                stack.pop()
            f = Frame(e["func"], d, [Item(i)])
            _attach(f, stack, roots)
            stack.append(f)
            continue
        while stack and stack[-1].depth > d:
            stack.pop()
        if not stack or stack[-1].depth != d:
            f = Frame(e["func"], d)  # an event whose call was not recorded
            _attach(f, stack, roots)
            stack.append(f)
        stack[-1].items.append(Item(i))
        if e["event"] == "return":
            stack.pop()
    return roots


def _attach(f: Frame, stack: list[Frame], roots: list[Frame]) -> None:
    if stack and stack[-1].items:
        stack[-1].items[-1].children.append(f)
    else:
        roots.append(f)


def fold(events: list[dict[str, Any]], facts: CodeFacts, k: int | None) -> list[Entry]:
    """The listing of `events` with loops and repeated calls longer than 2k+1 folded."""
    folder = _Folder(events, facts, k)
    out: list[Entry] = []
    old = sys.getrecursionlimit()
    # the tree walk recurses once per nested call; traces hold at most a few thousand frames
    sys.setrecursionlimit(max(old, 4 * len(events) + 1000))
    try:
        folder.frames(build_frames(events), out)
    finally:
        sys.setrecursionlimit(old)
    return out


class _Folder:
    def __init__(self, events: list[dict[str, Any]], facts: CodeFacts, k: int | None):
        self.ev = events
        self.facts = facts
        self.k = k

    def frames(self, frames: list[Frame], out: list[Entry]) -> None:
        k = self.k
        if k is not None and len(frames) > 2 * k + 1:
            gap = frames[k:len(frames) - k]
            for f in frames[:k]:
                self.frame(f, out)
            first = self.ev[gap[0].items[0].idx] if gap[0].items else {}
            out.append(Entry("fold", gap[0].depth, fold=Fold(
                "calls", first.get("lineno", 0), gap[0].func, gap[0].depth, len(gap), len(frames), k,
                sum(_count(f) for f in gap), prints=sum(_prints(self.ev, f) for f in gap))))
            for f in frames[len(frames) - k:]:
                self.frame(f, out)
        else:
            for f in frames:
                self.frame(f, out)

    def frame(self, f: Frame, out: list[Entry]) -> None:
        self.items(f, f.items, out)

    def item(self, it: Item, depth: int, out: list[Entry]) -> None:
        out.append(Entry("event", depth, it.idx, has_children=bool(it.children)))
        if it.children:
            self.frames(it.children, out)
            if self.ev[it.idx]["changes"]:
                out.append(Entry("after", depth, it.idx))

    def items(self, f: Frame, items: list[Item], out: list[Entry]) -> None:
        ev, k = self.ev, self.k
        i, n = 0, len(items)
        while i < n:
            e = ev[items[i].idx]
            if k is None or e["event"] != "line":
                self.item(items[i], f.depth, out)
                i += 1
                continue
            h = e["lineno"]
            end = self.facts.loops.get(h)
            if f.func in COMPREHENSIONS:
                end = 1 << 30  # the whole comprehension frame is one loop
            j = i + 1
            if end is None:
                # a run of one line repeated (inlined comprehension) folds like a loop
                while j < n and ev[items[j].idx]["event"] == "line" and ev[items[j].idx]["lineno"] == h:
                    j += 1
                if j - i <= 2 * k + 1:
                    self.item(items[i], f.depth, out)
                    i += 1
                    continue
                self.loop(f, h, [items[m:m + 1] for m in range(i, j)], [], out)
                i = j
                continue
            while j < n:
                ej = ev[items[j].idx]
                if ej["event"] == "return" or not h <= ej["lineno"] <= end:
                    break
                j += 1
            run = items[i:j]
            split = h
            if f.func in COMPREHENSIONS:
                # an iteration starts where the target takes its value (the `for` line of a
                # comprehension written over several lines), not at the frame's first line
                split = next((ev[it.idx]["lineno"] for it in run
                              if ev[it.idx]["event"] == "line" and ev[it.idx].get("changes")), h)
            elif sum(1 for it in run if ev[it.idx]["lineno"] == h and ev[it.idx]["event"] == "line") < 2 \
                    and len(run) > 1:
                split = ev[run[1].idx]["lineno"]  # the header ran once: cut at the first body line
            starts = [m for m, it in enumerate(run) if ev[it.idx]["event"] == "line" and ev[it.idx]["lineno"] == split]
            if not starts or len(starts) < 2:
                self.item(run[0], f.depth, out)
                if len(run) > 1:
                    self.items(f, run[1:], out)
                i = j
                continue
            prefix = run[:starts[0]]
            segs = [run[a:b] for a, b in zip(starts, starts[1:] + [len(run)])]
            self.loop(f, h, segs, prefix, out)
            i = j

    def loop(self, f: Frame, h: int, segs: list[list[Item]], prefix: list[Item], out: list[Entry]) -> None:
        k = self.k or 0
        for it in prefix:
            self.item(it, f.depth, out)
        tail_exit: list[Item] = []
        if len(segs) > 1 and len(segs[-1]) == 1 and not segs[-1][0].children:
            tail_exit = segs.pop()  # the last header visit that only finds the loop done
        if len(segs) <= 2 * k + 1:
            for seg in segs:
                self.segment(f, seg, out)
        else:
            gap = segs[k:len(segs) - k]
            for seg in segs[:k]:
                self.segment(f, seg, out)
            out.append(Entry("fold", f.depth, fold=Fold(
                "loop", h, f.func, f.depth, len(gap), len(segs), k,
                sum(_count_items(s) for s in gap), _last_values(self.ev, gap),
                sum(_prints_items(self.ev, s) for s in gap))))
            for seg in segs[len(segs) - k:]:
                self.segment(f, seg, out)
        for it in tail_exit:
            self.item(it, f.depth, out)

    def segment(self, f: Frame, seg: list[Item], out: list[Entry]) -> None:
        self.item(seg[0], f.depth, out)
        if len(seg) > 1:
            self.items(f, seg[1:], out)  # loops nested in this iteration fold too


def _count(f: Frame) -> int:
    return _count_items(f.items)


def _count_items(items: list[Item]) -> int:
    n, stack = 0, list(items)
    while stack:
        it = stack.pop()
        n += 1
        for c in it.children:
            stack.extend(c.items)
    return n


def _prints(ev: list[dict[str, Any]], f: Frame) -> int:
    return _prints_items(ev, f.items)


def _prints_items(ev: list[dict[str, Any]], items: list[Item]) -> int:
    n, stack = 0, list(items)
    while stack:
        it = stack.pop()
        n += sum(1 for c in ev[it.idx]["changes"] if c["name"] == STDOUT)
        for c in it.children:
            stack.extend(c.items)
    return n


def _last_values(ev: list[dict[str, Any]], segs: list[list[Item]]) -> list[tuple[str, str]]:
    """The frame's own variables changed inside the folded iterations, with their last values,
    in the order they were last changed."""
    last: dict[str, str] = {}
    bases: dict[str, str] = {}  # element path -> its variable
    for seg in segs:
        for it in seg:
            for c in ev[it.idx]["changes"]:
                if c["name"] != STDOUT:
                    last.pop(c["name"], None)
                    last[c["name"]] = c["value"]
                    if c.get("base") not in (None, c["name"]):
                        bases[c["name"]] = c["base"]
    # an element whose variable's whole value is told too (and shows it) needs no line of its own
    return [(n, v) for n, v in last.items() if n not in bases or ELLIPSIS in last.get(bases[n], ELLIPSIS)]


def truncate_middle(entries: list[Entry], keep: int, events: list[dict[str, Any]]) -> list[Entry]:
    """Keep about `keep` entries: the first half and the last half, one `steps` fold between."""
    if len(entries) <= keep:
        return entries
    head = (keep + 1) // 2
    tail = keep - head
    gap = entries[head:len(entries) - tail]
    n_events = sum(1 for e in gap if e.kind == "event") + sum(e.fold.n_events for e in gap if e.kind == "fold")
    prints = sum(1 for e in gap if e.kind == "event" for c in events[e.idx]["changes"] if c["name"] == STDOUT)
    fold_ = Fold("steps", 0, "", min(e.depth for e in gap), n_events, len(events), 0, n_events,
                 prints=prints + sum(e.fold.prints for e in gap if e.kind == "fold"))
    return entries[:head] + [Entry("fold", fold_.depth, fold=fold_)] + entries[len(entries) - tail:]


def shown_events(entries: list[Entry]) -> int:
    return sum(1 for e in entries if e.kind == "event")
