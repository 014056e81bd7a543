"""The tracer's C hot path (tracegen/_fasttrace.c) gives exactly the events of the pure-Python one.

Each corpus is traced twice through the sandbox's own child (worker.run_in_child), in two fresh
processes: SELFEXEC_PURE_TRACER=1 picks the Python path at import. Programs that start threads
are left out: how two threads interleave depends on timing, on either path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_tracer import TRICKY

ROOT = Path(__file__).resolve().parents[1]


def _fasttrace_or_skip():
    try:
        from tracegen import _fasttrace
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("tracegen._fasttrace is not built: `pip install -e .` compiles it (gcc, Python headers)")
        pytest.skip("tracegen._fasttrace is not built (no compiler at install): the pure-Python tracer runs")
    return _fasttrace


def _run(jobs_file: Path, pure: bool) -> list[dict]:
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    env.pop("SELFEXEC_PURE_TRACER", None)
    if pure:
        env["SELFEXEC_PURE_TRACER"] = "1"
    workdir = str(jobs_file.parent / "job")  # the same for both runs: a program may print its HOME
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "fasttrace_runner.py"), str(jobs_file), workdir],
                         capture_output=True, text=True, env=env, timeout=900, check=True).stdout
    head, *rows = [json.loads(line) for line in out.splitlines()]
    assert head["c_hook"] is (not pure)
    return rows


def assert_same_events(tmp_path: Path, jobs: list[dict]) -> None:
    _fasttrace_or_skip()
    jobs_file = tmp_path / "jobs.jsonl"
    jobs_file.write_text("".join(json.dumps(j) + "\n" for j in jobs))
    fast, pure = _run(jobs_file, False), _run(jobs_file, True)
    assert len(fast) == len(pure) == len(jobs)
    for job, a, b in zip(jobs, fast, pure):
        if a == b:
            continue
        ea, eb = a.pop("events"), b.pop("events")
        assert a == b, f"results differ for:\n{job['code']}"
        first = next(i for i, (x, y) in enumerate(zip(ea, eb)) if x != y) if len(ea) == len(eb) else None
        assert ea == eb, f"events differ (first at {first}) for:\n{job['code']}"


EXTRA = {
    # cells: a comprehension reads `data`, so it lives in a cell of main()
    "cells": ("stdio", textwrap.dedent("""\
        def main():
            data = input().split()
            nums = [int(data[i]) for i in range(len(data))]
            best = [0] * len(nums)
            for i in range(len(nums)):
                best[i] = nums[i] * 2
                best[-1] = i
            def inner():
                nonlocal best
                best = best[:2]
            inner()
            print(best)
        main()
        """), "3 1 4 1 5\n", ""),
    "module_level_dp": ("stdio", textwrap.dedent("""\
        n = int(input())
        dp = [0] * (n + 1)
        seen = {}
        alias = dp
        for i in range(1, n + 1):
            dp[i] = dp[i - 1] + i
            seen[str(i)] = dp[i]
            if i % 3 == 0:
                del seen[str(i)]
        total = 0
        for i in range(n + 1):
            total += dp[i]
        print(total, len(seen), alias[-1])
        """), "40\n", ""),
    "recursion_generators_classes": ("function", textwrap.dedent("""\
        class Box:
            size = 3
            def __init__(self, v):
                self.v = v
        def gen(n):
            for i in range(n):
                yield i * i
        def fib(n, memo):
            if n < 2:
                return n
            if n in memo:
                return memo[n]
            memo[n] = fib(n - 1, memo) + fib(n - 2, memo)
            return memo[n]
        def f(n):
            g = {}
            b = Box(n)
            xs = list(gen(n))
            x = 1.5
            flag = True
            big = 10 ** 70
            try:
                y = 1 // (n - n)
            except ZeroDivisionError:
                y = None
            del x
            return fib(n, g), xs, b.v, flag, big, y
        """), "12", "f"),
    # nonlocal stores in a callee: the caller's next event scans all its names, and lists the two
    # changes in the frame's own order (its f_locals dict has another order on each path)
    "scan_order": ("function", "def f(n):\n    b = 0\n    a = 0\n    def inner():\n        nonlocal a, b\n"
                   "        b = n\n        a = n + 1\n    inner()\n    return a + b\n", "5", "f"),
    "memo_tuple_keys": ("function", textwrap.dedent("""\
        memo = {}
        def best(r, c, n):
            if (r, c) in memo:
                return memo[(r, c)]
            if r == n or c == n:
                res = r + c
            else:
                res = min(best(r + 1, c, n), best(r, c + 1, n)) + 1
            memo[(r, c)] = res
            memo[(r, 'seen')] = True
            return res
        def f(n):
            return best(0, 0, n), len(memo)
        """), "6", "f"),
    "table_dp": ("function", textwrap.dedent("""\
        def f(n):
            dp = [[0] * (n + 1) for _ in range(n + 1)]
            grid = {'a': {}, 'b': [[1, 2], [3, 4]]}
            row = dp[1]
            for i in range(1, n + 1):
                for j in range(1, n + 1):
                    dp[i][j] = dp[i - 1][j] + dp[i][j - 1] + 1
                    dp[0][j] = j
                    k = 'a'
                    grid[k][j] = i
                    grid['b'][1][0] = i * j
                    dp[i][-1] = -j
                    row[0] = dp[i][j] % 7
            t = (1, [2, 3])
            t[1][0] = 9
            return dp[n][n], grid, t
        """), "7", "f"),
    "element_keys": ("function", textwrap.dedent("""\
        def f(n):
            a = [0] * n
            d = {}
            b = a
            k = 'x'
            for i in range(n):
                a[i] = i * i
                a[-1] = -i
                d[k] = i
                d[i] = [i]
                t = True
                a[t] = 7
            return a, d
        """), "6", "f"),
}


def test_tricky_programs_give_the_same_events(tmp_path):
    jobs = [{"kind": k, "code": c, "input": i, "entry_point": e, "max_events": 10**6, "max_bytes": 10**8}
            for k, c, i, e in [*TRICKY.values(), *EXTRA.values()]]
    # budgets hit part-way, on both paths
    jobs += [{**j, "max_events": 37} for j in jobs[-4:]] + [{**j, "max_bytes": 900} for j in jobs[-4:]]
    assert_same_events(tmp_path, jobs)


def test_the_c_path_takes_a_dp_loop():
    """The knapsack inner loop, `cur[c] = cand` included, stays in C (no Python call per line)."""
    fasttrace = _fasttrace_or_skip()
    code = ("def main(n, cap):\n    prev = [0] * (cap + 1)\n    for w in range(1, n):\n        cur = prev[:]\n"
            "        for c in range(w, cap + 1):\n            cand = prev[c - w] + w\n            if cand > cur[c]:\n"
            "                cur[c] = cand\n        prev = cur\n    return prev[cap]\n")
    from tracegen.tracer import Tracer

    glb: dict = {}
    exec(compile(code, "<solution>", "exec"), glb)
    tracer = Tracer(code, max_events=10**6, max_bytes=10**9)
    before = fasttrace.counts()
    tracer.start()
    try:
        glb["main"](30, 60)
    finally:
        tracer.stop()
    fast, slow = (a - b for a, b in zip(fasttrace.counts(), before))
    assert len(tracer.events) > 2000 and fast + slow >= len(tracer.events) - 40
    assert slow < 0.02 * len(tracer.events), (fast, slow)


@pytest.mark.slow
def test_cruxeval_and_codecontests_give_the_same_events(tmp_path, shared_data):
    from tracegen.loaders import load_problems
    from tracegen.records import Limits
    from tracegen.runner import make_job

    jobs = [make_job(p, p.solutions[0], p.tests[0], Limits())
            for p in load_problems(shared_data / "cruxeval" / "cruxeval.jsonl")[:300]]
    contests = load_problems(shared_data / "codecontests_py300" / "codecontests_py300.jsonl")[:60]
    jobs += [make_job(p, p.solutions[0], p.tests[0], Limits(max_events=20000, max_bytes=8_000_000, timeout_s=20))
             for p in contests if "threading" not in p.solutions[0].code]
    assert_same_events(tmp_path, jobs)
