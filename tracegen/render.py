"""Bounded, deterministic rendering of runtime values for trace events.

A rendered value is Python-like source (a literal where the value is a literal) cut to a character
budget. Where anything is left out, the text carries an explicit elision mark (`…` plus a count) and
the caller records `elided=True`, so the verifier knows the text is not the whole value.
Object reprs never contain memory addresses: they would make two runs of the same input differ.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType

ELLIPSIS = "…"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
ATOM_TYPES = frozenset({int, float, bool, type(None), str, bytes, complex})
# Values that are not program state worth narrating: code, modules, builtins.
SKIP_TYPES = frozenset({FunctionType, BuiltinFunctionType, MethodType, ModuleType, type(print)})
_NUMBERS = frozenset({int, float, bool, type(None)})
_ATOMS_SET = frozenset({int, float, bool, type(None), str, bytes})
_IMMUTABLE = _ATOMS_SET | {tuple}


def render(value: object, budget: int = 120) -> tuple[str, bool]:
    """Render `value` in about `budget` characters; returns (text, elided).

    >>> render([1, 2, 3])
    ('[1, 2, 3]', False)
    >>> render(list(range(100)), 20)[1]
    True
    """
    out = _render(value, budget, 3)
    return out, ELLIPSIS in out and not _literal_ellipsis(value)


def _literal_ellipsis(value: object) -> bool:
    # a real "…" inside a string value is not an elision mark
    return isinstance(value, str) and ELLIPSIS in value


def _render(v: object, budget: int, depth: int) -> str:
    t = type(v)
    if t is int:
        if v.bit_length() > 256:
            s = str(v)
            return f"{s[:20]}{ELLIPSIS}({len(s)} digits)"
        return repr(v)
    if t is str:
        if len(v) <= budget:
            return repr(v)
        return repr(v[:budget]) + f"{ELLIPSIS}(+{len(v) - budget} chars)"
    if t in ATOM_TYPES:
        r = repr(v)
        return r if len(r) <= budget + 20 else r[:budget] + ELLIPSIS
    if t is list or t is tuple:
        n = len(v)
        # Fast paths: sequences of numbers render with the C repr (no ", " inside a number).
        head = v[: budget // 3 + 1]
        if depth > 0 and n > 1 and set(map(type, head)) <= _NUMBERS:
            r = repr(head)
            if n <= len(head) and len(r) <= budget:
                return r
            cut = r.rfind(", ", 0, budget)
            if cut > 0:
                shown = r.count(", ", 0, cut) + 1
                open_, close = ("[", "]") if t is list else ("(", ")")
                return f"{open_}{r[1:cut]}, {ELLIPSIS}(+{n - shown} more){close}"
        if n <= budget // 3 and _all_atoms(v):
            r = repr(v)
            if len(r) <= budget:
                return r
        return _render_items(v, budget, depth, "[" if t is list else "(", "]" if t is list else ")", n)
    if t is dict:
        return _render_dict(v, budget, depth)
    if t is set or t is frozenset:
        if not v:
            return "set()" if t is set else "frozenset()"
        inner = _render_items(_sorted(v), budget, depth, "{", "}", len(v))
        return inner if t is set else f"frozenset({inner})"
    if t is deque:
        return f"deque({_render_items(v, budget, depth, '[', ']', len(v))})"
    if isinstance(v, type):
        return f"<class {v.__name__}>"
    return _render_object(v, budget, depth)


def _sorted(items) -> list:
    """Set elements in a stable order: iteration order of a set depends on hashing history
    (a copy of a set may iterate differently), so it must not reach the trace."""
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _all_atoms(seq) -> bool:
    for x in seq:
        if type(x) not in ATOM_TYPES or (type(x) is str and len(x) > 40):
            return False
    return True


def _render_items(seq, budget: int, depth: int, open_: str, close: str, n: int) -> str:
    if depth <= 0 and n:
        return f"{open_}{ELLIPSIS}({n} items){close}"
    parts: list[str] = []
    used = 2
    shown = 0
    for x in seq:
        if used >= budget or (shown and budget - used < 16):
            break  # (the second rule keeps a table's text to its first row when that row fills it)
        s = _render(x, max(8, budget - used), depth - 1)
        parts.append(s)
        used += len(s) + 2
        shown += 1
    if t_tuple_single(open_, n):
        return f"({parts[0]},)" if parts else "()"
    if shown < n:
        parts.append(f"{ELLIPSIS}(+{n - shown} more)")
    return open_ + ", ".join(parts) + close


def t_tuple_single(open_: str, n: int) -> bool:
    return open_ == "(" and n == 1


def _render_dict(d: dict, budget: int, depth: int) -> str:
    n = len(d)
    if depth <= 0 and n:
        return f"{{{ELLIPSIS}({n} items)}}"
    parts: list[str] = []
    used = 2
    shown = 0
    for k, x in d.items():
        if used >= budget:
            break
        s = f"{_render(k, 40, depth - 1)}: {_render(x, max(8, budget - used), depth - 1)}"
        parts.append(s)
        used += len(s) + 2
        shown += 1
    if shown < n:
        parts.append(f"{ELLIPSIS}(+{n - shown} more)")
    return "{" + ", ".join(parts) + "}"


def _render_object(v: object, budget: int, depth: int) -> str:
    t = type(v)
    if isinstance(v, threading.Thread):
        # the default repr holds the OS thread id, which differs run to run
        state = "alive" if v.is_alive() else ("stopped" if v.ident else "initial")
        return f"<Thread {v.name} {state}>"
    if t.__repr__ is object.__repr__:
        # A user object without its own repr: show its attributes, not its address.
        attrs = getattr(v, "__dict__", None)
        if isinstance(attrs, dict) and depth > 0:
            parts, used = [], len(t.__name__) + 2
            for k, x in attrs.items():
                if used >= budget:
                    parts.append(f"{ELLIPSIS}(+{len(attrs) - len(parts)} more)")
                    break
                parts.append(f"{k}={_render(x, max(8, budget - used), depth - 1)}")
                used += len(parts[-1]) + 2
            return f"{t.__name__}({', '.join(parts)})"
        return f"<{t.__name__} object>"
    try:
        r = repr(v)
    except BaseException as exc:  # a user __repr__ may raise anything; the trace must go on
        return f"<{t.__name__}: repr raised {type(exc).__name__}>"
    if not isinstance(r, str):
        return f"<{t.__name__}>"
    if " at 0x" in r:
        r = _ADDRESS.sub("", r)
    return r if len(r) <= budget else r[:budget] + f"{ELLIPSIS}(+{len(r) - budget} chars)"


def visible_key(v, budget: int = 120):
    """A cheap value that changes whenever render(v, budget) can change, for long lists of
    numbers and tables of them (the sieve and DP arrays of CP code); None for anything else.

    render() shows only the head of such a list, so (length, copy of the head) decides its text;
    comparing two short numeric lists is a C loop, far cheaper than rendering again.
    """
    n = len(v)
    k = budget // 3 + 1
    if n < 2:
        return None
    first = v[0]
    if type(first) is list or (type(first) is tuple and len(first) > k):
        if len(first) <= k or set(map(type, first[:k])) - _NUMBERS:
            return None
        # a table: its text shows part of the first row only
        return (n, type(first), len(first), first, first[:k])
    head = v[:k]
    types = set(map(type, head))
    if types - _NUMBERS:
        # strings, and tuples of atoms (the `items = [(w, v), ...]` and `data = input().split()`
        # of CP code) are immutable too: an equal head renders the same
        if types - _IMMUTABLE or (tuple in types and not all(
                type(x) is not tuple or set(map(type, x)) <= _ATOMS_SET for x in head)):
            return None
    return (n, head)


def same_visible(v, key, budget: int = 120) -> bool:
    """Whether `v` still has `key` (made by visible_key from this very object): no type checks,
    since a head equal to a numeric head is numeric."""
    k = budget // 3 + 1
    if len(key) == 2:
        return key[0] == len(v) and key[1] == v[:k]
    if not v:
        return False
    first = v[0]
    return key[0] == len(v) and first is key[3] and key[2] == len(first) and key[4] == first[:k]
