"""Mutants: the operators as a table, real sandboxed runs of kept mutants, the recorded divergence checked
by re-running both traces, CodeContests problems, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracegen.loaders import load_problems
from tracegen.mutants import MutateConfig, apply, first_divergence, mutate_problem, mutate_problems, mutation_sites
from tracegen.mutants.divergence import _timeline
from tracegen.records import Limits, Problem, Solution
from tracegen.records import Test as ProblemTest  # a class named Test* would be collected
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]

CODE = """def f(xs, k):
    total = 0
    for i in range(len(xs)):
        if xs[i] > k:
            total += xs[i] * 2
    return total
"""

# (operator, original text, mutated text) that must all be among the sites of CODE
EXPECTED_SITES = [
    ("off_by_one", "range(len(xs))", "range(len(xs) + 1)"),
    ("off_by_one", "range(len(xs))", "range(len(xs) - 1)"),
    ("comparison", "xs[i] > k", "(xs[i] >= k)"),
    ("operator", "xs[i] * 2", "(xs[i] // 2)"),
    ("operator", "total += xs[i] * 2", "total -= xs[i] * 2"),
    ("flip_condition", "xs[i] > k", "not (xs[i] > k)"),
    ("drop_statement", "total += xs[i] * 2", "pass"),
    ("initial_value", "total = 0", "total = 1"),
    ("initial_value", "total = 0", "total = -1"),
]


def test_sites_cover_every_operator_and_keep_line_numbers():
    sites = mutation_sites(CODE)
    found = {(s.operator, s.description.split(": ", 1)[1]) for s in sites}
    for op, before, after in EXPECTED_SITES:
        assert (op, f"{before} -> {after}") in found
    for site in sites:
        mutant = apply(CODE, site)
        assert mutant != CODE
        compile(mutant, "<m>", "exec")  # every site gives a program that parses
        old, new = CODE.splitlines(), mutant.splitlines()
        assert len(old) == len(new)
        assert [i + 1 for i, (a, b) in enumerate(zip(old, new)) if a != b] == [site.lineno]
    assert mutation_sites("def f(:\n") == []


def test_sites_of_non_ascii_lines_replace_the_right_bytes():
    code = "def f(s):\n    t = 'é' + s\n    return t\n"
    site = next(s for s in mutation_sites(code) if s.operator == "operator")
    assert apply(code, site) == "def f(s):\n    t = ('é' - s)\n    return t\n"


def _function_problem() -> Problem:
    tests = [ProblemTest("0", "[1, 5, 7], 4", "24", True), ProblemTest("1", "[3, 4], 3", "8"),
             ProblemTest("2", "[], 0", "0")]
    return Problem("toy/1", "toy", "function", entry_point="f", solutions=[Solution("ref", CODE, "correct")],
                   tests=tests)


def _recheck(problem: Problem, original: Solution, mutant: Solution, box: Sandbox) -> None:
    """Re-run both traces and check the recorded divergence against them: the runs agree before it,
    and the recorded step, line, variable and values are what the two traces show."""
    d = mutant.divergence
    test = next(t for t in problem.tests if t.test_id == d["test_id"])
    limits = Limits(max_events=d["max_events"], max_bytes=d["max_bytes"])
    a = trace_one(problem, original, test, limits, box)
    b = trace_one(problem, mutant, test, limits, box)
    assert dict(first_divergence(a, b), max_events=d["max_events"], max_bytes=d["max_bytes"]) == d  # deterministic
    assert first_divergence(a, a) is None
    ta, tb = _timeline(a), _timeline(b)
    agree = 0
    while agree < min(len(ta), len(tb)) and ta[agree][3:] == tb[agree][3:]:
        agree += 1
    # everything the original did up to the divergent step, the mutant did too
    assert all(item[2] <= d["step"] for item in ta[:agree])
    first_different = {t[agree][2] for t in (ta, tb) if agree < len(t)}
    if d["kind"] == "value":
        assert d["step"] in first_different
        side_a = {c["name"]: c["value"] for c in a.events[d["step"]]["changes"]} if d["original"] is not None else {}
        side_b = {c["name"]: c["value"] for c in b.events[d["step"]]["changes"]} if d["mutant"] is not None else {}
        assert side_a.get(d["variable"]) == d["original"] and side_b.get(d["variable"]) == d["mutant"]
        assert d["original"] != d["mutant"]
        assert a.events[d["step"]]["lineno"] == d["lineno"] or b.events[d["step"]]["lineno"] == d["lineno"]
    assert not (a.stdout == b.stdout and a.return_repr == b.return_repr and a.status == b.status)


def test_function_problem_mutants_fail_a_test_and_carry_their_divergence():
    problem = _function_problem()
    cfg = MutateConfig(per_solution=4, max_attempts=30)
    with Sandbox() as box:
        result = mutate_problem(problem, cfg, box)
        mutants = [s for s in result.problem.solutions if s.label == "incorrect"]
        assert len(mutants) == 4 and result.problem.solutions[0].solution_id == "ref"
        assert len({m.code for m in mutants}) == 4
        for m in mutants:
            assert m.origin.startswith("mutant of ref: ") and m.divergence is not None
            assert set(m.divergence) == {"test_id", "step", "lineno", "variable", "kind", "original", "mutant",
                                         "max_events", "max_bytes"}
            # really fails: at least one test gives another answer than expected
            runs = [trace_one(problem, m, t, Limits(), box, trace=False) for t in problem.tests]
            assert any(r.matches_expected is not True for r in runs)
            _recheck(problem, problem.solutions[0], m, box)
    assert result.stats["tried"] >= 4


def test_equivalent_and_endless_mutants_are_not_kept():
    # `i * 1` -> `i // 1` is equivalent; flipping the while condition loops forever
    code = "def g(n):\n    i = 0\n    while i < n:\n        i = i + 1\n    return i * 1\n"
    problem = Problem("toy/2", "toy", "function", entry_point="g", solutions=[Solution("ref", code, "correct")],
                      tests=[ProblemTest("0", "3", "3", True)])
    with Sandbox() as box:
        result = mutate_problem(problem, MutateConfig(per_solution=50, max_attempts=100, min_timeout_s=0.5), box)
    kept = {s.origin.split(", ", 1)[1] for s in result.problem.solutions if s.label == "incorrect"}
    assert "line 5: i * 1 -> (i // 1)" not in kept
    assert result.stats["passes every test (equivalent or untested)"] >= 1
    assert "line 3: i < n -> not (i < n)" in kept or result.stats["does not terminate (timeout)"] >= 1


@pytest.mark.slow
def test_codecontests_problems_get_three_mutants_with_checked_divergences(shared_data):
    problems = load_problems(shared_data / "codecontests_py300" / "codecontests_py300.jsonl")[:4]
    out, stats = mutate_problems(problems, MutateConfig(per_solution=3, workers=2))
    assert [p.problem_id for p in out] == [p.problem_id for p in problems]
    assert stats["problems_with_3_or_more"] >= 3
    with Sandbox() as box:
        for p in out[:2]:
            original = p.solutions[0]
            for m in [s for s in p.solutions if s.label == "incorrect"][:2]:
                _recheck(p, original, m, box)


def _selfexec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "120"}, timeout=600)


def test_cli_writes_canonical_jsonl_and_refuses_sets_without_correct_solutions(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps(_function_problem().to_dict()) + "\n")
    out = tmp_path / "m.jsonl"
    res = _selfexec("mutate", str(src), "--out", str(out), "--per-solution", "2", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "2 mutants kept for 1 problems" in res.stdout
    back = load_problems(out)  # canonical: loads back with the divergence field
    assert [s.label for s in back[0].solutions] == ["correct", "incorrect", "incorrect"]
    assert all(s.divergence for s in back[0].solutions[1:])

    unlabelled = tmp_path / "u.jsonl"
    unlabelled.write_text(json.dumps(dict(_function_problem().to_dict(), solutions=[
        {"solution_id": "a", "code": CODE, "label": "unknown"}])) + "\n")
    res = _selfexec("mutate", str(unlabelled), "--out", str(tmp_path / "x.jsonl"))
    assert res.returncode == 2 and "labelled 'correct'" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.slow
def test_mutant_traces_are_narrated_and_verified_like_any_solution(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps(_function_problem().to_dict()) + "\n")
    assert _selfexec("mutate", str(src), "--out", str(tmp_path / "m.jsonl"), "--per-solution", "3",
                     "--workers", "1").returncode == 0
    run = tmp_path / "run"
    for args in (["trace", str(tmp_path / "m.jsonl"), "--out", str(run)], ["narrate", str(run)], ["curate", str(run)]):
        res = _selfexec(*args)
        assert res.returncode == 0, res.stderr
    import pyarrow.parquet as pq

    rows = [r for f in sorted((run / "curated").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    mutant_rows = [r for r in rows if "-mut" in r["solution_id"]]
    assert mutant_rows and all(r["solution_id"].startswith("ref-mut") for r in mutant_rows)
    # the narration follows the mutant's code (what it does), not the original's
    assert any("if xs[i] > k" not in r["code"] for r in mutant_rows)
