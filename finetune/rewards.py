"""Verifiable rewards for GRPO: read the model's final answer and compare it with the true output.

The `sft` and `rl` configs end every assistant turn with the answer in a fixed block:

- function problems: `[ANSWER]\\nassert f(1, 2) == 3\\n[/ANSWER]` (CRUXEval style: the value after the
  top-level `==` of the assert is the prediction);
- stdio programs: `<output>\\n{exact stdout}</output>`.

The last block counts (a model may quote the format before answering). Comparison is the project's
own (`tracegen.compare`): literal equality with float tolerance 1e-5 for return values, token-wise
stdout with the same tolerance for programs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import Any

from tracegen.compare import reprs_match, stdout_matches

ANSWER_OPEN, ANSWER_CLOSE = "[ANSWER]", "[/ANSWER]"
OUTPUT_OPEN, OUTPUT_CLOSE = "<output>", "</output>"
_FENCE = re.compile(r"^```[A-Za-z0-9_+-]*[ \t]*\n?|\n?```$")


def parse_answer(text: str | None, kind: str) -> str | None:
    """The predicted output in a completion, or None when there is no readable answer.

    `function`: the source of VALUE in the last `[ANSWER] assert CALL == VALUE [/ANSWER]` block
    (a bare literal in the block is accepted too). `stdio`: the text of the last
    `<output>…</output>` block, less one newline right after `<output>`.

    >>> parse_answer("f returns 'a==b'.\\n[ANSWER]\\nassert f('a') == 'a==b'\\n[/ANSWER]", "function")
    "'a==b'"
    >>> parse_answer("[ANSWER][1, 2][/ANSWER]", "function")
    '[1, 2]'
    >>> parse_answer("it prints 3\\n<output>\\n3\\n</output>", "stdio")
    '3\\n'
    >>> parse_answer("no idea", "function") is None
    True
    """
    if text is None:
        return None
    if kind == "function":
        block = _last_block(text, ANSWER_OPEN, ANSWER_CLOSE)
        return None if block is None else _assert_value(block)
    if kind == "stdio":
        block = _last_block(text, OUTPUT_OPEN, OUTPUT_CLOSE)
        if block is None:
            return None
        return block[2:] if block.startswith("\r\n") else block.removeprefix("\n")
    raise ValueError(f"unknown kind {kind!r}: expected 'function' or 'stdio'")


def output_prediction_reward(completions: Sequence[Any], kind: Sequence[str], expected_output: Sequence[str | None],
                             **kwargs: Any) -> list[float | None]:
    """TRL reward function: +1.0 when the predicted output equals the true one, -1.0 otherwise.

    `completions` are conversational (`[{"role": "assistant", "content": ...}]`) or plain strings;
    `kind` and `expected_output` are the `rl` config's columns, which TRL passes by name (the other
    columns arrive in `kwargs` and are ignored). A missing or unreadable answer scores -1.0; a row
    with no expected output scores None (TRL leaves it out of the reward).

    >>> done = [{"role": "assistant", "content": "x doubles.\\n[ANSWER]\\nassert f(2) == 4.0000001\\n[/ANSWER]"}]
    >>> output_prediction_reward([done, "[ANSWER]\\nassert f(2) == 5\\n[/ANSWER]", "hmm"],
    ...                          kind=["function"] * 3, expected_output=["4"] * 3)
    [1.0, -1.0, -1.0]
    """
    if not len(completions) == len(kind) == len(expected_output):
        raise ValueError(f"lengths differ: {len(completions)} completions, {len(kind)} kind, "
                         f"{len(expected_output)} expected_output")
    rewards: list[float | None] = []
    for completion, k, expected in zip(completions, kind, expected_output):
        if expected is None:
            rewards.append(None)
            continue
        predicted = parse_answer(completion_text(completion), k)
        if predicted is None:
            rewards.append(-1.0)
            continue
        same = stdout_matches(predicted, expected) if k == "stdio" else reprs_match(predicted, expected)
        rewards.append(1.0 if same else -1.0)
    return rewards


def completion_text(completion: Any) -> str:
    """The text of a completion: a plain string, or the assistant turns of a conversational one.

    >>> completion_text([{"role": "assistant", "content": "hi"}]), completion_text("hi")
    ('hi', 'hi')
    """
    if isinstance(completion, str):
        return completion
    parts = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):  # typed parts: [{"type": "text", "text": ...}]
            parts.extend(p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "\n".join(parts)


def _last_block(text: str, open_tag: str, close_tag: str) -> str | None:
    end = text.rfind(close_tag)
    if end < 0:
        return None
    start = text.rfind(open_tag, 0, end)
    if start < 0:
        return None
    return text[start + len(open_tag):end]


def _assert_value(block: str) -> str | None:
    """VALUE's source in `assert CALL == VALUE` (or `CALL == VALUE`, or a bare expression)."""
    source = _FENCE.sub("", block.strip()).strip()
    if not source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if isinstance(stmt, ast.Assert):
        node = stmt.test
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
            return None
    elif isinstance(stmt, ast.Expr):
        node = stmt.value
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
            return source  # a bare literal (or expression): the whole block is the value
    else:
        return None
    value = ast.get_source_segment(source, node.comparators[0])
    return value.strip() if value else None
