"""verify(trace, narration) on small hand-built traces: alignment in narrative order, frames,
calls, recursion, prints, exceptions, elided values, and every per-row reject reason."""

from __future__ import annotations

import dataclasses

from curate_helpers import ev, make_trace, narration

from curation.verify import check_claims, verify
from tracegen.narrate.output import output_block

SIMPLE = make_trace("def f(n):\n    m = n * 2\n    return m + 1",
                    [ev(0, "call", 1, n="2"), ev(0, "line", 2, m="4"), ev(0, "line", 3), ev(0, "return", 3, value="5")],
                    return_repr="5")


def story(body: str, out: str = "5") -> str:
    return body + "\n\n" + output_block(out)


def test_true_story_is_kept_and_counted():
    v = verify(SIMPLE, narration(story("We call `f` with `n` = `2`. Line 2: `m` becomes `4`. So the call returns `5`.")))
    assert v.kept and v.reject_reason == "" and v.output_ok
    assert (v.claims, v.claims_checked, v.claims_wrong, v.claims_unchecked, v.claims_unknown) == (3, 3, 0, 0, 0)


def test_wrong_intermediate_value_and_wrong_result_sentence():
    v = verify(SIMPLE, narration(story("We call `f` with `n` = `2`. Line 2: `m` becomes `5`.")))
    assert (v.reject_reason, v.claims_wrong) == ("wrong_claim", 1)
    assert "`m` becomes `5`" in v.reject_detail
    v = verify(SIMPLE, narration(story("Line 2: `m` becomes `4`. So the call returns `6`.")))
    assert v.reject_reason == "wrong_claim"


def test_order_matters_and_each_change_is_told_once():
    t = make_trace("def f():\n    x = 1\n    x = 2\n    return x",
                   [ev(0, "call", 1), ev(0, "line", 2, x="1"), ev(0, "line", 3, x="2"), ev(0, "line", 4),
                    ev(0, "return", 4, value="2")], return_repr="2")
    ok = verify(t, narration(story("`x` becomes `1`, then `x` becomes `2`; `x` is still `2`.", "2")))
    assert ok.kept, ok.reject_detail
    assert verify(t, narration(story("`x` becomes `2`, then `x` becomes `1`.", "2"))).reject_reason == "wrong_claim"
    # two changes to 2 were told, the program made one
    assert verify(t, narration(story("`x` becomes `2`. Later `x` becomes `2`.", "2"))).reject_reason == "wrong_claim"
    # a state claim about the past is wrong once the value changed
    assert verify(t, narration(story("`x` becomes `2`; `x` is still `1`.", "2"))).reject_reason == "wrong_claim"


def test_plain_text_claims_llm_style():
    ok = "First n is 2. On line 2, m = n * 2, so m is now 4. Finally the function returns 5."
    v = verify(SIMPLE, narration(story(ok)))
    assert v.kept and v.claims == 1
    assert verify(SIMPLE, narration(story(ok.replace("now 4", "now 3")))).reject_reason == "wrong_claim"


CALLS = make_trace(
    "def g(k):\n    return k + 4\n\ndef f(n):\n    x = g(n)\n    return x",
    [ev(0, "call", 4, n="3"), ev(0, "line", 5, x="7"), ev(0, "call", 1, "g", 1, k="3"), ev(0, "line", 2, "g", 1),
     ev(0, "return", 2, "g", 1, value="7"), ev(0, "line", 6), ev(0, "return", 6, value="7")], return_repr="7")


def test_a_line_that_calls_takes_effect_after_the_call():
    good = ("We call `f` with `n` = `3`. Line 5 calls `g` with `k` = `3`. `g` returns `7`. "
            "Back on line 5, `x` becomes `7`. So the call returns `7`.")
    assert verify(CALLS, narration(story(good, "7"))).kept
    # told out of order: x's new value before the call that computes it
    bad = "We call `f` with `n` = `3`. Line 5: `x` becomes `7`. Then `g` is called with `k` = `3`."
    assert verify(CALLS, narration(story(bad, "7"))).reject_reason == "wrong_claim"
    assert verify(CALLS, narration(story("`g` returns `8`.", "7"))).reject_reason == "wrong_claim"


def test_recursion_keeps_each_frame_apart():
    t = make_trace(
        "def f(n):\n    if n == 0:\n        return 0\n    r = f(n - 1) + n\n    return r",
        [ev(0, "call", 1, n="1"), ev(0, "line", 2), ev(0, "line", 4, r="1"), ev(0, "call", 1, depth=1, n="0"),
         ev(0, "line", 2, depth=1), ev(0, "line", 3, depth=1), ev(0, "return", 3, depth=1, value="0"),
         ev(0, "line", 5), ev(0, "return", 5, value="1")], return_repr="1")
    good = ("We call `f` with `n` = `1`. Line 4 calls `f` with `n` = `0`. `f` returns `0`. "
            "Back on line 4, `r` becomes `1`, and `n` is still `1`. So the call returns `1`.")
    assert verify(t, narration(story(good, "1"))).kept
    bad = good.replace("and `n` is still `1`", "and `n` is still `0`")  # the inner frame is gone
    assert verify(t, narration(story(bad, "1"))).reject_reason == "wrong_claim"


STDIO = make_trace(
    "n = int(input())\nfor i in range(n):\n    print(i * i)\n",
    [ev(0, "call", 0, "<module>"), ev(0, "line", 1, "<module>", n="2"), ev(0, "line", 2, "<module>", i="0"),
     ev(0, "line", 3, "<module>", stdout="'0\\n'"), ev(0, "line", 2, "<module>", i="1"),
     ev(0, "line", 3, "<module>", stdout="'1\\n'"), ev(0, "line", 2, "<module>")],
    kind="stdio", stdout="0\n1\n")


def test_stdio_prints_and_multiline_output():
    body = ("Line 1: `n` becomes `2`. The loop on line 2 begins: `i` becomes `0`. Line 3 prints `'0\\n'`. "
            "Next: `i` becomes `1`. Line 3 writes `'1\\n'` to standard output. The loop ends.")
    v = verify(STDIO, narration(story(body, "0\n1\n"), kind="stdio"))
    assert v.kept and v.claims == 5, v.reject_detail
    assert verify(STDIO, narration(story(body, "0 1"), kind="stdio")).kept  # tokens, whitespace aside
    assert verify(STDIO, narration(story(body, "0\n2\n"), kind="stdio")).reject_reason == "output_mismatch"
    wrong = body.replace("prints `'0\\n'`", "prints `'4\\n'`")
    assert verify(STDIO, narration(story(wrong, "0\n1\n"), kind="stdio")).reject_reason == "wrong_claim"


def test_exceptions_are_claims_too():
    t = make_trace(
        "def f(a):\n    try:\n        return 1 / a\n    except ZeroDivisionError:\n        return -1",
        [ev(0, "call", 1, a="0"), ev(0, "line", 2), ev(0, "line", 3),
         ev(0, "exception", 3, value="ZeroDivisionError: division by zero"), ev(0, "line", 4), ev(0, "line", 5),
         ev(0, "return", 5, value="-1")], return_repr="-1")
    good = "Line 3 raises `ZeroDivisionError: division by zero`. It is caught, so the call returns `-1`."
    assert verify(t, narration(story(good, "-1"))).kept
    assert verify(t, narration(story(good.replace("ZeroDivisionError: division by zero", "ValueError"), "-1"))
                  ).reject_reason == "wrong_claim"


def test_elided_values_are_counted_not_checked_but_must_agree_where_visible():
    t = make_trace("def f():\n    xs = list(range(100))\n    return len(xs)",
                   [ev(0, "call", 1), ev(0, "line", 2, xs=("[0, 1, 2, …(+97 more)]", True)), ev(0, "line", 3),
                    ev(0, "return", 3, value="100")], return_repr="100")
    v = verify(t, narration(story("Line 2: `xs` becomes `[0, 1, 2, …(+97 more)]`.", "100")))
    assert v.kept and (v.claims_checked, v.claims_unchecked) == (0, 1)
    assert verify(t, narration(story("Line 2: `xs` becomes `[0, 5, …]`.", "100"))).reject_reason == "wrong_claim"


def test_subscript_claims():
    t = make_trace("def f():\n    dp = [0, 5]\n    return dp",
                   [ev(0, "call", 1), ev(0, "line", 2, dp="[0, 5]"), ev(0, "line", 3), ev(0, "return", 3, value="[0, 5]")],
                   return_repr="[0, 5]")
    assert verify(t, narration(story("Now `dp[1]` becomes `5`.", "[0, 5]"))).kept
    assert verify(t, narration(story("Now `dp[1]` becomes `6`.", "[0, 5]"))).reject_reason == "wrong_claim"
    # `i` is no variable: the claim cannot be checked, so its value is accounted for by nothing
    v = verify(t, narration(story("Now `dp[i]` becomes `6`.", "[0, 5]")))
    assert v.reject_reason == "ungrounded_value" and v.claims_unchecked == 1
    assert verify(t, narration(story("Now `dp[i]` becomes `5`.", "[0, 5]"))).kept  # 5 is a value dp holds


def test_unknown_variables_and_functions():
    v = verify(SIMPLE, narration(story("Line 2: `ghost` becomes `4`.")))
    assert (v.reject_reason, v.claims_unknown) == ("unknown_variable", 1) and "`ghost`" in v.reject_detail
    assert verify(SIMPLE, narration(story("`helper` returns `4`."))).reject_reason == "unknown_variable"


def test_output_block_checks():
    assert verify(SIMPLE, narration("Line 2: `m` becomes `4`.")).reject_reason == "bad_output"
    assert verify(SIMPLE, narration(story("Line 2 runs.", "f(3)"))).reject_reason == "bad_output"
    assert verify(SIMPLE, narration(story("Line 2 runs.", "6"))).reject_reason == "output_mismatch"
    assert verify(SIMPLE, narration(story("Line 2 runs.", "5.000001"))).kept  # float tolerance
    obj = dataclasses.replace(SIMPLE, return_repr="Counter({'a': 2})")
    assert verify(obj, narration(story("It counts.", "Counter({'a': 2})"))).kept  # no literal exists


def test_statuses_trace_talk_length_and_precedence():
    good = story("Line 2: `m` becomes `4`.")
    failed = dataclasses.replace(SIMPLE, status="runtime_error", reason="ZeroDivisionError")
    assert verify(failed, narration(good)).reject_reason == "trace_status"
    assert verify(None, narration(good)).reject_reason == "trace_status"
    v = verify(SIMPLE, narration("", status="server_error", reason="HTTP 503 after 4 retries"))
    assert (v.reject_reason, v.reject_detail) == ("narration_status", "server_error: HTTP 503 after 4 retries")
    talk = verify(SIMPLE, narration(story("According to the trace, `m` becomes `9`.")))
    assert talk.reject_reason == "trace_talk" and talk.claims_wrong == 1  # the first reason wins, all are counted
    words = lambda text: len(text.split())  # noqa: E731
    assert verify(SIMPLE, narration(good), words, 0, 5).reject_reason == "length"
    assert verify(SIMPLE, narration(good), words, 50, 100).reject_reason == "length"
    v = verify(SIMPLE, narration(good), words, 1, 100)
    assert v.kept and v.n_tokens == len(good.split())


def test_alignment_reports_every_claim_in_order():
    text = story("We call `f` with `n` = `2`. Line 2: `m` becomes `3`. `zz` is `1`. So the call returns `5`.")
    got = [(c.name or c.kind, m.status) for c, m in check_claims(SIMPLE, text)[0]]
    assert got == [("n", "ok"), ("m", "wrong"), ("zz", "unknown"), ("result", "ok")]


def test_llm_style_narration_of_a_real_cruxeval_trace():
    from curate_helpers import crux_traces

    trace = next(t for t in crux_traces() if t.problem_id == "cruxeval/sample_1")
    text = ("The function `f` is called with `a = (1,)`, `b = (1,)` and `c = (1, 2)`. First, `result` is "
            "initialized to `{}`. The loop iterates over the three tuples. In the first iteration, `d` is `(1,)`, "
            "and `result.update(dict.fromkeys(d))` makes `result` equal to `{1: None}`. In the second iteration, "
            "`d` is `(1,)` again, so `result` stays `{1: None}`. In the third iteration `d = (1, 2)` and `result` "
            "becomes `{1: None, 2: None}`. Finally, the function returns `{1: None, 2: None}`.")
    v = verify(trace, narration(story(text, "{1: None, 2: None}"), trace_id=trace.trace_id))
    assert v.kept, v.reject_detail
    assert v.claims == 11 and v.claims_checked == 11  # ten values and "the three tuples"
    assert v.literals == v.literals_accounted >= 8
    wrong = text.replace("so `result` stays `{1: None}`", "so `result` stays `{1: None, 2: None}`")
    v = verify(trace, narration(story(wrong, "{1: None, 2: None}"), trace_id=trace.trace_id))
    # which of the two claims about that change is blamed is a matter of alignment
    assert v.reject_reason == "wrong_claim" and ("already told" in v.reject_detail or
                                                 "later iteration" in v.reject_detail)
