"""The tracer misses no state change: it agrees, event for event, with a slow reference tracer."""

from __future__ import annotations

import json
import textwrap

import pytest

from reference_tracer import run_reference
from tracegen.render import render
from tracegen.tracer import STDOUT_NAME
from tracegen.worker import run_forked

BIG = dict(max_events=10**7, max_bytes=10**10)


def ours(kind: str, code: str, test_input: str, entry_point: str = "", **kw) -> dict:
    job = {"kind": kind, "code": code, "input": test_input, "entry_point": entry_point, "check": None,
           "trace": True, **BIG, **kw}
    return run_forked(job)


def as_tuples(events: list[dict]) -> list[tuple]:
    return [
        (e["step"], e["event"], e["lineno"], e["func"], e["depth"],
         [(c["name"], c["value"]) for c in e["changes"] if c["name"] not in (STDOUT_NAME,) and c["name"] == c["base"]],
         e["value"])
        for e in events
    ]


def assert_same_as_reference(kind: str, code: str, test_input: str, entry_point: str = "") -> list[tuple]:
    mine = as_tuples(ours(kind, code, test_input, entry_point)["events"])
    ref = run_reference(kind, code, test_input, entry_point)
    ref = [(s, k, ln, f, d, sorted(ch), v) for s, k, ln, f, d, ch, v in ref]
    mine_sorted = [(s, k, ln, f, d, sorted(ch), v) for s, k, ln, f, d, ch, v in mine]
    assert len(mine_sorted) == len(ref), (len(mine_sorted), len(ref))
    for a, b in zip(mine_sorted, ref):
        assert a == b, f"tracer {a}\nreference {b}"
    return mine


TRICKY = {
    "aliasing": ("function", "def f(a):\n    b = a\n    b.append(1)\n    c = [a, a]\n    c[0].append(2)\n    return a\n", "[0]", "f"),
    "inplace_sort": ("function", "def f(xs):\n    ys = xs\n    ys.sort()\n    xs.reverse()\n    return ys\n", "[3, 1, 2]", "f"),
    "nested_dp": ("function", textwrap.dedent("""\
        def f(n):
            dp = [[0] * (n + 1) for _ in range(n + 1)]
            for i in range(n + 1):
                dp[i][0] = 1
                for j in range(1, i + 1):
                    dp[i][j] = dp[i - 1][j - 1] + (dp[i - 1][j] if j < i else 0)
            row = dp[n]
            row[0] = 99
            return dp
        """), "4", "f"),
    "big_tables": ("stdio", textwrap.dedent("""\
        n = 400
        sieve = [True] * n
        for i in range(2, 20):
            if sieve[i]:
                for j in range(i * i, n, i):
                    sieve[j] = False
        sieve[3] = 7
        dp = [[0] * 60 for _ in range(30)]
        for i in range(1, 30):
            for w in range(60):
                dp[i][w] = max(dp[i - 1][w], dp[i - 1][w - 1] + i * 1000 if w else 0)
        dp[0][1] = -5
        alias = dp[0]
        alias[2] = 12345678901234
        print(sum(sieve), dp[29][59])
        """), "", ""),
    "global_nonlocal": ("function", textwrap.dedent("""\
        counter = 0
        log = []
        def bump(k):
            global counter
            counter += k
            log.append(counter)
        def f(n):
            total = 0
            def add(x):
                nonlocal total
                total += x
            for i in range(n):
                add(i)
                bump(i)
            return total, counter, log
        """), "4", "f"),
    "closures": ("function", "def f(n):\n    fs = [lambda x, k=k: x * k for k in range(n)]\n    return [g(2) for g in fs]\n", "3", "f"),
    "generators": ("function", textwrap.dedent("""\
        def gen(n):
            acc = []
            for i in range(n):
                acc.append(i)
                got = yield i * i
                if got:
                    acc.append(got)
        def f(n):
            g = gen(n)
            out = [next(g)]
            out.append(g.send(10))
            out.extend(g)
            return out
        """), "4", "f"),
    "comprehensions": ("function", "def f(s):\n    d = {c: s.count(c) for c in s}\n    t = sorted({v for v in d.values()})\n    return [x for x in t if x > 1], d\n", "'banana'", "f"),
    "class_attrs": ("function", textwrap.dedent("""\
        class Counter:
            total = 0
            def __init__(self, start):
                self.value = start
                Counter.total += 1
            def inc(self):
                self.value += 1
                return self
        def f(n):
            c = Counter(n)
            d = c
            for _ in range(2):
                c.inc()
            items = [c, Counter(0)]
            items[1].inc()
            return d.value, Counter.total
        """), "5", "f"),
    "recursion": ("function", "def f(n, memo={}):\n    if n < 2:\n        return n\n    if n not in memo:\n        memo[n] = f(n - 1) + f(n - 2)\n    return memo[n]\n", "7", "f"),
    "exceptions": ("function", textwrap.dedent("""\
        def risky(x):
            if x == 2:
                raise ValueError('two')
            return 10 // x
        def f(xs):
            out = []
            for x in xs:
                try:
                    out.append(risky(x))
                except (ValueError, ZeroDivisionError) as e:
                    out.append(str(e))
            return risky(2)
        """), "[1, 0, 2, 5]", "f"),
    "threads": ("stdio", textwrap.dedent("""\
        import threading
        results = [0] * 3
        def work(i):
            s = 0
            for k in range(i + 2):
                s += k
            results[i] = s
        ts = [threading.Thread(target=work, args=(i,), name=f"w{i}") for i in range(3)]
        for t in ts:
            t.start()
            t.join()
        print(results)
        """), "", ""),
    "stdio_dicts_del": ("stdio", textwrap.dedent("""\
        n = int(input())
        d = {}
        for i in range(n):
            d.setdefault(i % 2, []).append(i)
        x = d[0]
        del d[0]
        x += [100]
        del x
        print(d)
        """), "5\n", ""),
    "heapq_library_mutation": ("stdio", textwrap.dedent("""\
        import heapq
        from collections import deque
        h = []
        for v in [5, 1, 4]:
            heapq.heappush(h, v)
        q = deque(h)
        q.rotate(1)
        m = heapq.heappop(h)
        print(m, h, list(q))
        """), "", ""),
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_programs_match_reference(name):
    kind, code, test_input, entry = TRICKY[name]
    events = assert_same_as_reference(kind, code, test_input, entry)
    assert len(events) > 3


def test_aliasing_change_is_reported_on_both_names():
    kind, code, test_input, entry = TRICKY["aliasing"]
    events = as_tuples(ours(kind, code, test_input, entry)["events"])
    line3 = [e for e in events if e[1] == "line" and e[2] == 3][0]
    assert ("a", "[0, 1]") in line3[5] and ("b", "[0, 1]") in line3[5]


@pytest.mark.slow  # 800 forked runs and the reference tracer: about a minute
def test_cruxeval_all_match_reference(shared_data):
    mismatches = []
    for line in (shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines():
        item = json.loads(line)
        try:
            assert_same_as_reference("function", item["code"], item["input"], "f")
        except AssertionError as exc:
            mismatches.append((item["id"], str(exc)[:300]))
    assert not mismatches, mismatches[:5]


def test_budget_stops_recording_but_program_finishes():
    code = "total = 0\nfor i in range(5000):\n    total += i\nprint(total)\n"
    res = ours("stdio", code, "", max_events=100, max_bytes=10**9)
    assert res["status"] == "event_budget"
    assert res["stdout"] == "12497500\n"
    assert len(res["events"]) == 100
    res = ours("stdio", code, "", max_events=10**9, max_bytes=2000)
    assert res["status"] == "byte_budget" and res["stdout"] == "12497500\n"


def test_stdout_is_state():
    res = ours("stdio", "for i in range(2):\n    print(i)\n", "")
    printed = [c["value"] for e in res["events"] for c in e["changes"] if c["name"] == STDOUT_NAME]
    assert printed == ["'0\\n'", "'1\\n'"]


def test_render_is_bounded_and_marks_elision():
    text, elided = render(list(range(10_000)), 60)
    assert elided and len(text) < 120 and "more" in text
    text, elided = render({"a": [1, 2]}, 60)
    assert text == "{'a': [1, 2]}" and not elided

    class Node:
        def __init__(self):
            self.val = 3
            self.next = None

    assert render(Node())[0] == "Node(val=3, next=None)"  # attributes, never an address


def test_packed_events_give_the_same_events_as_dicts():
    """The packed road (child -> Arrow-layout buffers -> Arrow), the short traces' one (JSON columns)
    and the plain one give identical events (tests/test_event_packing.py: the C and Python packers)."""
    from tracegen.event_arrow import ArrowEvents, from_packed
    from tracegen.event_columns import pack, to_columns, to_rows
    from tracegen.event_dicts import effects_at
    from tracegen.tracer import Tracer

    for kind, code, test_input, entry in TRICKY.values():
        if kind != "function":
            continue
        g = {"__name__": "__main__"}
        exec(compile(code, "<solution>", "exec"), g)
        args = eval(f"(lambda *a: a)({test_input})", dict(g))
        t = Tracer(code, max_events=10**6, max_bytes=10**9)
        t.start()
        try:
            g[entry](*args)
        except Exception:
            pass
        finally:
            t.stop()
        cols = json.loads(json.dumps(to_columns(t.events, effects_at(t.events))))
        assert ArrowEvents(from_packed(pack(t.events))).rows() == to_rows(cols) == t.events_as_dicts()


def test_a_caller_that_runs_threads_gets_the_same_events():
    """A test session runs threads (fsspec's IO loop, tqdm's monitor): run_forked then works from a
    fresh single-threaded process (a fork of a threaded one can hang a program that starts threads)."""
    import threading

    from tracegen import worker

    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, daemon=True)
    waiter.start()
    try:
        kind, code, test_input, entry_point = TRICKY["threads"]
        assert_same_as_reference(kind, code, test_input, entry_point)
        assert worker._CLEAN is not None
    finally:
        stop.set()
