"""Hostile programs become rows with the right status; the run goes on; nothing leaks."""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox, SandboxError, resolve_mode

JAILED = resolve_mode("auto") == "bwrap"
if os.environ.get("CI") and shutil.which("bwrap") is None:
    pytest.fail("CI must have bubblewrap (.ci/run installs it)", pytrace=False)


def stdio(code: str, stdin: str = "") -> tuple[Problem, Solution, Test]:
    p = Problem(problem_id="hostile", source="test", kind="stdio",
                solutions=[Solution("s", code)], tests=[Test("t", stdin, None)])
    return p, p.solutions[0], p.tests[0]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox("auto") as sb:
        yield sb


LIMITS = Limits(timeout_s=3, memory_mb=512, max_stdout_bytes=1_000_000, max_file_bytes=2_000_000)


def leftover_processes(sandbox) -> list[int]:
    """Processes below our sandbox worker other than the worker itself (other sandboxes on the
    machine, e.g. a parallel test run, are not ours to count)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    root = sandbox._proc.pid
    below = []
    for pid in parent:
        p = parent.get(pid)
        while p and p != root:
            p = parent.get(p)
        if p == root:
            below.append(pid)
    # bwrap runs our worker as its child (plus its own init in the pid namespace)
    return [pid for pid in below if "tracegen.worker" not in _cmdline(pid) and _cmdline(pid) != "bwrap"]


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
    return raw.strip() or "?"


def run(sandbox, code: str, stdin: str = "", limits: Limits = LIMITS):
    return trace_one(*stdio(code, stdin), limits, sandbox)


def test_infinite_loop_times_out_and_run_goes_on(sandbox):
    t0 = time.monotonic()
    tr = run(sandbox, "while True:\n    pass\n")
    assert tr.status == "timeout" and "limit" in tr.reason
    assert time.monotonic() - t0 < 10
    assert run(sandbox, "print(int(input()) + 1)\n", "41").stdout == "42\n"


def test_memory_hog(sandbox):
    tr = run(sandbox, "x = []\nwhile True:\n    x.append(' ' * 10**7)\n")
    assert tr.status == "memory", (tr.status, tr.reason, tr.exception)


def test_huge_output_is_capped(sandbox):
    tr = run(sandbox, "import sys\nfor i in range(10**6):\n    sys.stdout.write('x' * 100)\n")
    assert tr.status == "output_limit"
    assert len(tr.stdout) <= LIMITS.max_stdout_bytes
    tr = run(sandbox, "import os\nfor i in range(10**6):\n    os.write(1, b'x' * 100)\n")
    assert tr.status == "output_limit"


@pytest.mark.skipif(not (JAILED and os.geteuid() == 0), reason="fork bombs are only contained "
                    "by the uid drop under bwrap as root (RLIMIT_NPROC is ignored for root)")
def test_fork_bomb_is_contained_and_cleaned_up(sandbox):
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    tr = run(sandbox, code)
    assert tr.status == "timeout"
    time.sleep(0.5)
    assert leftover_processes(sandbox) == []
    assert run(sandbox, "print('alive')\n").stdout == "alive\n"


def test_daemonized_child_is_killed(sandbox):
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\n"
            "print('parent done')\n")
    tr = run(sandbox, code)
    assert tr.stdout == "parent done\n"
    if JAILED and os.geteuid() == 0:
        time.sleep(0.3)
        assert leftover_processes(sandbox) == []


@pytest.mark.skipif(not JAILED, reason="network isolation needs bwrap")
def test_network_is_blocked(sandbox):
    # A real listener on this machine's loopback: outside the jail's network namespace.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\nprint('connected')\n"
        tr = run(sandbox, code)
    finally:
        srv.close()
    assert tr.status == "sandbox_violation", (tr.status, tr.exception)
    assert "connected" not in tr.stdout


@pytest.mark.skipif(not (JAILED or os.geteuid() != 0), reason="as root without bwrap the file system is not protected")
def test_writing_outside_is_blocked(sandbox):
    # a writable place for us, outside /tmp (which the jail replaces with its own)
    target = Path(__file__).resolve().parent / f".evil-{os.getpid()}.txt"
    try:
        tr = run(sandbox, f"open({str(target)!r}, 'w').write('x')\nprint('wrote')\n")
        assert tr.status == "sandbox_violation", (tr.status, tr.exception)
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


def test_program_files_stay_in_private_dir(sandbox):
    tr = run(sandbox, "import os\nopen('scratch.txt', 'w').write('hi')\nprint(os.listdir('.'))\n")
    assert tr.status == "ok" and "scratch.txt" in tr.stdout
    tr2 = run(sandbox, "import os\nprint(os.listdir('.'))\n")
    assert "scratch.txt" not in tr2.stdout  # a fresh directory per run


def test_environment_is_scrubbed(sandbox, monkeypatch):
    tr = run(sandbox, "import os\nprint(sorted(os.environ))\n")
    assert tr.stdout.strip() == "['HOME', 'LANG', 'PATH']"


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(SandboxError, match="auto, bwrap, rlimit"):
        Sandbox("docker")


def test_stdin_is_a_real_file(sandbox):
    tr = run(sandbox, "import os\nprint(sum(map(int, os.read(0, 100).split())))\n", "3 4")
    assert tr.stdout == "7\n"


def test_threads_and_deep_recursion(sandbox):
    code = ("import sys, threading\nsys.setrecursionlimit(10**6)\nthreading.stack_size(2**26)\n"
            "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
            "def main():\n    print(depth(int(input())))\n"
            "t = threading.Thread(target=main)\nt.start()\nt.join()\n")
    tr = run(sandbox, code, "20000", Limits(timeout_s=20, memory_mb=1024))
    assert tr.stdout == "20000\n"
    assert tr.status == "event_budget"  # recording stopped, the program finished


def test_same_input_same_trace_id_and_events(sandbox):
    code = "s = set(input().split())\nd = {w: len(w) for w in s}\nprint(sorted(d.items()))\n"
    a = run(sandbox, code, "pear apple fig kiwi")
    b = run(sandbox, code, "pear apple fig kiwi")
    assert a.trace_id == b.trace_id and a.events == b.events and a.stdout == b.stdout


def test_randomized_programs_are_reproducible(sandbox):
    # unseeded `random` (seen in real CodeContests solutions): same output traced and untraced
    code = "import random\nxs = [random.randint(1, 10**9) for _ in range(3)]\nprint(xs)\n"
    p, s, t = stdio(code)
    a, b = trace_one(p, s, t, LIMITS, sandbox), trace_one(p, s, t, LIMITS, sandbox, trace=False)
    assert a.stdout == b.stdout == trace_one(p, s, t, LIMITS, sandbox).stdout
