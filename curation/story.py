"""Reading a narration as a story: its claims in text order, each checked at its place.

A cursor (a time of the trace, see timeline.py) moves forward as claims hold. Where a claim is
checked depends on its sentence:
- a summary sentence (an overview first, a recap last, "for `i` from 0 to 3", "the loop runs
  twice, for `i` = 0 and `i` = 1") may state any moment of the run: its claims hold if they were
  true at some time, and never move the cursor;
- once a sentence names a loop step ("at `i` = `89`", a table row), its later claims must be true
  within that step (or the loop variable's next value): a value from the next iteration is wrong;
- otherwise a claim is true at or after the cursor (timeline.py's alignment; state.py for
  expressions, counts and branches).
Then every concrete value of the text must be accounted for (grounding.py).
"""

from __future__ import annotations

import re
from typing import Any

from .claims import code_names, extract_claims, scan_literal, source_statements
from .evaluate import CANNOT, evaluate, names_in, parse_expression
from .flow import Flow, flow_of, stores
from .grounding import account, universe
from .markup import body_of, mask
from .matching import MISSING, literal, same_value
from .prose import extract_prose_claims, literals, sentences
from .state import StateView, check_branch, check_count, check_expr
from .timeline import OK, UNCHECKED, UNKNOWN, WRONG, Match, Timeline, _base_name, _subscripts, effective_times, generator_names

# an overview or a recap: may state the start or the end (or any moment) of the run
_SUMMARY = re.compile(
    r"\b(?:in the end|at the end|eventually|ultimately|finally|overall|in summary|to summari[sz]e|recap|in short|"
    r"in total|inputs?|summary|originally|initially|original|was passed|were passed|at the start|to begin with|"
    r"at first|started (?:as|out)|unchanged|end result|ends up|final|altogether|in all|for example|for instance|"
    r"e\.g\.)\b"
    r"|\bfrom\b.{1,40}\bto\b|\bfor (?:the )?(?:first|last|remaining|other)\b|\b(?:each|every|all|both)\b"
    r"|\buntil\b", re.I)
# the state once a loop (or the run) is over: "after the loop `index` is 13", "it ends as ..."
_AFTER = re.compile(r"\b(?:after the (?:whole |entire |outer |inner )?loop|once the loop|when the loop (?:ends|finishes|is done)|"
                    r"the loop (?:ends|finishes|is done|stops|terminates|exits)|at the end of the loop|"
                    r"is left as|left with|ends (?:up )?as|ends with|in the end)\b", re.I)
# the story skips ahead: a later claim may be about any later step
_JUMP = re.compile(
    r"\b(?:after the (?:whole |entire )?loop|loop (?:ends|finishes|is done|completes|stops|terminates)|"
    r"once the loop|when the loop|by the end|after all|all (?:the )?iterations|remaining|the rest|"
    r"same (?:happens|thing|way|pattern|steps?)|similarly|likewise|continu|repeat|and so on|each of|"
    r"until|eventually|in the end|finally|at the end|end up|ends up|skip|fast.forward|later|"
    r"iterations? \d|through|every|each|all|in total|overall|after (?:that|these|those|this|them))", re.I)
# after a value: the first of a list of values ("`i` = 2, 3, 4", "goes from 1 to 5")
_SEQUENCE = re.compile(r"\s*(?:,|…|\.\.\.|\band\b|\bthen\b|→|->|\bor\b|–|\.\.|\bto\b|\bthrough\b|\bup to\b)\s*")


def check_claims(trace: Any, text: str) -> tuple[list[tuple[Any, Match]], list[Any], int]:
    """Every claim of `text` with its alignment to the trace, in narrative order; the values the
    text states that nothing accounts for; and how many values it states."""
    code = trace.code or ""
    names = code_names(code)
    m = mask(body_of(text))
    sents = [(m.orig(x.start), m.orig(x.end - 1) + 1, x.hypothetical, m.text[x.start:x.end]) for x in sentences(m)]
    claims = extract_claims(text, names, source_statements(code)) + extract_prose_claims(text, names)
    claims = [c for c in claims if not _sentence(sents, c.start)[2] and not _names_code(c, names)]
    claims.sort(key=lambda c: (c.start, c.kind == "expr"))
    claims = [c for i, c in enumerate(claims)  # claims.py read it first
              if not (c.kind == "expr" and i and claims[i - 1].start == c.start and claims[i - 1].kind != "expr")]
    events = trace.events or []
    timeline = Timeline(events, generator_names(code))
    view = StateView(timeline, code)
    flow = flow_of(code, events)
    final = trace.stdout if trace.kind == "stdio" else trace.return_repr
    u = universe(trace, view, flow)
    eff = effective_times(events)
    # a function entered again while running (recursion): its loop variables name no single step
    reentrant = any(n > 1 for f, n in flow.calls.items() if not f.startswith("<"))
    counted = {_sentence(sents, c.start)[0] for c in claims if c.kind == "count" and c.name == "times"}
    cursor, last_held, anchored, sent_start = 0, 0, "", -1
    out = []
    for claim in claims:
        s0, _, _, sent = _sentence(sents, claim.start)
        if s0 != sent_start:  # a loop step is named for its own sentence (or bullet, or table row)
            sent_start, anchored = s0, ""
        summary = bool(_SUMMARY.search(sent)) or s0 in counted
        jumped = any(_JUMP.search(x[3]) for x in sents if x[1] > last_held and x[0] < s0)
        if jumped:
            anchored = ""
        if claim.kind in ("state", "change") and claim.name != _base_name(claim.name) and \
                _subscripts(claim.name) is None:
            claim.kind = "expr"  # `text[half:]` is `'bbr'`: an expression over `text` and `half`
        if claim.kind == "count":
            mt = check_count(claim, flow, u.has_size, cursor, summary and s0 not in counted)
        elif claim.kind == "branch":
            mt = check_branch(claim, flow, cursor, _quoted_condition(sent, m, flow))
        elif _AFTER.search(text[s0:claim.end]) and claim.kind in ("state", "change") \
                and claim.name == _base_name(claim.name) and claim.name in timeline.vars:
            mt = _after_loop(claim, timeline, flow, view, cursor)
        elif summary:
            mt = _anytime(claim, timeline, view, final, trace.kind)
        elif claim.kind == "expr":
            mt = check_expr(claim, view, cursor)
        else:
            mt = _value_claim(claim, timeline, view, cursor, final, trace.kind, code, events)
        horizon = _horizon(flow, anchored, eff, cursor) if anchored and not reentrant else None
        if horizon is not None and mt.status == OK and mt.time is not None and mt.time > horizon \
                and claim.kind in ("state", "change", "deleted") \
                and _base_name(claim.name) in flow.stores_of(anchored):
            mt = Match(WRONG, mt.time, detail=f"only true in a later iteration (step {mt.time}), not here")
        if mt.status == OK and claim.mode == "stays" and not summary:
            moved = _changes_soon(timeline, flow, claim, cursor if mt.time is None else mt.time)
            if moved is not None:
                mt = Match(WRONG, mt.time, detail=f"it does not stay: it becomes {moved[:40]} next")
        if mt.status in (OK, UNCHECKED) and mt.time is not None and claim.kind != "expr":
            cursor = mt.time  # an expression's value is a derived fact: it does not move the story
        if mt.status == OK:
            last_held = claim.end
            if claim.kind in ("state", "change") and claim.name in flow.loop_vars and not summary and \
                    not jumped and not _JUMP.search(text[s0:claim.start]) and \
                    not (claim.vend > 0 and _continues(text, claim.vend)):
                anchored = claim.name  # "at `i` = `89`, ..." (not "for `i` = 2, 3, 4")
        out.append((claim, mt))
    held = [(c.vstart, c.vend) for c, mt in out if mt.status == OK and c.vstart >= 0]
    held += [(c.start, c.end) for c, mt in out if mt.status == OK and c.kind in ("count", "branch")]
    lits = literals(text)
    loose = account(lits, held, u, len(code.splitlines()), view.end_time())
    return out, loose, len(lits)


def _value_claim(claim: Any, timeline: Timeline, view: StateView, cursor: int, final: Any, kind: str,
                 code: str, events: list[dict[str, Any]]) -> Match:
    """A claim about one variable (or a return, print, raise) at or after the cursor. A variable
    rebound to the value it already had records no change: "`n` becomes `1` again" holds when
    `n` is 1 there and a line that stores `n` runs next."""
    mt = timeline.match(claim, cursor, final, kind)
    if mt.status == UNKNOWN and claim.kind == "return" and re.search(rf"\.{re.escape(claim.name)}\s*\(", code):
        return Match(UNCHECKED, detail=f"`{claim.name}` is a method, not a function of the program")
    if mt.status == WRONG and claim.kind == "change" and claim.name:
        v = evaluate(claim.name, view.at(cursor))
        j = cursor if claim.mode == "weak" else _next_store(code, events, _base_name(claim.name), cursor)
        if j is not None and v is not CANNOT and same_value(claim.value, repr(v), v):
            return Match(OK, j, detail=repr(v)[:80])
    return mt


def _next_store(code: str, events: list[dict[str, Any]], name: str, cursor: int) -> int | None:
    """Just after the next line event from `cursor` on whose line assigns `name` without changing
    it (before `name` changes again), or None."""
    lines = stores(code).get(name)
    if not lines:
        return None
    for j in range(cursor, min(len(events), cursor + 200)):
        e = events[j]
        changed = any(c["name"] == name for c in e.get("changes") or ())
        if e["event"] == "line" and e["lineno"] in lines:
            return None if changed else j + 1  # changed: a rebinding to another value
        if changed and j > cursor:
            return None
    return None


def _after_loop(claim: Any, timeline: Timeline, flow: Flow, view: StateView, cursor: int) -> Match:
    """"After the loop, `index` is 13": the value when the loop running at the cursor (or the
    next one to run) is over, or at the end of the run; the cursor moves there."""
    ends = sorted({en + 1 for lf in flow.loops for st, _, en in lf.counts if en >= cursor})[:2]
    seen = []
    for t in [*ends, view.end_time()]:
        v = view.at(t).get(claim.name, CANNOT)
        if v is CANNOT:
            continue
        if same_value(claim.value, repr(v), v):
            return Match(OK, max(cursor, t) if t != view.end_time() else None, detail=repr(v)[:80])
        seen.append(repr(v)[:30])
    if not seen:
        return Match(UNCHECKED, detail="not readable after the loop")
    return Match(WRONG, detail=f"after the loop it is {', '.join(seen)}, not {claim.value[:30]}")


def _anytime(claim: Any, timeline: Timeline, view: StateView, final: Any, kind: str) -> Match:
    """A claim of a summary sentence: true at some moment of the run (the cursor stays)."""
    if claim.kind in ("result", "raises"):
        mt = timeline.match(claim, 0, final, kind)
        return Match(mt.status, None, mt.detail)
    if claim.kind in ("stdout", "return") or (claim.kind in ("state", "change", "deleted")
                                              and claim.name == _base_name(claim.name)):
        # scan the whole run; nothing is used up (a summary retells what later claims tell)
        if claim.kind == "stdout":
            series = [timeline.stdout]
        elif claim.kind == "return":
            series = [timeline.returns[f] for f in claim.funcs if f in timeline.returns]
            if not series:
                return Match(UNCHECKED)
        else:
            series = [timeline.vars[claim.name]] if claim.name in timeline.vars else []
            if not series:
                return timeline.match(claim, 0, final, kind)  # says which variable is unknown
        results = [timeline.compare(claim, iv) for sr in series for iv in sr.items]
        if OK in results:
            return Match(OK, None)
        if UNCHECKED in results:
            return Match(UNCHECKED, None)
        return Match(WRONG, None, detail=f"never {claim.value[:40]} in this run")
    node = parse_expression(claim.name)
    if node is None:
        return Match(UNCHECKED)
    if not names_in(node) <= set(timeline.vars):
        return Match(UNCHECKED, detail="names no variable of the run")
    stated = literal(claim.value)
    evaluated = False
    for t in [0, *view.times, view.end_time()]:
        v = evaluate(claim.name, view.at(t))
        if v is CANNOT:
            continue
        if isinstance(v, range) or callable(v):
            return Match(UNCHECKED, detail="a range or a function, not a value")
        evaluated = True
        if same_value(claim.value, repr(v), v, parsed_stated=stated) or \
                (isinstance(v, str) and claim.value.strip() == v):
            return Match(OK, None, detail=repr(v)[:80])
    if not evaluated:
        return Match(UNCHECKED, detail="cannot be evaluated from the values shown")
    return Match(WRONG, None, detail=f"`{claim.name[:40]}` is never {claim.value[:30]} in this run")


def _changes_soon(timeline: Timeline, flow: Flow, claim: Any, t: int) -> str | None:
    """"`x` stays `1`": the value `x` changes to next, if that happens in the same loop step
    (or anywhere later, outside loops); else None."""
    series = timeline.vars.get(claim.name)
    if series is None:
        return None
    for iv in series.items:
        if iv.start > t and timeline.compare(claim, iv) == WRONG:
            return None if flow.step_between(claim.name, t, iv.start) else iv.text
    return None


def _continues(text: str, pos: int) -> bool:
    mt = _SEQUENCE.match(text, pos)
    if mt is None:
        return False
    rest = text[mt.end():]
    code = re.match(r"`([^`]+)`", rest)
    if code:
        return literal(code.group(1)) is not MISSING
    return scan_literal(rest, 0) is not None


def _horizon(flow: Flow, var: str, eff: list[int], cursor: int) -> int | None:
    """The latest time a claim at `cursor` may tell once the story named the step of the loop
    over `var`: up to that loop's next step's own changes (`var`'s next value), not its body."""
    h = flow.next_step(var, cursor)
    if h is None:
        return None
    return eff[h] if h < len(eff) else None


def _names_code(claim: Any, names: frozenset[str]) -> bool:
    """"returns `tuple(user.values())`": the code, not a value."""
    if claim.kind not in ("result", "return", "stdout", "state", "change") or literal(claim.value) is not MISSING:
        return False
    node = parse_expression(claim.value)
    return node is not None and bool(names_in(node) & names)


def _sentence(sents: list[tuple[int, int, bool, str]], pos: int) -> tuple[int, int, bool, str]:
    for s in sents:
        if s[0] <= pos < s[1]:
            return s
    return (0, 0, False, "")


def _quoted_condition(sent: str, m: Any, flow: Flow) -> str | None:
    tests = {"".join(f.test.split()) for f in flow.ifs}
    for k in re.findall(r"\x00(\d+)\x01", sent):
        span = m.spans[int(k)]
        if "".join(span.split()) in tests:
            return span
    return None
