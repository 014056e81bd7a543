"""Our own sys.settrace instrumenter: line-level events of the user's code with state diffs.

Where the optional C extension is built (tracegen/_fasttrace.c), the same hook is installed with
PyEval_SetTrace and most events are handled in C; the rest go to the Python functions below, which
share all state with it, so the events are the same either way (tests/test_fasttrace.py).

Conventions (the narrators and the verifier rely on them):
- Only frames whose code was compiled with filename USER_FILENAME are traced; library frames cost
  one cheap call event and are then left alone.
- An event is (step, event, lineno, func, depth, changes, value, effects_at). `changes` of a
  `line` event are the effects of running that line: the tracer attaches them once the frame
  reaches its next event, so "line 4: total becomes 15" reads naturally. ORDER OF EFFECTS: the
  events of the calls a line makes come after the line's own event, yet its changes happen after
  those calls return; `effects_at` is the step at which they take effect (the frame's next event;
  step + 1 when the line calls nothing traced). A `call` event's changes are the arguments, at once.
- A change is (name, text, elided) for a variable, or (path, text, elided, base, old) for an
  element of a container (`dp[3][4]`, see elements.py); both kinds may come from one line.
- `<stdout>` is a pseudo-variable: its change holds the text a line printed (read back from the
  file fd 1 points at, after lines that may write; see harness.StdoutTap).
- Budgets stop *recording*, never the program: past `max_events` or `max_bytes` every frame's
  tracing is switched off and the program runs on untraced, so its output stays true.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any, Callable

from .elements import after as elements_after
from .elements import before as elements_before
from .elements import stored_into
from .event_dicts import effects_at, event_dict
from .lineinfo import CodeInfo, Prepared
from .render import ATOM_TYPES, SKIP_TYPES, render, same_visible, visible_key

USER_FILENAME = "<solution>"
STDOUT_NAME = "<stdout>"
_MISSING = object()
_NO_CHANGES = ()  # an event's changes until some are attached (most events have none)
_BIG_INT = 1 << 200  # ints beyond this are rendered (and cut) by render()
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async gen

try:  # the hot path in C (_fasttrace.c); SELFEXEC_PURE_TRACER=1 at import keeps the pure-Python one
    from . import _fasttrace
except ImportError:  # not built (no compiler at install): the same events, slower
    _fasttrace = None
if os.environ.get("SELFEXEC_PURE_TRACER"):
    _fasttrace = None


class _FrameState:
    __slots__ = ("snap", "conts", "keys", "last", "epoch", "xepoch", "depth", "globals_watched", "func",
                 "info", "prev_line", "pend")

    def __init__(self, depth: int, func: str, globals_watched: frozenset[str], info: CodeInfo):
        self.snap: dict[str, tuple[Any, str, bool]] = {}  # name -> (object, text, is atom)
        self.conts: set[str] = set()  # names bound to non-atoms: re-rendered after mutations
        self.keys: dict[str, Any] = {}  # cheap stand-ins for the text of long lists (visible_key)
        self.last: list | None = None  # this frame's previous event (its changes are attached there)
        self.epoch = -1
        self.xepoch = -1
        self.depth = depth
        self.globals_watched = globals_watched
        self.func = func
        self.info = info
        self.prev_line: int | None = None  # None: next diff scans every name
        self.pend: list | None = None  # element stores of the line now running (elements.before)


class Tracer:
    """Collects events while installed; `events_as_dicts()` gives the Trace.events column."""

    __slots__ = ("max_events", "max_bytes", "repr_chars", "stdout", "events", "n_bytes", "stopped",
                 "_mutating", "_globals_by_func", "_output_lines", "_elements", "_pure_stores", "_counters", "_epoch",
                 "_xepoch", "_code_info", "_depths", "_suspended", "_gc_threshold", "_hook")

    def __init__(
        self,
        source: str,
        max_events: int = 10_000,
        max_bytes: int = 1_000_000,
        repr_chars: int = 120,
        stdout: Any = None,
        prepared: Prepared | None = None,
    ):
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.repr_chars = repr_chars
        self.stdout = stdout  # harness.StdoutTap: `.take_new()` is what fd 1 got since last time
        self.events: list[tuple] = []
        self.n_bytes = 0
        self.stopped: str | None = None  # None | "event_budget" | "byte_budget"
        if prepared is None:
            prepared = Prepared(source, USER_FILENAME)
        self._mutating, self._globals_by_func = prepared.mutating, prepared.globals_by_func
        self._output_lines, self._elements = prepared.output_lines, prepared.elements
        self._pure_stores = prepared.pure_stores
        self._counters = prepared.counters  # `ans += 1` lines (lineinfo.counter_lines)
        self._epoch = [0]  # bumped by every line that may mutate a container in place
        self._xepoch = [0]  # bumped by every line that rebinds a name of another frame
        self._code_info: dict[Any, CodeInfo] = dict(prepared.code_info)
        self._depths: dict[int, int] = {}  # id(frame) -> depth, for frames now running
        self._suspended: dict[Any, _FrameState] = {}  # generator frames between resumes
        self._gc_threshold: tuple[int, ...] | None = None
        self._hook = None  # _fasttrace.Hook while the C hook is installed
        if _fasttrace is not None:
            self._hook = _fasttrace.Hook(self._global, USER_FILENAME)

    # -- installation -------------------------------------------------------------------------
    def start(self) -> None:
        # Events are many small containers; at the default threshold the collector would run
        # every 700 of them and take half the time of a long trace. Only the timing of cyclic
        # garbage collection changes, never what the program computes.
        self._gc_threshold = gc.get_threshold()
        t0, t1, t2 = self._gc_threshold
        gc.set_threshold(max(t0, 200_000), max(t1, 100), max(t2, 100))
        threading.settrace(self._global)
        if self._hook is not None:
            _fasttrace.settrace(self._hook)  # PyEval_SetTrace: sys.settrace(None) removes it too
        else:
            sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        if self._gc_threshold is not None:
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None
        self._suspended.clear()  # drop our references to the program's objects
        if self.stdout is not None:
            self.flush_stdout()

    def _budget_hit(self, reason: str) -> None:  # (also called by _fasttrace.c)
        self.stopped = reason
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        if self._gc_threshold is not None:  # the rest runs untraced, with the usual collector
            gc.set_threshold(*self._gc_threshold)
            self._gc_threshold = None

    # -- the trace functions --------------------------------------------------------------------
    def _global(self, frame, event, arg):
        code = frame.f_code
        if code.co_filename != USER_FILENAME or self.stopped:
            return None
        fs = None
        if code.co_flags & _GENERATOR_FLAGS:
            fs = self._suspended.get(frame)
        if fs is None:
            depth = self._depth_of(frame)
            info = self._code_info.get(code)
            if info is None:
                info = self._code_info[code] = CodeInfo(code)
            fs = _FrameState(depth, code.co_name, self._globals_by_func.get(code.co_name, frozenset()), info)
            if code.co_flags & _GENERATOR_FLAGS:
                self._suspended[frame] = fs
        else:
            fs.prev_line = None  # resumed: the consumer may have changed anything meanwhile
        self._depths[id(frame)] = fs.depth
        self._event(frame, fs, "call", None)
        return self._make_local(fs)

    def _depth_of(self, frame) -> int:
        """User frames below this one: the nearest user caller's depth + 1 (a dict lookup, so
        deep recursion does not pay for walking the whole stack on every call)."""
        parent = frame.f_back
        while parent is not None and parent.f_code.co_filename != USER_FILENAME:
            parent = parent.f_back
        if parent is None:
            return 0
        known = self._depths.get(id(parent))
        if known is not None:
            return known + 1
        depth = 0
        while parent is not None:  # a caller we never saw start (rare): count
            depth += parent.f_code.co_filename == USER_FILENAME
            parent = parent.f_back
        return depth

    def _make_local(self, fs: _FrameState) -> Callable:
        if self._hook is not None:
            # `_local_function`'s function, its hot path in C; the C object builds the Python
            # function only if it meets an event it leaves to Python (most frames never do)
            return _fasttrace.Local(self, fs, None, fs.info.stores, self._mutating, self._elements,
                                    fs.info.cross_lines, fs.info.full_lines, self._output_lines, self._epoch,
                                    self._xepoch, self.events, self.stdout, self._check, elements_before,
                                    self.repr_chars, self.max_events, self.max_bytes, self._pure_stores, render,
                                    self._counters)
        return self._local_function(fs)

    def _local_function(self, fs: _FrameState) -> Callable:
        """The frame's line hook (also what _fasttrace.c calls for the events it leaves to Python)."""
        event_fn = self._event
        check = self._check
        stores_get = fs.info.stores.get
        mutating = self._mutating
        cross = fs.info.cross_lines
        full = fs.info.full_lines
        epoch = self._epoch
        xepoch = self._xepoch
        events = self.events
        snap = fs.snap
        budget = self.repr_chars
        out = self.stdout
        max_events = self.max_events
        max_bytes = self.max_bytes
        output = self._output_lines
        elements = self._elements
        counters = self._counters

        def local(frame, event, arg):
            if self.stopped:
                frame.f_trace = None
                return None
            prev = fs.prev_line
            if (event != "line" or prev is None or fs.xepoch != xepoch[0] or fs.epoch != epoch[0]
                    or fs.globals_watched or (out is not None and prev in output)):
                # the general path: first event, possible mutations, output, globals...
                if event == "line":
                    event_fn(frame, fs, "line", None)
                elif event == "return":
                    event_fn(frame, fs, "return", arg)
                elif event == "exception":
                    exc_type, exc, _tb = arg
                    event_fn(frame, fs, "exception", f"{exc_type.__name__}: {_safe_str(exc)}"[:400])
                return local
            # The hot path, inlined: a line event after a line that mutated nothing in place, so
            # only the names the previous line stores can differ.
            names = stores_get(prev, ())
            if names:  # (a line that stores no name, like `if a > b[i]:`, skips f_locals)
                changes = []
                loc = frame.f_locals
                for name, is_global in names:
                    if is_global:
                        continue
                    if name in loc:
                        v = loc[name]
                        s = snap.get(name)
                        if s is not None and s[0] is v and s[2]:
                            continue
                        check(name, v, s, snap, fs, changes, budget)
                    elif name in snap:
                        del snap[name]
                        fs.conts.discard(name)
                        changes.append((name, "<deleted>", False))
                if changes:
                    nb = 0
                    for name, text, _ in changes:
                        nb += len(name) + len(text) + 8
                    self.n_bytes += nb
                    last = fs.last
                    if last is not None:
                        if last[5]:
                            last[5].extend(changes)
                        else:
                            last[5] = changes
            lineno = frame.f_lineno
            if lineno in mutating and not (lineno in counters and _atoms_only(counters[lineno], snap)):
                epoch[0] += 1
                fs.epoch = epoch[0] - 1  # our own line: we diff its containers at the next event
                if lineno in elements:
                    fs.pend = elements_before(elements[lineno], frame.f_locals, frame.f_globals, budget)
            if lineno in cross:
                xepoch[0] += 1
            fs.prev_line = None if lineno in full else lineno
            ev = [len(events), "line", lineno, fs.func, fs.depth, _NO_CHANGES, None]
            events.append(ev)
            fs.last = ev
            self.n_bytes += 32
            if len(events) >= max_events:
                self._budget_hit("event_budget")
            elif self.n_bytes >= max_bytes:
                self._budget_hit("byte_budget")
            return local

        return local

    def _event(self, frame, fs: _FrameState, kind: str, value: Any) -> None:
        changes = self._diff(frame, fs)
        if kind == "call":
            # A call's own changes are its arguments (or what a resumed generator sees anew).
            pass
        elif changes:
            last = fs.last
            if last is not None:
                if last[5]:
                    last[5].extend(changes)
                else:
                    last[5] = changes
            changes = _NO_CHANGES
        else:
            changes = _NO_CHANGES
        if kind == "return":
            text, _ = render(value, self.repr_chars)
            value = text
            self._depths.pop(id(frame), None)
        lineno = frame.f_lineno
        if kind == "line":
            if lineno in self._elements:
                fs.pend = elements_before(self._elements[lineno], frame.f_locals, frame.f_globals,
                                          self.repr_chars)
            if lineno in self._mutating and not (
                    lineno in self._counters and _atoms_only(self._counters[lineno], fs.snap)):
                self._epoch[0] += 1
            if lineno in fs.info.cross_lines:
                self._xepoch[0] += 1
            fs.prev_line = None if lineno in fs.info.full_lines else lineno
        events = self.events
        ev = [len(events), kind, lineno, fs.func, fs.depth, changes, value]
        events.append(ev)
        fs.last = ev
        self.n_bytes += 32 + (len(value) if value else 0)
        if len(events) >= self.max_events:
            self._budget_hit("event_budget")
        elif self.n_bytes >= self.max_bytes:
            self._budget_hit("byte_budget")

    def _diff(self, frame, fs: _FrameState) -> list[tuple[str, str, bool]]:
        """What changed in this frame's variables since its previous event."""
        loc = frame.f_locals
        snap = fs.snap
        changes: list[tuple[str, str, bool]] = []
        budget = self.repr_chars
        if fs.prev_line is None or fs.xepoch != self._xepoch[0]:
            names = self._scan_all(frame, fs, loc, changes)
        else:
            names = fs.info.stores.get(fs.prev_line, ())
            for name, is_global in names:
                if is_global:
                    continue  # a global the function writes: checked with the watched globals
                if name in loc:
                    v = loc[name]
                    s = snap.get(name)
                    if s is not None and s[0] is v and s[2]:
                        continue
                    self._check(name, v, s, snap, fs, changes, budget)
                elif name in snap:
                    del snap[name]
                    fs.conts.discard(name)
                    changes.append((name, "<deleted>", False))
            if fs.epoch != self._epoch[0] and fs.conts:
                stored = None
                if (fs.epoch == self._epoch[0] - 1 and fs.pend is not None
                        and fs.prev_line in self._pure_stores):
                    # only this line mutated, by plain element stores: a list of immutable atoms
                    # that is not one of the stored-into containers cannot have changed
                    stored = stored_into(fs.pend)
                keys = fs.keys
                for name in fs.conts:
                    v = loc.get(name, _MISSING)
                    s = snap[name]
                    if v is s[0]:
                        if stored is not None:
                            k = keys.get(name)
                            if k is not None and len(k) == 2 and type(k[1]) is list and not any(
                                    v is c for c in stored):
                                continue
                        self._check(name, v, s, snap, fs, changes, budget)
        fs.epoch = self._epoch[0]
        fs.xepoch = self._xepoch[0]
        if fs.globals_watched:
            self._check_globals(frame, fs, loc, changes, budget)
        if fs.pend is not None:
            elems = elements_after(fs.pend, loc, frame.f_globals, budget, snap, fs.conts)
            fs.pend = None
            for c in elems:
                self.n_bytes += len(c[3]) + len(c[4] or "") + 8
            changes.extend(elems)
        if self.stdout is not None and fs.prev_line in self._output_lines:
            piece = self.stdout.take_new()
            if piece:
                text, elided = render(piece, max(budget, 400))
                changes.append((STDOUT_NAME, text, elided))
        for c in changes:
            self.n_bytes += len(c[0]) + len(c[1]) + 8
        return changes

    def _check(self, name, v, s, snap, fs, changes, budget) -> None:
        t = type(v)
        if (t is int and -_BIG_INT < v < _BIG_INT) or t is float or t is bool or v is None:
            text = repr(v)  # the common case, without the general renderer's dispatch
            snap[name] = (v, text, True)
            if s is None or s[1] != text:
                changes.append((name, text, False))
                if s is not None and not s[2]:
                    fs.conts.discard(name)
            return
        if t in SKIP_TYPES or name[0] == "." or name[:2] == "__":
            snap[name] = (v, "", True)
            fs.conts.discard(name)
            return
        key = None
        if t is list or t is tuple:
            if s is not None and s[0] is v:
                old = fs.keys.get(name)
                if old is not None and same_visible(v, old, budget):
                    return  # the part of a long list that its text shows has not changed
            key = visible_key(v, budget)
        text, elided = render(v, budget)
        atom = t in ATOM_TYPES
        snap[name] = (v, text, atom)
        if atom:
            fs.conts.discard(name)
        else:
            fs.conts.add(name)
            fs.keys[name] = key
        if s is None or s[1] != text:
            changes.append((name, text, elided))

    def _scan_all(self, frame, fs, loc, changes) -> None:
        snap = fs.snap
        budget = self.repr_chars
        check_all = fs.epoch != self._epoch[0]
        items = loc.items()
        order = fs.info.order
        if order is not None:  # the frame's own order, not the dict's (it depends on refresh times)
            items = [(n, loc[n]) for n in order if n in loc]
            if len(items) != len(loc):  # names put into locals() by hand
                known = set(order)
                items += [(n, v) for n, v in loc.items() if n not in known]
        for name, v in items:
            s = snap.get(name)
            if s is not None and s[0] is v and (s[2] or not check_all):
                continue
            self._check(name, v, s, snap, fs, changes, budget)
        for name in [n for n in snap if n not in loc and not n.startswith("global ")]:
            del snap[name]
            fs.conts.discard(name)
            changes.append((name, "<deleted>", False))

    def _check_globals(self, frame, fs, loc, changes, budget) -> None:
        # Globals the function declares: few, so non-atoms are simply re-rendered every event.
        g = frame.f_globals
        snap = fs.snap
        for name in fs.globals_watched:
            if name in loc or name not in g:
                continue
            v = g[name]
            key = "global " + name
            s = snap.get(key)
            if s is not None and s[0] is v and s[2]:
                continue
            text, elided = render(v, budget)
            if s is None or s[1] != text:
                changes.append((name, text, elided))
            snap[key] = (v, text, type(v) in ATOM_TYPES)

    def flush_stdout(self) -> None:
        # Output printed by the last line of the program (or flushed at exit): the last event's.
        if self.events and not self.stopped:
            piece = self.stdout.take_new()
            if piece:
                text, elided = render(piece, max(self.repr_chars, 400))
                last = self.events[-1]
                if last[5]:
                    last[5].append((STDOUT_NAME, text, elided))
                else:
                    last[5] = [(STDOUT_NAME, text, elided)]

    # -- output ----------------------------------------------------------------------------------
    def events_compact(self) -> list[list]:
        """Events as plain lists (about a third of the JSON of dicts, for the sandbox pipe), each
        ending with its effects_at."""
        events = self.events
        if events and len(events[0]) == 7:
            for e, at in zip(events, effects_at(events)):
                e.append(at)
        return events

    def events_columns(self) -> dict[str, list]:
        """Events as columns (event_columns.py), for the sandbox pipe and straight into Arrow."""
        from .event_columns import to_columns

        return to_columns(self.events, effects_at(self.events))

    def events_as_dicts(self) -> list[dict[str, Any]]:
        return [event_dict(e) for e in self.events_compact()]


if _fasttrace is not None:
    _fasttrace.configure(Tracer, _FrameState)  # the slots the C hot path reads and writes


_STRICT_ATOMS = frozenset({int, float, bool, str, bytes, complex, type(None)})


def _atoms_only(names: tuple[str, ...], snap: dict) -> bool:
    """Whether every name a counter line updates (`ans += 1`) holds an atom now: then the line
    mutates no container. The snapshot is current here: this event's diff has just run."""
    for name in names:
        s = snap.get(name)
        if s is None or type(s[0]) not in _STRICT_ATOMS:
            return False
    return True


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable>"
