"""Markdown pieces that stay correct whatever the value holds (backticks included)."""

from __future__ import annotations

import re

_TICKS = re.compile(r"`+")


def inline(text: str) -> str:
    """Inline code that survives backticks inside the value (CommonMark: a longer fence, padded).

    >>> inline("15"), inline("'a`b'")
    ('`15`', "`` 'a`b' ``")
    """
    runs = [len(m) for m in _TICKS.findall(text)]
    if not runs and text.strip() == text and text:
        return f"`{text}`"
    fence = "`" * (max(runs, default=0) + 1)
    return f"{fence} {text} {fence}"


def fenced(text: str, lang: str = "") -> str:
    """A fenced block longer than any backtick run inside `text`.

    >>> fenced("x = 1", "python")
    '```python\\nx = 1\\n```'
    """
    runs = [len(m) for m in _TICKS.findall(text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{lang}\n{body}{fence}"
