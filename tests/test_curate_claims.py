"""The claim parser, table-driven: every form the template narrator and LLM narrations use, the
value shapes (floats, nested containers, quoted strings, sets, negatives, None, elided values),
and what must NOT be read as a claim."""

from __future__ import annotations

import pytest

from curation.claims import extract_claims, inline_assignment, scan_literal
from curation.markup import mask, trace_talk

CASES = [
    # (text, code names, [(kind, name, value), ...])
    ("Line 2: `total` becomes `15`.", (), [("change", "total", "15")]),
    ("Running line 3, `x` is now `-3`.", (), [("change", "x", "-3")]),
    ("`ratio` is set to `0.25` and `big` gets the value `1e-07`.", (), [("change", "ratio", "0.25"), ("change", "big", "1e-07")]),
    ("`s` gets the value `'it\\'s'`.", (), [("change", "s", "'it\\'s'")]),
    ("`s` becomes `\"say \\\"hi\\\"\"`.", (), [("change", "s", "\"say \\\"hi\\\"\"")]),
    ("`s` becomes `` 'a`b' ``.", (), [("change", "s", "'a`b'")]),
    ("`grid` becomes `[[1, 2], [3, (4, 5.5)]]`.", (), [("change", "grid", "[[1, 2], [3, (4, 5.5)]]")]),
    ("`seen` is now `{1, 2, 3}` and `d` is now `{'k': [None]}`.", (), [("change", "seen", "{1, 2, 3}"), ("change", "d", "{'k': [None]}")]),
    ("`node` is set to `None`.", (), [("change", "node", "None")]),
    ("`i` goes to `2`, `count` increases to `3` and `lo` is reset to `0`.", (),
     [("change", "i", "2"), ("change", "count", "3"), ("change", "lo", "0")]),
    ("`e` becomes `set()` and `q` becomes `deque([1, 2])`.", (), [("change", "e", "set()"), ("change", "q", "deque([1, 2])")]),
    ("We call `f` with `a` = `(1,)`, `b` = `[]` and `c` = `{'k': None}`.", (),
     [("change", "a", "(1,)"), ("change", "b", "[]"), ("change", "c", "{'k': None}")]),
    ("The loop takes its next item, and `d` stays `(1,)`; `x` is still `4`; `y` is `-0.5`.", (),
     [("state", "d", "(1,)"), ("state", "x", "4"), ("state", "y", "-0.5")]),
    ("`tmp` is deleted.", (), [("deleted", "tmp", "<deleted>")]),
    ("Now `dp[2][1]` becomes `7`.", (), [("change", "dp[2][1]", "7")]),
    ("`xs` becomes `[0, 1, …(+98 more)]`.", (), [("change", "xs", "[0, 1, …(+98 more)]")]),
    ("so now `a, b = 1, [2]`.", (), [("state", "a", "1"), ("state", "b", "[2]")]),
    ("x is now 5, and y = -2.5.", ("x", "y"), [("change", "x", "5"), ("change", "y", "-2.5")]),
    ("then n = -1e-3 and s becomes 'a b'.", ("n", "s"), [("change", "n", "-1e-3"), ("change", "s", "'a b'")]),
    ("`x` becomes 5 and total is now `[1, None]`.", ("total",), [("change", "x", "5"), ("change", "total", "[1, None]")]),
    ("`helper` returns `[1, 2]`. So `g` hands back `None`.", (), [("return", "helper", "[1, 2]"), ("return", "g", "None")]),
    ("The comprehension produces `[0, 1]`. `<lambda>` hands back `<map object>`.", (),
     [("return", "the comprehension", "[0, 1]"), ("return", "<lambda>", "<map object>")]),
    ("The generator expression yields `3`.", (), [("return", "the generator expression", "3")]),
    ("So the call returns `'abc'`.", (), [("result", "", "'abc'")]),
    ("The final result of the call is `(0, 'xx')`. Altogether, the function returns `3`.", (),
     [("result", "", "(0, 'xx')"), ("result", "", "3")]),
    ("Line 4 prints `'1 2\\n'`.", (), [("stdout", "", "'1 2\\n'")]),
    ("Line 5 writes `'a\\nb\\n'` to standard output.", (), [("stdout", "", "'a\\nb\\n'")]),
    ("Line 3 raises `ZeroDivisionError: division by zero`.", (), [("raises", "", "ZeroDivisionError: division by zero")]),
    # the [OUTPUT] block and fenced code are not narration
    ("`x` becomes `1`.\n\n```python\nx = 2\n```\n\n[OUTPUT]\n`y` becomes `3`\n[/OUTPUT]", (), [("change", "x", "1")]),
]

NOT_CLAIMS = [
    ("the loop is now done, which is 5 steps", ("loop",)),  # English; "is" with plain names
    ("`x` becomes `y + 1`.", ()),  # not a concrete value
    ("On line 6, `c.isdigit()` is false. `n > 3` is `True`.", ()),  # conditions, not variables
    ("The check `x == 5` on line 2 fails; `count += 1` runs.", ()),
    ("Line 4 runs `l=lambda :map(int,input().split())` without changing any variable.", ()),
    ("Line 19 executes `d=i`; no variable changes.", ()),
    ("x is now 5", ()),  # a plain name the program does not have
    ("The condition `i <= 3` holds, `a >= b` too.", ()),
    ("Line 7 prints `total`.", ("total",)),  # names the variable whose value is printed
    ("We call `f` with no arguments. Iterations 3 to 16 of the loop on line 4 go the same way.", ()),
]


@pytest.mark.parametrize("text,names,expected", CASES)
def test_claims_are_read(text, names, expected):
    claims = extract_claims(text, frozenset(names))
    assert [(c.kind, c.name, c.value) for c in claims] == expected
    for c in claims:  # offsets point back into the narration
        assert c.value.split("…")[0][:3] in text[c.start:c.end] or c.kind == "deleted"


@pytest.mark.parametrize("text,names", NOT_CLAIMS)
def test_not_claims(text, names):
    assert extract_claims(text, frozenset(names)) == []


def test_quoted_source_is_not_a_claim_but_a_stated_assignment_is():
    assert inline_assignment("count = 0", frozenset({"count=0"})) == []
    assert inline_assignment("count = 0") == [("count", "0")]
    assert inline_assignment("i, (j, k) = 1, (2, 'x')") == [("i", "1"), ("j", "2"), ("k", "'x'")]
    assert inline_assignment("x = f(3)") == []


def test_claims_keep_narrative_order_across_forms():
    text = ("We call `f` with `n` = `2`. Line 2 prints `'a\\n'`. `m` becomes `4`, then `g` returns `5`; "
            "`m` stays `4`. So the call returns `5`.")
    kinds = [(c.kind, c.name) for c in extract_claims(text)]
    assert kinds == [("change", "n"), ("stdout", ""), ("change", "m"), ("return", "g"), ("state", "m"), ("result", "")]


@pytest.mark.parametrize("s,i,expected", [
    ("x is now -3.5.", 9, ("-3.5", 13)),
    ("x = 5.", 4, ("5", 5)),
    ("[1, (2, ']')] and", 0, ("[1, (2, ']')]", 13)),
    ("'it\\'s' ok", 0, ("'it\\'s'", 7)),
    ("None.", 0, ("None", 4)),
    ("(as in the code)", 0, None),
    ("{1, 2", 0, None),
])
def test_scan_literal(s, i, expected):
    assert scan_literal(s, i) == expected


def test_mask_follows_commonmark_code_spans():
    m = mask("a `x` b `` y`z `` c ``` d")
    assert m.spans == ["x", "y`z"]
    assert "\x000\x01" in m.text and "\x001\x01" in m.text and "```" in m.text  # an unclosed run stays text


@pytest.mark.parametrize("text,expected", [
    ("According to the trace, `x` becomes `1`.", ["the trace"]),
    ("The trace shows `x` is `1`.", ["The trace"]),
    ("Let's trace through the code.", []),  # the verb: a normal opener, not talk about the trace
    ("Let's trace `f(2)` step by step.", []),
    ("The tracer records that `x` is `1`.", ["tracer"]),
    ("As the execution log shows, it ends.", ["execution log"]),
    ("Tracing line 3, we see nothing.", []),
    ("`trace` becomes `[1]`, and the Traceback is printed.", []),
    ("It prints the answer.\n\n[OUTPUT]\ntrace\n[/OUTPUT]", []),
    ("```python\ntrace = []\n```\nLine 1 runs.", []),
])
def test_trace_talk(text, expected):
    assert trace_talk(text) == expected


def test_math_words_are_not_trace_talk():
    assert trace_talk("It takes the log of `n`, so `r` becomes `2.0`; the loop is traversed once.") == []
