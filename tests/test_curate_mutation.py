"""Mutation test (a correctness property, fixed seed): template narrations of all 800 CRUXEval
traces, and copies of them with exactly one stated value changed. The verifier must reject at
least 99% of the mutated copies and falsely reject at most 1% of the untouched narrations.

Where a value may be changed is found from the template narrator's own phrase banks (a value in
inline code right after a variable and one of its connecting words, or after a function and
"returns"), not from the verifier's claim parser, so a form the parser missed would show up here
as undetected mutations. Values shown elided (`…`) are left alone: claims about them are counted,
not checked (DESIGN §6).
"""

from __future__ import annotations

import ast
import dataclasses
import random
import re
from collections import Counter

import pytest
from curate_helpers import crux_traces

from curation.verify import verify
from tracegen.compare import values_equal
from tracegen.narrate import phrases as P
from tracegen.narrate.markup import inline
from tracegen.narrate.template_narrator import TemplateNarrator

SEED = 1234
KINDS = ("plus_minus_one", "never_held", "swap", "char")


def _between(form: str, a: str, b: str) -> str:
    return form.split(a, 1)[1].split(b, 1)[0]


VAR_LINKS = {_between(f, "{x}", "{v}") for f in P.CHANGE_FORMS + P.LOOP_SAME} | {" = "}  # " = ": call arguments
RETURN_LINKS = {_between(f, "{f}", "{v}") for f in P.RETURNS + P.YIELDS}
SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _value(text: str):
    try:
        return True, ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def sites(text: str) -> list[tuple[str, str, int, int, object]]:
    """(kind, subject, start, end, value) of every stated value the phrase banks produce."""
    body = text[:text.rfind("[OUTPUT]")]
    spans = [(m.start(), m.end(), m.group(2).strip() if len(m.group(1)) > 1 else m.group(2)) for m in SPAN.finditer(body)]
    out = []
    for (_s1, e1, subject), (s2, e2, content) in zip(spans, spans[1:]):
        gap = body[e1:s2]
        kind = "var" if gap in VAR_LINKS and subject.isidentifier() else "ret" if gap in RETURN_LINKS else None
        ok, value = _value(content)
        if kind and ok and "…" not in content:
            out.append((kind, subject, s2, e2, value))
    return out


def held(trace, kind: str, subject: str) -> list:
    """Every value a variable (or a function's return) had in the run."""
    texts = []
    for e in trace.events:
        if kind == "var":
            texts += [c["value"] for c in e["changes"] if c["name"] == subject]
        elif e["event"] == "return" and e["func"] == subject:
            texts.append(e["value"] or "None")
    return [v for ok, v in map(_value, texts) if ok]


def same(a, b) -> bool:
    return type(a) is type(b) and values_equal(a, b)


def mutate(v, how: str, rng: random.Random, avoid: list):
    """A different value of the same shape, or None when `how` does not apply to `v`."""
    if how == "plus_minus_one":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return v + rng.choice((1, -1))
    if how == "swap":
        if not isinstance(v, (list, tuple)):
            return None
        pairs = [(i, j) for i in range(len(v)) for j in range(i + 1, len(v)) if not same(v[i], v[j])]
        if not pairs:
            return None
        i, j = rng.choice(pairs)
        w = list(v)
        w[i], w[j] = w[j], w[i]
        return type(v)(w)
    if how == "char":
        if not isinstance(v, str) or not v:
            return None
        i = rng.randrange(len(v))
        return v[:i] + rng.choice([c for c in "abxyzQ0 9#" if c != v[i]]) + v[i + 1:]
    for _ in range(30):  # never_held: a value the variable never had
        if isinstance(v, bool):
            w = not v
        elif isinstance(v, (int, float)):
            w = v + rng.choice((2, 3, 7, 11, -2, -5, 100))
        elif isinstance(v, str):
            i = rng.randrange(len(v) + 1)
            w = v[:i] + rng.choice("QZ#7") + v[i:]
        elif isinstance(v, list):
            w = v + [rng.choice(v) if v else 0]
        elif isinstance(v, tuple):
            w = v + ((rng.choice(v) if v else 0),)
        elif isinstance(v, dict):
            w = {**v, f"k{rng.randrange(99)}": 0}
        elif isinstance(v, set):
            w = v | {f"q{rng.randrange(99)}"}
        elif v is None:
            w = 0
        else:
            return None
        if all(not same(w, a) for a in avoid):
            return w
    return None


def mutants_of(trace, narration, rng: random.Random) -> list[tuple[str, str]]:
    """(how, text) copies with one value changed: one per kind where it applies, at a random
    site, plus one copy with the final [OUTPUT] changed."""
    text = narration.text
    out = []
    found = sites(text)
    for how in KINDS:
        candidates = [s for s in found if how == "never_held" or mutate(s[4], how, random.Random(0), []) is not None]
        rng.shuffle(candidates)
        for kind, subject, a, b, value in candidates:
            w = mutate(value, how, rng, held(trace, kind, subject) + [value])
            if w is not None and not same(w, value):
                out.append((f"{how}:{kind}", text[:a] + inline(repr(w)) + text[b:]))
                break
    i, j = text.rfind("[OUTPUT]\n") + len("[OUTPUT]\n"), text.rfind("\n[/OUTPUT]")
    ok, value = _value(text[i:j])
    if ok:
        for how in rng.sample(KINDS, len(KINDS)):
            w = mutate(value, how, rng, [value])
            if w is not None and not same(w, value):
                out.append((f"{how}:output", text[:i] + repr(w) + text[j:]))
                break
    return out


@pytest.mark.slow
def test_verifier_rejects_mutated_narrations_and_keeps_true_ones():
    traces = crux_traces()
    assert len(traces) == 800
    narrator = TemplateNarrator(seed=0)
    rng = random.Random(SEED)
    false_rejects, mutants, missed = [], 0, []
    by_kind: Counter = Counter()
    missed_by_kind: Counter = Counter()
    for t in traces:
        n = narrator.narrate(t)
        assert n.status == "ok", n.reason
        v = verify(t, n)
        if not v.kept:
            false_rejects.append((t.trace_id, v.reject_reason, v.reject_detail))
        for how, text in mutants_of(t, n, rng):
            mutants += 1
            by_kind[how] += 1
            mv = verify(t, dataclasses.replace(n, text=text))
            if mv.kept:
                missed.append((t.trace_id, how))
                missed_by_kind[how] += 1
    reject_rate = 1 - len(missed) / mutants
    false_rate = len(false_rejects) / len(traces)
    print(f"\nmutation test: {mutants} mutated narrations of {len(traces)} CRUXEval traces; "
          f"rejected {reject_rate:.2%} ({mutants - len(missed)}/{mutants}); "
          f"false rejects of untouched narrations {false_rate:.2%} ({len(false_rejects)}/{len(traces)})")
    print("  mutants by kind:", dict(sorted(by_kind.items())))
    print("  undetected by kind:", dict(sorted(missed_by_kind.items())))
    assert mutants >= 2000  # every narration yields an output mutant and most yield several more
    assert {k.split(":")[0] for k in by_kind} == set(KINDS)
    assert reject_rate >= 0.99, missed[:20]
    assert false_rate <= 0.01, false_rejects[:10]
