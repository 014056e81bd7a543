"""Prompt rendering: folding invariants on real traces, budgets measured with a real tokenizer."""

from __future__ import annotations

import re
import warnings

import pytest
from narrate_helpers import crux_traces, demo_inputs, load_traces, need_smollm, trace_code, traced_run_copy

from tracegen.narrate.code_facts import code_facts
from tracegen.narrate.folding import build_frames, fold, shown_events, truncate_middle
from tracegen.narrate.render_prompt import PromptTooLong, build_prompt, listing, render_messages
from tracegen.narrate.tokens import CharEstimate, HFTokenCounter, load_tokenizer, token_counter
from tracegen.records import Limits

LOOP_PROGRAM = """def f(n):
    total = 0
    for i in range(n):
        for j in range(3):
            total += i * j
    return total
"""


def _accounted(entries, events) -> int:
    """Events shown one by one plus events inside folds: must be every event of the run."""
    return shown_events(entries) + sum(e.fold.n_events for e in entries if e.kind == "fold")


def test_unfolded_listing_is_every_event_in_order():
    for t in crux_traces()[:300]:
        entries = fold(t.events, code_facts(t.code), None)
        assert [e.idx for e in entries if e.kind == "event"] == list(range(len(t.events)))


@pytest.mark.parametrize("k", [1, 2, 4])
def test_folding_accounts_for_every_event(k):
    for t in crux_traces():
        entries = fold(t.events, code_facts(t.code), k)
        assert _accounted(entries, t.events) == len(t.events), t.trace_id
        shown = [e.idx for e in entries if e.kind == "event"]
        assert shown == sorted(shown)  # folding only removes, never reorders
        cut = truncate_middle(entries, 7, t.events)
        assert _accounted(cut, t.events) == len(t.events)


def test_fold_keeps_first_and_last_iterations():
    t = trace_code(LOOP_PROGRAM, test_input="20")
    text = listing(fold(t.events, code_facts(t.code), 2), t.events, t.kind)
    for i in (0, 1, 18, 19):
        assert f"line 3: i = {i}" in text
    for i in range(2, 18):
        assert f"line 3: i = {i}\n" not in text
    m = re.search(r"\[loop on line 3: (\d+) more iterations left out \((\d+) to (\d+) of (\d+), (\d+) steps\)", text)
    assert m and m.groups()[:4] == ("16", "3", "18", "20")
    # the state after the gap: iteration 18 (i = 17) has run
    assert f"after them: i = 17, j = 2, total = {3 * sum(range(18))}" in text


def test_5000_event_prompt_fits_budget_with_real_tokenizer():
    model_dir = need_smollm()
    t = trace_code(LOOP_PROGRAM, test_input="700", limits=Limits(max_events=50_000, max_bytes=50_000_000))
    assert t.status == "ok" and t.n_events >= 5000
    tok = load_tokenizer(model_dir)
    counter = HFTokenCounter(tok)
    for budget in (1500, 4000):
        p = build_prompt(t, counter, budget)
        ids = tok.apply_chat_template(p.messages, tokenize=True, add_generation_prompt=True)
        n = len(ids["input_ids"] if hasattr(ids, "keys") else ids)
        assert n == p.tokens <= budget
        assert p.folded and p.events_shown < t.n_events / 10
        user = p.messages[1]["content"]
        assert "line 3: i = 0\n" in user and "line 3: i = 699\n" in user  # first and last outer iterations
        assert "line 4: j = 0\n" in user and "line 4: j = 2\n" in user  # inner loop kept inside them
        assert "[loop on line 3:" in user
        assert f"It returned: `{t.return_repr}`" in user
    with pytest.raises(PromptTooLong):
        build_prompt(t, counter, 100)


def test_prompt_templates_function_and_stdio(tmp_path):
    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    traces = [t for t in load_traces(run) if t.status == "ok"]
    kinds = {t.kind for t in traces}
    assert kinds == {"function", "stdio"}
    counter = CharEstimate()
    shas = set()
    for t in traces:
        p = build_prompt(t, counter, 6000)
        system, user = p.messages[0]["content"], p.messages[1]["content"]
        assert "[OUTPUT]" in user and "`total` becomes `15`" in system
        assert " 1 | " in user or "1 | " in user  # numbered code
        # the only "trace" is the instruction never to mention one (the model must not pick the word up)
        assert (system + user.split("```")[0]).lower().count("trace") == 1
        assert "never mention the account you were given, a log, or a trace" in system.lower()
        if t.kind == "stdio":
            assert "exactly the text it printed" in user and t.stdout.strip() in user
        else:
            assert "as a Python literal" in user and f"It returned: `{t.return_repr}`" in user
        assert p.sha == build_prompt(t, counter, 6000).sha  # stable
        shas.add(p.sha)
    assert len(shas) == len({(t.code, t.input) for t in traces})


def test_char_estimate_warns_and_counts():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counter = token_counter(None)
    assert any("--tokenizer" in str(w.message) for w in caught)
    msgs = [{"role": "user", "content": "x" * 300}]
    assert counter.count(msgs) == 100 + 8


def test_call_tree_survives_deep_recursion():
    code = "def f(n):\n    if n == 0:\n        return 0\n    return 1 + f(n - 1)\n"
    t = trace_code("import sys\nsys.setrecursionlimit(10000)\n" + code, test_input="3000",
                   limits=Limits(max_events=50_000, max_bytes=50_000_000))
    assert t.status == "ok", t.reason
    roots = build_frames(t.events)
    depth, f = 0, roots[0]
    while any(it.children for it in f.items):
        f = next(it for it in f.items if it.children).children[0]
        depth += 1
    assert depth == 3000
    p = build_prompt(t, CharEstimate(), 3000)  # no loops: the middle is cut, head and tail kept
    assert p.tokens <= 3000 and "steps left out]" in p.messages[1]["content"]
    assert "call f(n=3000)" in p.messages[1]["content"] and f"It returned: `{t.return_repr}`" in p.messages[1]["content"]


def test_render_messages_without_events_is_the_fixed_part():
    t = trace_code("def f(a):\n    return a * 2\n", test_input="21")
    msgs = render_messages(t, "")
    assert "f(21)" in msgs[1]["content"] and "`42`" in msgs[1]["content"]
