"""Control flow of one run, from the program's AST and the trace's line events: how many times each
loop ran (per entry into it), which branch each `if` took each time, how often each function was
called. Control-flow claims ("the loop runs 3 times", "so the else branch runs") are checked
against these facts.

A frame's line events are read in order. A loop entry begins when its header line runs after a
line outside the loop; each time the header is followed by a line of its body is one iteration.
An `if` evaluation is its test line followed by the frame's next line: in the body ("if"), in the
`else` part ("else"; "elif" when that part is an elif), or elsewhere ("none": false, no else).
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any


@dataclass(slots=True)
class LoopFacts:
    line: int
    targets: frozenset[str] = frozenset()  # names a `for` loop binds
    stores: frozenset[str] = frozenset()  # names its body assigns or changes in place
    oneline: bool = False  # body on the header's line: iterations not told apart by line
    counts: list[tuple[int, int, int]] = field(default_factory=list)  # (entry's first event, iterations, last event)
    starts: list[int] = field(default_factory=list)  # header events that begin an iteration


@dataclass(slots=True)
class IfFacts:
    line: int
    test: str  # the condition's source
    is_elif: bool
    has_else: bool  # a plain else (not an elif)
    is_loop: bool = False  # a while loop's test: "if" = the body runs
    outcomes: list[tuple[int, str]] = field(default_factory=list)  # (event index, "if" | "else" | "none")


@dataclass(slots=True)
class Flow:
    loops: list[LoopFacts]
    ifs: list[IfFacts]
    calls: dict[str, int]  # function -> number of calls
    loop_vars: frozenset[str] = frozenset()  # names a `for` loop binds

    def next_step(self, var: str, cursor: int) -> int | None:
        """Event index at which the next iteration of the loop binding `var` begins, within the
        run of that loop in progress at `cursor` (None when that run has no further step)."""
        best = None
        for lf in self.loops:
            if var not in lf.targets:
                continue
            for st, _, en in lf.counts:
                if st <= cursor <= en:
                    k = bisect.bisect_right(lf.starts, cursor)
                    if k < len(lf.starts) and lf.starts[k] <= en and (best is None or lf.starts[k] < best):
                        best = lf.starts[k]
        return best

    def stores_of(self, var: str) -> frozenset[str]:
        """Names the body of a loop over `var` changes."""
        return frozenset().union(*(lf.stores for lf in self.loops if var in lf.targets))

    def step_between(self, name: str, a: int, b: int) -> bool:
        """Whether a loop whose body changes `name` began an iteration strictly between a and b."""
        for lf in self.loops:
            if name in lf.stores:
                k = bisect.bisect_right(lf.starts, a)
                if k < len(lf.starts) and lf.starts[k] < b:
                    return True
        return False

    def counts_near(self, cursor: int) -> set[int]:
        """Iterations of the loop runs the story can be about at `cursor`: a run in progress,
        the next run to start, and the totals of those loops."""
        out: set[int] = set()
        nxt: list[tuple[int, LoopFacts, int]] = []
        for lf in self.loops:
            for st, c, en in lf.counts:
                if st <= cursor <= en:
                    out.add(c)
                    out.add(sum(x[1] for x in lf.counts))
                elif st > cursor:
                    nxt.append((st, lf, c))
        if nxt:
            first = min(st for st, _, _ in nxt)
            for st, lf, c in nxt:
                if st == first:
                    out.update((c, sum(x[1] for x in lf.counts)))
        return out

    def iteration_counts(self) -> set[int]:
        """Every loop's iterations per entry, and each loop's total."""
        out: set[int] = set()
        for lp in self.loops:
            out.update(c for _, c, _ in lp.counts)
            if lp.counts:
                out.add(sum(c for _, c, _ in lp.counts))
        return out


@lru_cache(maxsize=64)
def _shape(code: str) -> tuple[tuple, tuple, frozenset[str]]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return (), (), frozenset()
    loops, ifs = [], []
    elifs = set()
    loop_vars = {t.id for node in ast.walk(tree) if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension))
                 for t in ast.walk(node.target) if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
            child = node.orelse[0]
            if child.lineno != node.lineno and code.splitlines()[child.lineno - 1].lstrip().startswith("elif"):
                elifs.add(id(child))
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.While, ast.AsyncFor)) and node.body:
            end = node.body[-1].end_lineno or node.body[-1].lineno
            full = max(end, *(s.end_lineno or s.lineno for s in node.orelse)) if node.orelse else end
            targets = frozenset(t.id for t in ast.walk(node.target) if isinstance(t, ast.Name)) \
                if isinstance(node, (ast.For, ast.AsyncFor)) else frozenset()
            loops.append((node.lineno, node.body[0].lineno, end, full, targets, _stored(node.body)))
        elif isinstance(node, ast.If) and node.body:
            body = (node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno)
            orelse = (node.orelse[0].lineno, node.orelse[-1].end_lineno or node.orelse[-1].lineno) if node.orelse \
                else None
            plain_else = bool(node.orelse) and not (len(node.orelse) == 1 and id(node.orelse[0]) in elifs)
            ifs.append((node.lineno, ast.get_source_segment(code, node.test) or "", id(node) in elifs, plain_else,
                        body, orelse, False))
        if isinstance(node, ast.While) and node.body:
            body = (node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno)
            ifs.append((node.lineno, ast.get_source_segment(code, node.test) or "", False, False, body, None, True))
    return tuple(loops), tuple(ifs), frozenset(loop_vars)


def flow_of(code: str, events: list[dict[str, Any]]) -> Flow:
    loop_shapes, if_shapes, loop_vars = _shape(code or "")
    frames: dict[Any, list[tuple[int, int]]] = {}  # frame key -> [(event index, lineno)] of line events
    calls: dict[str, int] = {}
    current: dict[int, Any] = {}
    n_frames = 0
    for i, e in enumerate(events):
        d = e["depth"]
        if e["event"] == "call" or d not in current:
            n_frames += 1
            current[d] = n_frames
            if e["event"] == "call":
                calls[e["func"]] = calls.get(e["func"], 0) + 1
        if e["event"] == "line":
            frames.setdefault(current[d], []).append((i, e["lineno"]))
        elif e["event"] == "return":
            current.pop(d, None)
    loops = [LoopFacts(h, targets, stored | targets, b0 == h) for h, b0, _, _, targets, stored in loop_shapes]
    ifs = [IfFacts(t, test, is_elif, has_else, is_loop) for t, test, is_elif, has_else, _, _, is_loop in if_shapes]
    for seq in frames.values():
        for lf, (h, b0, b1, full, _, _) in zip(loops, loop_shapes):
            if b0 == h:
                continue  # a one-line loop: its iterations cannot be told apart by line
            entry = None
            for k, (idx, ln) in enumerate(seq):
                if ln == h:
                    prev = seq[k - 1][1] if k else None
                    if entry is None or prev is None or not h <= prev <= full:
                        entry = [idx, 0, idx]
                        lf.counts.append(tuple(entry))
                    nxt = seq[k + 1][1] if k + 1 < len(seq) else None
                    if nxt is not None and b0 <= nxt <= b1:
                        lf.starts.append(idx)
                        entry[1] += 1
                elif not h <= ln <= full:
                    entry = None
                    continue
                if entry is not None:
                    entry[2] = idx
                    lf.counts[-1] = tuple(entry)
        for f, (t, _, _, _, body, orelse, _) in zip(ifs, if_shapes):
            if body[0] == t:
                continue
            for k, (idx, ln) in enumerate(seq):
                if ln != t or k + 1 >= len(seq):
                    continue
                nxt = seq[k + 1][1]
                if body[0] <= nxt <= body[1]:
                    f.outcomes.append((idx, "if"))
                elif orelse and orelse[0] <= nxt <= orelse[1]:
                    f.outcomes.append((idx, "else"))
                else:
                    f.outcomes.append((idx, "none"))
    loops += _comprehension_loops(events, loop_vars)
    for f in ifs:
        f.outcomes.sort()
    for lf in loops:
        lf.starts.sort()
    return Flow(loops, ifs, calls, loop_vars)


_COMPREHENSIONS = ("<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>")


def _comprehension_loops(events: list[dict[str, Any]], loop_vars: frozenset[str]) -> list[LoopFacts]:
    """A comprehension's iterations, per run of it (a list/set/dict comprehension's call; all the
    resumes of a generator expression). A run's `for` line (where its target first takes a
    value) has one line event per iteration and one when the iterable is exhausted; a target
    rebound to an equal value records no change, so changes alone would undercount."""
    runs: list[dict[str, Any]] = []
    current: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(events):
        func = e["func"]
        if func not in _COMPREHENSIONS:
            continue
        run = current.get(func)  # noqa: the run of this comprehension in progress
        if run is None or (e["event"] == "call" and func != "<genexpr>"):
            run = {"func": func, "line": e["lineno"], "first": i, "last": i, "for_line": None, "lines": {}, "changes": 0,
                   "starts": []}
            current[func] = run
            runs.append(run)
        run["last"] = i
        if e["event"] != "line":
            continue
        run["lines"][e["lineno"]] = run["lines"].get(e["lineno"], 0) + 1
        if any(c["name"] in loop_vars for c in e.get("changes") or ()):
            run["changes"] += 1
            run["starts"].append(i)
            if run["for_line"] is None:
                run["for_line"] = e["lineno"]
    out = []
    for run in runs:
        n = run["changes"]
        if run["for_line"] is not None and run["func"] != "<genexpr>":
            n = max(n, run["lines"].get(run["for_line"], 0) - 1)
        out.append(LoopFacts(run["line"], counts=[(run["first"], n, run["last"])], starts=run["starts"]))
    return out


@lru_cache(maxsize=64)
def stores(code: str) -> dict[str, frozenset[int]]:
    """name -> lines that assign it (targets of =, augmented =, for, with, del excluded)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    out: dict[str, set[int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.setdefault(node.id, set()).add(node.lineno)
    return {k: frozenset(v) for k, v in out.items()}


def _stored(body: list[ast.stmt]) -> frozenset[str]:
    """Names a block assigns (`x = ...`) or changes in place (`x[i] = ...`, `x.append(...)`)."""
    out = set()
    for stmt in body:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
            elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.value, ast.Name):
                out.add(n.value.id)
    return frozenset(out)
