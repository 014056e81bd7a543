"""CRUXEval through the real harness: sandboxed execution, the one answer format, the CLI."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from curation.answers import input_turn, parse_input_answer
from finetune.evaluation.cruxeval import evaluate
from finetune.evaluation.data import load_benchmark
from finetune.evaluation.execute import Executor
from finetune.evaluation.models import ConstantModel, ModelSettings, OracleModel, Query, load_model
from tracegen.errors import UserError
from tracegen.records import Problem, Solution, Test

CLI = [sys.executable, "-m", "selfexec.cli"]


@pytest.fixture(scope="module")
def crux(shared_data):
    return load_benchmark(str(shared_data / "cruxeval" / "cruxeval.jsonl"))


@pytest.fixture(scope="module")
def executor():
    with Executor(2) as ex:
        yield ex


def test_oracle_scores_every_cruxeval_item_both_directions(crux, executor):
    r = evaluate(crux, OracleModel(executor), directions=("output", "input"), executor=executor)
    assert r["n"] == 800 and r["pass@1"] == 1.0
    assert r["output"] == {"pass@1": 1.0, "n": 800, "correct_items": 800, "unparsed": 0}
    assert r["input"]["pass@1"] == 1.0
    assert r["pass@5"] is None  # one sample: pass@5 is not defined


def test_a_constant_predictor_scores_the_hand_count(crux, shared_data, executor):
    raw = [json.loads(line) for line in (shared_data / "cruxeval" / "cruxeval.jsonl").open()]
    for value in ("''", "[]", "0"):
        # Python's `==` on the literals (0 == False == 0.0, as `assert f(x) == 0` judges them)
        hand = sum(type(v := ast.literal_eval(r["output"])) in (int, float, bool, str, list)
                   and v == ast.literal_eval(value) for r in raw)
        r = evaluate(crux, ConstantModel(value), executor=executor)
        assert r["output"]["correct_items"] == hand, value
        assert r["pass@1"] == hand / 800
    assert sum(r["output"] == "''" for r in raw) == 17


def test_float_tolerance_and_unreadable_answers(executor):
    p = Problem("t/0", "t", "function", entry_point="f", solutions=[Solution("s", "def f(x):\n    return x / 3\n")],
                tests=[Test("0", "1", repr(1 / 3))])
    assert evaluate([p], ConstantModel("0.333333"), executor=executor)["pass@1"] == 1.0
    assert evaluate([p], ConstantModel("0.33"), executor=executor)["pass@1"] == 0.0
    bad = evaluate([p], ConstantModel("["), executor=executor)
    assert bad["pass@1"] == 0.0 and bad["output"]["unparsed"] == 1


def test_input_prediction_is_judged_by_running_the_function(executor):
    p = Problem("t/1", "t", "function", entry_point="f", solutions=[Solution("s", "def f(a, b=1):\n    return a * b\n")],
                tests=[Test("0", "3, b=2", "6")])
    # any input that gives the output is right, not only the benchmark's own
    assert evaluate([p], ConstantModel("6"), directions=("input",), executor=executor)["pass@1"] == 1.0
    assert evaluate([p], ConstantModel("2, b=3"), directions=("input",), executor=executor)["pass@1"] == 1.0
    assert evaluate([p], ConstantModel("5"), directions=("input",), executor=executor)["pass@1"] == 0.0
    assert "assert f(??) == 6" in input_turn(p.solutions[0].code, "6", "f")
    assert parse_input_answer("[ANSWER]\nassert f(*[1, 2]) == 3\n[/ANSWER]") == "*[1, 2]"
    assert parse_input_answer("[ANSWER]\n3\n[/ANSWER]") is None


def test_unknown_model_specs_say_what_to_pass(tmp_path, executor):
    with pytest.raises(UserError, match="--base-url"):
        load_model(ModelSettings(spec="some-model"), executor)
    with pytest.raises(UserError, match="no config.json"):
        load_model(ModelSettings(spec=str(tmp_path)), executor)
    with pytest.raises(UserError, match="cannot write them"):
        OracleModel(executor).complete([Query([], "solve")])


def test_cli_writes_results_and_refuses_bad_input_in_one_line(tmp_path, shared_data):
    data = shared_data / "cruxeval" / "cruxeval.jsonl"
    out = tmp_path / "r.json"
    run = subprocess.run([*CLI, "eval", "cruxeval", "--data", str(data), "--model", "constant:''", "--max-items", "40",
                          "--direction", "output", "--direction", "input", "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    r = json.loads(out.read_text())
    assert r["n"] == 40 and r["model"] == "constant:''" and r["seed"] == 0 and len(r["data_version"]) == 16
    assert set(r["directions"]) == {"output", "input"} and "CRUXEval-I" in run.stdout
    for args, needle in [(["--data", str(tmp_path / "missing.jsonl"), "--model", "oracle"], "file not found"),
                         (["--data", str(data), "--model", "nope"], "--base-url"),
                         (["--data", str(data), "--model", "oracle", "--direction", "sideways"], "unknown direction")]:
        bad = subprocess.run([*CLI, "eval", "cruxeval", *args, "--out", str(tmp_path / "x.json")],
                             capture_output=True, text=True)
        assert bad.returncode == 2, bad.stderr
        assert needle in bad.stderr and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "x.json").exists()
    assert not list(Path(tmp_path).glob("*.tmp"))


def test_data_as_parquet_and_as_a_dataset_folder(shared_data, tmp_path, executor):
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    table = pj.read_json(shared_data / "cruxeval" / "cruxeval.jsonl").slice(0, 30)
    pq.write_table(table, tmp_path / "crux.parquet")
    (tmp_path / "ds" / "data").mkdir(parents=True)
    pq.write_table(table, tmp_path / "ds" / "data" / "test-00000-of-00001.parquet")
    for data in (tmp_path / "crux.parquet", tmp_path / "ds"):
        problems = load_benchmark(str(data))
        assert [p.problem_id for p in problems][:2] == ["cruxeval/sample_0", "cruxeval/sample_1"]
        assert evaluate(problems, OracleModel(executor), executor=executor)["pass@1"] == 1.0


def test_an_endpoint_that_is_down_fails_in_one_line_and_writes_nothing(tmp_path, shared_data):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "r.json"
    run = subprocess.run([*CLI, "eval", "cruxeval", "--data", str(shared_data / "cruxeval" / "cruxeval.jsonl"),
                          "--max-items", "3", "--model", "m", "--base-url", f"http://127.0.0.1:{port}/v1",
                          "--cache", str(tmp_path / "c.sqlite"), "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert "requests to" in run.stderr and "rerun the same command" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1 and not out.exists()
