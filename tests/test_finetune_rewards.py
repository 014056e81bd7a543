"""The output-prediction reward: answer parsing and comparison, table-driven."""

from __future__ import annotations

import doctest

import pytest

from curation import answers
from finetune import rewards
from finetune.rewards import output_prediction_reward, parse_answer


def answer(value: str, call: str = "f(1)") -> str:
    return f"Step 1: x is 1.\nSo f returns {value}.\n[ANSWER]\nassert {call} == {value}\n[/ANSWER]"


PARSE_CASES = [
    # (text, kind, parsed)
    (answer("3"), "function", "3"),
    (answer("'a == b'"), "function", "'a == b'"),
    (answer("[1, '==', {'k': '=='}]"), "function", "[1, '==', {'k': '=='}]"),
    (answer("(1,\n 2)"), "function", "(1,\n 2)"),
    ("[ANSWER]assert f('x == y') == 'x'[/ANSWER]", "function", "'x'"),  # `==` in the call's argument
    ("[ANSWER]\n[1, 2]\n[/ANSWER]", "function", "[1, 2]"),  # a bare literal
    ("[ANSWER]\n'a == b'\n[/ANSWER]", "function", "'a == b'"),  # a bare string holding ==
    ("[ANSWER]f(1) == 4[/ANSWER]", "function", "4"),  # no `assert`
    ("[ANSWER]\n```python\nassert f(1) == 4\n```\n[/ANSWER]", "function", "4"),  # fenced
    ("format: [ANSWER]\nassert f(x) == y\n[/ANSWER]\n" + answer("7"), "function", "7"),  # last block wins
    (answer("1") + "\n" + answer("2"), "function", "2"),
    ("[ANSWER]\nassert f(1) == \n[/ANSWER]", "function", None),  # unparseable
    ("[ANSWER]\nassert f(1) == 2 == 2\n[/ANSWER]", "function", None),  # chained: ambiguous
    ("[ANSWER]\nassert f(1) != 2\n[/ANSWER]", "function", None),
    ("[ANSWER]\nx = 1\ny = 2\n[/ANSWER]", "function", None),
    ("[ANSWER]\n\n[/ANSWER]", "function", None),
    ("[ANSWER]\nassert f(1) == 3", "function", None),  # never closed (cut off)
    ("it returns 3", "function", None),
    ("<output>\n3\n</output>", "function", None),  # the other kind's block
    ("<output>\nhello\nworld\n</output>", "stdio", "hello\nworld\n"),
    ("<output>hi</output>", "stdio", "hi"),
    ("<output>\n</output>", "stdio", ""),
    ("<output>\r\nx\r\n</output>", "stdio", "x\r\n"),
    ("<output>\n1\n</output> then <output>\n2\n</output>", "stdio", "2\n"),
    ("<output>\n1\n", "stdio", None),
    ("[ANSWER]\nassert f() == 1\n[/ANSWER]", "stdio", None),
    (None, "function", None),
]


@pytest.mark.parametrize(("text", "kind", "parsed"), PARSE_CASES)
def test_parse_answer(text, kind, parsed):
    assert parse_answer(text, kind) == parsed


def test_parse_answer_unknown_kind_is_loud():
    with pytest.raises(ValueError, match="unknown kind"):
        parse_answer("x", "sql")


REWARD_CASES = [
    # (completion text, kind, expected_output, reward)
    (answer("3"), "function", "3", 1.0),  # right
    (answer("4"), "function", "3", -1.0),  # wrong
    ("I think it is 3.", "function", "3", -1.0),  # absent
    ("[ANSWER]\nassert f(1) ==\n[/ANSWER]", "function", "3", -1.0),  # unparseable
    (answer("0.30000001"), "function", "0.3", 1.0),  # within 1e-5
    (answer("0.31"), "function", "0.3", -1.0),  # outside
    (answer("[1.0, (2, 'x')]"), "function", "[1, (2, 'x')]", 1.0),  # containers, int/float
    (answer("(1, 2)"), "function", "[1, 2]", -1.0),  # tuple is not list
    (answer('"a == b"'), "function", "'a == b'", 1.0),  # == inside the string, quotes differ
    (answer("'a'"), "function", "'a == b'", -1.0),
    (answer("False"), "function", "0", 1.0),  # as `==` sees them
    (answer("{'b': 2, 'a': 1}"), "function", "{'a': 1, 'b': 2}", 1.0),
    (answer("set()"), "function", "set()", 1.0),  # not a literal: compared as text
    (answer("1") + "\n" + answer("2"), "function", "2", 1.0),  # last block wins
    (answer("2") + "\n" + answer("1"), "function", "2", -1.0),
    ("<output>\n1 2\n3\n</output>", "stdio", "1 2\n3\n", 1.0),
    ("<output>1 2 3</output>", "stdio", "1 2\n3\n", 1.0),  # whitespace does not count
    ("<output>\n1 2\n3.0000001\n</output>", "stdio", "1 2\n3\n", 1.0),  # float tolerance
    ("<output>\n1 2\n</output>", "stdio", "1 2\n3\n", -1.0),
    ("<output>\nYES\n</output>", "stdio", "yes\n", -1.0),
    ("<output>\n</output>", "stdio", "", 1.0),  # a program that prints nothing
    ("it prints 1 2 3", "stdio", "1 2\n3\n", -1.0),
    ("<output>\n1 2\n3\n</output>", "function", "1 2\n3\n", -1.0),  # wrong block for the kind
]


@pytest.mark.parametrize(("text", "kind", "expected", "reward"), REWARD_CASES)
@pytest.mark.parametrize("shape", ["conversational", "string"])
def test_output_prediction_reward(text, kind, expected, reward, shape):
    completion = [{"role": "assistant", "content": text}] if shape == "conversational" else text
    assert output_prediction_reward([completion], kind=[kind], expected_output=[expected]) == [reward]


def test_reward_takes_trl_keyword_arguments_in_a_batch():
    texts = [answer("3"), answer("4"), "<output>\nok\n</output>", "nothing"]
    got = output_prediction_reward(
        prompts=[[{"role": "user", "content": "q"}]] * 4,
        completions=[[{"role": "assistant", "content": t}] for t in texts],
        kind=["function", "function", "stdio", "stdio"], expected_output=["3", "3", "ok\n", "ok\n"],
        entry_point=["f", "f", "", ""], tests=[[]] * 4, trace_id=["a", "b", "c", "d"], trainer_state=None)
    assert got == [1.0, -1.0, 1.0, -1.0]


def test_reward_reads_assistant_turns_only_and_typed_parts():
    completion = [{"role": "user", "content": answer("3")},
                  {"role": "assistant", "content": [{"type": "text", "text": answer("4")}]}]
    assert output_prediction_reward([completion], kind=["function"], expected_output=["4"]) == [1.0]
    assert output_prediction_reward([completion], kind=["function"], expected_output=["3"]) == [-1.0]


def test_reward_without_expected_output_is_none_and_lengths_must_agree():
    assert output_prediction_reward([answer("3")], kind=["function"], expected_output=[None]) == [None]
    with pytest.raises(ValueError, match="lengths differ"):
        output_prediction_reward([answer("3")] * 2, kind=["function"], expected_output=["3"])


def test_doctests():
    result = doctest.testmod(rewards)
    assert doctest.testmod(answers).failed == 0
    assert result.attempted > 0 and result.failed == 0
