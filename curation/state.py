"""The program's state at a point of the story, and the checks of claims about more than one
variable's value: expressions ("`text[half:]` is `'bbr'`"), counts and branches.

State at time t: every variable whose value interval (timeline.py) contains t, the innermost
frame's where names repeat, values rebuilt from the trace's reprs (elided ones left out, so an
expression over them cannot be evaluated and stays unchecked).
"""

from __future__ import annotations

import ast
import bisect
from functools import lru_cache
from typing import Any, Callable

from .claims import Claim
from .evaluate import CANNOT, effect_source, evaluate, names_in, parse_expression
from .flow import Flow
from .matching import MISSING, literal_cached, same_value
from .timeline import OK, UNCHECKED, WRONG, Match, Timeline

LOOKAHEAD = 400  # distinct later times an expression claim may reach forward to


@lru_cache(maxsize=64)
def _calls(code: str) -> tuple[str, ...]:
    """Every call expression of the program, as source."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return ()
    return tuple(sorted({ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}))


class StateView:
    def __init__(self, timeline: Timeline, code: str = ""):
        self.tl = timeline
        self.code_expressions = _calls(code)  # for "`any(...)` is `True`"
        self.times = sorted({iv.start for s in timeline.vars.values() for iv in s.items})
        self._cache: dict[int, dict[str, Any]] = {}

    def at(self, t: int) -> dict[str, Any]:
        if t in self._cache:
            return self._cache[t]
        state: dict[str, Any] = {}
        frames = self.tl.frame_at
        here = frames[min(t, len(frames) - 1)] if frames else None
        for name, series in self.tl.vars.items():
            k = bisect.bisect_right(series.starts, t) - 1
            best = None
            while k >= 0 and series.max_end[k] > t:
                iv = series.items[k]
                # the frame running at t first (recursion repeats names), then the latest binding
                if iv.end > t and (best is None or (iv.frame == here, iv.start) > (best.frame == here, best.start)):
                    best = iv
                k -= 1
            if best is not None and not best.elided:
                v = best.value()
                if v is MISSING and ("inf" in best.text or "nan" in best.text):
                    v = evaluate(best.text, {})  # `[0, inf]`: a float('inf') repr, no literal
                    v = MISSING if v is CANNOT else v
                if v is not MISSING:
                    state[name] = v
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[t] = state
        return state

    def foreign(self, t: int, names: set[str]) -> bool:
        """Whether some of `names` belong to another frame than the one running at t (a global
        read in a function): the trace shows such a value only when its own frame runs, so an
        in-place change made meanwhile is not in it yet."""
        frames = self.tl.frame_at
        here = frames[min(t, len(frames) - 1)] if frames else None
        for name in names:
            series = self.tl.vars.get(name)
            if series is None:
                continue
            k = bisect.bisect_right(series.starts, t) - 1
            if k >= 0 and all(iv.frame != here for iv in series.items[max(0, k - 50):k + 1] if iv.end > t):
                return True
        return False

    def candidate_times(self, cursor: int) -> list[int]:
        k = bisect.bisect_right(self.times, cursor)
        return [cursor, *self.times[k:k + LOOKAHEAD]]

    def end_time(self) -> int:
        return max(self.tl.n - 1, 0)


def check_expr(claim: Claim, view: StateView, cursor: int) -> Match:
    """`EXPR` is V: true at the cursor or at the earliest later state (a state claim over the
    names the expression reads)."""
    node = parse_expression(claim.name)
    stated = literal_cached(claim.value)
    if node is None:
        return Match(UNCHECKED, detail="not an expression")
    if any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(node)):
        # "`any(...)` is `True`": the program's own expression of that shape, evaluated
        shaped = [src for src in view.code_expressions if _fits(node, parse_expression(src))]
        if len(shaped) != 1:
            return Match(UNCHECKED, detail="an elided expression")
        claim = Claim(claim.kind, shaped[0], claim.value, claim.start, claim.end, vstart=claim.vstart,
                      vend=claim.vend, mode=claim.mode)
        node = parse_expression(claim.name)
    needed = names_in(node)
    known = set(view.tl.vars)
    if not needed <= known:
        return Match(UNCHECKED, detail=f"names no variable of the run: {', '.join(sorted(needed - known))[:60]}")
    seen = []
    evaluated = False
    after = effect_source(node)  # "`nums.remove(3)` gives `[...]`": the list after the call
    for t in view.candidate_times(cursor):
        v = evaluate(claim.name, view.at(t))
        if v is CANNOT:
            if t == cursor and needed <= view.at(t).keys():
                break  # its values are here but cannot be read: a later state is no stand-in
            continue
        if isinstance(v, range) or callable(v):
            return Match(UNCHECKED, detail="a range or a function, not a value")
        if after is not None and not _same(claim.value, stated, v):
            w = evaluate(after, view.at(t))
            v = w if w is not CANNOT and _same(claim.value, stated, w) else v
        evaluated = True
        if _same(claim.value, stated, v, claim.mode == "truthy"):
            return Match(OK, t, detail=repr(v)[:80])
        if len(seen) < 3 and repr(v) not in seen:
            seen.append(repr(v)[:40])
    if not evaluated:
        return Match(UNCHECKED, detail="cannot be evaluated from the values shown")
    if view.foreign(cursor, needed):
        return Match(UNCHECKED, detail="reads a variable of another frame, which may have changed in place")
    return Match(WRONG, detail=f"`{claim.name[:40]}` is {', then '.join(seen)} from here on, never {claim.value[:30]}")


def _fits(pattern: ast.AST, node: ast.AST | None) -> bool:
    """Whether `node` has the shape of `pattern`, where `...` stands for anything."""
    if isinstance(pattern, ast.Constant) and pattern.value is Ellipsis:
        return node is not None
    if node is None or type(pattern) is not type(node):
        return False
    for name, value in ast.iter_fields(pattern):
        other = getattr(node, name, None)
        if name in ("ctx", "kind", "type_comment"):
            continue
        if isinstance(value, list):
            if not isinstance(other, list) or len(value) != len(other):
                return False
            if not all(_fits(a, b) if isinstance(a, ast.AST) else a == b for a, b in zip(value, other)):
                return False
        elif isinstance(value, ast.AST):
            if not _fits(value, other):
                return False
        elif value != other:
            return False
    return True


def _same(stated_text: str, stated: Any, actual: Any, truthy: bool = False) -> bool:
    if truthy:
        try:
            return bool(actual) == bool(stated)
        except Exception:  # noqa: BLE001 - a value whose truth cannot be taken is no match
            return False
    if isinstance(actual, str) and stated_text.strip() == actual and stated_text.strip()[:1] not in "'\"":
        return True  # `s[i]` is 0 for the character '0'
    if stated is MISSING:
        return stated_text.replace(" ", "") == repr(actual).replace(" ", "")
    try:
        return same_value(stated_text, repr(actual), actual, parsed_stated=stated)
    except RecursionError:
        return False


def check_count(claim: Claim, flow: Flow, has_size: Callable[[str, int], bool], cursor: int,
                summary: bool) -> Match:
    """"N times/iterations": the loop the story is at (running at the cursor, or the next to
    start; in a summary sentence any loop) ran N times, in that run or in all, or a function was
    called N times. "N elements/keys/...": some value the run had has N elements (or words), or
    N is a count the program computed (`len`, `count`, `sum`)."""
    n = int(claim.value)
    if claim.name == "times":
        near = flow.iteration_counts() if summary else flow.counts_near(cursor)
        if n in near or n in flow.calls.values():
            return Match(OK)
        if n == 0 and (not flow.loops or any(not lp.counts or any(c == 0 for _, c, _ in lp.counts)
                                             for lp in flow.loops)):
            return Match(OK)  # a loop never reached, or entered with nothing to go through
        if any(lp.oneline for lp in flow.loops):
            return Match(UNCHECKED, detail="a one-line loop: its steps are not told apart")
        told = sorted(near)[:6]
        return Match(WRONG, detail=f"the loop here did not run {n} times ({', '.join(map(str, told)) or 'none ran'})")
    if has_size(claim.name, n):
        return Match(OK)
    return Match(WRONG, detail=f"nothing the program had has {n} {claim.name}")


def check_branch(claim: Claim, flow: Flow, cursor: int, mention: str | None) -> Match:
    """"the `else` branch runs": the next `if` evaluated at or after the cursor (the one whose
    condition the sentence quotes, if any) took that branch; with "every"/"each", all its
    evaluations did; "is not taken": it did not."""
    want = claim.name
    cands = [f for f in flow.ifs if f.outcomes and not f.is_loop and (want != "elif" or f.is_elif)
             and (want != "else" or f.has_else)]
    if mention:
        quoted = [f for f in cands if _squash(f.test) == _squash(mention)]
        cands = quoted or cands
    if not cands:  # an `else` of a loop or a try, or no if at all: not an if's branch
        return Match(UNCHECKED, detail=f"no if with an `{want}` branch ran")
    if claim.mode == "all":
        for f in cands:
            outs = {o for _, o in f.outcomes}
            if outs == {want if want != "elif" else "if"}:
                return Match(OK, cursor)
        return Match(WRONG, detail=f"the `{want}` branch is not taken every time")
    target = "if" if want in ("if", "elif") else "else"
    best: tuple[int, str] | None = None
    for f in cands:
        nxt = [(i, o) for i, o in f.outcomes if i >= cursor - 1]
        if nxt and (best is None or nxt[0][0] < best[0]):
            best = nxt[0]
    if best is None:  # told after the fact: the last evaluation before the cursor
        best = max(((i, o) for f in cands for i, o in f.outcomes if i < cursor), default=None)
    if best is None:
        return Match(UNCHECKED)
    taken = best[1] == target
    if claim.mode == "not":
        taken = not taken
    if taken:
        return Match(OK, max(cursor, best[0]))
    return Match(WRONG, detail=f"at that point the condition {'held' if best[1] == 'if' else 'failed'}: "
                              f"the `{'if' if best[1] == 'if' else 'else'}` side ran")


def _squash(s: str) -> str:
    return "".join(s.split())
