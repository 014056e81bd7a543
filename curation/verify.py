"""`verify(trace, narration) -> Verdict`: deterministic checking of a narration against its trace.

No model is involved. The verdict says whether the row is kept and, if not, the first reason in
REASONS order: the run or the narrator failed, the [OUTPUT] block is missing or not a literal,
the output is not what the program produced (float tolerance 1e-5; stdio as tokens), the text
talks about "the trace", a claim names a variable the run does not have, a claim states a value
the variable never held at that point of the story (or a wrong expression value, count or
branch), a value in the prose that nothing accounts for (story.py, grounding.py), or the length
is out of bounds.

    >>> from tracegen.records import Trace
    >>> from tracegen.narrate.records import Narration
    >>> ev = [dict(step=0, event="call", lineno=1, func="f", depth=0, changes=[dict(name="n", value="2", elided=False)], value=None),
    ...       dict(step=1, event="line", lineno=2, func="f", depth=0, changes=[dict(name="m", value="4", elided=False)], value=None),
    ...       dict(step=2, event="line", lineno=3, func="f", depth=0, changes=[], value=None),
    ...       dict(step=3, event="return", lineno=3, func="f", depth=0, changes=[], value="5")]
    >>> t = Trace("t1", "p", "s", "0", "function", "def f(n):\\n    m = n * 2\\n    return m + 1", "2", "5", "ok", "",
    ...           "5", None, True, 4, ev, "1", "3.11", 1.0)
    >>> def story(m): return f"We call `f` with `n` = `2`. Line 2: `m` becomes `{m}`. So the call returns `5`.\\n\\n[OUTPUT]\\n5\\n[/OUTPUT]"
    >>> verify(t, Narration("t1", "template", "", "v1", "", story(4), "5", "ok")).kept
    True
    >>> v = verify(t, Narration("t1", "template", "", "v1", "", story(3), "5", "ok")); (v.reject_reason, v.claims_wrong)
    ('wrong_claim', 1)
"""

from __future__ import annotations

from typing import Any, Callable

from tracegen.narrate.output import parse_output

from .filters import ROW_FILTERS, Facts
from .markup import trace_talk
from .matching import output_matches
from .records import Verdict
from .story import check_claims
from .timeline import OK, UNCHECKED, UNKNOWN, WRONG

VERIFIER_VERSION = "2"


def gather(trace: Any, narration: Any, count_tokens: Callable[[str], int] | None = None,
           min_tokens: int = 0, max_tokens: int | None = None) -> Facts:
    """Everything the filters look at, computed once."""
    text = narration.text or ""
    f = Facts(trace=trace, narration=narration, min_tokens=min_tokens, max_tokens=max_tokens)
    f.talk = trace_talk(text)
    if count_tokens is not None:
        f.n_tokens = count_tokens(text)
    kind = trace.kind if trace is not None else (narration.kind or "function")
    f.predicted, f.parse_status, f.parse_reason = parse_output(text, kind)
    if trace is None:
        return f
    true = trace.stdout if trace.kind == "stdio" else trace.return_repr
    if f.parse_status == "bad_output" and f.predicted is not None and true is not None \
            and " ".join(f.predicted.split()) == " ".join(true.split()):
        # the program returned something that has no literal (a Counter, a user object): its
        # repr, stated exactly, is the right answer
        f.parse_status, f.parse_reason = "ok", ""
    if f.parse_status == "ok":
        f.output_ok = output_matches(trace.kind, f.predicted, true)
        if trace.kind == "stdio" and f.output_ok:
            # a narration states the exact stdout: `1000000000` for `1000000000.0` is wrong here,
            # though a judge's float tolerance would take it
            f.output_ok = (f.predicted or "").split() == (true or "").split()
    f.checked, f.ungrounded, f.n_literals = check_claims(trace, text)
    return f


def verify(trace: Any, narration: Any, count_tokens: Callable[[str], int] | None = None,
           min_tokens: int = 0, max_tokens: int | None = None) -> Verdict:
    """The verdict on one narration of one trace (trace None: its trace is missing).
    `count_tokens` enables the length filter (bounds in tokens, inclusive)."""
    f = gather(trace, narration, count_tokens, min_tokens, max_tokens)
    return verdict_of(f)


def verdict_of(f: Facts) -> Verdict:
    v = Verdict(output_ok=f.output_ok, trace_talk=len(f.talk), n_tokens=f.n_tokens, claims=len(f.checked),
                literals=f.n_literals, literals_accounted=f.n_literals - len(f.ungrounded),
                claim_checks=claim_checks(f))
    for _claim, m in f.checked:
        if m.status == OK:
            v.claims_checked += 1
        elif m.status == WRONG:
            v.claims_checked += 1
            v.claims_wrong += 1
        elif m.status == UNCHECKED:
            v.claims_unchecked += 1
        elif m.status == UNKNOWN:
            v.claims_unknown += 1
    for step in ROW_FILTERS:
        drop = step(f)
        if drop is not None:
            v.drop(drop.reason, drop.detail)
            break
    return v


def claim_checks(f: Facts) -> list[dict[str, Any]]:
    """Each claim as a row: where it is in the text, what it says, what was true, whether it held.
    Values nothing accounts for are listed too, as kind `ungrounded`."""
    out = [{"start": c.start, "end": c.end, "kind": c.kind, "subject": c.name[:200], "stated": c.value[:200],
            "actual": m.detail[:200], "step": m.time, "status": m.status} for c, m in f.checked]
    out += [{"start": x.start, "end": x.end, "kind": "ungrounded", "subject": "", "stated": x.text[:200],
             "actual": "", "step": None, "status": WRONG} for x in f.ungrounded]
    return sorted(out, key=lambda d: d["start"])
