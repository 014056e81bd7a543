"""The [OUTPUT] block: writing and parsing, on answers that parse and answers that do not."""

from __future__ import annotations

import pytest

from tracegen.narrate.markup import fenced, inline
from tracegen.narrate.output import output_block, parse_output


@pytest.mark.parametrize("text,kind,expected", [
    ("It returns 3.\n[OUTPUT]\n3\n[/OUTPUT]", "function", ("3", "ok", "")),
    ("[OUTPUT][1, 'a'][/OUTPUT]", "function", ("[1, 'a']", "ok", "")),
    ("[OUTPUT]\n  (1, 2)  \n[/OUTPUT]\ntrailing words", "function", ("(1, 2)", "ok", "")),
    ("[OUTPUT]\n```python\n{'a': 1}\n```\n[/OUTPUT]", "function", ("{'a': 1}", "ok", "")),
    ("format: [OUTPUT]x[/OUTPUT]. Answer:\n[OUTPUT]\n'x'\n[/OUTPUT]", "function", ("'x'", "ok", "")),
    ("prints\n[OUTPUT]\n44\n\n[/OUTPUT]", "stdio", ("44\n", "ok", "")),
    ("prints\n[OUTPUT]\n44\n[/OUTPUT]", "stdio", ("44", "ok", "")),
    ("nothing\n[OUTPUT]\n\n[/OUTPUT]", "stdio", ("", "ok", "")),
    ("crlf\r\n[OUTPUT]\r\n1 2\r\n[/OUTPUT]", "stdio", ("1 2", "ok", "")),
])
def test_parses(text, kind, expected):
    assert parse_output(text, kind) == expected


@pytest.mark.parametrize("text,kind,status,reason_part", [
    ("the answer is 3", "function", "no_output_block", "no [OUTPUT]"),
    ("[OUTPUT]\n3", "function", "no_output_block", "never closed"),
    ("3\n[/OUTPUT]", "function", "no_output_block", "without an opening"),
    ("[OUTPUT]\n\n[/OUTPUT]", "function", "bad_output", "empty"),
    ("[OUTPUT]\nf(3)\n[/OUTPUT]", "function", "bad_output", "not a Python literal"),
    ("[OUTPUT]\n[1, 2\n[/OUTPUT]", "function", "bad_output", "not a Python literal"),
    ("", "stdio", "no_output_block", "no [OUTPUT]"),
])
def test_failures_have_status_and_reason(text, kind, status, reason_part):
    pred, st, reason = parse_output(text, kind)
    assert st == status
    assert reason_part in reason


@pytest.mark.parametrize("content", ["", "\n", "44\n", "a\n\nb", " x ", "[/OUTPUT", "\n\nlead"])
def test_stdio_round_trip_is_exact(content):
    assert parse_output("prose\n\n" + output_block(content), "stdio") == (content, "ok", "")


@pytest.mark.parametrize("value", ["'a`b'", "'``'", "`", "' x '", "15"])
def test_inline_code_survives_backticks(value):
    span = inline(value)
    fence = span[: len(span) - len(span.lstrip("`"))]
    inner = span[len(fence):-len(fence)]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]  # CommonMark drops one padding space on each side
    assert inner == value
    assert fence not in value  # the fence is longer than any backtick run inside


def test_fenced_block_outgrows_inner_fences():
    block = fenced("```\ncode\n```", "python")
    assert block.startswith("````python\n") and block.endswith("\n````")
