"""The template narrator: deterministic prose built from a trace's events (no model).

Grounded by construction: every value it states is a value from an event (a change, an
argument, a return value, an exception), every branch it reports is the branch the next
executed line shows, and "stays" claims come from the state it tracks while reading the events.
Long loops and repeated calls are summed up from the same folding the prompts use (first and
last iterations in full, a count and the state after the gap in between).

Wording varies by a random generator seeded from (seed, trace_id): the same trace always gives
the same text, different traces get different phrasings. The text ends with the `[OUTPUT]`
block: the return value's repr (function traces) or the exact stdout (stdio traces).
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Any

from ..records import Trace
from . import phrases as P
from .code_facts import COMPREHENSIONS, CodeFacts, code_facts
from .folding import STDOUT, Entry, fold, shown_events, told, truncate_middle
from .markup import inline
from .output import output_block
from .records import Narration

VERSION = "1"
FOLD_K = 2  # loops longer than 2k+1 iterations keep k at each end
MAX_EVENTS = 400  # past this many narrated events, fold harder, then keep a head and a tail
LONG_RESULT = 200  # a final value longer than this is not repeated in the last sentence


class TemplateNarrator:
    name = "template"
    model = ""

    def __init__(self, seed: int = 0, fold_k: int = FOLD_K, max_events: int = MAX_EVENTS):
        self.seed = seed
        self.fold_k = fold_k
        self.max_events = max_events
        self.revision = f"v{VERSION}"

    def narrate_batch(self, traces: list[Trace], on_done=None) -> list[Narration]:
        out = []
        for t in traces:
            out.append(self.narrate(t))
            if on_done:
                on_done(1)
        return out

    def prompt_sha(self, trace: Trace) -> str:
        """What the narration of `trace` is a function of (no prompt: the narrator's settings)."""
        settings = [VERSION, self.seed, self.fold_k, self.max_events, trace.trace_id]
        return hashlib.sha256(json.dumps(settings).encode()).hexdigest()

    def narrate(self, trace: Trace) -> Narration:
        t0 = time.perf_counter()
        row = Narration(
            trace_id=trace.trace_id, narrator=self.name, model="", revision=self.revision,
            prompt_sha=self.prompt_sha(trace), text="",
            predicted_output=None, status="ok", problem_id=trace.problem_id, solution_id=trace.solution_id,
            test_id=trace.test_id, kind=trace.kind,
        )
        if trace.kind == "stdio":
            result = trace.stdout
        elif trace.return_repr is None:
            row.status, row.reason = "no_output", "the run has no return value to report (a check-only test)"
            return row
        else:
            result = trace.return_repr
        facts = code_facts(trace.code)
        entries = fold(trace.events, facts, self.fold_k)
        if shown_events(entries) > self.max_events:
            entries = fold(trace.events, facts, 1)
            if shown_events(entries) > self.max_events:
                entries = truncate_middle(entries, self.max_events, trace.events)
        rng = random.Random(f"{self.seed}:{trace.trace_id}")
        body = _Prose(trace, facts, entries, rng).paragraphs()
        row.text = "\n\n".join(body) + "\n\n" + output_block(result)
        row.predicted_output = result
        row.folded = any(e.kind == "fold" for e in entries)
        row.events_shown = shown_events(entries)
        row.latency_ms = round((time.perf_counter() - t0) * 1000, 3)
        return row


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s and not s.startswith("`") else s


class _Prose:
    def __init__(self, trace: Trace, facts: CodeFacts, entries: list[Entry], rng: random.Random):
        self.trace, self.facts, self.entries, self.rng = trace, facts, entries, rng
        self.ev = trace.events
        self.paras: list[list[str]] = [[]]
        self.state: dict[int, dict[str, str]] = {}  # depth -> variable -> value as last seen
        self.last_line: dict[int, int] = {}  # depth -> last line that ran there
        self.last_exc: str | None = None
        self.form = rng.choice(P.CHANGE_FORMS)  # one change wording per narration reads better

    # -- output helpers ------------------------------------------------------------------------
    def say(self, bank: tuple[str, ...], **kw: Any) -> None:
        self.paras[-1].append(_cap(self.rng.choice(bank).format(**kw)))

    def para(self) -> None:
        if self.paras[-1]:
            self.paras.append([])

    def paragraphs(self) -> list[str]:
        for i, e in enumerate(self.entries):
            if e.kind == "fold":
                self.fold(e)
            elif e.kind == "after":
                self.after(e)
            else:
                self.event(i, e)
        self.ending()
        return [" ".join(p) for p in self.paras if p]

    def changes(self, depth: int, changes: list[dict[str, Any]]) -> str:
        parts = []
        st = self.state.setdefault(depth, {})
        telling = {id(c) for c in told(changes)}
        for c in changes:
            if c["name"] == STDOUT:
                continue
            if id(c) not in telling:  # a whole value its elements tell
                st[c["name"]] = c["value"]
                continue
            if c["value"] == "<deleted>":
                parts.append(P.DELETED.format(x=inline(c["name"])))
                st.pop(c["name"], None)
                continue
            parts.append(self.form.format(x=inline(c["name"]), v=inline(c["value"])))
            st[c["name"]] = c["value"]
        return _join(parts)

    def prints(self, ev: dict[str, Any]) -> None:
        for c in ev["changes"]:
            if c["name"] == STDOUT:
                self.say(P.PRINTS, n=ev["lineno"], v=inline(c["value"]))

    def next_own(self, i: int, depth: int) -> Entry | None:
        """The next entry in the same frame (deeper entries are calls made meanwhile)."""
        for e in self.entries[i + 1:]:
            if e.depth < depth:
                return None
            if e.depth == depth:
                return e
        return None

    # -- entries ----------------------------------------------------------------------------------
    def event(self, i: int, e: Entry) -> None:
        ev = self.ev[e.idx]
        kind = ev["event"]
        if kind == "call":
            self.call(ev)
        elif kind == "line":
            self.line(i, e, ev)
        elif kind == "exception":
            if ev["value"] != self.last_exc:
                self.say(P.RAISES, n=ev["lineno"], v=inline(ev["value"] or "an exception"))
                self.last_exc = ev["value"]
            else:
                self.say(P.PROPAGATES, n=ev["lineno"], f=inline(ev["func"]))
        elif kind == "return":
            self.ret(ev)
        if kind == "line":
            self.last_line[ev["depth"]] = ev["lineno"]

    def call(self, ev: dict[str, Any]) -> None:
        d, func = ev["depth"], ev["func"]
        args = [(c["name"], c["value"]) for c in ev["changes"]]
        self.state[d] = dict(args)
        argtext = _join([f"{inline(n)} = {inline(v)}" for n, v in args])
        if d == 0:
            if func == "<module>":
                self.say(P.INTRO_STDIO)
            elif args:
                self.say(P.INTRO_FUNCTION, f=inline(func), args=argtext)
            else:
                self.say(P.INTRO_FUNCTION_NOARGS, f=inline(func))
            self.para()
            return
        line = self.last_line.get(d - 1, ev["lineno"])
        if func == "<genexpr>":
            self.say(P.GENEXPR, n=line)
        elif func in COMPREHENSIONS:
            self.say(P.COMPREHENSION, n=line)
        elif func in self.facts.generators:
            if args:
                self.say(P.GEN_START, f=inline(func), args=argtext)
            else:
                self.say(P.GEN_RESUME, f=inline(func))
        else:
            self.para()  # a call into a function of the program starts a paragraph
            if args:
                self.say(P.CALLS, n=line, f=inline(func), args=argtext)
            else:
                self.say(P.CALLS_NOARGS, n=line, f=inline(func))

    def ret(self, ev: dict[str, Any]) -> None:
        d, func, v = ev["depth"], ev["func"], ev["value"]
        if func == "<module>" or d == 0:
            return  # the ending sentence states the final result
        if func in COMPREHENSIONS and func != "<genexpr>":
            self.say(P.COMPREHENSION_DONE, v=inline(v or "None"))
        elif func == "<genexpr>" or func in self.facts.generators:
            # a generator frame "returns" at every yield; None at the end means it is exhausted
            if v is None or v == "None":
                self.say(P.EXHAUSTED, f=inline(func) if func != "<genexpr>" else "the generator expression")
            else:
                self.say(P.YIELDS, f=inline(func) if func != "<genexpr>" else "the generator expression",
                         v=inline(v))
        elif v is None or v == "None":
            self.say(P.RETURNS_NONE, f=inline(func))
        else:
            self.say(P.RETURNS, f=inline(func), v=inline(v))

    def line(self, i: int, e: Entry, ev: dict[str, Any]) -> None:
        n, d = ev["lineno"], ev["depth"]
        st = self.facts.stmts.get(n)
        kind = st.kind if st else "other"
        if e.has_children:
            # its calls come next; its own changes are told after them (the "after" entry)
            self.prints(ev)
            return
        ch = self.changes(d, ev["changes"])
        if ev["func"] in COMPREHENSIONS:
            # each line event of a comprehension frame is one of its iterations
            if ch:
                self.say(P.COMP_ITEM, ch=ch)
            self.prints(ev)
            return
        nxt = self.next_own(i, d)
        if kind == "for" and st is not None:
            self.for_header(n, d, st, ch, nxt)
        elif kind in ("while", "if") and st is not None and not ch:
            self.branch(n, st, nxt, kind)
        elif ch:
            self.say(P.ASSIGN, n=n, ch=ch)
        elif kind == "return":
            pass  # the return sentence follows
        elif kind == "break":
            self.say(P.BREAK, n=n)
        elif kind == "continue":
            self.say(P.CONTINUE, n=n)
        elif kind == "pass":
            self.say(P.PASS, n=n)
        elif kind in ("def", "class"):
            self.say(P.DEFINES, n=n, code=f"{'the function' if kind == 'def' else 'the class'} {inline(st.text)}")
        elif kind == "import":
            self.say(P.IMPORTS, n=n)
        elif not any(c["name"] == STDOUT for c in ev["changes"]):
            if st is not None and st.text:
                self.say(P.NO_CHANGE, n=n, code=inline(st.text))
            else:
                self.say(P.NO_CHANGE_PLAIN, n=n)
        self.prints(ev)

    def for_header(self, n: int, d: int, st: Any, ch: str, nxt: Entry | None) -> None:
        end = self.facts.loops.get(n, n)
        prev = self.last_line.get(d)
        entering = prev is None or not (n < prev <= end)
        inside = nxt is not None and (nxt.kind == "fold" or (
            nxt.kind == "event" and self.ev[nxt.idx]["event"] != "return"
            and n < self.ev[nxt.idx]["lineno"] <= end))
        if ch:
            self.para()
            self.say(P.LOOP_START if entering else P.LOOP_NEXT, n=n, ch=ch)
        elif not inside:
            self.say(P.LOOP_END, n=n)
            self.para()
        else:
            self.para()
            target = st.target
            value = self.state.get(d, {}).get(target)
            if target.isidentifier() and value is not None:
                self.say(P.LOOP_SAME, n=n, x=inline(target), v=inline(value))
            else:
                self.say(P.LOOP_NEXT_PLAIN, n=n)

    def branch(self, n: int, st: Any, nxt: Entry | None, kind: str) -> None:
        if nxt is None or nxt.kind != "event":
            return
        nev = self.ev[nxt.idx]
        if st.body[0] <= n:
            # body on the header's own line (`if x: return y`): neither the next line nor a return
            # tells the branch (the return may be the body's own)
            return
        if nev["event"] == "line":
            taken = st.body[0] <= nev["lineno"] <= st.body[1]
        elif nev["event"] == "return":
            taken = False  # a taken branch would show one of its own lines before the return
        else:
            return  # an exception while testing: the raise sentence tells it
        if not st.cond:
            if kind == "while":
                self.say(P.WHILE_TRUE_UNNAMED if taken else P.WHILE_FALSE_UNNAMED, n=n)
            else:
                self.say(P.IF_TRUE_UNNAMED if taken else P.IF_FALSE_UNNAMED, n=n)
        elif kind == "while":
            self.say(P.WHILE_TRUE if taken else P.WHILE_FALSE, n=n, cond=inline(st.cond))
        else:
            self.say(P.IF_TRUE if taken else P.IF_FALSE, n=n, cond=inline(st.cond))

    def after(self, e: Entry) -> None:
        ev = self.ev[e.idx]
        ch = self.changes(ev["depth"], ev["changes"])
        if ch:
            self.say(P.AFTER_CALLS, n=ev["lineno"], ch=ch)

    def fold(self, e: Entry) -> None:
        f = e.fold
        assert f is not None
        a, b = f.kept_before + 1, f.kept_before + f.skipped
        self.para()
        if f.what == "loop":
            self.say(P.FOLD_LOOP, n=f.lineno, k=f.skipped, a=a, b=b, total=f.total)
            st = self.state.setdefault(f.depth, {})
            parts = []
            for name, value in f.last_values:
                parts.append(self.form.format(x=inline(name), v=inline(value)))
                st[name] = value
            if parts:
                self.say(P.FOLD_AFTER, ch=_join(parts))
        elif f.what == "calls":
            self.say(P.FOLD_CALLS, f=inline(f.func) if f.func != "<genexpr>" else "The generator expression",
                     k=f.skipped, a=a, b=b, total=f.total)
        else:
            self.say(P.FOLD_STEPS, k=f.skipped)
            self.state.clear()  # what changed in the gap is not told: no "still" claims after it
            self.last_exc = None
        if f.prints:
            self.say(P.FOLD_PRINTS, k=f.prints)
        self.para()

    def ending(self) -> None:
        self.para()
        t = self.trace
        if t.kind == "stdio":
            self.say(P.END_STDIO)
        elif t.return_repr is not None and len(t.return_repr) <= LONG_RESULT:
            self.say(P.END_FUNCTION, v=inline(t.return_repr))
        else:
            self.say(P.END_FUNCTION_LONG)
