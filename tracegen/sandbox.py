"""Parent side of the sandbox: starts the pre-forked worker (jailed when bwrap works) and talks to it.

Modes:
- `bwrap`: the worker runs under bubblewrap with no network, a read-only root, private /tmp, its
  own pid/ipc/uts namespaces. As root, bwrap runs without a user namespace and keeps only
  CAP_SETUID/CAP_SETGID, so each child can drop to uid 65534, where RLIMIT_NPROC holds (it is
  ignored for root, even inside a user namespace). Root's home is hidden behind a tmpfs and only
  the interpreter, the virtualenv and this package are bound back, read-only.
- `rlimit`: no jail; rlimits, timeouts, a private temp dir and (as root, when the interpreter is
  readable by uid 65534) the uid drop.
- `auto`: bwrap when it works here, else rlimit. The summary says which one ran.
"""

from __future__ import annotations

import functools
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import json
from pathlib import Path
from typing import Any

from .event_columns import split_payload
from .records import STATUSES
from .worker import write_msg

MODES = ("auto", "bwrap", "rlimit")
PROJECT_ROOT = str(Path(__file__).resolve().parents[1])


class SandboxError(RuntimeError):
    """The sandbox cannot start (a pipeline failure, not a per-record one)."""


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    try:
        cmd = [exe, *_bwrap_args(), "--", sys.executable, "-c", "pass"]
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def resolve_mode(mode: str) -> str:
    if mode not in MODES:
        raise SandboxError(f"unknown sandbox mode {mode!r}: use one of {', '.join(MODES)}")
    if mode == "rlimit":
        return mode
    if bwrap_works():
        return "bwrap"
    if mode == "bwrap":
        raise SandboxError(
            "--sandbox bwrap was asked for but bubblewrap does not work here: install it "
            "(apt-get install bubblewrap) or run with --sandbox rlimit"
        )
    return "rlimit"


def _paths_to_rebind(hidden: tuple[str, ...]) -> list[str]:
    """Paths the worker needs that the jail's tmpfs mounts (`hidden`) would cover: the
    interpreter, the virtualenv, this package (a checkout under /tmp or /root included)."""
    wanted = {sys.prefix, sys.base_prefix, PROJECT_ROOT, *[p for p in sys.path if p]}
    wanted = {os.path.realpath(p) for p in wanted if os.path.exists(p)}
    wanted.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    # a script run from /tmp puts /tmp itself on sys.path: binding it back would undo the tmpfs
    covered = sorted(p for p in wanted if any(p.startswith(h + "/") for h in hidden))
    out: list[str] = []
    for p in covered:
        if not any(p == q or p.startswith(q + "/") for q in out):
            out.append(p)
    return out


def _bwrap_args() -> list[str]:
    hidden = ("/tmp",)
    args = ["--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--tmpfs", "/tmp"]
    if os.geteuid() == 0:
        # Real root: no user namespace, so the child can drop to a real unprivileged uid.
        args = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_CHOWN", "--cap-add", "CAP_KILL", "--cap-add", "CAP_DAC_OVERRIDE",
                "--cap-add", "CAP_FOWNER", *args, "--tmpfs", "/root"]
        hidden = ("/tmp", "/root")
    else:
        args = ["--unshare-all", *args]
    made: set[str] = set()
    for p in _paths_to_rebind(hidden):
        # bwrap would create the missing parents 0700; make them 0755 so uid 65534 can pass
        for parent in reversed(Path(p).parents):
            d = str(parent)
            if d not in made and any(d.startswith(h + "/") for h in hidden):
                made.add(d)
                args += ["--perms", "0755", "--dir", d]
        args += ["--ro-bind", p, p]
    return args


def _memory_tmp() -> str | None:
    """/dev/shm when it is a writable tmpfs, for the jobs' directories (as the jail's own /tmp
    is): each job makes and removes a directory and three files, which on a journaled disk cost
    about 1 ms of CPU a job; None (the default temp dir) elsewhere."""
    try:
        st = os.statvfs("/dev/shm")
        with open("/proc/self/mounts") as f:
            tmpfs = any(line.split()[1:3] == ["/dev/shm", "tmpfs"] for line in f)
    except OSError:
        return None
    return "/dev/shm" if tmpfs and st.f_bavail and os.access("/dev/shm", os.W_OK | os.X_OK) else None


def _readable_by_nobody(path: str) -> bool:
    """Whether uid 65534 can reach `path`: every directory on the way must be o+x."""
    p = Path(path).resolve()
    for parent in [*reversed(p.parents), p]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            return False
        if parent != p and not mode & 0o001:
            return False
    return True


class Sandbox:
    """One worker process; `run(job)` runs one job in a fresh forked child and returns its result."""

    def __init__(self, mode: str = "auto"):
        self.mode = resolve_mode(mode)
        root = os.geteuid() == 0
        if self.mode == "bwrap":
            self.drop_uid = root
        else:
            self.drop_uid = root and all(
                _readable_by_nobody(p) for p in (sys.executable, os.__file__, PROJECT_ROOT))
        self._proc: subprocess.Popen | None = None
        self._tmp: str | None = None

    @property
    def description(self) -> str:
        uid = "uid 65534" if self.drop_uid else f"uid {os.geteuid()}"
        return f"{self.mode} ({uid})"

    def start(self) -> None:
        env = {
            "PYTHONHASHSEED": "0",  # same input, same set order, same trace_id and events
            "PYTHONPATH": PROJECT_ROOT,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "SELFEXEC_DROP_UID": "1" if self.drop_uid else "0",
        }
        cmd = [sys.executable, "-s", "-m", "tracegen.worker"]
        if self.mode == "bwrap":
            env["SELFEXEC_JAILED"] = "1"
            env["SELFEXEC_TMP"] = "/tmp"
            cmd = [shutil.which("bwrap") or "bwrap", *_bwrap_args(), "--", *cmd]
        else:
            self._tmp = tempfile.mkdtemp(prefix="selfexec-sandbox-", dir=_memory_tmp())
            os.chmod(self._tmp, 0o711)
            env["SELFEXEC_TMP"] = self._tmp
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env, cwd="/")

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        if self._proc is None or self._proc.poll() is not None:
            self.close()
            self.start()
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            write_msg(proc.stdin, job)
            header, payload = self._read_reply(proc, job["timeout_s"] + 30)
        except (BrokenPipeError, OSError, TimeoutError) as exc:
            err = self._stop_and_read_stderr()
            return {"status": "internal_error", "reason": f"sandbox worker failed: {exc}; {err}"}
        result = json.loads(header)
        if payload:
            # Written by the untrusted child: accept only a well-formed result.
            try:
                child, blob = split_payload(payload)
            except ValueError:
                child, blob = None, None
            if not isinstance(child, dict) or child.get("status") not in STATUSES or not isinstance(
                    child.get("events", []), (list, dict)):  # dict: a short trace's columns
                return {"status": "sandbox_violation", "reason": "malformed result from the sandboxed child",
                        "stderr": result.get("stderr", "")}
            if blob is not None:  # the packed events: runner.trace_one checks them as it reads them
                child["events"] = blob
            child.update(result)  # stdout and stderr: what fds 1 and 2 got, read by the worker
            return child
        return result

    @staticmethod
    def _read_reply(proc: subprocess.Popen, timeout: float) -> tuple[bytes, memoryview]:
        fd = proc.stdout.fileno()  # type: ignore[union-attr]
        nh, np_ = struct.unpack(">II", _read_exact(fd, 8, timeout))
        data = memoryview(_read_exact(fd, nh + np_, timeout))
        return bytes(data[:nh]), data[nh:]  # the payload as a view: no copy

    def _stop_and_read_stderr(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        proc.kill()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            err = b""
        return (err or b"").decode("utf-8", "replace")[-2000:]

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _read_exact(fd: int, n: int, timeout: float) -> bytearray:
    import time

    deadline = time.monotonic() + timeout
    # read into one buffer of the announced size (a long trace's events are tens of MB: growing
    # a buffer, then copying it to bytes and slicing it, copied them three times)
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the sandbox worker stopped answering")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        k = os.readv(fd, [view[got:]])
        if not k:
            raise BrokenPipeError("the sandbox worker exited")
        got += k
    return buf
