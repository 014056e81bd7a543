"""A slow reference tracer for tests: deep-copies and renders every variable at every event.

It shares no change-detection logic with tracegen.tracer (no identity shortcuts, no mutation
epochs, no static line analysis): it snapshots the whole state of the frame at each event and
diffs consecutive snapshots. It uses the same event conventions (changes of a line are attached
to that line's event), so the two event lists must be equal, change for change.
"""

from __future__ import annotations

import copy
import io
import sys
import threading
from collections import deque
from typing import Any

# values whose deep copy is the same value; iterators are not (copying one may change its type)
_COPYABLE = (list, dict, set, frozenset, tuple, deque)

from tracegen.render import SKIP_TYPES, render
from tracegen.tracer import USER_FILENAME


def _snapshot(frame, watched: frozenset[str], budget: int) -> dict[str, str]:
    state: dict[str, str] = {}
    for name, v in frame.f_locals.items():
        if type(v) in SKIP_TYPES or name[0] == "." or name[:2] == "__":
            continue
        if isinstance(v, _COPYABLE) or hasattr(v, "__dict__"):
            try:
                v = copy.deepcopy(v)
            except Exception:
                pass  # objects holding generators, locks...: render the live value
        state[name] = render(v, budget)[0]
    for name in watched:
        if name not in frame.f_locals and name in frame.f_globals:
            state["global " + name] = render(frame.f_globals[name], budget)[0]
    return state


def _containers(v, path: tuple, out: dict, depth: int = 3) -> dict:
    """path -> id of every list/dict inside `v` (a few levels deep): which parts are the same
    objects as at the previous event, so an element diff descends only into those."""
    if type(v) in (list, dict) and depth > 0:
        out[path] = id(v)
        for k, x in (v.items() if type(v) is dict else enumerate(v)):
            if type(x) in (list, dict):
                _containers(x, path + (k,), out, depth - 1)
    return out


def element_diff(name: str, old, new, old_ids: dict, new_ids: dict, budget: int,
                 path: tuple = ()) -> list[tuple]:
    """Element changes between two deep copies of one container, as (path text, value, old, "element"):
    same-length lists and dicts element by element (descending into parts that are the same objects),
    lists that grew or shrank at the end by their new or lost elements; anything else: none."""
    def text(p):
        return name + "".join(f"[{k!r}]" for k in p)

    out: list[tuple] = []
    if type(old) is dict and type(new) is dict:
        pairs = [(k, old.get(k, _GONE), new.get(k, _GONE)) for k in list(old) + [k for k in new if k not in old]]
    elif type(old) is list and type(new) is list:
        n0, n1 = len(old), len(new)
        if n0 != n1 and old[:min(n0, n1)] != new[:min(n0, n1)]:
            return out  # shifted: only the whole value says it
        pairs = [(i, old[i] if i < n0 else _GONE, new[i] if i < n1 else _GONE) for i in range(max(n0, n1))]
    else:
        return out
    for k, a, b in pairs:
        p = path + (k,)
        ra = None if a is _GONE else render(a, budget)[0]
        rb = "<deleted>" if b is _GONE else render(b, budget)[0]
        if ra == rb:
            continue
        if a is not _GONE and b is not _GONE and p in old_ids and old_ids.get(p) == new_ids.get(p):
            out += element_diff(name, a, b, old_ids, new_ids, budget, p)
        else:
            out.append((text(p), rb, ra, "element"))
    return out


_GONE = object()


class ReferenceTracer:
    def __init__(self, globals_by_func: dict[str, frozenset[str]] | None = None, budget: int = 120,
                 elements: bool = False):
        self.events: list[tuple] = []
        self.budget = budget
        self.elements = elements  # also element changes, as 4-tuples (path, value, old, "element")
        self.globals_by_func = globals_by_func or {}
        self._state: dict[Any, list] = {}  # frame -> [snapshot, changes list of its last event]

    def _record(self, frame, kind: str, value: Any) -> None:
        watched = self.globals_by_func.get(frame.f_code.co_name, frozenset())
        cur = _snapshot(frame, watched, self.budget)
        st = self._state.get(frame)
        if st is None:
            depth, f = 0, frame.f_back
            while f is not None:
                depth += f.f_code.co_filename == USER_FILENAME
                f = f.f_back
            st = self._state[frame] = [{}, None, depth, {}]
        prev = st[0]
        diff = [(n.removeprefix("global "), t) for n, t in cur.items() if prev.get(n) != t]
        diff += [(n, "<deleted>") for n in prev if n not in cur and not n.startswith("global ")]
        st[0] = cur
        if self.elements:
            copies = {}
            for n, v in frame.f_locals.items():
                if type(v) in (list, dict):
                    copies[n] = (id(v), copy.deepcopy(v), _containers(v, (), {}))
            for n, (i, c, ids) in copies.items():
                before = st[3].get(n)
                if before is not None and before[0] == i:
                    diff += element_diff(n, before[1], c, before[2], ids, self.budget)
            st[3] = copies
        if kind == "call" or st[1] is None:
            changes = diff
        else:
            st[1].extend(diff)
            changes = []
        if kind == "return":
            value = render(value, self.budget)[0]
        self.events.append((len(self.events), kind, frame.f_lineno, frame.f_code.co_name, st[2], changes, value))
        st[1] = changes

    def _global(self, frame, event, arg):
        if frame.f_code.co_filename != USER_FILENAME:
            return None
        self._record(frame, "call", None)
        return self._local

    def _local(self, frame, event, arg):
        if event == "line":
            self._record(frame, "line", None)
        elif event == "return":
            self._record(frame, "return", arg)
        elif event == "exception":
            self._record(frame, "exception", f"{arg[0].__name__}: {arg[1]}"[:400])
        return self._local

    def start(self) -> None:
        threading.settrace(self._global)
        sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]


def run_reference(kind: str, code: str, test_input: str, entry_point: str = "",
                  elements: bool = False) -> list[tuple]:
    """Run a program in-process under the reference tracer; returns its events."""
    from tracegen.lineinfo import analyse

    ref = ReferenceTracer(analyse(code)[1], elements=elements)
    g: dict[str, Any] = {"__name__": "__main__"}
    obj = compile(code, USER_FILENAME, "exec")
    saved = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = io.StringIO(test_input), io.StringIO()
    try:
        if kind == "stdio":
            ref.start()
            try:
                exec(obj, g)
            finally:
                ref.stop()
        else:
            exec(obj, g)
            call = eval(f"(lambda *a, **k: (a, k))({test_input})", dict(g))
            ref.start()
            try:
                g[entry_point](*call[0], **call[1])
            finally:
                ref.stop()
    except BaseException:
        pass
    finally:
        sys.stdin, sys.stdout = saved
    return ref.events
