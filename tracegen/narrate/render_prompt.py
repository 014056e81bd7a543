"""Trace -> chat prompt: the code with line numbers, the run as a CWM-like line listing, the
final result, and the instructions (templates/*.jinja), folded to fit a token budget.

    prompt = build_prompt(trace, counter, budget=6000)   # raises PromptTooLong
    prompt.messages, prompt.sha, prompt.tokens

The listing has one line per event, indented by call depth:

    call f(nums=[3, 1])
    line 2: out = []
    line 3: x = 3
    [loop on line 3: 96 more iterations left out (3 to 98 of 100, 480 steps); after them: x = 97]
    f returns [3]

Fitting is deterministic: the whole listing if it fits, else loops and repeated calls folded with
k = 8, 4, 2, 1 iterations kept at each end, else (k = 1) the longest head and tail of the listing
that fit, with the gap counted. The instructions, the code, the input and the final result are
never cut: when they alone pass the budget the trace is not narrated (PromptTooLong).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import Trace
from .code_facts import CodeFacts, code_facts
from .folding import STDOUT, Entry, fold, shown_events, told, truncate_middle
from .markup import fenced, inline
from .tokens import TokenCounter

TEMPLATE_DIR = Path(__file__).parent / "templates"
FOLD_LEVELS = (None, 8, 4, 2, 1)
# a listing needs at least this many characters per token; longer ones cannot fit, skip counting
MAX_CHARS_PER_TOKEN = 8


class PromptTooLong(ValueError):
    """The parts of the prompt that are never cut already pass the budget."""


@dataclass(slots=True)
class Prompt:
    messages: list[dict[str, str]]
    sha: str
    tokens: int
    folded: bool
    events_shown: int
    fold_k: int | None  # None: every event shown; else iterations kept at each end of a loop


@functools.lru_cache(maxsize=1)
def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), undefined=jinja2.StrictUndefined,
        autoescape=False, keep_trailing_newline=False, trim_blocks=True,
    )
    env.filters["fenced"] = fenced
    env.filters["inline"] = inline
    return env


def prompt_sha(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def trace_prompt_sha(trace: Trace, counter: TokenCounter, budget: int) -> str | None:
    """The sha of the exact messages `build_prompt` makes for `trace` (None: it is too long); an LLM
    narrator's reuse key (tracegen.reuse)."""
    try:
        return build_prompt(trace, counter, budget).sha
    except PromptTooLong:
        return None


def entry_point(trace: Trace) -> str:
    for e in trace.events:
        if e["event"] == "call" and e["depth"] == 0:
            return e["func"]
    return "f"


def render_messages(trace: Trace, listing: str) -> list[dict[str, str]]:
    env = _env()
    numbered = number_lines(trace.code)
    if trace.kind == "stdio":
        user = env.get_template("stdio.jinja").render(
            code=numbered, input=trace.input, listing=listing, result=trace.stdout)
    else:
        user = env.get_template("function.jinja").render(
            code=numbered, call=f"{entry_point(trace)}({trace.input.strip()})", listing=listing,
            result=trace.return_repr if trace.return_repr is not None else "None")
    return [{"role": "system", "content": env.get_template("system.jinja").render().strip()},
            {"role": "user", "content": user.strip()}]


def number_lines(code: str) -> str:
    lines = code.rstrip("\n").split("\n")
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}".rstrip() for i, line in enumerate(lines, 1))


def build_prompt(trace: Trace, counter: TokenCounter, budget: int, facts: CodeFacts | None = None) -> Prompt:
    facts = facts or code_facts(trace.code)
    events = trace.events
    entries: list[Entry] = []
    for k in FOLD_LEVELS:
        entries = fold(events, facts, k)
        text = listing(entries, events, trace.kind)
        if len(text) > MAX_CHARS_PER_TOKEN * budget:
            continue
        msgs = render_messages(trace, text)
        n = counter.count(msgs)
        if n <= budget:
            return Prompt(msgs, prompt_sha(msgs), n, k is not None and _has_fold(entries),
                          shown_events(entries), k)
        if k is None:
            # only now is the fixed part worth counting on its own: it decides whether cutting helps
            base = counter.count(render_messages(trace, ""))
            if base > budget:
                raise PromptTooLong(f"instructions, code, input and result alone take {base} tokens "
                                    f"(budget {budget}, counted by {counter.name})")

    def attempt(keep: int) -> tuple[list[dict[str, str]], int, list[Entry]]:
        cut = truncate_middle(entries, keep, events)
        m = render_messages(trace, listing(cut, events, trace.kind))
        return m, counter.count(m), cut

    # the largest `keep` that fits: counts grow with `keep`, so a binary search finds it
    lo, hi = 0, len(entries)
    best = attempt(0)
    if best[1] > budget:
        raise PromptTooLong(f"even an empty listing takes {best[1]} tokens (budget {budget})")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        got = attempt(mid)
        if got[1] <= budget:
            lo, best = mid, got
        else:
            hi = mid - 1
    msgs, n, cut = best
    return Prompt(msgs, prompt_sha(msgs), n, True, shown_events(cut), 1)


def _has_fold(entries: list[Entry]) -> bool:
    return any(e.kind == "fold" for e in entries)


# -- the listing ---------------------------------------------------------------------------------

def listing(entries: list[Entry], events: list[dict[str, Any]], kind: str) -> str:
    return "\n".join("  " * e.depth + _entry_text(e, events, kind) for e in entries)


def _changes(changes: list[dict[str, Any]]) -> str:
    parts = []
    for c in told(changes):
        if c["name"] == STDOUT:
            parts.append(f"prints {c['value']}")
        elif c["value"] == "<deleted>":
            parts.append(f"{c['name']} deleted")
        else:
            parts.append(f"{c['name']} = {c['value']}")
    return ", ".join(parts)


def _entry_text(e: Entry, events: list[dict[str, Any]], kind: str) -> str:
    if e.kind == "fold":
        return _fold_text(e)
    ev = events[e.idx]
    ch = _changes(ev["changes"])
    if e.kind == "after":
        return f"after line {ev['lineno']}: {ch}"
    what = ev["event"]
    if what == "call":
        if ev["func"] == "<module>":
            return "program starts"
        args = ", ".join(f"{c['name']}={c['value']}" for c in ev["changes"])
        return f"call {ev['func']}({args})"
    if what == "line":
        if e.has_children:
            return f"line {ev['lineno']}:"
        return f"line {ev['lineno']}: {ch}" if ch else f"line {ev['lineno']}"
    if what == "exception":
        return f"line {ev['lineno']}: raises {ev['value']}"
    if what == "return":
        if ev["func"] == "<module>":
            return "program ends"
        return f"{ev['func']} returns {ev['value']}"
    return f"{what} at line {ev['lineno']}"


def _fold_text(e: Entry) -> str:
    f = e.fold
    assert f is not None
    a, b = f.kept_before + 1, f.kept_before + f.skipped
    printed = f"; they print {f.prints} times" if f.prints else ""
    if f.what == "loop":
        after = ", ".join(f"{n} = {v}" for n, v in f.last_values)
        after = f"; after them: {after}" if after else ""
        return (f"[loop on line {f.lineno}: {f.skipped} more iterations left out ({a} to {b} of {f.total}, "
                f"{f.n_events} steps){printed}{after}]")
    if f.what == "calls":
        return (f"[{f.skipped} more calls of {f.func} left out ({a} to {b} of {f.total}, "
                f"{f.n_events} steps){printed}]")
    return f"[{f.skipped} steps left out{printed}]"
