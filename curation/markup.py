"""Reading a narration's Markdown: inline code spans and fenced blocks become placeholders (with a
map back to the original offsets), the final [OUTPUT] block is set apart, and mentions of "the
trace" outside code are found."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from tracegen.narrate.output import CLOSE, OPEN

O, C = "\x00", "\x01"  # a code span k is written \x00k\x01 in the masked text
FENCE = "\x02"  # a fenced block


@dataclass(slots=True)
class Masked:
    text: str  # the narration with code spans as \x00k\x01 and fences as \x02
    spans: list[str]  # contents of the code spans
    where: list[tuple[int, int]]  # (start, end) of each code span in the original text
    seg_masked: list[int]  # start of each piece in the masked text ...
    seg_orig: list[int]  # ... and where that piece starts in the original
    seg_plain: list[bool]  # whether the piece is copied text (else a placeholder)

    def orig(self, pos: int) -> int:
        """Offset in the original text of the masked character at `pos`."""
        k = bisect.bisect_right(self.seg_masked, pos) - 1
        if k < 0:
            return 0
        return self.seg_orig[k] + (pos - self.seg_masked[k] if self.seg_plain[k] else 0)


def body_of(text: str) -> str:
    """The narration without its final [OUTPUT] block (the last one, as parse_output reads it)."""
    end = text.rfind(CLOSE)
    if end < 0:
        return text
    start = text.rfind(OPEN, 0, end)
    return text[:start] if start >= 0 else text


@lru_cache(maxsize=8)
def mask(text: str) -> Masked:
    """Replace inline code spans (CommonMark rules: a run of n backticks closes at the next run
    of exactly n) and fenced blocks by placeholders, keeping a map back to the original."""
    out: list[str] = []
    spans: list[str] = []
    where: list[tuple[int, int]] = []
    seg_m: list[int] = []
    seg_o: list[int] = []
    seg_p: list[bool] = []
    size = 0
    i, n = 0, len(text)

    def emit(s: str, at: int, plain: bool) -> None:
        nonlocal size
        if not s:
            return
        out.append(s)
        seg_m.append(size)
        seg_o.append(at)
        seg_p.append(plain)
        size += len(s)

    while i < n:
        j = text.find("`", i)
        if j < 0:
            emit(text[i:], i, True)
            break
        emit(text[i:j], i, True)
        k = j
        while k < n and text[k] == "`":
            k += 1
        run = k - j
        line_start = text.rfind("\n", 0, j) + 1
        if run >= 3 and not text[line_start:j].strip():
            close = re.compile(r"^[ \t]*`{%d,}[ \t]*$" % run, re.M).search(text, k)
            emit(FENCE, j, False)
            i = close.end() if close else n
            continue
        m = re.compile(r"(?<!`)`{%d}(?!`)" % run).search(text, k)
        if m is None:
            emit(text[j:k], j, True)
            i = k
            continue
        content = text[k:m.start()].replace("\n", " ")
        if len(content) > 2 and content[0] == " " and content[-1] == " " and content.strip():
            content = content[1:-1]
        emit(f"{O}{len(spans)}{C}", j, False)
        spans.append(content)
        where.append((j, m.end()))
        i = m.end()
    return Masked("".join(out), spans, where, seg_m, seg_o, seg_p)


# -- trace talk ---------------------------------------------------------------------------------
# the noun ("the trace shows", "an execution trace"), not the verb ("let's trace through the code")
_TRACE_TALK = re.compile(
    r"\b(?:(?:the|this|that|our|an?|its|execution|given|provided|recorded|full|above|following|program)\s+"
    r"(?:execution\s+)?traces?\b(?!\s+(?:through|the|it|this|each|every|how|what|`|\x00))"
    r"|traces?\s+(?:shows?|says|records?|indicates?|tells|lists|logs?|events?|data)\b"
    r"|tracers?|traced\s+(?:values?|events?|run|output)|execution logs?|event logs?)", re.I)


def trace_talk(text: str) -> list[str]:
    """Mentions of "the trace" (or a log of the run) outside code spans, fences and [OUTPUT].

    >>> trace_talk("According to the trace, `trace` becomes `1`. Let's trace through the code.")
    ['the trace']
    """
    masked = mask(body_of(text)).text
    return [mt.group(0) for mt in _TRACE_TALK.finditer(masked)]
