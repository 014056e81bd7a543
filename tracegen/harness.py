"""Runs one job (a program on one input) inside the current process, traced or not.

This is the code that runs in the sandboxed child after the jail, rlimits and uid drop are in
place (see worker.py). It never raises: every outcome of the user's program becomes a status.
Traced and untraced runs take exactly the same path except for installing the tracer, which is how
we keep the promise that tracing never changes what the program does.

The program sees the standard streams plain CPython gives it: `real_std_streams()` builds them the
way CPython's start-up does, over fds 0/1/2, which the worker points at files (stdin byte for byte,
no newline translation). Nothing of ours stands in for them: what the program writes is read back
from the file fd 1 points at (`StdoutTap`), so `from sys import stdout` gets a real TextIOWrapper.
"""

from __future__ import annotations

import atexit
import codecs
import errno
import gc
import io
import json
import os
import random
import sys
from typing import Any

from . import event_columns
from .lineinfo import Prepared
from .event_dicts import effects_at
from .tracer import USER_FILENAME, Tracer

RETURN_REPR_CAP = 100_000
# The most bytes of events (as the tracer counts them) one run records: packed (event_columns),
# about 1-1.5x that, they must fit the worker's 64 MB result channel, so a larger --max-bytes is
# clamped to this (and the row's reason says so) rather than ending with nothing.
TRANSPORT_MAX_BYTES = 40_000_000
# Memory the event buffer may take per counted byte (lists, tuples, strings, then the JSON):
# the sandbox adds this much to a traced run's address-space limit, so tracing never decides
# whether a program fits its --memory-mb.
BUFFER_BYTES_PER_COUNTED = 16
# errnos an uncaught OSError carries when the jail said no
_FORBIDDEN = {errno.ENETUNREACH, errno.EROFS, errno.EACCES, errno.EPERM, errno.ECONNREFUSED}


class OutputLimitExceeded(BaseException):
    """stdout passed its cap; a BaseException so `except Exception` can't eat it."""


def real_std_streams(like=(sys.__stdin__, sys.__stdout__, sys.__stderr__)) -> None:
    """Make sys.stdin/stdout/stderr (and the `__std*__` originals) what CPython's start-up makes
    of fds 0/1/2 (pylifecycle.c create_stdio): a TextIOWrapper over a BufferedReader/Writer over a
    FileIO named `<stdin>`..., stdin with newline="\\n" (no translation: `input()` on "ab\\r\\n"
    gives "ab\\r"), stderr line-buffered with backslashreplace. Encoding and error handlers are
    the ones this interpreter chose for its own streams (LANG=C.UTF-8: utf-8, surrogateescape)."""
    made = []
    for fd, mode, old in ((0, "rb", like[0]), (1, "wb", like[1]), (2, "wb", like[2])):
        buf = io.open(fd, mode, closefd=False)
        buf.raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]
        stream = io.TextIOWrapper(
            buf, encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or ("backslashreplace" if fd == 2 else "strict"),
            newline="\n", line_buffering=fd == 2 or buf.isatty(), write_through=False)
        stream.mode = mode[0]
        made.append(stream)
    sys.stdin, sys.stdout, sys.stderr = made
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = made


class StdoutTap:
    """What the program wrote to fd 1, read back from the file fd 1 points at, for the tracer's
    `<stdout>` changes. `take_new()` flushes the real sys.stdout (the data would otherwise sit in
    its buffer), then reads the bytes past the last position. Off (None) when fd 1 is no file.
    `flush=False` (programs that also write to fd 1 past sys.stdout, where flushing would change
    the order of the output): only what already reached fd 1 is read, so a piece may be told late."""

    def __init__(self, stream, flush: bool = True):
        self.stream = stream if flush else None
        try:
            self.pos = os.lseek(1, 0, os.SEEK_CUR)
            os.pread(1, 0, 0)  # fd 1 readable (the worker opens it so): no descriptor of our own
            self._reader, self._own = 1, False
        except OSError:
            try:  # (elsewhere: a second descriptor on the same file)
                self._reader, self._own = os.open("/proc/self/fd/1", os.O_RDONLY), True
            except OSError:
                self.pos, self._reader, self._own = 0, None, False
        self._decode = codecs.getincrementaldecoder("utf-8")("replace").decode

    def take_new(self) -> str | None:
        if self._reader is None:
            return None
        if self.stream is not None:
            try:
                self.stream.flush()
            except BaseException:
                pass  # a closed or failing stream: the program meets that error itself, untraced too
        try:
            end = os.lseek(1, 0, os.SEEK_CUR)
        except OSError:
            return None
        if end <= self.pos:
            return None
        data = os.pread(self._reader, end - self.pos, self.pos)
        self.pos = end
        return self._decode(data)

    def close(self) -> None:
        if self._reader is not None and self._own:
            os.close(self._reader)
        self._reader = None


def event_bytes(job: dict[str, Any]) -> int:
    """The byte budget a traced run really gets: --max-bytes, clamped to the transport."""
    return min(int(job.get("max_bytes", 1_000_000)), TRANSPORT_MAX_BYTES)


def buffer_allowance(job: dict[str, Any]) -> int:
    """Address space to add to --memory-mb for the tracer's own buffer (0 untraced)."""
    if not job.get("trace", True):
        return 0
    return event_bytes(job) * BUFFER_BYTES_PER_COUNTED + (64 << 20)


def result_bytes(result: dict[str, Any], cap: int) -> bytes:
    """What the child sends (event_columns.payload_head, then pack): the result as JSON, its events
    (`Tracer.events`) packed as Arrow-layout buffers, or for a short trace as columns in the JSON.
    Cut to fit `cap`: if the events do not fit (an estimate was off), the last ones go and the
    status says byte_budget; never zero events."""
    events = result.get("events") or []
    head = {k: v for k, v in result.items() if k != "events"}
    data = _payload(head, events)
    n = len(events)
    while len(data) > cap and n > 1:
        n = max(1, int(n * cap / len(data) * 0.9))
        if head.get("status") == "ok":
            head["status"] = "byte_budget"
        head["reason"] = (f"recording kept the first {n} events: the rest did not fit the "
                          f"sandbox's {cap // 1_000_000} MB result channel")
        data = _payload(head, events[:n])
    return data


def _payload(head: dict[str, Any], events: list) -> bytes:
    if len(events) > event_columns.SHORT_TRACE:
        return event_columns.pack(events, event_columns.payload_head(head))
    cols = event_columns.to_columns(events, effects_at(events))
    return json.dumps({**head, "events": cols}, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


def run_job(job: dict[str, Any], prepared: Prepared | None = None) -> dict[str, Any]:
    """Run `job` here and return the result dict the worker sends back.

    job keys: kind, code, input, entry_point, check, trace (bool), max_events, max_bytes,
    repr_chars, max_stdout_bytes. The program reads fd 0 and writes fds 1/2 through whatever
    sys.stdin/stdout/stderr are (the worker's child makes them real_std_streams() over files);
    the result's "stdout" is left to the caller, who reads it from where fd 1 went.
    """
    if prepared is None:
        prepared = Prepared(job["code"], USER_FILENAME)
    tracer = None
    tap = None
    if job.get("trace", True):
        tap = StdoutTap(sys.stdout, flush=not prepared.writes_past_stdout)
        tracer = Tracer(
            job["code"],
            max_events=job.get("max_events", 10_000),
            max_bytes=event_bytes(job),
            repr_chars=job.get("repr_chars", 120),
            stdout=tap,
            prepared=prepared,
        )
    saved = sys.stdout, sys.stdin, sys.stderr
    # The program's module namespace, held only through this list so that at the end it can
    # become garbage exactly as __main__ does at interpreter exit.
    module = [{"__name__": "__main__", "__builtins__": __builtins__}]
    result: dict[str, Any] = {"status": "ok", "exception": None, "return_repr": None, "reason": ""}
    try:
        _run(job, prepared, tracer, result, module)
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
        _like_interpreter_exit(saved, result, module)
        sys.stdout, sys.stdin, sys.stderr = saved
        if tracer is not None and tap is not None:
            tracer.flush_stdout()  # what the exit flushed
    _check_stdout_cap(job, result)
    if tracer is not None:
        tap.close()
        if tracer.stopped and result["status"] == "ok":
            result["status"] = tracer.stopped
            result["reason"] = (
                f"recording stopped at {len(tracer.events)} events / {tracer.n_bytes} bytes; "
                "the program ran to the end untraced"
            )
            if tracer.stopped == "byte_budget" and event_bytes(job) < job.get("max_bytes", 0):
                result["reason"] += (f" (--max-bytes {job['max_bytes']} is clamped to "
                                     f"{TRANSPORT_MAX_BYTES}, what the sandbox's result channel carries)")
        # compact (the sandbox's child): the tracer's own lists, which result_bytes packs
        result["events"] = tracer.events if job.get("compact") else tracer.events_as_dicts()
    else:
        result["events"] = []
    return result


def _check_stdout_cap(job: dict, result: dict) -> None:
    """More than max_stdout_bytes on fd 1 is `output_limit` (the file-size rlimit stops a runaway
    writer earlier than the disk would); the caller keeps only the first max_stdout_bytes."""
    try:
        size = os.fstat(1).st_size
    except OSError:
        return
    cap = job.get("max_stdout_bytes", 4_000_000)
    if size > cap and result["status"] == "ok":
        _fail(result, "output_limit", OutputLimitExceeded(f"stdout passed {cap} bytes"),
              "stdout cap reached; raise max_stdout_bytes to keep more")


def _like_interpreter_exit(saved: tuple, result: dict, module: list) -> None:
    """What CPython's exit does, in its order, which a program may rely on: atexit handlers, a
    flush of sys.stdout and sys.stderr (replaced ones included), then the module namespace becomes
    garbage so buffered writers are finalized with their globals intact (CP "FastIO" templates
    flush in IOBase.__del__); the real streams are flushed last, as their own finalizers would."""
    try:
        atexit._run_exitfuncs()
        _flush(sys.stdout, sys.stderr)
        namespace = module[0] if module else {}
        buffered = any(isinstance(v, io.IOBase) for v in namespace.values())
        module.clear()
        del namespace
        if buffered:  # a full collection is costly in a big process: only when a writer waits
            gc.collect()
        _flush(saved[0], saved[2])
    except OSError as exc:
        if result["status"] == "ok":
            status = "output_limit" if exc.errno == errno.EFBIG else "runtime_error"
            _fail(result, status, exc, "error while flushing output at exit")
    except BaseException as exc:
        if result["status"] == "ok":
            _fail(result, "runtime_error", exc, "error while flushing output at exit")


def _flush(*streams) -> None:
    for stream in streams:
        if stream is not None and not getattr(stream, "closed", False):
            stream.flush()


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
