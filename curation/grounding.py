"""The closed world: every concrete value a narration states must be accounted for.

A value (a literal of prose.literals) is accounted for when it is
- the value of a claim that held (a claim left unchecked accounts for nothing),
- a line number that exists, a step number within the run, an index within some container,
- something the run had: a value a variable held, an element, key or value of one, a length, a
  substring of a string; an intermediate value the program computed (each executed line's
  sub-expressions, evaluated in the state before that line ran); the input; a constant of the
  code; the final output; how many times a loop ran or a function was called.
When in the run does not matter here: placing claims in time is story.py's job, this check only
makes sure that nothing the verifier could not read slips a value through. What none of these
accounts for is `ungrounded`.
"""

from __future__ import annotations

import ast
import bisect
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .evaluate import CANNOT, effect_source, evaluate
from .flow import Flow
from .matching import MISSING, literal
from .prose import Literal
from .state import StateView

_MAX_STRINGS = 2000


def canon(v: Any, depth: int = 0) -> Any:
    """A hashable key equal for values a narration may state interchangeably (float tolerance
    by rounding; a bool is never a number)."""
    if isinstance(v, bool) or v is None:
        return ("b", v)
    if isinstance(v, int):
        return ("n", v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return ("n", repr(v))
        return ("n", int(v)) if v.is_integer() and abs(v) < 1 << 53 else ("n", round(v, 5))
    if isinstance(v, str):
        return ("s", v)
    if depth > 20:
        return ("r", repr(v))
    if isinstance(v, list):
        return ("l", tuple(canon(x, depth + 1) for x in v))
    if isinstance(v, tuple):
        return ("t", tuple(canon(x, depth + 1) for x in v))
    if isinstance(v, dict):
        return ("d", frozenset((canon(k, depth + 1), canon(x, depth + 1)) for k, x in v.items()))
    if isinstance(v, (set, frozenset)):
        return ("S", frozenset(canon(x, depth + 1) for x in v))
    return ("r", repr(v))


@dataclass
class Universe:
    """Facets of everything the run had (when does not matter here: see the module doc)."""

    seen: set[Any] = field(default_factory=set)  # canon() of every value, element and length
    strings: list[str] = field(default_factory=list)  # for substrings
    lengths: set[int] = field(default_factory=set)  # counts the program computed (len, count, loops, calls)
    sizes: dict[str, set[int]] = field(default_factory=dict)  # "str" | "words" | "seq" | "dict" | "lines" -> lengths
    max_len: int = 0
    max_count: int = 0  # the most iterations of a loop (one entry or all), or calls of a function

    def add(self, v: Any, deep: int = 2) -> None:
        try:
            k = canon(v)
        except RecursionError:
            return
        container = isinstance(v, (list, tuple, dict, set, frozenset))
        if k in self.seen and not container:
            return
        self.seen.add(k)
        if isinstance(v, str):
            if len(self.strings) < _MAX_STRINGS:
                self.strings.append(v)
            self.seen.update((("n", len(v)), ("n", len(v.split()))))
            self._size("str", len(v))
            self._size("words", len(v.split()))
            self.max_len = max(self.max_len, len(v))
        elif container:
            self.seen.add(("n", len(v)))
            self._size("dict" if isinstance(v, dict) else "seq", len(v))
            self.max_len = max(self.max_len, len(v))
            if deep:
                items = list(v.items()) if isinstance(v, dict) else list(v)
                for x in items[:200]:
                    for y in (x if isinstance(v, dict) else (x,)):
                        self.add(y, deep - 1)

    def _size(self, kind: str, n: int) -> None:
        self.sizes.setdefault(kind, set()).add(n)

    def count(self, n: int) -> None:
        """A count the run has: a loop's iterations or a function's calls."""
        self.seen.add(("n", n))
        self.lengths.add(n)
        self.max_count = max(self.max_count, n)

    def has_size(self, noun: str, n: int) -> bool:
        """Whether something the run had has `n` of `noun` (characters, keys, words, items...)."""
        if n in self.lengths:
            return True
        noun = noun.lower().rstrip("s")
        kinds = {"character": ("str",), "char": ("str",), "letter": ("str",), "digit": ("str",),
                 "space": ("str",), "vowel": ("str",), "consonant": ("str",), "key": ("dict",),
                 "entry": ("dict", "seq"), "entrie": ("dict", "seq"), "word": ("words", "seq"),
                 "line": ("lines", "seq")}.get(noun, ("seq", "dict", "words"))
        return any(n in self.sizes.get(k, ()) for k in kinds)

    def has_close(self, x: float, rel: float = 1e-3) -> bool:
        return any(k[0] == "n" and isinstance(k[1], (int, float)) and not isinstance(k[1], bool)
                   and abs(k[1] - x) <= rel * max(1.0, abs(x)) for k in self.seen)

    def has(self, v: Any) -> bool:
        try:
            if canon(v) in self.seen:
                return True
        except RecursionError:
            return False
        return isinstance(v, str) and bool(v) and any(v in s for s in self.strings)


def universe(trace: Any, view: StateView, flow: Flow) -> Universe:
    u = Universe()
    for series in view.tl.vars.values():
        for iv in series.items:
            v = iv.value()
            if v is not MISSING:
                u.add(v)
    for series in (*view.tl.returns.values(), view.tl.stdout):
        for iv in series.items:
            v = iv.value()
            if v is not MISSING:
                u.add(v)
    for v in _code_constants(trace.code or ""):
        u.add(v)
    if trace.kind == "stdio":
        for text in (trace.input or "", trace.stdout or ""):
            u.add(text.strip())
            u._size("lines", len(text.splitlines()))
            for line in text.splitlines():
                u.add(" ".join(line.split()))
            for tok in text.split():
                v = literal(tok)
                u.add(v if v is not MISSING else tok)
    else:
        args = literal(f"({trace.input},)") if trace.input else MISSING
        if isinstance(args, tuple):
            for a in args:
                u.add(a)
        out = literal(trace.return_repr) if trace.return_repr else MISSING
        if out is not MISSING:
            u.add(out)
    for n in (*flow.iteration_counts(), *flow.calls.values()):
        u.count(n)
    _computed(trace, view, u)
    return u


MAX_EVALUATIONS = 20_000


def _computed(trace: Any, view: StateView, u: Universe) -> None:
    """Intermediate values the program computed but never stored (`nums.pop(i) * 2`,
    `text.rfind(c)`, `len(a) // 2`): each executed line's sub-expressions, evaluated in the state
    just before that line ran."""
    per_line = _line_expressions(trace.code or "")
    if not per_line:
        return
    budget = MAX_EVALUATIONS
    for i, e in enumerate(trace.events or ()):
        if e["event"] != "line":
            continue
        exprs = per_line.get(e["lineno"])
        if not exprs:
            continue
        state = view.at(i)
        for src, counts, after in exprs:
            budget -= 1
            if budget < 0:
                return
            if after is not None:  # the receiver of `nums.pop(0)` after the call: `[-5, -4]`
                w = evaluate(after, state)
                if w is not CANNOT:
                    u.add(w, deep=1)
            v = evaluate(src, state)
            if v is CANNOT or callable(v):
                continue
            if isinstance(v, (range, map, filter, zip, reversed)):
                continue
            u.add(v, deep=1)
            if counts and type(v) is int:
                u.lengths.add(v)


@lru_cache(maxsize=64)
def _line_expressions(code: str) -> dict[int, tuple[tuple[str, bool, str | None], ...]]:
    """line -> (source, is a count) of the expressions on that line worth evaluating: not bare
    names or constants, not lambdas; `len(...)`, `x.count(...)` and `sum(...)` are counts."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    out: dict[int, list[tuple[str, bool, str | None]]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr) or isinstance(node, (ast.Name, ast.Constant, ast.Lambda, ast.Starred)):
            continue
        if node.lineno != node.end_lineno:
            continue
        src = ast.get_source_segment(code, node)
        if not src or len(src) > 300:
            continue
        counts = isinstance(node, ast.Call) and (
            (isinstance(node.func, ast.Name) and node.func.id in ("len", "sum")) or
            (isinstance(node.func, ast.Attribute) and node.func.attr == "count"))
        items = out.setdefault(node.lineno, [])
        if len(items) < 40:
            items.append((src, counts, effect_source(node)))
    return {k: tuple(v) for k, v in out.items()}


def _code_constants(code: str) -> list[Any]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError):
        return []
    out: list[Any] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not isinstance(node.value, (bytes, type(...))):
            out.append(node.value)
            if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                out.append(-node.value)
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            try:
                out.append(ast.literal_eval(node))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                pass
    return out


def account(lits: list[Literal], held: list[tuple[int, int]], u: Universe, n_lines: int,
            n_events: int) -> list[Literal]:
    """The literals nothing accounts for. `held`: text spans (start, end) of the values of claims
    that held."""
    held_sorted = sorted(held)
    starts = [a for a, _ in held_sorted]
    out = []
    for lit in lits:
        k = bisect.bisect_right(starts, lit.start) - 1
        if any(a <= lit.start < b for a, b in held_sorted[max(0, k - 3):k + 1]):
            continue
        if lit.context == "line" and isinstance(lit.value, int) and 0 < lit.value <= n_lines + 1:
            continue
        if isinstance(lit.value, str) and " " in lit.value.strip() and all(w.isalpha() for w in lit.value.split()) \
                and lit.context != "span":
            continue  # a quoted English phrase ('not found'), not a value
        if lit.context == "index" and isinstance(lit.value, int) and -u.max_len <= lit.value <= u.max_len:
            continue
        if lit.context == "numbers":  # a printed or read line: that whole line, not a piece of one
            if canon(lit.value) not in u.seen:
                out.append(lit)
            continue
        if u.has(lit.value):
            continue
        if lit.context == "ordinal" and isinstance(lit.value, int) and 0 <= lit.value <= max(u.max_count, n_events):
            continue  # "iterations 3 to 15", "6 more iterations", "calls 3 to 5 of": steps of a loop
        if lit.context == "approx" and isinstance(lit.value, (int, float)) and u.has_close(lit.value):
            continue  # "≈ 3.1623" for 3.1622776601683795
        if lit.context == "binary" and isinstance(lit.value, int) and set(lit.text) <= {"0", "1"} \
                and u.has(int(lit.text, 2)):
            continue  # "`u` (binary 10)"
        if isinstance(lit.value, tuple) and lit.context != "span" and 0 < len(lit.value) <= 3 \
                and all(u.has(x) for x in lit.value):
            continue  # "drift (1, 3)": a pair of values the run had
        out.append(lit)
    return out
