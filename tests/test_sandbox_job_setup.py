"""What each sandboxed job starts with, now that the worker prepares it for the child (issue 11:
one environment set once, job files opened by the worker, /dev/null as a function call's stdin,
the fork without the interpreter's at-fork callbacks), and that a job leaves nothing behind."""

from __future__ import annotations

import os
import tempfile

import pytest

from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox, _memory_tmp, resolve_mode
from tracegen.processes import remove_workdir

MODES = ["rlimit"] + (["bwrap"] if resolve_mode("auto") == "bwrap" else [])
LIMITS = Limits(timeout_s=5, memory_mb=512)


@pytest.fixture(scope="module", params=MODES)
def sandbox(request):
    with Sandbox(request.param) as sb:
        yield sb


def stdio(sandbox, code: str, stdin: str = ""):
    p = Problem("p", "test", "stdio", solutions=[Solution("s", code)], tests=[Test("t", stdin, None)])
    return trace_one(p, p.solutions[0], p.tests[0], LIMITS, sandbox)


def call(sandbox, code: str, args: str):
    p = Problem("p", "test", "function", entry_point="f", solutions=[Solution("s", code)],
                tests=[Test("t", args, None)])
    return trace_one(p, p.solutions[0], p.tests[0], LIMITS, sandbox)


def test_environment_is_exactly_path_home_lang(sandbox):
    code = "import os\nprint(sorted(os.environ.items()))\nprint(os.environ['HOME'] == os.getcwd())\n"
    first, second = stdio(sandbox, code), stdio(sandbox, code)
    assert first.status == "ok", first.reason
    lines = first.stdout.splitlines()
    assert [k for k, _ in eval(lines[0])] == ["HOME", "LANG", "PATH"]
    assert ("LANG", "C.UTF-8") in eval(lines[0]) and ("PATH", "/usr/bin:/bin") in eval(lines[0])
    assert lines[1] == "True"
    assert second.stdout.splitlines()[0] != lines[0]  # HOME is each job's own folder


def test_function_call_stdin_is_empty_and_files_start_at_3(sandbox):
    code = ("import os, sys\ndef f(x):\n    fd = os.open(os.devnull, os.O_RDONLY)\n"
            "    return (sys.stdin.read(), os.read(0, 10), fd, os.path.exists('stdin.txt'), x)\n")
    tr = call(sandbox, code, "7")
    assert tr.status == "ok", (tr.reason, tr.exception)
    assert tr.return_repr == "('', b'', 3, False, 7)"


def test_stdio_stdin_is_read_only_and_byte_for_byte(sandbox):
    code = ("import os, sys\ndata = sys.stdin.buffer.read()\nprint(repr(data))\n"
            "try:\n    os.write(0, b'x')\nexcept OSError as e:\n    print('read-only', e.errno)\n")
    tr = stdio(sandbox, code, "a\r\nb\rc")
    assert tr.status == "ok", tr.reason
    assert tr.stdout == "b'a\\r\\nb\\rc'\nread-only 9\n"


def test_output_can_be_reopened_by_name(sandbox):
    tr = stdio(sandbox, "print('a', flush=True)\nwith open('/dev/stdout', 'a') as f:\n    f.write('b\\n')\n")
    assert tr.status == "ok", (tr.reason, tr.exception)
    assert tr.stdout == "a\nb\n"


def test_random_and_threads_after_the_fork(sandbox):
    code = ("import random, threading\nout = []\n"
            "t = threading.Thread(target=lambda: out.append(random.random()))\nt.start()\nt.join()\n"
            "print(out[0], threading.active_count(), threading.current_thread() is threading.main_thread())\n")
    first, second = stdio(sandbox, code), stdio(sandbox, code)
    assert first.status == "ok", (first.reason, first.exception)
    assert first.stdout == second.stdout  # random is seeded the same way in every child
    assert first.stdout.split()[1:] == ["1", "True"]


def test_files_a_program_leaves_are_removed_with_its_folder(sandbox):
    code = ("import os\nos.makedirs('d/e')\nopen('d/e/f.txt', 'w').write('x')\nopen('g.txt', 'w').write('y')\n"
            "os.remove('stdin.txt')\nos.symlink('/etc/hostname', 'stdin.txt')\nprint('ok')\n")
    tr = stdio(sandbox, code)
    assert tr.status == "ok", (tr.reason, tr.exception)
    if sandbox.mode == "rlimit":  # the jail's /tmp is not visible from here
        assert os.listdir(sandbox._tmp) == []
        assert sandbox._tmp.startswith(_memory_tmp() or tempfile.gettempdir())  # tmpfs when there is one
    assert os.path.exists("/etc/hostname")  # the link went, not what it pointed at


def test_remove_workdir(tmp_path):
    d = tmp_path / "job"
    d.mkdir()
    for name in ("fd1.txt", "stderr.txt"):
        (d / name).write_text("x")
    remove_workdir(str(d))
    assert not d.exists()
    d.mkdir()
    (d / "fd1.txt").mkdir()  # the program replaced one of ours with a folder
    (d / "fd1.txt" / "x").write_text("x")
    remove_workdir(str(d))
    assert not d.exists()
    remove_workdir(str(d))  # already gone: no error
