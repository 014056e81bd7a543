"""Runs one job (a program on one input) inside the current process, traced or not.

This is the code that runs in the sandboxed child after the jail, rlimits and uid drop are in
place (see worker.py). It never raises: every outcome of the user's program becomes a status.
Traced and untraced runs take exactly the same path except for installing the tracer, which is how
we keep the promise that tracing never changes what the program does.
"""

from __future__ import annotations

import atexit
import errno
import gc
import io
import random
import sys
from typing import Any

from .lineinfo import Prepared
from .tracer import USER_FILENAME, Tracer

RETURN_REPR_CAP = 100_000
# errnos an uncaught OSError carries when the jail said no
_FORBIDDEN = {errno.ENETUNREACH, errno.EROFS, errno.EACCES, errno.EPERM, errno.ECONNREFUSED}


class OutputLimitExceeded(BaseException):
    """Raised on a write past the stdout cap; a BaseException so `except Exception` can't eat it."""


class _BytesSide:
    def __init__(self, text_side: CapturedStdout):
        self._t = text_side

    def write(self, b) -> int:
        self._t.write(bytes(b).decode("utf-8", errors="replace"))
        return len(b)

    def flush(self) -> None:
        pass


class CapturedStdout(io.TextIOBase):
    """sys.stdout for the user's program: keeps the text, counts it, enforces the cap."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap
        self.n = 0
        self._done: list[str] = []
        self._new: list[str] = []
        self.buffer = _BytesSide(self)

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.n += len(s)
        if self.n > self.cap:
            raise OutputLimitExceeded(f"stdout passed {self.cap} characters")
        self._new.append(s)
        return len(s)

    def take_new(self) -> str:
        piece = "".join(self._new)
        self._done.append(piece)
        self._new = []
        return piece

    def getvalue(self) -> str:
        return "".join(self._done) + "".join(self._new)

    # attributes real file objects have; FastIO-style templates in CP solutions read them
    mode = "w"
    name = "<stdout>"
    errors = "strict"
    line_buffering = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return 1

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


def run_job(job: dict[str, Any], stdin: io.TextIOBase | None = None,
            prepared: Prepared | None = None) -> dict[str, Any]:
    """Run `job` here and return the result dict the worker sends back.

    job keys: kind, code, input, entry_point, check, trace (bool), max_events, max_bytes,
    repr_chars, max_stdout_bytes. `stdin` replaces sys.stdin (the worker gives fd 0 instead).
    """
    out = CapturedStdout(job.get("max_stdout_bytes", 4_000_000))
    if prepared is None:
        prepared = Prepared(job["code"], USER_FILENAME)
    tracer = None
    if job.get("trace", True):
        tracer = Tracer(
            job["code"],
            max_events=job.get("max_events", 10_000),
            max_bytes=job.get("max_bytes", 1_000_000),
            repr_chars=job.get("repr_chars", 120),
            stdout=out,
            prepared=prepared,
        )
    saved = sys.stdout, sys.stdin, sys.__stdout__
    sys.stdout = sys.__stdout__ = out
    if stdin is not None:
        sys.stdin = stdin
    # The program's module namespace, held only through this list so that at the end it can
    # become garbage exactly as __main__ does at interpreter exit.
    module = [{"__name__": "__main__", "__builtins__": __builtins__}]
    result: dict[str, Any] = {"status": "ok", "exception": None, "return_repr": None, "reason": ""}
    try:
        _run(job, prepared, tracer, result, module)
    except OutputLimitExceeded as exc:
        _fail(result, "output_limit", exc, "stdout cap reached; raise max_stdout_bytes to keep more")
    except OSError as exc:
        if exc.errno == errno.EFBIG:  # RLIMIT_FSIZE on fd 1 or a file (Python ignores SIGXFSZ)
            _fail(result, "output_limit", exc, "file-size limit reached writing output or a file")
        elif exc.errno in _FORBIDDEN:
            _fail(result, "sandbox_violation", exc, "the program tried something the sandbox forbids "
                  "(network, writing outside its directory, reading protected files)")
        else:
            _fail(result, "runtime_error", exc, "uncaught exception")
    except MemoryError as exc:
        _fail(result, "memory", exc, "the program ran out of its memory limit")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _fail(result, "runtime_error", exc, f"exit status {exc.code}")
            result["exception"] = f"SystemExit: {exc.code}"
    except BaseException as exc:  # the user's program may raise anything
        _fail(result, "runtime_error", exc, "uncaught exception")
    finally:
        if tracer is not None:
            tracer.stop()
        _like_interpreter_exit(out, result, module)
        sys.stdout, sys.stdin, sys.__stdout__ = saved
    if tracer is not None:
        if tracer.stopped and result["status"] == "ok":
            result["status"] = tracer.stopped
            result["reason"] = (
                f"recording stopped at {len(tracer.events)} events / {tracer.n_bytes} bytes; "
                "the program ran to the end untraced"
            )
        result["events"] = tracer.events_compact() if job.get("compact") else tracer.events_as_dicts()
    else:
        result["events"] = []
    result["stdout"] = out.getvalue()
    return result


def _like_interpreter_exit(out: CapturedStdout, result: dict, module: list) -> None:
    """What CPython does at exit and a program may rely on: run atexit handlers, flush a
    replaced sys.stdout, then let the module namespace become garbage so buffered writers are
    finalized with their globals intact (CP "FastIO" templates flush in IOBase.__del__)."""
    try:
        atexit._run_exitfuncs()
        if sys.stdout is not out:
            sys.stdout.flush()
        namespace = module[0] if module else {}
        buffered = any(isinstance(v, io.IOBase) for v in namespace.values())
        module.clear()
        del namespace
        if buffered:  # a full collection is costly in a big process: only when a writer waits
            gc.collect()
    except BaseException as exc:
        if result["status"] == "ok":
            _fail(result, "runtime_error", exc, "error while flushing output at exit")


def _fail(result: dict, status: str, exc: BaseException, reason: str) -> None:
    result["status"] = status
    result["exception"] = f"{type(exc).__name__}: {_safe(exc)}"[:2000]
    result["reason"] = reason


def _safe(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:
        return "<unprintable>"


def _run(job: dict[str, Any], prepared: Prepared, tracer: Tracer | None, result: dict[str, Any],
         module: list) -> None:
    # A forked child reseeds `random` from the OS; a fixed seed makes randomized solutions give
    # the same output traced and untraced, and the same trace on every run.
    random.seed(0)
    g = module[0]
    if prepared.error is not None:
        raise prepared.error
    code_obj = prepared.code
    if job["kind"] == "stdio":
        if tracer is not None:
            tracer.start()
        try:
            exec(code_obj, g)
        finally:
            if tracer is not None:
                tracer.stop()
        return
    # function problems: define untraced, then trace the call (and the test's check, if any)
    exec(code_obj, g)
    fn = g.get(job["entry_point"])
    if not callable(fn):
        raise NameError(f"entry point {job['entry_point']!r} is not defined by the solution")
    src = (job.get("input") or "").strip()
    call = None
    if src or not job.get("check"):
        # `(lambda *a, **k: (a, k))(SRC)` accepts exactly what a call accepts: trailing commas,
        # keyword arguments, starred arguments.
        call = eval(compile(f"(lambda *a, **k: (a, k))({src})", "<input>", "eval"), dict(g))
    if tracer is not None:
        tracer.start()
    try:
        if call is not None:
            value = fn(*call[0], **call[1])
            r = repr(value)
            result["return_repr"] = r if len(r) <= RETURN_REPR_CAP else r[:RETURN_REPR_CAP]
            plain = _plain(value, 20)
            if plain is not value:
                # Counter, OrderedDict, namedtuple...: compare as the builtin they equal
                result["return_plain_repr"] = repr(plain)[:RETURN_REPR_CAP]
        if job.get("check"):
            check_g = dict(g)
            check_g["candidate"] = fn
            exec(compile(job["check"], "<check>", "exec"), check_g)
            result["check_passed"] = True
    finally:
        if tracer is not None:
            tracer.stop()


def _plain(v: Any, depth: int) -> Any:
    """`v` with builtin-container subclasses turned into their base type (as `==` sees them)."""
    if depth <= 0:
        return v
    t = type(v)
    if t in (int, float, str, bool, type(None), bytes, complex):
        return v
    for base in (dict, list, tuple, set, frozenset):
        if isinstance(v, base):
            if base is dict:
                items = {_plain(k, depth - 1): _plain(x, depth - 1) for k, x in v.items()}
                same = t is dict and all(a is b for a, b in zip(items.values(), v.values()))
                return v if same else items
            parts = [_plain(x, depth - 1) for x in v]
            if t is base and all(a is b for a, b in zip(parts, v)):
                return v
            return base(parts)
    return v
