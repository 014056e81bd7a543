"""Element-level changes (`dp[3][4]` becomes `7`) agree with the reference tracer's deep diff, case by case."""

from __future__ import annotations

import textwrap

import pytest

from reference_tracer import run_reference
from tracegen.tracer import STDOUT_NAME
from tracegen.worker import run_forked

BIG = dict(max_events=10**7, max_bytes=10**9)

# name: (kind, code, input, entry point, element changes that must be among the trace's: (line, path, value))
CASES = {
    "nested_list": ("function", "def f(n):\n    g = [[0, 0], [0, 0]]\n    g[1][0] = 5\n    g[0][1] += n\n    return g\n",
                    "3", "f", [(3, "g[1][0]", "5"), (4, "g[0][1]", "3")]),
    "end_of_long_list": ("function", "def f(n):\n    a = [0] * n\n    a[n - 1] = 7\n    a[-2] = 1\n    return a[-1]\n",
                         "10000", "f", [(3, "a[9999]", "7"), (4, "a[9998]", "1")]),
    "dict_keys": ("function", "def f(s):\n    d = {}\n    for c in s:\n        d[c] = d.get(c, 0) + 1\n    del d['a']\n    return d\n",
                  "'aba'", "f", [(4, "d['a']", "1"), (4, "d['b']", "1"), (4, "d['a']", "2"), (5, "d['a']", "<deleted>")]),
    "aliasing": ("function", "def f(n):\n    a = [0, 0, 0]\n    b = a\n    b[1] = n\n    return a\n",
                 "4", "f", [(4, "b[1]", "4"), (4, "a[1]", "4")]),
    "append_pop": ("function", "def f(n):\n    st = []\n    for i in range(n):\n        st.append(i * i)\n    st.pop()\n    return st\n",
                   "3", "f", [(4, "st[0]", "0"), (4, "st[2]", "4"), (5, "st[2]", "<deleted>")]),
    "dp_table": ("function", textwrap.dedent("""\
        def f(n):
            dp = [[0] * (n + 1) for _ in range(n + 1)]
            for i in range(1, n + 1):
                for j in range(1, n + 1):
                    dp[i][j] = dp[i - 1][j] + dp[i][j - 1] + 1
            return dp[n][n]
        """), "3", "f", [(5, "dp[1][1]", "1"), (5, "dp[3][3]", "19")]),
    "new_row_object": ("function", "def f(n):\n    g = [[0, 0], [0, 0]]\n    g[1] = [n, n]\n    return g\n",
                       "2", "f", [(3, "g[1]", "[2, 2]")]),
    "tuple_keys_and_globals": ("stdio", "memo = {}\nfor i in range(2):\n    for j in range(2):\n        memo[i, j] = i + j\nprint(memo)\n",
                               "", "", [(4, "memo[(1, 1)]", "2")]),
    "counter_of_items": ("stdio", "cnt = [0] * 3\nxs = [2, 0, 2]\nfor x in xs:\n    cnt[x] += 1\nprint(cnt)\n",
                         "", "", [(4, "cnt[2]", "1"), (4, "cnt[2]", "2")]),
}


def element_changes(events) -> list[tuple]:
    return [(e["step"], c["name"], c["value"], c["old"]) for e in events for c in e["changes"]
            if c["name"] != c["base"] and c["name"] != STDOUT_NAME]


@pytest.mark.parametrize("name", sorted(CASES))
def test_element_changes_match_reference(name):
    kind, code, test_input, entry, expected = CASES[name]
    res = run_forked({"kind": kind, "code": code, "input": test_input, "entry_point": entry, **BIG})
    assert res["status"] == "ok", res
    mine = element_changes(res["events"])
    ref = [(step, c[0], c[1], c[2]) for step, _k, _ln, _f, _d, ch, _v in
           run_reference(kind, code, test_input, entry, elements=True) for c in ch if len(c) == 4]
    assert sorted(mine) == sorted(ref)
    by_line = {(e["lineno"], c["name"], c["value"]) for e in res["events"] for c in e["changes"]}
    for want in expected:
        assert want in by_line, (want, mine)


def test_changes_past_the_rendered_head_are_visible():
    code = "def f(n):\n    a = [0] * n\n    a[n - 1] = 7\n    g = [[0, 0], [0, 0]]\n    g[1][0] = 5\n    return a[-1] + g[1][0]\n"
    res = run_forked({"kind": "function", "code": code, "input": "10000", "entry_point": "f"})
    line3 = [c for e in res["events"] if e["lineno"] == 3 and e["event"] == "line" for c in e["changes"]]
    assert {"name": "a[9999]", "value": "7", "elided": False, "base": "a", "old": "0"} in line3
    # the head of `a` did not change, so there is no whole-value change of `a` on that line
    assert not [c for c in line3 if c["name"] == "a"]


def test_effects_at_puts_a_lines_changes_after_its_calls():
    code = "def g(n):\n    return n * 2\ndef f(n):\n    r = g(n) + 1\n    return r\n"
    res = run_forked({"kind": "function", "code": code, "input": "3", "entry_point": "f"})
    ev = res["events"]
    line4 = next(e for e in ev if e["func"] == "f" and e["lineno"] == 4 and e["event"] == "line")
    assert [c["name"] for c in line4["changes"]] == ["r"]
    g_return = next(e for e in ev if e["func"] == "g" and e["event"] == "return")
    assert line4["step"] < g_return["step"] < line4["effects_at"]
    assert ev[line4["effects_at"]]["func"] == "f"
    assert all(e["effects_at"] == e["step"] for e in ev if e["event"] == "call")


def test_keys_with_calls_or_user_objects_fall_back_to_whole_values():
    code = textwrap.dedent("""\
        class K:
            def __hash__(self):
                print("hash called")
                return 1
        def f(n):
            d = {}
            k = K()
            d[k] = 1
            a = [0] * 3
            a[len(a) - 1] = n
            return len(d) + a[-1]
        """)
    res = run_forked({"kind": "function", "code": code, "input": "2", "entry_point": "f"})
    assert res["status"] == "ok" and res["stdout"].count("hash called") == 1  # only the program's own
    assert not [c for e in res["events"] for c in e["changes"] if c["name"] != c["base"]]
    assert any(c["name"] == "a" and c["value"] == "[0, 0, 2]" for e in res["events"] for c in e["changes"])


def _trace_row(code: str, test_input: str, kind: str = "function", entry: str = "f"):
    from tracegen.records import Limits, Problem, Solution, Test
    from tracegen.runner import trace_one
    from tracegen.sandbox import Sandbox

    p = Problem("el", "test", kind, entry_point=entry, solutions=[Solution("0", code)], tests=[Test("0", test_input, None)])
    with Sandbox("auto") as sb:
        return trace_one(p, p.solutions[0], p.tests[0], Limits(), sb)


def test_template_narration_names_element_paths_and_verifies():
    from curation.verify import verify
    from tracegen.narrate import narrate
    from tracegen.narrate.template_narrator import TemplateNarrator

    code = ("def f(n):\n    a = [0] * n\n    a[n - 1] = 7\n    g = [[0, 0], [0, 0]]\n    g[1][0] = 5\n"
            "    d = {}\n    d['x'] = g[1][0] + 1\n    return a[-1] + g[1][0] + d['x']\n")
    trace = _trace_row(code, "10000")
    assert trace.status == "ok" and trace.return_repr == "18"
    row = narrate(trace, TemplateNarrator())
    for path, value in (("a[9999]", "7"), ("g[1][0]", "5"), ("d['x']", "6")):
        assert f"`{path}`" in row.text and f"`{value}`" in row.text, row.text
    assert "`g` becomes" not in row.text.split("g[1][0]")[1].split(".")[0]  # not the whole table again
    verdict = verify(trace, row)
    assert verdict.kept, (verdict.reject_reason, row.text)


def test_a_wrong_element_value_is_rejected():
    from curation.verify import verify
    from tracegen.narrate.records import Narration

    code = "def f(n):\n    a = [0] * n\n    a[n - 1] = 7\n    return a[-1]\n"
    trace = _trace_row(code, "10000")
    good = ("We call `f` with `n` = `10000`. Line 2: `a` becomes a list of `10000` zeros. Line 3: `a[9999]` "
            "becomes `7`. The function returns `7`.\n\n[OUTPUT]\n7\n[/OUTPUT]")
    verdicts = []
    for text in (good, good.replace("`a[9999]` becomes `7`", "`a[9999]` becomes `8`")):
        n = Narration(trace_id=trace.trace_id, narrator="test", model="", revision="", prompt_sha="", text=text,
                      predicted_output="7", status="ok")
        verdicts.append(verify(trace, n))
    assert verdicts[1].kept is False


def test_prompt_listing_shows_elements_after_the_calls_of_their_line():
    from tracegen.narrate.code_facts import code_facts
    from tracegen.narrate.folding import fold
    from tracegen.narrate.render_prompt import listing

    code = ("def g(n):\n    return n * 2\ndef f(n):\n    a = [0] * n\n    a[n - 1] = g(3) + 1\n"
            "    t = [[0, 0], [0, 0]]\n    t[1][0] = 5\n    return a[-1] + t[1][0]\n")
    trace = _trace_row(code, "10000")
    lines = listing(fold(trace.events, code_facts(trace.code), None), trace.events, trace.kind).splitlines()
    assert lines.index("line 5:") < lines.index("  g returns 6") < lines.index("after line 5: a[9999] = 7")
    assert "line 7: t[1][0] = 5" in lines  # the element, not the whole table again
