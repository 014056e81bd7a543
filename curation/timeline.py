"""What each variable held, and when: a trace's events as value intervals, and the monotone
alignment of claims to them.

Time is the event index. A `line` event's changes are the effects of running that line, so they
take effect when its frame reaches its next event (after any calls the line made): "line 5 calls
g ... g returns 7 ... back on line 5, x becomes 7" is in time order. A `call` event's changes
(the arguments) take effect at the call. A value holds from its change until the next change of
that variable in the same frame, or until the frame returns (generator frames keep their values
across yields). `<stdout>` pieces are points, available from the printing line's event to its
effect (the template narrator tells a line's prints before the calls the line makes).

Alignment: claims are checked in narrative order against a cursor that only moves forward. A
change claim needs a change to that value at or after the cursor, and each change is told once;
a state claim needs the variable to hold the value at some time at or after the cursor (if it
has to reach forward to a later change, it tells that change). Each claim takes the earliest
such time, which leaves the most room for the claims after it.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .claims import Claim
from .matching import (ELLIPSIS, MISSING, consistent_prefix, literal, literal_cached, same_exception, same_stdout,
                       same_value)

STDOUT = "<stdout>"
DELETED = "<deleted>"
_UNPARSED = object()

OK, UNCHECKED, WRONG, UNKNOWN = "ok", "unchecked", "wrong", "unknown"


@dataclass(slots=True)
class Interval:
    start: int
    end: int  # exclusive
    text: str
    elided: bool
    parsed: Any = _UNPARSED
    frame: Any = None  # the frame that holds the variable (recursive calls repeat names)

    def value(self) -> Any:
        if self.parsed is _UNPARSED:
            self.parsed = literal(self.text) if not self.elided else MISSING
        return self.parsed


@dataclass(slots=True)
class _Series:
    """Intervals of one name (or one function's returns), sorted by start."""

    items: list[Interval] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    max_end: list[int] = field(default_factory=list)  # prefix maximum of ends

    def seal(self) -> None:
        self.items.sort(key=lambda iv: iv.start)
        self.starts = [iv.start for iv in self.items]
        m, out = -1, []
        for iv in self.items:
            m = max(m, iv.end)
            out.append(m)
        self.max_end = out


@dataclass(slots=True)
class Match:
    status: str  # ok | unchecked | wrong | unknown
    time: int | None = None
    detail: str = ""


@lru_cache(maxsize=256)
def generator_names(code: str) -> frozenset[str]:
    """Functions whose frames yield (their values survive a `return` event)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return frozenset()
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack = list(node.body)
            while stack:
                sub = stack.pop()
                if isinstance(sub, (ast.Yield, ast.YieldFrom)):
                    out.add(node.name)
                    break
                if not isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                    stack.extend(ast.iter_child_nodes(sub))
    return frozenset(out)


def effective_times(events: list[dict[str, Any]]) -> list[int]:
    """For each event, when its changes take effect: a call at once, any other event at the next
    event of its frame (the next event at the same or a shallower depth)."""
    n = len(events)
    eff = list(range(n))
    pending: list[tuple[int, int]] = []  # (depth, index), depths strictly increasing
    for j, e in enumerate(events):
        d = e["depth"]
        while pending and pending[-1][0] >= d:
            eff[pending.pop()[1]] = j
        if e["event"] != "call":
            pending.append((d, j))
    for _, i in pending:
        eff[i] = n
    return eff


class Timeline:
    def __init__(self, events: list[dict[str, Any]], generators: frozenset[str] = frozenset()):
        n = len(events)
        self.n = n
        end = n + 1
        self.vars: dict[str, _Series] = {}
        self.returns: dict[str, _Series] = {}
        self.stdout = _Series()
        self.raises = _Series()
        eff = effective_times(events)
        open_: dict[tuple[Any, str], Interval] = {}
        frame_names: dict[Any, list[str]] = {}
        current: dict[int, tuple[Any, str]] = {}  # depth -> (frame key, func)
        counter = 0
        self.consumed: set[int] = set()  # ids of changes / returns / prints a claim has used
        self.frame_at: list[Any] = []  # the frame of each event
        for i, e in enumerate(events):
            d, kind, func = e["depth"], e["event"], e["func"]
            gen = func == "<genexpr>" or func in generators
            cur = current.get(d)
            if kind == "call" or cur is None or cur[1] != func:
                if gen:
                    key: Any = ("gen", d, func)
                else:
                    counter += 1
                    key = counter
                current[d] = (key, func)
            else:
                key = cur[0]
            self.frame_at.append(key)
            t = i if kind == "call" else eff[i]
            for c in e.get("changes") or ():
                name, text, elided = c["name"], c["value"], bool(c["elided"])
                if name == STDOUT:
                    self.stdout.items.append(Interval(i, eff[i] + 1, text, elided))
                    continue
                old = open_.get((key, name))
                if old is not None:
                    old.end = max(old.start, t)
                iv = Interval(t, end, text, elided, frame=key)
                self.vars.setdefault(name, _Series()).items.append(iv)
                open_[(key, name)] = iv
                frame_names.setdefault(key, []).append(name)
            if kind == "return":
                value = e.get("value")
                value = "None" if value is None else value
                self.returns.setdefault(func, _Series()).items.append(Interval(i, i + 1, value, ELLIPSIS in value))
                if not gen:
                    for name in frame_names.pop(key, ()):
                        iv = open_.pop((key, name), None)
                        if iv is not None:
                            iv.end = max(iv.start, i + 1)
                    current.pop(d, None)
            elif kind == "exception":
                self.raises.items.append(Interval(i, i + 1, e.get("value") or "", False))
        for series in (*self.vars.values(), *self.returns.values(), self.stdout, self.raises):
            series.seal()

    # -- matching -------------------------------------------------------------------------------
    def match(self, claim: Claim, cursor: int, final: str | None, kind: str) -> Match:
        """Align one claim at or after `cursor`. `final` is the true output (return repr or
        stdout) and `kind` the trace kind, for result claims."""
        if claim.kind in ("change", "state", "deleted"):
            base = _base_name(claim.name)
            if base not in self.vars:
                return Match(UNKNOWN, detail=f"`{base}` is not a variable of this run")
            if base != claim.name:
                if claim.name in self.vars:  # an element change the tracer recorded (`dp[3][4]`)
                    mode = "state" if claim.kind == "state" else "change"
                    m = self._find(self.vars[claim.name], claim.value, cursor, mode, _cmp_value)
                    if m.status != WRONG:
                        return m
                return self._derived(claim, base, cursor)
            mode = "state" if claim.kind == "state" else "change"
            return self._find(self.vars[base], claim.value, cursor, mode, _cmp_value)
        if claim.kind == "return":
            series = [self.returns[f] for f in claim.funcs if f in self.returns]
            if not series:
                if claim.name in self.vars or claim.name.startswith("the "):
                    return Match(UNCHECKED, detail="no such frame ran (inlined comprehension?)")
                return Match(UNKNOWN, detail=f"`{claim.name}` is not a function that returned in this run")
            return _first([self._find(s, claim.value, cursor, "change", _cmp_value) for s in series])
        if claim.kind == "stdout":
            m = self._find(self.stdout, claim.value, cursor, "window", _cmp_stdout)
            if m.status == WRONG and final is not None and kind == "function" and not self.stdout.items:
                return self._result(claim, cursor, final, kind)  # "the function outputs `3`"
            return m
        if claim.kind == "raises":
            return self._find(self.raises, claim.value, cursor, "change", _cmp_exception)
        if claim.kind == "result":
            return self._result(claim, cursor, final, kind)
        return Match(UNCHECKED)

    def compare(self, claim: Claim, iv: Interval) -> str:
        """OK / UNCHECKED / WRONG for one claim against one interval of its series."""
        if claim.kind == "stdout":
            return _cmp_stdout(claim.value, iv)
        if claim.kind == "raises":
            return _cmp_exception(claim.value, iv)
        return _cmp_value(claim.value, iv)

    def _result(self, claim: Claim, cursor: int, final: str | None, kind: str) -> Match:
        if kind != "function" or final is None:
            return Match(UNCHECKED)
        if claim.elided:
            return Match(UNCHECKED if consistent_prefix(claim.value, final) else WRONG,
                         detail="" if consistent_prefix(claim.value, final) else f"the result is {final[:60]}")
        if same_value(claim.value, final):
            return Match(OK)
        for s in self.returns.values():  # "the function returns `v`" about an inner call
            if self._find(s, claim.value, cursor, "change", _cmp_value).status == OK:
                return Match(OK)
        return Match(WRONG, detail=f"the call returns {final[:60]}")

    def _find(self, series: _Series, stated: str, cursor: int, mode: str, cmp, consume: bool = True) -> Match:
        items = series.items
        lo = bisect.bisect_left(series.starts, cursor)
        if mode in ("state", "window"):
            # intervals that began before the cursor and are still open give time = cursor
            k = lo - 1
            hit = None
            while k >= 0 and series.max_end[k] > cursor:
                iv = items[k]
                if iv.end > cursor and not (mode == "window" and id(iv) in self.consumed):
                    r = cmp(stated, iv)
                    if r == OK or (r == UNCHECKED and hit is None):
                        hit = (r, iv)
                        if r == OK:
                            break
                k -= 1
            if hit is not None:
                if mode == "window":
                    self.consumed.add(id(hit[1]))
                return Match(hit[0], cursor)
        for iv in items[lo:]:
            # a state claim about a value that is already there ("`x` is still `4`" right after
            # "`x` becomes `4`") uses nothing up; one that reaches forward to a later change
            # tells that change, like a change claim
            here = mode == "state" and iv.start <= cursor
            if id(iv) in self.consumed and not here:
                continue
            r = cmp(stated, iv)
            if r != WRONG:
                if not here and consume:
                    self.consumed.add(id(iv))
                return Match(r, max(iv.start, cursor))
        if any(id(iv) in self.consumed and cmp(stated, iv) != WRONG for iv in items[lo:]):
            return Match(WRONG, detail=f"the change to {stated[:40]} was already told by an earlier claim")
        seen = [iv.text for iv in items[lo:lo + 4]]
        later = f"; from here on it is {', '.join(s[:30] for s in seen)}" if seen else "; it does not change again"
        return Match(WRONG, detail=f"never {stated[:40]} at this point{later}")

    def _derived(self, claim: Claim, base: str, cursor: int) -> Match:
        """`dp[3]` = `7`: the subscript applied to each value of `dp` (state semantics);
        attributes and non-literal indices cannot be checked from rendered values."""
        path = _subscripts(claim.name)
        if path is None:
            return Match(UNCHECKED)
        stated = literal(claim.value)
        if stated is MISSING or claim.elided:
            return Match(UNCHECKED)

        def cmp(_s: str, iv: Interval) -> str:
            v = iv.value()
            if iv.elided or v is MISSING:
                return UNCHECKED
            try:
                for p in path:
                    v = v[p]
            except (KeyError, IndexError, TypeError):
                return WRONG
            return OK if same_value(claim.value, repr(v), v) else WRONG

        # an element's value tells no change of the whole: "`res[3] = 6` and `res` becomes `{3: 6}`"
        return self._find(self.vars[base], claim.value, cursor, "state", cmp, consume=False)


def _first(matches: list[Match]) -> Match:
    good = [m for m in matches if m.status != WRONG]
    if good:
        return min(good, key=lambda m: (m.time if m.time is not None else 1 << 60, m.status != OK))
    return matches[0]


def _cmp_value(stated: str, iv: Interval) -> str:
    if iv.elided or ELLIPSIS in stated:
        return UNCHECKED if consistent_prefix(stated, iv.text) else WRONG
    if stated == DELETED or iv.text == DELETED:
        return OK if stated == iv.text else WRONG
    return OK if same_value(stated, iv.text, iv.value(), parsed_stated=literal_cached(stated)) else WRONG


def _cmp_stdout(stated: str, iv: Interval) -> str:
    if iv.elided or ELLIPSIS in stated:
        return UNCHECKED if consistent_prefix(stated, iv.text) else WRONG
    return OK if same_stdout(stated, iv.text) else WRONG


def _cmp_exception(stated: str, iv: Interval) -> str:
    return OK if same_exception(stated, iv.text) else WRONG


def _base_name(name: str) -> str:
    i = 0
    while i < len(name) and (name[i].isalnum() or name[i] == "_"):
        i += 1
    return name[:i]


def _subscripts(name: str) -> list[Any] | None:
    """[3, 'a'] for `x[3]['a']`; None when any part is not a literal index."""
    try:
        node = ast.parse(name, mode="eval").body
    except (SyntaxError, ValueError, RecursionError):
        return None
    path = []
    while isinstance(node, ast.Subscript):
        try:
            path.append(ast.literal_eval(node.slice))
        except (ValueError, SyntaxError, TypeError):
            return None
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return path[::-1]
