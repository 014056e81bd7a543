"""The closed-world verifier on real traces: the safe expression evaluator, the prose claims
(expressions, counts, branches), control flow read from events, and pairs of narrations (true,
and with one planted error) of the phrasings LLMs use."""

from __future__ import annotations

import pytest
from narrate_helpers import trace_code

from curation.evaluate import CANNOT, evaluate
from curation.flow import flow_of
from curation.prose import extract_prose_claims, literals
from curation.verify import verify
from tracegen.narrate.output import parse_output
from tracegen.narrate.records import Narration


# -- the evaluator: what it computes, and what it refuses ------------------------------------------
@pytest.mark.parametrize("expr,state,expected", [
    ("nums.count(3)", {"nums": [3, 1, 3]}, 2),
    ("text.rfind(p)", {"text": "abab", "p": "b"}, 3),
    ("max(a, b)", {"a": 7, "b": 2}, 7),
    ("max(arr[i], dp[i-1] + arr[i])", {"arr": [1, -2, 3], "dp": [1, -1], "i": 2}, 3),
    ("text[half:]", {"text": "bbbr", "half": 1}, "bbr"),
    ("len(array) // 2", {"array": [21, 58]}, 1),
    ("'foo' in a", {"a": ["foo"]}, True),
    ("any(c.isupper() for c in s)", {"s": "aB"}, True),
    ("{k: v * 2 for k, v in d.items()}", {"d": {"a": 1}}, {"a": 2}),
    ("x is None", {"x": None}, True),
    ("f'{n:03d}'", {"n": 7}, "007"),
    ("-1 in dict", {"dict": {-1: 0}}, True),  # a variable shadowing a builtin wins
    ("nums.pop() * 2", {"nums": [1, 3]}, 6),
])
def test_evaluator_computes(expr, state, expected):
    assert evaluate(expr, state) == expected


@pytest.mark.parametrize("expr,state", [
    ("__import__('os').system('true')", {}),
    ("open('/etc/passwd').read()", {}),
    ("x.__class__", {"x": 1}),
    ("(lambda: 1)()", {}),
    ("'a' * 10 ** 9", {}),
    ("2 ** 10 ** 9", {}),
    ("list(range(10 ** 12))", {}),
    ("y + 1", {"x": 1}),  # a name the state does not have
    ("f(3)", {"f": 1}),  # calling a variable
    ("x.append", {"x": []}),
])
def test_evaluator_refuses(expr, state):
    assert evaluate(expr, state) is CANNOT


def test_evaluator_works_on_copies():
    state = {"nums": [1, 2, 3]}
    assert evaluate("nums.pop()", state) == 3
    assert state == {"nums": [1, 2, 3]}


# -- prose claims ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("`nums.count(3)` is `2`.", [("expr", "nums.count(3)", "2")]),
    ("`text.rfind(p)` returns `1`.", [("expr", "text.rfind(p)", "1")]),
    ("so `dp[i] = max(arr[i], dp[i-1] + arr[i]) = 1`.", [("state", "dp[i]", "1"),
                                                           ("expr", "max(arr[i], dp[i-1] + arr[i])", "1")]),
    ("The condition `x > 2` is False.", [("expr", "x > 2", "False")]),
    ("The loop runs 3 times.", [("count", "times", "3")]),
    ("the counter goes up to five; the dictionary has three keys left", [("count", "keys", "3")]),
    ("`'foo'` is already in `a`, so the else branch runs.", [("branch", "else", "taken")]),
    ("Every iteration takes the `if` branch.", [("branch", "if", "taken")]),
    ("If `c` were `'9'` it would give `'0'`.", []),  # a hypothetical is no claim
])
def test_prose_claims(text, expected):
    got = [(c.kind, c.name, c.value) for c in extract_prose_claims(text, frozenset({"x", "a", "c"}))]
    assert got == expected


def test_literals_found_and_skipped():
    text = ("Line 3 runs. Now arr is ['O', 'P'], `n` is `4` and the counter goes up to five. "
            "If `c` were `'9'` it would give `'0'`.\n\n[OUTPUT]\n5\n[/OUTPUT]")
    found = [(x.text, x.context) for x in literals(text)]
    assert ("3", "line") in found and ("['O', 'P']", "") in found and ("`4`".strip("`"), "span") in found
    assert ("five", "word") in found
    assert not any(t in ("'9'", "'0'") for t, _ in found)  # hypothetical
    assert not any(t == "5" for t, _ in found)  # [OUTPUT] is checked apart


# -- control flow from real events ----------------------------------------------------------------
LOOPS = """def f(xs):
    out = []
    for x in xs:
        if x > 1:
            out.append(x)
        else:
            out.append(-x)
    k = 0
    while k < 2:
        k += 1
    return [y for y in out if y]
"""


def test_flow_counts_loops_and_branches():
    t = trace_code(LOOPS, test_input="[1, 2, 3]")
    flow = flow_of(t.code, t.events)
    by_line = {lf.line: [c for _, c, _ in lf.counts] for lf in flow.loops}
    assert by_line[3] == [3] and by_line[9] == [2] and by_line[11] == [3]
    (branch,) = [f for f in flow.ifs if not f.is_loop]
    (loop_test,) = [f for f in flow.ifs if f.is_loop]
    assert [o for _, o in branch.outcomes] == ["else", "if", "if"]
    assert loop_test.is_loop and [o for _, o in loop_test.outcomes] == ["if", "if", "none"]


# -- pairs: a true narration is kept, its twin with one planted error is rejected -------------------
def _verdict(trace, text):
    pred, _, _ = parse_output(text, trace.kind)
    return verify(trace, Narration(trace.trace_id, "import", "test", "", "", text, pred, "ok", kind=trace.kind))


def _out(v):
    return f"\n\n[OUTPUT]\n{v}\n[/OUTPUT]"


PAIRS = [
    # (code, input, true narration, wrong twin, reject reason of the twin)
    ("def f(arr):\n    arr.reverse()\n    return arr", "['O', 'P', 'O', 'X']",
     "Now arr is ['X', 'O', 'P', 'O'] and that is returned." + _out("['X', 'O', 'P', 'O']"),
     "Now arr is ['X', 'P', 'O', 'O'] and that is returned." + _out("['X', 'O', 'P', 'O']"), "wrong_claim"),
    ("def f(nums):\n    c = nums.count(3)\n    return c + 1", "[3, 1, 3]",
     "`nums.count(3)` is `2`, so the function returns `3`." + _out(3),
     "`nums.count(3)` is `1`, so the function returns `3`." + _out(3), "wrong_claim"),
    ("def f(s):\n    n = 0\n    for ch in s:\n        n += 1\n    return n", "'abc'",
     "The loop runs three times and `n` ends up as `3`." + _out(3),
     "The loop runs four times and `n` ends up as `3`." + _out(3), "wrong_claim"),
    ("def f(a):\n    if 'foo' in a:\n        return 1\n    else:\n        return 2", "['foo']",
     "`'foo'` is already in `a`, so the if branch runs and it returns `1`." + _out(1),
     "`'foo'` is already in `a`, so the else branch runs and it returns `1`." + _out(1), "wrong_claim"),
    ("def f(mylist):\n    mylist.sort()\n    mylist.append(1)\n    return mylist", "[8, 5]",
     "`mylist.sort()` makes `mylist` `[5, 8]`; after the append it is `[5, 8, 1]`." + _out("[5, 8, 1]"),
     "`mylist.sort()` makes `mylist` `[5, 8]`; after the append it is `[8, 5, 1]`." + _out("[5, 8, 1]"),
     "ungrounded_value"),  # the stale order: no value the list ever had
    ("def f(x):\n    upper = 1\n    upper = x * 2\n    return upper", "3",
     "`upper` starts at `1` and then becomes `6`, which is returned." + _out(6),
     "`upper` starts at `1`, and `upper` stays `1`. The function returns `6`." + _out(6), "wrong_claim"),
    ("def f(d):\n    del d['b']\n    return d", "{'11': 1, '65': 2, 'a': 3, 'b': 4}",
     "The dictionary has three keys left: '11', '65' and 'a'." + _out("{'11': 1, '65': 2, 'a': 3}"),
     "The dictionary has two keys left: '11', '65' and 'a'." + _out("{'11': 1, '65': 2, 'a': 3}"), "wrong_claim"),
    ("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total", "4",
     "`total` grows to 6 by the end." + _out(6),
     "`total` grows to 6 by the end, after adding 17 along the way." + _out(6), "ungrounded_value"),
    ("def f(n):\n    n = 1\n    n = 1\n    return n", "1",
     "`n` is set to `1`, then `n` becomes `1` again, and the function returns `1`." + _out(1),
     "`n` is set to `1`, then `n` becomes `2`, and the function returns `1`." + _out(1), "wrong_claim"),
]


@pytest.mark.parametrize("code,arg,good,bad,reason", PAIRS)
def test_true_narration_kept_and_its_twin_rejected(code, arg, good, bad, reason):
    t = trace_code(code, test_input=arg)
    assert t.status == "ok", t.reason
    v = _verdict(t, good)
    assert v.kept, v.reject_detail
    assert v.literals == v.literals_accounted
    w = _verdict(t, bad)
    assert w.reject_reason == reason, (w.reject_reason, w.reject_detail)
    assert w.claim_checks and any(c["status"] == "wrong" for c in w.claim_checks)


def test_openers_conditionals_and_empty_constructors_pass():
    t = trace_code("def f(c):\n    out = []\n    return out", test_input="'5'")
    text = ("Let's trace through the code. `out` is `list()` at first. It would give `'0'` if `c` were `'9'`, "
            "but `c` is `'5'`. The function returns `[]`." + _out("[]"))
    v = _verdict(t, text)
    assert v.kept, v.reject_detail
