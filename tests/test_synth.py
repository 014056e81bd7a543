"""Input synthesis: type-directed value mutation as a table, fuzzed tests on CRUXEval re-run in the
sandbox (every one `ok`, with the output recorded), a stdio generator program, determinism, the CLI."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tracegen.errors import UserError
from tracegen.loaders import load_problems
from tracegen.records import Limits, Problem, Solution
from tracegen.records import Test as ProblemTest  # a class named Test* would be collected
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox
from tracegen.synth import Observed, SynthConfig, args_source, mutate_value, parse_args, synthesize

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("source, values", [
    ("[1, 2], 'ab'", ([1, 2], "ab")),
    ("{'a': (1, 2.5)}, None, True", ({"a": (1, 2.5)}, None, True)),
    ("", ()),
    ("x=1", None),  # keywords: not fuzzed
    ("len('a')", None),  # not a literal
])
def test_parse_args(source, values):
    assert parse_args(source) == values
    if values:
        assert parse_args(args_source(values)) == values


@pytest.mark.parametrize("value", [7, -3, 2.5, "hello", "", [1, 2, 3], [], (1, "a"), {"k": [1]}, {3, 4},
                                   [[1, 2], [3]], {"x": {"y": "z"}}, True, None])
def test_mutate_value_keeps_the_type(value):
    obs = Observed.of([(value,)])
    rng = random.Random(1)
    changed = 0
    for _ in range(50):
        new = mutate_value(value, obs, rng)
        assert type(new) is type(value)
        if isinstance(value, tuple):
            assert len(new) == len(value)
        if isinstance(value, list) and value and isinstance(value[0], list):
            assert all(isinstance(x, list) for x in new)
        if isinstance(value, (str, list)):
            assert len(new) <= obs.max_len + 2
        changed += new != value
    assert changed > 0 or value in (None, [])  # an empty list has no element type to grow by


def _rerun_all_ok(problems: list[Problem], originals: dict[str, Problem]) -> int:
    """Every synthesized test runs `ok` in the sandbox and its recorded output is the reference's."""
    n = 0
    with Sandbox() as box:
        for p in problems:
            for t in p.tests[len(originals[p.problem_id].tests):]:
                row = trace_one(p, p.solutions[0], t, Limits(timeout_s=5), box, trace=False)
                assert row.status == "ok" and row.matches_expected is True, (p.problem_id, t)
                assert t.origin and t.test_id.startswith("synth-")
                n += 1
    return n


def test_fuzzing_cruxeval_adds_new_tests_that_all_run_ok(shared_data):
    problems = load_problems(shared_data / "cruxeval" / "cruxeval.jsonl")[:6]
    cfg = SynthConfig(per_problem=4, max_attempts=25, workers=1)
    out, stats = synthesize(problems, cfg)
    originals = {p.problem_id: p for p in problems}
    assert [p.problem_id for p in out] == list(originals)
    assert stats["new_tests"] >= 10 and stats["problems_with_new_tests"] >= 5
    assert _rerun_all_ok(out, originals) == stats["new_tests"]
    for p in out:
        new = p.tests[1:]
        assert all(t.origin.startswith("fuzz from ") for t in new)
        assert len({t.output for t in p.tests}) >= 1
    # the same seed gives the same tests; another seed other ones
    again, _ = synthesize(problems, cfg)
    assert again == out
    other, _ = synthesize(problems, SynthConfig(per_problem=4, max_attempts=25, workers=1, seed=1))
    assert other != out


GENERATOR = """import random
seed = int(input())
rng = random.Random(seed)
n = rng.randint(1, 6)
print(n)
print(*[rng.randint(-20, 20) for _ in range(n)])
"""


def _stdio_problem() -> Problem:
    code = "n = int(input())\nxs = list(map(int, input().split()))\nprint(max(xs) if max(xs) > 0 else 'none')\n"
    return Problem("toy/max", "toy", "stdio", solutions=[Solution("ref", code, "correct")],
                   tests=[ProblemTest("0", "3\n1 5 2\n", "5\n", True)])


def test_stdio_generator_runs_in_the_sandbox_with_seeds():
    problem = _stdio_problem()
    out, stats = synthesize([problem], SynthConfig(per_problem=3, max_attempts=20, workers=1, generator=GENERATOR))
    new = out[0].tests[1:]
    assert len(new) == 3 and stats["new_tests"] == 3
    assert all(t.origin.startswith("generator seed ") for t in new)
    assert _rerun_all_ok(out, {problem.problem_id: problem}) == 3
    # a generator that crashes or prints nothing is counted, never kept
    _, stats = synthesize([problem], SynthConfig(max_attempts=3, workers=1, generator="import sys\nsys.exit(3)\n"))
    assert stats["new_tests"] == 0 and sum(v for k, v in stats["counts"].items() if k.startswith("generator")) == 3
    with pytest.raises(UserError, match="generator program is not valid Python"):
        synthesize([problem], SynthConfig(generator="def (:\n"))
    # without a generator a stdio problem is left as it is, and said so
    same, stats = synthesize([problem], SynthConfig(workers=1))
    assert same == [problem] and stats["counts"] == {"stdio without a generator": 1}


def test_inputs_that_break_the_budget_are_not_kept():
    # large n makes the loop slow: candidates that time out or blow the event budget are dropped
    code = "def f(n):\n    t = 0\n    for i in range(n * n * 1000):\n        t += i\n    return t\n"
    problem = Problem("toy/slow", "toy", "function", entry_point="f", solutions=[Solution("ref", code, "correct")],
                      tests=[ProblemTest("0", "1", "499500", True), ProblemTest("1", "0", "0", True)])
    cfg = SynthConfig(per_problem=10, max_attempts=15, workers=1, limits=Limits(timeout_s=2.0, max_events=3000))
    out, stats = synthesize([problem], cfg)
    assert _rerun_all_ok(out, {problem.problem_id: problem}) == stats["new_tests"]
    assert any(k.startswith("not ok:") for k in stats["counts"])


def _selfexec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"}, timeout=600)


def test_cli(tmp_path):
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps(_stdio_problem().to_dict()) + "\n")
    gen = tmp_path / "gen.py"
    gen.write_text(GENERATOR)
    out = tmp_path / "s.jsonl"
    res = _selfexec("synth-inputs", str(src), "--out", str(out), "--generator", str(gen), "--per-problem", "2")
    assert res.returncode == 0, res.stderr
    assert "2 new tests for 1 of 1 problems" in res.stdout
    back = load_problems(out)
    assert len(back[0].tests) == 3 and all(t.origin.startswith("generator seed ") for t in back[0].tests[1:])
    res = _selfexec("synth-inputs", str(src), "--out", str(tmp_path / "x.jsonl"), "--generator", str(tmp_path / "no.py"))
    assert res.returncode == 2 and "--generator" in res.stderr and "not found" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "x.jsonl").exists()
