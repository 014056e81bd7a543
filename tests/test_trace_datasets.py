"""The tracer on real problem sets: right answers, and traced == untraced (DESIGN §5).

CodeContests is checked here on a fixed sample (the first public test and two more of every
problem); benchmarks/codecontests_fidelity.py runs all 14,779 tests.
"""

from __future__ import annotations

import json

import pytest

from tracegen.compare import parse_literal, values_equal
from tracegen.loaders import load_problems
from tracegen.records import Limits
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

LIMITS = Limits(timeout_s=10)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox("auto") as sb:
        yield sb


def exc_type(exception: str | None) -> str | None:
    return exception.split(":", 1)[0] if exception else None


def traced_and_plain(problems, sandbox, limits=LIMITS):
    """Yield (problem, test, traced row, untraced row) for every pair."""
    for p in problems:
        for s in p.solutions:
            for t in p.tests:
                yield p, t, trace_one(p, s, t, limits, sandbox), trace_one(p, s, t, limits, sandbox, trace=False)


def assert_same_behaviour(pairs) -> int:
    n = 0
    for p, t, a, b in pairs:
        assert a.stdout == b.stdout, (p.problem_id, t.test_id)
        assert a.return_repr == b.return_repr, (p.problem_id, t.test_id)
        assert exc_type(a.exception) == exc_type(b.exception), (p.problem_id, t.test_id, a.exception, b.exception)
        n += 1
    return n


@pytest.mark.slow
def test_cruxeval_800_ok_and_right(shared_data, sandbox):
    problems = load_problems(shared_data / "cruxeval" / "cruxeval.jsonl")
    assert len(problems) == 800
    pairs = list(traced_and_plain(problems, sandbox))
    bad = [(p.problem_id, a.status, a.return_repr, t.output) for p, t, a, _ in pairs
           if a.status != "ok" or not values_equal(parse_literal(a.return_repr), parse_literal(t.output))]
    assert bad == []
    assert all(a.matches_expected for _, _, a, _ in pairs)
    assert assert_same_behaviour(pairs) == 800
    assert all(a.n_events > 0 for _, _, a, _ in pairs)


@pytest.mark.slow
def test_humaneval_164_pass_under_tracer(shared_data, sandbox):
    problems = load_problems(shared_data / "humaneval" / "HumanEval.jsonl.gz")
    assert len(problems) == 164
    pairs = list(traced_and_plain(problems, sandbox))
    failing = sorted({p.problem_id for p, _, a, _ in pairs if not a.matches_expected})
    assert failing == []
    assert assert_same_behaviour(pairs) == len(pairs)


@pytest.mark.slow
@pytest.mark.parametrize("fname", ["mbpp.jsonl", "sanitized-mbpp.json"])
def test_mbpp_references_pass_under_tracer(shared_data, sandbox, fname):
    problems = load_problems(shared_data / "mbpp" / fname)
    pairs = list(traced_and_plain(problems, sandbox))
    failing = sorted({(p.problem_id, t.test_id, a.status, (a.exception or "")[:80]) for p, t, a, _ in pairs
                      if not a.matches_expected})
    assert failing == []
    assert assert_same_behaviour(pairs) == len(pairs)


def codecontests_sample(shared_data):
    problems = load_problems(shared_data / "codecontests_py300" / "codecontests_py300.jsonl")
    for p in problems:
        public = [t for t in p.tests if t.public][:1]
        rest = [t for t in p.tests if t not in public][:2]
        p.tests = public + rest
    return problems


@pytest.mark.slow
def test_codecontests_sample_traced_equals_untraced(shared_data, sandbox):
    problems = codecontests_sample(shared_data)
    assert len(problems) == 300
    verification = json.loads((shared_data / "codecontests_py300" / "verification_local.json").read_text())
    always_pass = {pid for pid, c in verification["per_problem"].items()
                   if set(c) <= {"pass", "pass_float"}}
    pairs = list(traced_and_plain(problems, sandbox))
    # Fidelity: where neither run hit its wall-clock limit, the outputs are identical.
    assert assert_same_behaviour((p, t, a, b) for p, t, a, b in pairs
                                 if "timeout" not in (a.status, b.status)) > 850
    # Agreement with the local verification: a problem whose solution passed every test there
    # passes every sampled test here (timeouts excepted: Python under load).
    wrong = [(p.problem_id, t.test_id, a.status) for p, t, a, _ in pairs
             if p.problem_id.split("/", 1)[1] in always_pass and a.status != "timeout" and not a.matches_expected]
    assert wrong == []
