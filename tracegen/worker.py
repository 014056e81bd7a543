"""The pre-forked sandbox worker: `python -m tracegen.worker` (started by sandbox.py).

It runs inside the jail (bubblewrap) when there is one, imports everything once, then forks a
fresh child per job. The child puts itself in its own process group and temp directory, points
fds 0/1/2 at files there (stdin written byte for byte, never normalised), makes sys.stdin/stdout/
stderr the streams CPython's start-up would make of them (harness.real_std_streams), sets
rlimits, drops to an unprivileged uid where it can, and only then
runs the user's program (harness.run_job). Forking a warm interpreter costs about a millisecond,
so the sandbox stays cheap enough for hundreds of traces per second.

Protocol on stdin/stdout: each message is a 4-byte big-endian length then that many bytes of JSON.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import resource
import select
import signal
import struct
import sys
import time
from typing import Any

# Imported here, before any fork, so children never need to read files after dropping privileges.
from . import harness  # noqa: F401
from .harness import buffer_allowance, real_std_streams, result_bytes, run_job
from .lineinfo import Prepared
from .processes import become_subreaper, children_left, fork_quietly, kill_uid, read_capped, remove_workdir
from .tracer import USER_FILENAME

NOBODY = 65534
RESULT_CAP = 64_000_000
# stdlib modules CP solutions commonly import, loaded before the uid drop in case the
# interpreter's files are not readable by the unprivileged uid.
PRELOAD = (
    "collections heapq bisect itertools functools math fractions decimal string re random "
    "operator array copy statistics typing threading queue io sys os datetime calendar "
    "dataclasses enum numbers cmath struct time types abc"
).split()


def read_msg(stream) -> dict | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    return json.loads(stream.read(n))


def write_msg(stream, obj: Any) -> None:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


# The environment a program gets; HOME becomes its job's directory.
CHILD_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8"}
_jailed = False  # main(): the worker runs in bubblewrap's pid namespace
_env_is_childs = False  # main(): os.environ is CHILD_ENV already


def main() -> None:
    global _jailed, _env_is_childs, _subreaper
    _jailed = bool(os.environ.get("SELFEXEC_JAILED"))
    _subreaper = _jailed and become_subreaper()
    if not _jailed:
        # In the jail the interpreter's files stay readable after the drop; elsewhere they may not.
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
    gc.freeze()  # keep the collector from touching (and copying) the parent's pages in each child
    drop = os.environ.get("SELFEXEC_DROP_UID") == "1"
    tmp_root = os.environ.get("SELFEXEC_TMP", "/tmp")
    # once here rather than in each child: clearing os.environ there cost ~1 ms of page faults
    os.environ.clear()
    os.environ.update(CHILD_ENV)
    _env_is_childs = True
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    n = 0
    while True:
        job = read_msg(stdin)
        if job is None:
            return
        n += 1
        workdir = os.path.join(tmp_root, f"selfexec-job-{os.getpid()}-{n}")
        try:
            header, payload = run_in_child(job, workdir, drop)
        finally:
            remove_workdir(workdir)
        # The child's result (JSON, then its packed events) goes on as it came; the parent checks it.
        head = json.dumps(header, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
        stdout.write(struct.pack(">II", len(head), len(payload)) + head)
        stdout.write(payload)  # (apart: tens of MB of events are not copied once more)
        stdout.flush()


def run_in_child(job: dict[str, Any], workdir: str, drop: bool) -> tuple[dict[str, Any], bytes]:
    """Run one job in a fresh child; returns (header, the child's raw JSON result or b"").

    Syscalls and page faults are dear in a VM, and a job of a short program is mostly this
    set-up: the worker opens the job's files once and the child inherits them (no second open,
    no chown), and the worker reads them back through the same descriptors."""
    os.mkdir(workdir, 0o700)
    if drop:
        os.chown(workdir, NOBODY, NOBODY)
    fds: list[int] = []  # closed at the end (not /dev/null, which the worker keeps)
    try:
        stdin_fd = _stdin_for(job, workdir, fds)
        out_fd = _open_new(os.path.join(workdir, "fd1.txt"), os.O_RDWR, drop, fds)
        err_path = os.path.join(workdir, "stderr.txt")
        err_fd = _open_new(err_path, os.O_WRONLY, drop, fds)
        prepared = _prepared(job["code"])
        r, w = os.pipe()
        t0 = time.monotonic()
        pid = fork_quietly()
        if pid == 0:  # the child: never returns
            _child(job, workdir, drop, w, prepared, (stdin_fd, out_fd, err_fd, r))
        os.close(w)
        data, timed_out, too_big, wstatus = _collect(r, pid, t0 + job["timeout_s"])
        if wstatus is None:
            _, wstatus = os.waitpid(pid, 0)
        _kill_leftovers(pid, drop)
        wall_ms = (time.monotonic() - t0) * 1000
        # fd 2 stays write-only, as a shell's `2> file` gives it: read by name, when not empty
        stderr = read_capped(err_path, 8000) if os.fstat(err_fd).st_size else ""
        stdout = read_capped(out_fd, job["max_stdout_bytes"])
    finally:
        for fd in fds:
            os.close(fd)
    header, payload = _classify(data, wstatus, timed_out, too_big, job, stderr)
    header["stderr"] = stderr
    header["stdout"] = stdout  # all fd 1 got: sys.stdout, os.write(1, ...), open(1, "w")...
    header["wall_ms"] = wall_ms
    return header, payload


def _stdin_for(job: dict[str, Any], workdir: str, fds: list[int]) -> int:
    """A read-only descriptor of the program's stdin: the test's input in a file for stdio
    programs, /dev/null (opened once per worker) for function calls."""
    if job["kind"] != "stdio":
        return _devnull()
    path = os.path.join(workdir, "stdin.txt")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        # byte for byte: CRLF, lone CR and a missing final newline stay; bytes that are not UTF-8
        # arrive as the surrogate escapes a loader that read them with surrogateescape made
        view = memoryview(job["input"].encode("utf-8", "surrogateescape"))
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    fds.append(os.open(path, os.O_RDONLY))  # read-only, as the shell's `< in.txt` gives it
    return fds[-1]


def _open_new(path: str, flags: int, drop: bool, fds: list[int]) -> int:
    fds.append(os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600))
    if drop:  # the program's own output: it may reopen it by name (open("/dev/stdout", "w"))
        os.fchown(fds[-1], NOBODY, NOBODY)
    return fds[-1]


_DEVNULL: list[int] = []


def _devnull() -> int:
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY))
    return _DEVNULL[0]


_PREPARED: dict[str, Prepared] = {}


def _prepared(source: str) -> Prepared:
    """Compile and analyse a program once per worker (runs of one solution share it)."""
    p = _PREPARED.get(source)
    if p is None:
        if len(_PREPARED) >= 64:
            _PREPARED.clear()
        p = _PREPARED[source] = Prepared(source, USER_FILENAME)
    return p


def _child(job: dict[str, Any], workdir: str, drop: bool, w: int, prepared: Prepared,
           fds: tuple[int, int, int, int]) -> None:
    code = 0
    step = "preparing the run"
    try:
        os.setsid()
        os.chdir(workdir)
        # fd 1 is read-write (the worker opened it so), so the tracer reads back what the program
        # wrote through fd 1 itself: an extra descriptor of ours would shift the numbers of the
        # program's own files (open() -> 4, not 3)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in set(fds):  # the worker's copies, and the pipe's read end
            os.close(fd)
        # the result pipe goes to the highest descriptor the run may have, so the program's own
        # files get the numbers plain CPython gives them (3, 4, ...)
        high = max(3, job["max_open_files"] - 1)
        if w < high:
            os.dup2(w, high)
            os.close(w)
            w = high
        _set_limits(job, drop)
        if drop:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        if not _env_is_childs:
            os.environ.clear()
            os.environ.update(CHILD_ENV)
        os.environ["HOME"] = workdir
        real_std_streams()
        # the command line plain `python3 main.py < in.txt` has: the worker's own (its path,
        # `-m tracegen.worker`) would show in the traces of `from sys import *` programs
        sys.argv[:] = ["main.py"]
        sys.orig_argv[:] = ["python3", "main.py"]
        # exit handlers inherited from the forking process (pytest's, torch's in tests and
        # benchmarks) are not the program's: its exit must run only what it registers itself
        atexit._clear()
        step = "running the program under the tracer"
        result = run_job({**job, "compact": True}, prepared=prepared)
        step = "reporting the result"
        _send(w, result_bytes(result, RESULT_CAP - (1 << 20)))
    except BaseException as exc:
        code = 70
        try:
            os.write(2, f"selfexec child: {type(exc).__name__}\n".encode())
        except BaseException:
            pass
        _report_own_failure(w, step, exc)
    finally:
        os._exit(code)


def _send(w: int, data: bytes) -> None:
    os.write(w, struct.pack(">I", len(data)))
    view = memoryview(data)
    while view:
        k = os.write(w, view[:1 << 20])
        view = view[k:]


def _report_own_failure(w: int, step: str, exc: BaseException) -> None:
    """Our code failed in the child (the program's own errors are caught by the harness): say so on
    the result pipe, which no rlimit cuts short, as `internal_error` (a rerun retries it, it is
    never reused). Running out of memory is the program's doing wherever it happens."""
    status = "memory" if isinstance(exc, MemoryError) else "internal_error"
    reason = f"the sandbox failed {step}: {type(exc).__name__}: {str(exc)[:300]}"
    try:
        _send(w, json.dumps({"status": status, "reason": reason, "events": []}).encode())
    except BaseException:
        pass


def _set_limits(job: dict[str, Any], drop: bool) -> None:
    mem = job["memory_mb"] * 1024 * 1024 + buffer_allowance(job)  # the program keeps its memory_mb
    cpu = int(job["timeout_s"]) + 1
    limits = [
        (resource.RLIMIT_AS, mem),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_FSIZE, job["max_file_bytes"]),
        (resource.RLIMIT_NOFILE, job["max_open_files"]),
        (resource.RLIMIT_CORE, 0),
    ]
    if drop:  # RLIMIT_NPROC is ignored for root; it only holds after the uid drop
        limits.append((resource.RLIMIT_NPROC, job["max_processes"]))
    for what, value in limits:
        resource.setrlimit(what, (value, value))


def _collect(r: int, pid: int, deadline: float) -> tuple[bytes, bool, bool, int | None]:
    """Read the child's length-prefixed result. Returns (data, timed_out, too_big, wait status
    if the child was already reaped). We stop at the announced length, not at EOF: a grandchild
    the program left behind may hold the pipe open for ever."""
    chunks: list[bytes] = []
    size = 0
    need = None
    wstatus = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                _killpg(pid)
                return b"", True, False, wstatus
            ready, _, _ = select.select([r], [], [], min(left, 0.1))
            if ready:
                chunk = os.read(r, 1 << 20)
                if not chunk:
                    return b"".join(chunks), False, False, wstatus
                chunks.append(chunk)
                size += len(chunk)
                if need is None and size >= 4:
                    need = 4 + struct.unpack(">I", b"".join(chunks)[:4])[0]
                if need is not None and size >= need:
                    return b"".join(chunks), False, False, wstatus
                if size > RESULT_CAP:
                    _killpg(pid)
                    return b"", False, True, wstatus
            elif wstatus is None:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    wstatus = status  # died without a full result; drain what is there, then stop
                    deadline = min(deadline, time.monotonic() + 0.2)
    finally:
        os.close(r)


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_leftovers(pid: int, drop: bool) -> None:
    """Kill whatever the program left behind: its process group, and (jailed, uid dropped) every
    process of the sandbox uid in our pid namespace, which catches children that called setsid."""
    _killpg(pid)
    if not drop or not _jailed:
        return
    if not _subreaper:
        kill_uid(NOBODY)
        children_left()  # reap what has exited
        return
    # As the subreaper, each process the program left is (or becomes) our child: usually there is
    # none, which one waitpid tells (a scan of /proc costs ~0.2 ms a job); else kill them all and
    # reap them, in rounds (a fork bomb forks between a scan and its kills) until none is left.
    deadline = time.monotonic() + 2.0
    while children_left() and time.monotonic() < deadline:
        kill_uid(NOBODY)
        time.sleep(0.002)


_subreaper = False  # main(): set when become_subreaper() worked


def _classify(data: bytes, wstatus: int, timed_out: bool, too_big: bool, job: dict,
              stderr: str) -> tuple[dict[str, Any], bytes]:
    if timed_out:
        return _status("timeout", f"wall-clock limit of {job['timeout_s']} s reached")
    if too_big:
        return _status("byte_budget", "the result passed the transport cap")
    if os.WIFSIGNALED(wstatus):
        sig = os.WTERMSIG(wstatus)
        if sig == signal.SIGXCPU:
            return _status("timeout", "CPU-time limit reached")
        if sig == signal.SIGXFSZ:
            return _status("output_limit", "file-size limit reached (output written to a file or fd 1)")
        if sig in (signal.SIGSEGV, signal.SIGBUS) :
            return _status("memory", f"killed by signal {signal.Signals(sig).name} (likely memory or stack)")
        return _status("runtime_error", f"killed by signal {signal.Signals(sig).name}")
    if len(data) < 4:
        code = os.WEXITSTATUS(wstatus) if os.WIFEXITED(wstatus) else -1
        if "MemoryError" in stderr:
            return _status("memory", "the program ran out of its memory limit")
        return _status("runtime_error", f"the process exited ({code}) before reporting a result")
    (n,) = struct.unpack(">I", data[:4])
    if n != len(data) - 4:
        return _status("sandbox_violation", "the program tampered with the result channel")
    return {}, memoryview(data)[4:]  # the events are tens of MB: a view, not a copy


def _status(status: str, reason: str) -> tuple[dict[str, Any], bytes]:
    return {"status": status, "reason": reason}, b""


_CLEAN = None  # run_forked's single-threaded process, for callers that run threads


def run_forked(job: dict[str, Any], rows: bool = True) -> dict[str, Any]:
    """One job in a forked child of this process, as the worker runs it but with no jail and no
    uid drop; returns what Sandbox.run would, with the events as dicts (`rows=False`: as the
    packed blob or the columns the sandbox sends). For tests and benchmarks.

    A process that runs other threads (a test session: fsspec's IO loop, tqdm's monitor) is not
    forked: a lock one of them held at the fork stays held in the child, and a program that
    starts threads can hang there. The job then runs from a fresh single-threaded process, as
    the sandbox's own worker is."""
    import threading

    global _CLEAN
    if threading.active_count() > 1:
        if _CLEAN is None:  # one fresh process, kept for the calls that follow
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            _CLEAN = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            atexit.register(_CLEAN.shutdown)
        return _CLEAN.submit(run_forked, job, rows).result()
    import tempfile
    from dataclasses import asdict

    from .event_arrow import read_events
    from .event_columns import split_payload
    from .records import Limits

    full = {**asdict(Limits()), "entry_point": "", "check": None, "trace": True, **job}
    workdir = os.path.join(tempfile.gettempdir(), f"selfexec-local-{os.getpid()}-{time.monotonic_ns()}")
    try:
        header, payload = run_in_child(full, workdir, False)
    finally:
        remove_workdir(workdir)
    result, blob = split_payload(payload) if payload else ({}, None)
    result.update(header)
    if blob is not None:  # a long trace's events, packed (event_columns)
        result["events"] = blob
    if rows:
        result["events"] = list(read_events(result.get("events") or []))
    return result


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
