"""The answer format of the `sft` and `rl` configs, writer and reader in one place so they cannot drift.

Every prompt asks for the output in a fixed block, and every assistant turn ends with it:

- function problems: `[ANSWER]\nassert f(1, 2) == 3\n[/ANSWER]` (CRUXEval style: the value after the
  top-level `==` of the assert is the prediction);
- stdio programs: `<output>\n{exact stdout}</output>`.

`user_turn` and `answer` write them (publish); `parse_answer` and `completion_text` read them (rewards,
evaluation). The last block counts (a model may quote the format before answering).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from tracegen.runner import stdin_text

ANSWER_OPEN, ANSWER_CLOSE = "[ANSWER]", "[/ANSWER]"
OUTPUT_OPEN, OUTPUT_CLOSE = "<output>", "</output>"
_FENCE = re.compile(r"^```[A-Za-z0-9_+-]*[ \t]*\n?|\n?```$")

FUNCTION_INSTRUCTION = (
    "You are given a Python function and an assertion containing an input to the function. Simulate the "
    "execution of the program step by step, saying which values the variables take, then complete the "
    "assertion with the output as a literal, between [ANSWER] and [/ANSWER].")
STDIO_INSTRUCTION = (
    "You are given a Python program and the input it reads from stdin. Simulate the execution of the program "
    "step by step, saying which values the variables take, then give exactly what it prints between "
    "<output> and </output>.")


def user_turn(kind: str, code: str, test_input: str, entry_point: str) -> str:
    code = code.rstrip("\n")
    if kind == "stdio":
        return f"{STDIO_INSTRUCTION}\n\n[PYTHON]\n{code}\n[/PYTHON]\n[STDIN]\n{stdin_text(test_input)}[/STDIN]"
    return f"{FUNCTION_INSTRUCTION}\n\n[PYTHON]\n{code}\nassert {entry_point}({test_input}) == ??\n[/PYTHON]"


def answer(kind: str, true_output: str, test_input: str, entry_point: str) -> str:
    """The answer that ends the assistant turn (and that `parse_answer` reads)."""
    if kind == "stdio":
        return f"<output>\n{true_output}</output>"
    return f"[ANSWER]\nassert {entry_point}({test_input}) == {true_output}\n[/ANSWER]"


# Input prediction (CRUXEval-I): the output is shown, the arguments are asked for.
INPUT_INSTRUCTION = (
    "You are given a Python function and an assertion containing its output. Find any input such that "
    "executing the function on it gives that output. Think step by step, then complete the assertion with "
    "the input, between [ANSWER] and [/ANSWER].")


def input_turn(code: str, output: str, entry_point: str) -> str:
    return f"{INPUT_INSTRUCTION}\n\n[PYTHON]\n{code.rstrip()}\nassert {entry_point}(??) == {output}\n[/PYTHON]"


def input_answer(test_input: str, output: str, entry_point: str) -> str:
    return f"[ANSWER]\nassert {entry_point}({test_input}) == {output}\n[/ANSWER]"


def parse_input_answer(text: str | None) -> str | None:
    """The argument list of the call in the last `[ANSWER] assert CALL(ARGS) == VALUE [/ANSWER]` block.

    >>> parse_input_answer("[ANSWER]\\nassert f([1, 2], k=3) == 4\\n[/ANSWER]")
    '[1, 2], k=3'
    >>> parse_input_answer("[ANSWER]\\nassert f('a==b') == 1\\n[/ANSWER]")
    "'a==b'"
    """
    block = _last_block(text or "", ANSWER_OPEN, ANSWER_CLOSE)
    source = _FENCE.sub("", block.strip()).strip() if block else ""
    try:
        stmt = ast.parse(source).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    node = stmt[0] if len(stmt) == 1 else None
    node = node.test if isinstance(node, ast.Assert) else node.value if isinstance(node, ast.Expr) else None
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
        node = node.left
    if not isinstance(node, ast.Call):
        return None
    parts = [ast.get_source_segment(source, a) for a in [*node.args, *node.keywords]]
    return None if None in parts else ", ".join(parts)  # type: ignore[arg-type]


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


# Solving (the `rl` config's `solve` rows): the statement and example tests in, a program out.
SOLVE_INSTRUCTION = (
    "Write a Python program that solves the problem below. Reason about it first if you like, then give "
    "the complete program in one ```python block.")
_CODE_BLOCK = re.compile(r"```(?:python3?|py)?[ \t]*\n(.*?)```", re.S | re.I)


def solve_turn(kind: str, statement: str, entry_point: str, examples: list[tuple[str, str]]) -> str:
    """The user turn of a solving prompt; `examples` are (input, output) pairs shown to the model."""
    lines = [SOLVE_INSTRUCTION, ""]
    if statement.strip():
        lines += [statement.strip(), ""]
    if kind == "stdio":
        lines.append("The program reads stdin and prints its answer. Examples:")
        for test_input, out in examples:
            lines.append(f"[STDIN]\n{stdin_text(test_input)}[/STDIN]\n<output>\n{out}</output>")
    else:
        lines.append(f"Define a function `{entry_point}` that passes these tests:")
        lines += [f"assert {entry_point}({test_input}) == {out}" for test_input, out in examples]
    return "\n".join(lines)


def parse_program(text: str | None) -> str | None:
    """The program in a completion: the last ```python block (or a bare ``` block), None if there is none.

    >>> parse_program("First try:\\n```python\\nx = 1\\n```\\nBetter:\\n```python\\nprint(2)\\n```")
    'print(2)\\n'
    >>> parse_program("no code here") is None
    True
    """
    if not text:
        return None
    blocks = _CODE_BLOCK.findall(text)
    return blocks[-1] if blocks and blocks[-1].strip() else None
