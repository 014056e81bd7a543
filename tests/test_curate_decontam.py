"""Decontamination: benchmark formats, overlap on normalised code n-grams, and the stage on real
data: CRUXEval curated against CRUXEval drops all 800 rows; against HumanEval, none."""

from __future__ import annotations

import gzip
import json

import pytest
from curate_helpers import CRUX, HUMANEVAL, copy_run, need_data, write_jsonl

from curation.decontam import BenchmarkError, BenchmarkIndex, build_index, load_benchmark, programs_of
from curation.stage import Benchmark, CurateConfig, run_curate_stage

LOOP = "def f(xs):\n    total = 0\n    for x in xs:\n        if x > 0:\n            total += x * x\n    return total\n"


@pytest.mark.parametrize("record,programs", [
    ({"code": "def f(a): return a", "input": "1", "output": "1", "id": "sample_0"}, ["def f(a): return a"]),  # CRUXEval
    ({"task_id": "HumanEval/0", "prompt": "def f(a):\n    '''doc'''\n", "canonical_solution": "    return a\n"},
     ["def f(a):\n    '''doc'''\n    return a\n"]),  # HumanEval
    ({"task_id": 11, "text": "...", "code": "def g(b):\r\n  return b", "test_list": []}, ["def g(b):\r\n  return b"]),  # MBPP
    ({"question_id": "abc", "question_content": "...", "starter_code": "class Solution:\n    def f(self): pass"},
     ["class Solution:\n    def f(self): pass"]),  # LiveCodeBench code generation (no solution shipped)
    ({"question_id": "x", "code": "print(1)", "input": "", "output": "1"}, ["print(1)"]),  # LiveCodeBench execution
    ({"name": "p", "solutions": {"language": [3, 3], "solution": ["print(1)", "print(2)"]}}, ["print(1)", "print(2)"]),
    ({"problem_id": 1, "solutions": json.dumps(["print(3)"])}, ["print(3)"]),  # APPS / TACO
    ({"id": 1, "statement": "no code here"}, []),
])
def test_programs_of_each_format(record, programs):
    assert programs_of(record) == programs


def test_overlap_is_on_normalised_code(tmp_path):
    idx = BenchmarkIndex.build([("bench", [("b1", LOOP)])], n=6, threshold=0.8)
    renamed = LOOP.replace("xs", "values").replace("total", "acc").replace("def f", "def score")
    assert idx.check(renamed).describe() == "bench:b1 (overlap 1.00)"
    # a longer program containing the benchmark function is caught too
    assert idx.check(renamed + "\n\nprint(score([1, -2, 3]))\n").benchmark == "bench"
    assert idx.check("def f(xs):\n    return sorted(xs)[::-1]\n") is None
    # a one-liner common to many programs is not enough
    small = BenchmarkIndex.build([("bench", [("b2", "def f(s):\n    return len(s)")])], n=6, threshold=0.8)
    assert small.check("def g(text):\n    n = len(text)\n    return n * len(text.split()) + text.count('a')") is None
    assert small.check("def h(word):\n    return len(word)") is not None  # the same program, however short


def test_benchmark_files_jsonl_json_gz(tmp_path):
    jl = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "code": LOOP}])
    js = tmp_path / "b.json"
    js.write_text(json.dumps([{"task_id": "b1", "code": LOOP}]))
    gz = tmp_path / "c.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(json.dumps({"task_id": "c1", "prompt": "def f(xs):\n", "canonical_solution": "    return xs\n"}) + "\n")
    assert load_benchmark("a", jl) == [("a1", LOOP)]
    assert load_benchmark("b", js) == [("b1", LOOP)]
    assert load_benchmark("c", gz)[0][0] == "c1"
    idx = build_index([("a", str(jl)), ("c", str(gz))])
    assert idx.counts == {"a": 1, "c": 1}
    empty = write_jsonl(tmp_path / "e.jsonl", [{"id": 1, "statement": "words"}])
    with pytest.raises(BenchmarkError, match="no programs found"):
        load_benchmark("e", empty)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(BenchmarkError, match="bad.jsonl:1"):
        load_benchmark("bad", tmp_path / "bad.jsonl")


def test_cruxeval_against_itself_drops_all_and_against_humaneval_none(tmp_path):
    need_data()
    run = copy_run(tmp_path / "run")
    same = run_curate_stage(CurateConfig(run=str(run), benchmarks=[Benchmark("cruxeval", str(CRUX))], tokenizer="chars"))
    assert same["in"] == 800 and same["kept"] == 0
    assert same["by_reason"]["contaminated"] == 800 and same["contaminated_by_benchmark"] == {"cruxeval": 800}
    other = run_curate_stage(CurateConfig(run=str(run), benchmarks=[Benchmark("humaneval", str(HUMANEVAL))],
                                          tokenizer="chars"))
    assert other["by_reason"]["contaminated"] == 0 and other["contamination_hits_by_benchmark"] == {}
    assert other["benchmarks_indexed"] == {"humaneval": 164}
    assert other["kept"] + sum(other["by_reason"].values()) == 800
