"""Rewards that run code: solve_reward in the real sandbox (hostile programs included), format_reward,
trace_reward through curation's verifier, per-task weights. Table-driven, no mocks."""

from __future__ import annotations

import doctest
import os
import threading
import time
import uuid

import pytest

from finetune import code_runner, rewards, safety
from finetune.code_runner import RunLimits
from finetune.rewards import (by_task, format_reward, make_solve_reward, output_prediction_reward, solve_reward,
                              trace_reward)
from tracegen.errors import PipelineError

INC_TESTS = [{"test_id": "t0", "input": "1", "output": "2", "public": True},
             {"test_id": "t1", "input": "-5", "output": "-4", "public": False}]
SUM_TESTS = [{"test_id": "t0", "input": "1 2\n", "output": "3\n", "public": True},
             {"test_id": "t1", "input": "10 -3", "output": "7", "public": False}]


def block(code: str) -> str:
    return f"Let me think.\n```python\n{code}```\nDone."


SOLVE_CASES = [
    # (id, completion, kind, tests, reward)
    ("right", block("def f(x):\n    return x + 1\n"), "function", INC_TESTS, 1.0),
    ("right, last block counts", block("def f(x):\n    return 0\n") + block("def f(x):\n    return x + 1\n"),
     "function", INC_TESTS, 1.0),
    ("passes the public test only", block("def f(x):\n    return 2\n"), "function", INC_TESTS, -1.0),
    ("crash", block("def f(x):\n    return x / 0\n"), "function", INC_TESTS, -1.0),
    ("syntax error", block("def f(x) return x\n"), "function", INC_TESTS, -1.0),
    ("no code block", "def f(x):\n    return x + 1", "function", INC_TESTS, -1.0),
    ("empty block", "```python\n```", "function", INC_TESTS, -1.0),
    ("wrong entry point", block("def g(x):\n    return x + 1\n"), "function", INC_TESTS, -1.0),
    ("stdio right", block("a, b = map(int, input().split())\nprint(a + b)\n"), "stdio", SUM_TESTS, 1.0),
    ("stdio wrong", block("a, b = map(int, input().split())\nprint(a - b)\n"), "stdio", SUM_TESTS, -1.0),
    ("stdio via os.read", block("import os\nprint(sum(map(int, os.read(0, 100).split())))\n"), "stdio", SUM_TESTS, 1.0),
    ("no checkable test", block("def f(x):\n    return x + 1\n"), "function",
     [{"test_id": "t0", "input": "1", "output": None, "public": True}], -1.0),
]


@pytest.mark.parametrize(("case", "completion", "kind", "tests", "reward"), SOLVE_CASES, ids=[c[0] for c in SOLVE_CASES])
def test_solve_reward(case, completion, kind, tests, reward):
    got = solve_reward([[{"role": "assistant", "content": completion}]], tests=[tests], kind=[kind],
                       entry_point=["f" if kind == "function" else ""], task=["solve"])
    assert got == [reward]


HOSTILE = {
    "infinite loop": "def f(x):\n    while True:\n        pass\n",
    "os.system": "import os\ndef f(x):\n    os.system('rm -rf ~; echo owned')\n    return x + 1\n",
    "subprocess": "import subprocess\ndef f(x):\n    subprocess.run(['sh', '-c', 'kill -9 -1'])\n    return x + 1\n",
    "100 MB of output": "def f(x):\n    print('x' * 100_000_000)\n    return x + 1\n",
    "100 MB of output in pieces": "import sys\ndef f(x):\n    for _ in range(100):\n        sys.stdout.write('y' * 1_000_000)\n"
                                  "    return x + 1\n",
    "fork bomb": "import os\ndef f(x):\n    while True:\n        os.fork()\n",
    "fork bomb past the static check": "def f(x):\n    fork = getattr(__import__('o' + 's'), 'fork')\n    while True:\n"
                                       "        fork()\n",
    "memory bomb": "def f(x):\n    a = [0] * 10**10\n    return x + 1\n",
    "deep recursion": "import sys\nsys.setrecursionlimit(10**9)\ndef f(x):\n    return f(x + 1)\n",
    "socket": "import socket\ndef f(x):\n    socket.create_connection(('1.1.1.1', 80))\n    return x + 1\n",
    "kills its parent": "import os, signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x + 1\n",
}


def test_hostile_completions_score_minus_one_within_the_time_limit():
    reward = make_solve_reward(RunLimits(timeout_s=2.0), batch_timeout_s=30, workers=4)
    names = list(HOSTILE)
    t0 = time.monotonic()
    got = reward([block(HOSTILE[n]) for n in names], tests=[INC_TESTS] * len(names), kind=["function"] * len(names),
                 entry_point=["f"] * len(names), task=["solve"] * len(names))
    wall = time.monotonic() - t0
    assert dict(zip(names, got)) == dict.fromkeys(names, -1.0)
    # each program gets at most 2 s per test and stops at its first failure; 4 run at once
    assert wall < 20, f"hostile batch took {wall:.1f} s"
    # the sandbox is still good for honest work afterwards
    assert reward([block("def f(x):\n    return x + 1\n")], tests=[INC_TESTS], kind=["function"],
                  entry_point=["f"], task=["solve"]) == [1.0]


def test_a_shell_command_past_the_static_check_stays_in_the_jail():
    from tracegen.sandbox import bwrap_works

    marker = f"/tmp/selfexec-escape-{uuid.uuid4().hex}"
    code = f"def f(x):\n    getattr(__import__('o' + 's'), 'system')('touch {marker}')\n    return x + 1\n"
    reward = make_solve_reward(RunLimits(timeout_s=3.0), workers=1)
    reward([block(code)], tests=[INC_TESTS], kind=["function"], entry_point=["f"], task=["solve"])
    if bwrap_works():  # the jail's /tmp is its own; without bwrap the program runs in a temp dir as nobody
        assert not os.path.exists(marker)


def test_a_batch_of_32_is_scored_in_parallel():
    slow_right = block("import time\ndef f(x):\n    time.sleep(0.5)\n    return x + 1\n")
    wrong = block("def f(x):\n    return x\n")
    completions = [slow_right if i % 4 else wrong for i in range(32)]
    reward = make_solve_reward(RunLimits(timeout_s=5.0), batch_timeout_s=60, workers=8)
    reward([wrong], tests=[INC_TESTS], kind=["function"], entry_point=["f"], task=["solve"])  # start the pool
    t0 = time.monotonic()
    got = reward(completions, tests=[INC_TESTS] * 32, kind=["function"] * 32, entry_point=["f"] * 32,
                 task=["solve"] * 32)
    wall = time.monotonic() - t0
    assert got == [1.0 if i % 4 else -1.0 for i in range(32)]
    serial = 24 * 2 * 0.5  # 24 right programs, 2 tests each, 0.5 s a test
    assert wall < serial / 3, f"32 completions took {wall:.1f} s; one at a time would take {serial:.0f} s"


def test_the_batch_deadline_bounds_a_batch_of_infinite_loops():
    loop = block("def f(x):\n    while True:\n        pass\n")
    reward = make_solve_reward(RunLimits(timeout_s=10.0), batch_timeout_s=3.0, workers=2)
    t0 = time.monotonic()
    got = reward([loop] * 6, tests=[INC_TESTS] * 6, kind=["function"] * 6, entry_point=["f"] * 6, task=["solve"] * 6)
    wall = time.monotonic() - t0
    assert got == [-1.0] * 6
    assert wall < 8, f"a 3 s budget took {wall:.1f} s (6 loops of 10 s each, 2 at a time, would take 30 s)"


def test_our_own_sandbox_failing_raises_instead_of_scoring():
    loop = block("def f(x):\n    while True:\n        pass\n")
    reward = make_solve_reward(RunLimits(timeout_s=8.0), batch_timeout_s=30, workers=1, sandbox="rlimit")
    box = code_runner.pool(1, "rlimit")._free.queue[0]  # the one worker process of this pool

    def kill_the_worker():
        time.sleep(1.0)
        box._proc.kill()

    threading.Thread(target=kill_the_worker).start()
    with pytest.raises(PipelineError, match="sandbox"):
        reward([loop], tests=[INC_TESTS], kind=["function"], entry_point=["f"], task=["solve"])


def test_rows_of_other_tasks_are_none_and_lengths_must_agree():
    got = solve_reward(["x", "y"], tests=[INC_TESTS] * 2, kind=["function"] * 2, entry_point=["f"] * 2,
                       task=["output_prediction", "output_prediction"])
    assert got == [None, None]
    with pytest.raises(ValueError, match="lengths differ"):
        solve_reward(["x"], tests=[INC_TESTS] * 2, kind=["function"], entry_point=["f"], task=["solve"])


FORMAT_CASES = [
    ("[ANSWER]\nassert f(1) == 2\n[/ANSWER]", "function", "output_prediction", 1.0),
    ("[ANSWER]\nassert f(1) ==\n[/ANSWER]", "function", "output_prediction", 0.0),
    ("it returns 2", "function", "output_prediction", 0.0),
    ("<output>\n3\n</output>", "stdio", "output_prediction", 1.0),
    ("[ANSWER]\nassert f(1) == 2\n[/ANSWER]", "stdio", "output_prediction", 0.0),
    (block("print(1)\n"), "stdio", "solve", 1.0),
    (block("print(1\n"), "stdio", "solve", 0.0),
    ("print(1)", "stdio", "solve", 0.0),
]


@pytest.mark.parametrize(("text", "kind", "task", "reward"), FORMAT_CASES)
def test_format_reward(text, kind, task, reward):
    assert format_reward([text], kind=[kind], task=[task]) == [reward]


CODE = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total * 2\n"
TRACE_CASES = [
    # (id, narration, reward)
    ("every claim holds", "We call `f` with `xs` = `[1, 2]`. `total` starts at `0`, becomes `1`, then `3`. "
                          "So `f` returns `6`.", 1.0),
    ("one wrong middle value", "We call `f` with `xs` = `[1, 2]`. `total` starts at `0`, becomes `1`, then `4`. "
                               "So `f` returns `6`.", None),  # strictly between -1 and 1
    ("all wrong", "`total` becomes `7`, then `9`.", -1.0),
    ("nothing checkable", "The function adds things up.", 0.0),
    ("answer block is not a claim", "It adds things.\n[ANSWER]\nassert f([1, 2]) == 99\n[/ANSWER]", 0.0),
]


@pytest.mark.parametrize(("case", "text", "reward"), TRACE_CASES, ids=[c[0] for c in TRACE_CASES])
def test_trace_reward(case, text, reward):
    got = trace_reward([text], code=[CODE], input=["[1, 2]"], kind=["function"], entry_point=["f"],
                       task=["output_prediction"])[0]
    if reward is None:
        assert -1.0 < got < 1.0
    else:
        assert got == reward


def test_trace_reward_is_none_for_solve_rows_and_programs_that_fail():
    got = trace_reward(["`x` is `1`.", "`x` is `1`."], code=["", "def f(x):\n    return 1 / 0\n"], input=["", "1"],
                       kind=["function"] * 2, entry_point=["f"] * 2, task=["solve", "output_prediction"])
    assert got == [None, None]


def test_per_task_weights():
    weighted = by_task(output_prediction_reward, {"output_prediction": 0.8})
    got = weighted(["[ANSWER]\nassert f(1) == 2\n[/ANSWER]", "[ANSWER]\nassert f(1) == 3\n[/ANSWER]", "x"],
                   kind=["function"] * 3, expected_output=["2", "2", None],
                   task=["output_prediction", "output_prediction", "solve"])
    assert got == [0.8, -0.8, None]
    assert weighted.__name__ == "output_prediction_reward"


def test_doctests():
    for module in (rewards, safety):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
