"""APPS, TACO and LiveCodeBench loaders on small samples written in each upstream's real schema (the
dataset cards of codeparrot/apps, BAAI/TACO, livecodebench/code_generation_lite: every field a string,
tests as JSON text, LiveCodeBench's private tests compressed), run in the sandbox; the column mapping
on a file with unusual names; the registry."""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracegen.loaders import LOADERS, LoaderError, LoadReport, detect_format, load_many, load_problems
from tracegen.records import Limits
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- upstream-shaped rows

SUM_PY3 = "n = int(input())\nprint(sum(map(int, input().split())))\n"
SUM_PY3_SAME = "n = int(input())  # the count\n\nprint(sum(map(int, input().split())))\n"  # same tree
SUM_PY2 = "n = int(raw_input())\nprint sum(map(int, raw_input().split()))\n"
PROFIT = """class Solution:
    def maxProfit(self, prices: List[int]) -> int:
        best, low = 0, float('inf')
        for p in prices:
            low = min(low, p)
            best = max(best, p - low)
        return best
"""
PROFIT_PLAIN = "def maxProfit(prices):\n    return max([0] + [b - a for i, a in enumerate(prices) for b in prices[i:]])\n"


def apps_rows() -> list[dict]:
    return [
        {"problem_id": 17, "question": "Sum the n numbers.\n-----Input-----\n...",
         "solutions": json.dumps([SUM_PY3, SUM_PY2, SUM_PY3_SAME]),
         "input_output": json.dumps({"inputs": ["3\n1 2 3\n", "1\n5"], "outputs": ["6\n", ["5"]]}),
         "difficulty": "introductory", "url": "https://codeforces.com/problemset/problem/1/A", "starter_code": ""},
        {"problem_id": 2411, "question": "Say you have an array prices ...",
         "solutions": json.dumps(["from typing import List\n" + PROFIT, PROFIT_PLAIN]),
         "input_output": json.dumps({"fn_name": "maxProfit", "inputs": [[[7, 1, 5, 3, 6, 4]], [[7, 6, 4, 3, 1]]],
                                     "outputs": [[5], [0]]}),
         "difficulty": "interview", "url": "https://leetcode.com/problems/best-time-to-buy-and-sell-stock/",
         "starter_code": "class Solution:\n    def maxProfit(self, prices: List[int]) -> int:\n        "},
        # a test-set row without tests (APPS has some): counted, not fatal
        {"problem_id": 4999, "question": "q", "solutions": "", "input_output": "", "difficulty": "competition",
         "url": "", "starter_code": ""},
        # a broken row: input_output is cut off
        {"problem_id": 5000, "question": "q", "solutions": "[]", "input_output": "{\"inputs\": [\"1",
         "difficulty": "competition", "url": "", "starter_code": ""},
    ]


def taco_rows() -> list[dict]:
    common = {"difficulty": "EASY", "raw_tags": "['Sorting']", "name": "", "source": "codechef",
              "tags": "['Sorting']", "skill_types": "['Sorting']", "url": "https://www.codechef.com/problems/X",
              "Expected Auxiliary Space": "", "time_limit": "1 seconds", "date": "2021-01-01", "picture_num": "0",
              "memory_limit": "256 megabytes", "Expected Time Complexity": ""}
    return [
        dict(common, question="Sort and print.", starter_code="",
             solutions=json.dumps(["input()\nprint(*sorted(map(int, input().split())))\n"]),
             input_output=json.dumps({"inputs": ["3\n3 1 2\n"], "outputs": ["1 2 3\n"]})),
        dict(common, question="Return the sorted list.", starter_code="def sort_it(xs):\n\t",
             solutions=json.dumps(["def sort_it(xs):\n    return sorted(xs)\n"]),
             input_output=json.dumps({"fn_name": "sort_it", "inputs": [[[3, 1, 2]], [[]]], "outputs": [[[1, 2, 3]], [[]]]})),
    ]


def _lcb_compressed(cases: list[dict]) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


def lcb_rows() -> list[dict]:
    return [
        {"question_title": "Add Them", "question_content": "Print A+B.", "platform": "atcoder",
         "question_id": "abc300_a", "contest_id": "abc300", "contest_date": "2023-04-29T00:00:00",
         "starter_code": "", "difficulty": "easy",
         "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
         "private_test_cases": _lcb_compressed([{"input": "10 20\n", "output": "30\n", "testtype": "stdin"}]),
         "metadata": "{}"},
        {"question_title": "Max Score", "question_content": "Return the sum of the k largest.", "platform": "leetcode",
         "question_id": "3000", "contest_id": "weekly-contest-380", "contest_date": "2024-01-13T00:00:00",
         "starter_code": "class Solution:\n    def maxScore(self, nums: List[int], k: int) -> int:\n        ",
         "difficulty": "medium",
         "public_test_cases": json.dumps([{"input": "[1, 5, 3]\n2", "output": "8", "testtype": "functional"}]),
         "private_test_cases": json.dumps([{"input": "[true, false]\n1", "output": "true", "testtype": "functional"}]),
         "metadata": json.dumps({"func_name": "maxScore"})},
        # tampered private tests: a pickle that would call os.system must be refused, not run
        {"question_title": "Evil", "question_content": "", "platform": "atcoder", "question_id": "abc999_z",
         "contest_id": "abc999", "contest_date": "2024-01-01T00:00:00", "starter_code": "", "difficulty": "hard",
         "public_test_cases": json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]),
         "private_test_cases": base64.b64encode(zlib.compress(
             b"cos\nsystem\n(S'touch /tmp/selfexec-lcb-pwned'\ntR.")).decode(),
         "metadata": "{}"},
    ]


def _write(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _passes(problem, solution) -> list[bool]:
    with Sandbox() as box:
        return [trace_one(problem, solution, t, Limits(timeout_s=5), box, trace=False).matches_expected
                for t in problem.tests]


# --------------------------------------------------------------------------- APPS


def test_apps_stdin_and_call_based(tmp_path):
    path = _write(apps_rows(), tmp_path / "apps" / "train.jsonl")
    assert detect_format(path) == "apps"
    report = LoadReport()
    stdin, call = load_problems(path, report=report)
    assert (stdin.problem_id, stdin.source, stdin.kind, stdin.license) == ("apps/17", "apps", "stdio", "MIT")
    assert [(t.input, t.output) for t in stdin.tests] == [("3\n1 2 3\n", "6\n"), ("1\n5\n", "5\n")]
    # the Python 2 solution and the comment-only duplicate are dropped and counted
    assert [s.solution_id for s in stdin.solutions] == ["sol-0"]
    assert dict(report.dropped_solutions) == {"not python 3": 1, "duplicate solution": 1}
    assert stdin.meta["difficulty"] == "introductory" and "dropped_solutions" not in stdin.meta
    # call-based: arguments as Python source, the upstream one-element output wrapping removed
    assert (call.kind, call.entry_point) == ("function", "maxProfit")
    assert [(t.input, t.output) for t in call.tests] == [("[7, 1, 5, 3, 6, 4]", "5"), ("[7, 6, 4, 3, 1]", "0")]
    assert "return Solution().maxProfit(*args)" in call.solutions[0].code  # the LeetCode class is adapted
    assert "Solution()" not in call.solutions[1].code  # a plain function is left alone
    for problem in (stdin, call):
        for s in problem.solutions:
            assert all(_passes(problem, s)), (problem.problem_id, s.solution_id)
    # the two unusable rows are counted with their reasons; loading went on
    assert report.rows == 4 and report.problems == 2
    assert dict(report.skipped_rows) == {"no tests": 1, "input_output is not JSON": 1}
    assert "line 4" in report.examples["input_output is not JSON"]
    assert "2 of 4 rows skipped" in report.summary()
    # a line that is not JSON at all is one more counted row in a scraped set
    with path.open("a") as f:
        f.write('{"problem_id": 5001, "question": "cut off\n')
    report = LoadReport()
    assert len(load_problems(path, report=report)) == 2 and report.skipped_rows["not valid JSON"] == 1


# --------------------------------------------------------------------------- TACO


def test_taco_parquet_dataset_folder(tmp_path):
    folder = tmp_path / "TACO"
    _write(taco_rows()[:1], folder / "ALL" / "train-00000-of-00002.parquet")
    _write(taco_rows()[1:], folder / "ALL" / "train-00001-of-00002.parquet")
    assert detect_format(folder) == "taco"
    stdin, call = load_problems(folder)
    assert stdin.problem_id == "taco/train-00000-of-00002-1" and call.problem_id == "taco/train-00001-of-00002-1"
    assert (stdin.kind, stdin.source, stdin.license) == ("stdio", "taco", "Apache-2.0")
    assert stdin.meta["skill_types"] == "['Sorting']" and stdin.meta["time_limit"] == "1 seconds"
    assert (call.kind, call.entry_point, [t.output for t in call.tests]) == ("function", "sort_it", ["[1, 2, 3]", "[]"])
    assert all(_passes(stdin, stdin.solutions[0])) and all(_passes(call, call.solutions[0]))


# --------------------------------------------------------------------------- LiveCodeBench


def test_livecodebench_stdin_functional_and_compressed_private_tests(tmp_path):
    path = _write(lcb_rows(), tmp_path / "test.jsonl")
    assert detect_format(path) == "livecodebench"
    report = LoadReport()
    atcoder, leetcode = load_problems(path, report=report)
    assert (atcoder.problem_id, atcoder.kind, atcoder.solutions) == ("livecodebench/abc300_a", "stdio", [])
    assert [(t.test_id, t.input, t.output, t.public) for t in atcoder.tests] == [
        ("public-0", "1 2\n", "3\n", True), ("private-1", "10 20\n", "30\n", False)]
    assert (leetcode.kind, leetcode.entry_point) == ("function", "maxScore")
    assert [(t.input, t.output, t.public) for t in leetcode.tests] == [("[1, 5, 3], 2", "8", True),
                                                                       ("[True, False], 1", "True", False)]
    assert leetcode.meta["platform"] == "leetcode" and leetcode.meta["contest_date"].startswith("2024")
    # the tampered row is skipped with its reason, and nothing ran
    assert dict(report.skipped_rows) == {"private_test_cases unreadable": 1}
    assert "refusing to load" in report.examples["private_test_cases unreadable"]
    assert not Path("/tmp/selfexec-lcb-pwned").exists()


# --------------------------------------------------------------------------- column mapping

ODD_ROWS = [
    {"Task UID": "q-1", "Program Text": SUM_PY3, "Feed": "2\n4 5", "Should Print": "9", "Blurb": "sum"},
    {"Task UID": "q-2", "Program Text": "print(input()[::-1])\n", "Feed": "abc\n", "Should Print": "cba\n", "Blurb": ""},
    {"Task UID": "", "Program Text": "print(1)\n", "Feed": "", "Should Print": "1\n", "Blurb": "no id"},
]
ODD_MAP = {"problem_id": "Task UID", "code": "Program Text", "input": "Feed", "output": "Should Print",
           "statement": "Blurb"}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_column_mapping_reads_unusual_names(tmp_path, suffix):
    path = _write(ODD_ROWS, tmp_path / f"odd{suffix}")
    with pytest.raises(LoaderError, match="cannot detect the format.*--columns"):
        load_problems(path)
    report = LoadReport()
    first, second = load_problems(path, columns=ODD_MAP, report=report)
    assert (first.problem_id, first.kind, first.statement, first.source) == ("q-1", "stdio", "sum", "columns")
    assert [(t.input, t.output) for t in first.tests] == [("2\n4 5\n", "9")]
    assert dict(report.skipped_rows) == {"no problem_id": 1}
    assert all(_passes(first, first.solutions[0])) and all(_passes(second, second.solutions[0]))
    # the CLI form of the same mapping
    text = ",".join(f"{k}={v}" for k, v in ODD_MAP.items())
    assert load_many([path], columns=text) == [first, second]


def test_column_mapping_function_problems_with_a_tests_column(tmp_path):
    rows = [{"key": 1, "fn": "double", "src": "def double(x):\n    return 2 * x\n",
             "cases": json.dumps([{"input": "3", "output": "6"}, {"input": "-1", "output": "-2"}])}]
    path = _write(rows, tmp_path / "fns.jsonl")
    (p,) = load_problems(path, columns={"problem_id": "key", "code": "src", "entry_point": "fn", "tests": "cases"})
    assert (p.problem_id, p.kind, p.entry_point, len(p.tests)) == ("1", "function", "double", 2)
    assert all(_passes(p, p.solutions[0]))


@pytest.mark.parametrize("mapping, words", [
    (dict(ODD_MAP, code="Source"), ["column 'Source' (mapped to code) is not in the file", "Task UID", "--columns"]),
    ({"code": "Program Text"}, ["map problem_id"]),
    (dict(ODD_MAP, solution="Program Text"), ["'solution' is not a field"]),
    ({"problem_id": "Task UID"}, ["at least one of code, solutions, tests or input"]),
])
def test_column_mapping_errors_name_the_problem_and_the_fix(tmp_path, mapping, words):
    path = _write(ODD_ROWS, tmp_path / "odd.jsonl")
    with pytest.raises(LoaderError) as info:
        load_problems(path, columns=mapping)
    for w in words:
        assert w in str(info.value)


def _selfexec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"}, timeout=600)


def test_trace_cli_with_columns(tmp_path):
    path = _write(ODD_ROWS, tmp_path / "odd.jsonl")
    text = ",".join(f"{k}={v}" for k, v in ODD_MAP.items())
    res = _selfexec("trace", str(path), "--out", str(tmp_path / "run"), "--columns", text)
    assert res.returncode == 0, res.stderr
    stats = json.loads((tmp_path / "run" / "stats" / "trace.json").read_text())
    assert stats["rows"] == 2 and stats["by_status"] == {"ok": 2}
    assert stats["load"]["skipped_rows"] == {"no problem_id": 1} and "skipped rows" in res.stdout
    bad = _selfexec("trace", str(path), "--out", str(tmp_path / "run2"), "--columns", "problem_id=Task UID,code=Src")
    assert bad.returncode == 2 and "'Src' (mapped to code) is not in the file" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "run2").exists()


# --------------------------------------------------------------------------- registry


def test_registry_has_one_entry_per_format_and_strict_sets_stay_strict(tmp_path):
    assert {"canonical", "cruxeval", "humaneval", "mbpp", "mbpp_sanitized", "codecontests_py300",
            "code_contests_hf", "apps", "taco", "livecodebench"} == set(LOADERS)
    assert {name for name, loader in LOADERS.items() if loader.lenient} == {"apps", "taco", "livecodebench"}
    # a bad CRUXEval row still stops the load with its line (curated sets are strict)
    path = tmp_path / "cruxeval.jsonl"
    path.write_text(json.dumps({"id": "s", "code": "def f(): pass", "input": "", "output": 1}) + "\n")
    with pytest.raises(LoaderError, match="line 1: field 'output'"):
        load_problems(path)


def test_recipe_trace_columns_reach_the_loader(tmp_path):
    from selfexec.recipe import load_recipe, stage_configs
    from tracegen.stage import load_config_problems

    path = _write(ODD_ROWS, tmp_path / "odd.parquet")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"run": str(tmp_path / "run"), "trace": {"inputs": [str(path)], "columns": ODD_MAP}}))
    cfg = stage_configs(load_recipe(recipe))["trace"]
    assert cfg.columns == ODD_MAP
    report = LoadReport()
    assert [p.problem_id for p in load_config_problems(cfg, report)] == ["q-1", "q-2"]
    assert report.skipped_rows == {"no problem_id": 1}
