"""The `[OUTPUT]…[/OUTPUT]` block that ends every narration: how to write it and how to read it.

Function traces hold the return value as a Python literal; stdio traces hold the exact stdout.
The writer puts the content on lines of its own (`[OUTPUT]\\n<content>\\n[/OUTPUT]`) and the
reader removes exactly one newline on each side, so any stdout, including one that ends in a
newline or is empty, survives a round trip byte for byte. Models that write the block on one
line (`[OUTPUT]5[/OUTPUT]`) still parse.
"""

from __future__ import annotations

import ast

OPEN, CLOSE = "[OUTPUT]", "[/OUTPUT]"


def output_block(content: str) -> str:
    """
    >>> output_block("[1, 2]")
    '[OUTPUT]\\n[1, 2]\\n[/OUTPUT]'
    """
    return f"{OPEN}\n{content}\n{CLOSE}"


def parse_output(text: str, kind: str) -> tuple[str | None, str, str]:
    """(predicted_output, status, reason) from a narration's text; status is a Narration status.

    The last block counts (a model may quote the format before answering). For `function` traces
    the content must be a Python literal; `stdio` content is taken as it is.

    >>> parse_output("so it returns 3.\\n[OUTPUT]\\n3\\n[/OUTPUT]", "function")
    ('3', 'ok', '')
    >>> parse_output("it prints hi\\n[OUTPUT]\\nhi\\n\\n[/OUTPUT]", "stdio")
    ('hi\\n', 'ok', '')
    >>> parse_output("the answer is 3", "function")[1]
    'no_output_block'
    """
    end = text.rfind(CLOSE)
    if end < 0:
        if OPEN in text:
            return None, "no_output_block", "[OUTPUT] is opened but never closed (the text may be cut off)"
        return None, "no_output_block", "no [OUTPUT]…[/OUTPUT] block in the text"
    start = text.rfind(OPEN, 0, end)
    if start < 0:
        return None, "no_output_block", "[/OUTPUT] without an opening [OUTPUT]"
    content = text[start + len(OPEN):end]
    if content.startswith("\r\n"):
        content = content[2:]
    elif content.startswith("\n"):
        content = content[1:]
    if content.endswith("\r\n"):
        content = content[:-2]
    elif content.endswith("\n"):
        content = content[:-1]
    if kind == "stdio":
        return content, "ok", ""
    value = content.strip()
    if value.startswith("```") and value.endswith("```"):
        # a literal wrapped in a code fence inside the block: common, and harmless to unwrap
        value = value.strip("`").removeprefix("python").strip()
    if not value:
        return None, "bad_output", "the [OUTPUT] block is empty"
    if not is_literal(value):
        return value, "bad_output", f"the [OUTPUT] block is not a Python literal: {value[:80]!r}"
    return value, "ok", ""


def is_literal(text: str) -> bool:
    """Whether `text` is a Python literal (what `ast.literal_eval` accepts).

    >>> is_literal("[1, 'a', (2.5, None)]"), is_literal("f(3)")
    (True, False)
    """
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True
