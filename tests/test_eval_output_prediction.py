"""Output prediction on CodeContests programs: the truth is the real run, compared as the verifier compares."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from finetune.evaluation.execute import Executor
from finetune.evaluation.models import ConstantModel, OracleModel
from finetune.evaluation.output_prediction import evaluate
from tracegen.errors import UserError
from tracegen.loaders import write_canonical_jsonl
from tracegen.records import Problem, Solution, Test

CLI = [sys.executable, "-m", "selfexec.cli"]


@pytest.fixture(scope="module")
def executor():
    with Executor(2, timeout_s=6) as ex:
        yield ex


def _problems(**extra):
    return [
        Problem("t/sum", "t", "stdio", solutions=[Solution("s", "a, b = map(int, input().split())\nprint(a + b)\n")],
                tests=[Test("0", "1 2\n", "3\n")]),
        Problem("t/third", "t", "stdio", solutions=[Solution("s", "print(int(input()) / 3)\n")],
                tests=[Test("0", "1\n", "0.333333\n")]),
        Problem("t/crash", "t", "stdio", solutions=[Solution("s", "raise SystemExit(input()[5])\n")],
                tests=[Test("0", "ab\n")]),
    ]


def test_the_oracle_predicts_every_real_output_and_crashes_are_left_out(executor):
    r = evaluate(_problems(), OracleModel(executor), executor)
    assert r["pass@1"] == 1.0 and r["n"] == 2 and r["not_run_ok"] == {"runtime_error": 1}


def test_tokens_and_float_tolerance_as_the_verifier_compares(executor):
    # the constant 3 matches only the first program; "0.3333333" the second within 1e-5
    assert evaluate(_problems(), ConstantModel("3"), executor)["correct_items"] == 1
    assert evaluate(_problems(), ConstantModel("  0.3333333 \n"), executor)["correct_items"] == 1
    assert evaluate(_problems(), ConstantModel("0.34"), executor)["correct_items"] == 0


def test_codecontests_oracle_and_a_constant(shared_data, executor, tmp_path):
    from finetune.evaluation.data import load_problem_files

    problems = load_problem_files([str(shared_data / "codecontests_py300" / "codecontests_py300.jsonl")])[:25]
    r = evaluate(problems, OracleModel(executor), executor, tests_per_problem=2)
    assert r["pass@1"] == 1.0 and r["n"] + sum(r["not_run_ok"].values()) == 50
    # a hand count: how many of these runs print exactly "YES" (the oracle's real outputs are the truth)
    hand = sum(1 for p in problems for t in p.tests[:2] if executor.run("stdio", p.solutions[0].code, "",
               Test("x", t.input)).stdout.split() == ["YES"])
    assert evaluate(problems, ConstantModel("YES"), executor, tests_per_problem=2)["correct_items"] == hand


def test_cli_output_prediction(tmp_path):
    path = write_canonical_jsonl(_problems(), tmp_path / "p.jsonl")
    out = tmp_path / "r.json"
    run = subprocess.run([*CLI, "eval", "output-prediction", str(path), "--model", "oracle", "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = json.loads(out.read_text())
    assert r["pass@1"] == 1.0 and r["n"] == 2 and r["model"] == "oracle" and "did not finish normally: runtime_error 1" in run.stdout
    bad = subprocess.run([*CLI, "eval", "output-prediction", str(tmp_path / "none.jsonl"), "--model", "oracle"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "file not found" in bad.stderr and "Traceback" not in bad.stderr


def test_nothing_to_predict_is_a_user_error(executor):
    with pytest.raises(UserError, match="finished normally"):
        evaluate(_problems()[2:], OracleModel(executor), executor)
