"""Our own sys.settrace instrumenter: line-level events of the user's code with state diffs.

Conventions (the narrators and the verifier rely on them):
- Only frames whose code was compiled with filename USER_FILENAME are traced; library frames cost
  one cheap call event and are then left alone.
- An event is (step, event, lineno, func, depth, changes, value). `changes` of a `line` event are
  the effects of running that line: the tracer attaches them once the frame reaches its next
  event, so "line 4: total becomes 15" reads naturally. A `call` event's changes are the arguments.
- `<stdout>` is a pseudo-variable: its change holds the text a line printed.
- Budgets stop *recording*, never the program: past `max_events` or `max_bytes` every frame's
  tracing is switched off and the program runs on untraced, so its output stays true.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Callable

from .lineinfo import analyse
from .render import ATOM_TYPES, SKIP_TYPES, render

USER_FILENAME = "<solution>"
STDOUT_NAME = "<stdout>"
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async gen


class _FrameState:
    __slots__ = ("snap", "last", "epoch", "depth", "nloc", "globals_watched", "func")

    def __init__(self, depth: int, func: str, globals_watched: frozenset[str]):
        self.snap: dict[str, tuple[Any, str, bool]] = {}
        self.last: list | None = None  # changes list of this frame's previous event
        self.epoch = -1
        self.depth = depth
        self.nloc = 0
        self.globals_watched = globals_watched
        self.func = func


class Tracer:
    """Collects events while installed; `events_as_dicts()` gives the Trace.events column."""

    def __init__(
        self,
        source: str,
        max_events: int = 10_000,
        max_bytes: int = 1_000_000,
        repr_chars: int = 120,
        stdout: Any = None,
    ):
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.repr_chars = repr_chars
        self.stdout = stdout  # CapturedStdout: `.n` chars written, `.take_new()`
        self.events: list[tuple] = []
        self.n_bytes = 0
        self.stopped: str | None = None  # None | "event_budget" | "byte_budget"
        self._mutating, self._globals_by_func = analyse(source)
        self._epoch = [0]
        self._suspended: dict[Any, _FrameState] = {}  # generator frames between resumes
        self._stdout_pos = 0

    # -- installation -------------------------------------------------------------------------
    def start(self) -> None:
        threading.settrace(self._global)
        sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
        self._suspended.clear()  # drop our references to the program's objects
        if self.stdout is not None:
            self._flush_stdout()

    def _budget_hit(self, reason: str) -> None:
        self.stopped = reason
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    # -- the trace functions --------------------------------------------------------------------
    def _global(self, frame, event, arg):
        code = frame.f_code
        if code.co_filename != USER_FILENAME or self.stopped:
            return None
        fs = None
        if code.co_flags & _GENERATOR_FLAGS:
            fs = self._suspended.get(frame)
        if fs is None:
            parent = frame.f_back
            depth = 0
            while parent is not None:
                if parent.f_code.co_filename == USER_FILENAME:
                    depth += 1
                parent = parent.f_back
            fs = _FrameState(depth, code.co_name, self._globals_by_func.get(code.co_name, frozenset()))
            if code.co_flags & _GENERATOR_FLAGS:
                self._suspended[frame] = fs
        self._event(frame, fs, "call", None)
        return self._make_local(fs)

    def _make_local(self, fs: _FrameState) -> Callable:
        event_fn = self._event

        def local(frame, event, arg):
            if self.stopped:
                frame.f_trace = None
                return None
            if event == "line":
                event_fn(frame, fs, "line", None)
            elif event == "return":
                event_fn(frame, fs, "return", arg)
            elif event == "exception":
                exc_type, exc, _tb = arg
                event_fn(frame, fs, "exception", f"{exc_type.__name__}: {_safe_str(exc)}"[:400])
            return local

        return local

    def _event(self, frame, fs: _FrameState, kind: str, value: Any) -> None:
        changes = self._diff(frame, fs)
        if kind == "call":
            # A call's own changes are its arguments (or what a resumed generator sees anew).
            pass
        elif changes:
            if fs.last is not None:
                fs.last.extend(changes)
            changes = []
        if kind == "return":
            text, _ = render(value, self.repr_chars)
            value = text
        lineno = frame.f_lineno
        if kind == "line" and lineno in self._mutating:
            self._epoch[0] += 1
        events = self.events
        events.append((len(events), kind, lineno, fs.func, fs.depth, changes, value))
        fs.last = changes
        self.n_bytes += 32 + (len(value) if value else 0)
        if len(events) >= self.max_events:
            self._budget_hit("event_budget")
        elif self.n_bytes >= self.max_bytes:
            self._budget_hit("byte_budget")

    def _diff(self, frame, fs: _FrameState) -> list[tuple[str, str, bool]]:
        """What changed in this frame's variables since its previous event."""
        loc = frame.f_locals
        snap = fs.snap
        check_all = fs.epoch != self._epoch[0]
        fs.epoch = self._epoch[0]
        changes: list[tuple[str, str, bool]] = []
        nbytes = 0
        budget = self.repr_chars
        for name, v in loc.items():
            s = snap.get(name)
            if s is not None and s[0] is v and (s[2] or not check_all):
                continue
            t = type(v)
            if t in SKIP_TYPES or name[0] == "." or name[:2] == "__":
                snap[name] = (v, "", True)
                continue
            text, elided = render(v, budget)
            if s is not None and s[1] == text:
                snap[name] = (v, text, t in ATOM_TYPES)
                continue
            snap[name] = (v, text, t in ATOM_TYPES)
            changes.append((name, text, elided))
            nbytes += len(name) + len(text) + 8
        if len(loc) < fs.nloc:
            for name in [n for n in snap if n not in loc]:
                del snap[name]
                changes.append((name, "<deleted>", False))
        fs.nloc = len(loc)
        if fs.globals_watched:
            g = frame.f_globals
            for name in fs.globals_watched:
                if name in loc or name not in g:
                    continue
                v = g[name]
                key = "global " + name
                s = snap.get(key)
                if s is not None and s[0] is v and (s[2] or not check_all):
                    continue
                text, elided = render(v, budget)
                if s is None or s[1] != text:
                    changes.append((name, text, elided))
                snap[key] = (v, text, type(v) in ATOM_TYPES)
        if self.stdout is not None and self.stdout.n != self._stdout_pos:
            piece = self.stdout.take_new()
            self._stdout_pos = self.stdout.n
            text, elided = render(piece, max(budget, 400))
            changes.append((STDOUT_NAME, text, elided))
            nbytes += len(text) + 8
        self.n_bytes += nbytes
        return changes

    def _flush_stdout(self) -> None:
        # Output printed by the last line of the program: attach to the last event.
        if self.stdout.n != self._stdout_pos and self.events and not self.stopped:
            piece = self.stdout.take_new()
            self._stdout_pos = self.stdout.n
            text, elided = render(piece, max(self.repr_chars, 400))
            self.events[-1][5].append((STDOUT_NAME, text, elided))

    # -- output ----------------------------------------------------------------------------------
    def events_as_dicts(self) -> list[dict[str, Any]]:
        return [
            {
                "step": step,
                "event": kind,
                "lineno": lineno,
                "func": func,
                "depth": depth,
                "changes": [{"name": n, "value": v, "elided": e} for n, v, e in changes],
                "value": value,
            }
            for step, kind, lineno, func, depth, changes, value in self.events
        ]


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable>"
