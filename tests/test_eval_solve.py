"""solve: the strategies, the seeded tie-break, candidates files, and the HumanEval CodeGen samples with
the oracle as simulator (best-simulate must pick exactly what best-exec picks)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from finetune.evaluation.candidates import load_candidates
from finetune.evaluation.data import load_problem_files
from finetune.evaluation.execute import Executor
from finetune.evaluation.models import OracleModel
from finetune.evaluation.solve import public_tests, solve, tie_break
from tracegen.errors import UserError
from tracegen.loaders import write_canonical_jsonl
from tracegen.records import Problem, Test

CLI = [sys.executable, "-m", "selfexec.cli"]
RIGHT = "def add(a, b):\n    return a + b\n"
WRONG_PUBLIC = "def add(a, b):\n    return a - b  # wrong\n"  # fails the public test too
WRONG_PRIVATE = "def add(a, b):\n    return 3 if (a, b) == (1, 2) else 0\n"  # passes the public test only
LONG_RIGHT = "def add(a, b):\n    total = a\n    total += b\n    return total\n"


def add_problem() -> Problem:
    return Problem("t/add", "test", "function", statement='def add(a, b):\n    """a + b"""\n', entry_point="add",
                   tests=[Test("0", "1, 2", "3", public=True), Test("1", "5, 5", "10"), Test("2", "-1, 1", "0")])


@pytest.fixture(scope="module")
def executor():
    with Executor(2) as ex:
        yield ex


def test_tie_break_is_seeded_per_problem_and_picks_only_among_the_best():
    scores = [2, 5, 1, 5, 5, 0]
    picks = Counter(tie_break(scores, seed, "p")[0] for seed in range(300))
    assert set(picks) == {1, 3, 4}  # only the tied best, each of them for some seed
    assert min(picks.values()) > 60  # and roughly evenly
    assert tie_break(scores, 7, "p") == tie_break(scores, 7, "p") and tie_break(scores, 7, "p")[1] == 3
    assert tie_break([0, 9, 1], 3, "q") == (1, 1)  # no tie: no chance involved
    # the draw depends on (seed, problem), not on what other problems were drawn before
    assert {tie_break(scores, 0, f"p{i}")[0] for i in range(40)} == {1, 3, 4}


def test_strategies_on_a_small_problem(executor):
    p = add_problem()
    codes = [WRONG_PUBLIC, WRONG_PRIVATE, LONG_RIGHT, RIGHT]
    r = solve([p], OracleModel(executor), executor, ("best-exec", "best-simulate", "short", "sample"),
              {p.problem_id: codes}, k=4, seed=0, judge_all=True)
    s = r["strategies"]
    picks = {x["strategy"]: x for x in r["problems"]}
    # three candidates pass the public test; the seeded tie-break picks one of them, the same for both rules
    assert picks["best-exec"]["score"] == picks["best-simulate"]["score"] == 1
    assert picks["best-exec"]["tied"] == 3 and picks["best-exec"]["index"] in (1, 2, 3)
    assert picks["best-exec"]["index"] == picks["best-simulate"]["index"]
    assert picks["short"]["index"] == 3 and s["short"]["pass@1"] == 1.0  # RIGHT is the shortest
    assert r["candidates"]["pass@1"] == 0.5 and r["candidates"]["pass@4"] == 1.0
    assert r["gap"] == 0.0 and r["n"] == 1 and r["k"] == 4
    # WRONG_PRIVATE passes public, fails private: the split is kept per strategy
    one = solve([p], OracleModel(executor), executor, ("sample",), {p.problem_id: [WRONG_PRIVATE]}, k=1)
    got = one["strategies"]["sample"]
    assert (got["public_pass"], got["private_pass"], got["pass@1"]) == (1.0, 0.0, 0.0)


def test_the_oracle_cannot_write_programs_or_fix_them(executor, tmp_path):
    p = add_problem()
    with pytest.raises(UserError, match="cannot write them"):
        solve([p], OracleModel(executor), executor, ("self-fix",), {p.problem_id: [WRONG_PUBLIC]}, k=1)
    with pytest.raises(UserError, match="unknown strategy"):
        solve([p], OracleModel(executor), executor, ("best-guess",), {p.problem_id: [RIGHT]})


def test_candidate_files_are_checked_with_line_numbers(tmp_path):
    p = add_problem()
    good = tmp_path / "c.jsonl"
    good.write_text(json.dumps({"problem_id": "t/add", "code": RIGHT}) + "\n"
                    + json.dumps({"problem_id": "t/add", "candidates": [WRONG_PUBLIC]}) + "\n"
                    + json.dumps({"problem_id": "other/1", "code": RIGHT}) + "\n")
    assert load_candidates(good, [p]) == {"t/add": [RIGHT, WRONG_PUBLIC]}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"problem_id": "t/add", "code": RIGHT}) + "\n{oops\n")
    with pytest.raises(UserError, match=r"bad.jsonl:2: not a JSON object"):
        load_candidates(bad, [p])
    bad.write_text(json.dumps({"task": "t/add"}) + "\n")
    with pytest.raises(UserError, match=r"bad.jsonl:1: expected \{problem_id, code\}"):
        load_candidates(bad, [p])
    bad.write_text(json.dumps({"problem_id": "nope", "code": RIGHT}) + "\n")
    with pytest.raises(UserError, match="no line names a loaded problem"):
        load_candidates(bad, [p])


def test_codegen_samples_pair_with_humaneval(shared_data):
    problems = load_problem_files([str(shared_data / "humaneval" / "HumanEval.jsonl.gz")])
    path = shared_data / "humaneval_codegen16b_samples" / \
        "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
    cands = load_candidates(path, problems)
    assert len(cands) == 164 and all(len(c) == 100 for c in cands.values())
    by_id = {p.problem_id: p for p in problems}
    for pid, codes in list(cands.items())[:20]:
        assert f"def {by_id[pid].entry_point}(" in codes[0]
    assert sum(bool(public_tests(p)) for p in problems) == 104  # problems whose docstring shows a test call


@pytest.mark.slow
def test_humaneval_codegen_best_simulate_equals_best_exec_and_beats_random(shared_data, tmp_path):
    """The figures of the README (a slice here; benchmarks/eval_best_of_k.py runs all 164)."""
    problems = shared_data / "humaneval" / "HumanEval.jsonl.gz"
    samples = shared_data / "humaneval_codegen16b_samples" / \
        "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
    out = tmp_path / "solve.json"
    run = subprocess.run([*CLI, "solve", str(problems), "--candidates", str(samples), "--model", "oracle",
                          "-s", "best-exec", "-s", "best-simulate", "-s", "sample", "-s", "short", "--k", "5",
                          "--max-problems", "40", "--judge-all", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = json.loads(out.read_text())
    picks: dict[str, dict[str, int]] = {}
    for x in r["problems"]:
        picks.setdefault(x["strategy"], {})[x["problem_id"]] = x["index"]
    assert picks["best-exec"] == picks["best-simulate"] and r["gap"] == 0.0
    assert r["best@k_exec"] > r["candidates"]["random"]
    assert (tmp_path / "solve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "best@k exec" in run.stdout


def test_cli_solve_refuses_bad_input_in_one_line(tmp_path):
    problems = write_canonical_jsonl([add_problem()], tmp_path / "p.jsonl")
    for args, needle in [(["--model", "oracle"], "cannot write them"),
                         (["--model", "oracle", "--candidates", str(tmp_path / "none.jsonl")], "file not found"),
                         (["--model", "oracle", "--candidates", str(problems), "-s", "best-guess"], "expected"),
                         ]:
        bad = subprocess.run([*CLI, "solve", str(problems), *args, "--out", str(tmp_path / "x.json")],
                             capture_output=True, text=True)
        assert bad.returncode == 2, bad.stderr
        assert needle in bad.stderr and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
