"""Process and file helpers of the sandbox worker (tracegen/worker.py), each a cheaper way to do
per job what the worker must do per job: fork without the interpreter's at-fork callbacks, learn
that a program left no process behind without scanning /proc, remove a job's folder, read its
output files. On a VM a page fault or a system call costs microseconds, and a short program's job
is mostly this work (benchmarks/sandbox_job_cost.py)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

# The files a job's directory holds that the worker made (the program may add others).
JOB_FILES = ("stdin.txt", "fd1.txt", "stderr.txt")


def remove_workdir(workdir: str) -> None:
    """Remove a job's directory: our files, then the directory; a tree walk (shutil.rmtree,
    about a millisecond here) only when the program left files of its own."""
    for name in JOB_FILES:
        try:
            os.unlink(os.path.join(workdir, name))
        except OSError:
            pass  # not made (stdin of a function call), or the program replaced it
    try:
        os.rmdir(workdir)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


def _libc_fork():
    try:
        if sys.implementation.name != "cpython":
            return None
        fork = ctypes.PyDLL(None, use_errno=True).fork  # PyDLL: the GIL stays held across the call
        fork.restype, fork.argtypes = ctypes.c_int, []
        return fork
    except (OSError, AttributeError):
        return None


_LIBC_FORK = _libc_fork()


def fork_quietly() -> int:
    """os.fork() without the interpreter's at-fork callbacks, when this process runs one thread.

    The callbacks registered here are threading's (rebuilds its thread table and locks for the
    child of a threaded process) and random's (reseeds from the OS; harness.run_job seeds
    random with 0 anyway). A single-threaded process has nothing for them to repair, yet
    running them writes to ~180 pages that the child must then copy: 0.7-0.9 ms of a child's
    CPU per job in this VM (224 -> 44 page faults for a bare fork and exit). A process that
    runs threads forks with os.fork() as before."""
    if _LIBC_FORK is None or threading.active_count() != 1:
        return os.fork()
    pid = _LIBC_FORK()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return pid


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` that /proc lists (in the jail: its pid namespace's)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                os.kill(int(entry), signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass


def become_subreaper() -> bool:
    """Make this process the one that orphans of its descendants are handed to (Linux's
    PR_SET_CHILD_SUBREAPER), so that `children_left` sees every process a program left behind,
    however it detached itself (setsid, double fork)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # 36: PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def children_left() -> bool:
    """Reap what has exited; whether any descendant is still alive. As a subreaper, every living
    descendant has a chain of living parents up to us, so some child of ours is alive."""
    try:
        while True:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return True
    except ChildProcessError:
        return False


def read_capped(file: int | str, cap: int) -> str:
    """The first `cap` bytes of a file (a path, or a descriptor read from offset 0), decoded.
    (os.read(fd, cap) would allocate all of `cap` first: 4 MB per job for a few bytes.)"""
    chunks: list[bytes] = []
    pos = 0
    try:
        fd = os.open(file, os.O_RDONLY) if isinstance(file, str) else file
    except OSError:
        return ""
    try:
        while pos < cap:
            chunk = os.pread(fd, min(cap - pos, 1 << 16), pos)
            if not chunk:
                break
            chunks.append(chunk)
            pos += len(chunk)
    except OSError:
        pass
    finally:
        if fd is not file:
            os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")
