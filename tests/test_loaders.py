"""Problem loaders: counts and shapes on the bundled data, reference solutions passing every converted
test (run with plain Python in a subprocess, not the project's sandbox), error messages, round trips."""

from __future__ import annotations

import functools
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tracegen.loaders import FORMATS, LoaderError, detect_format, load_many, load_problems, write_canonical_jsonl
from tracegen.loaders.function_sets import stable_repr
from tracegen.records import Problem, Solution
from tracegen.records import Test as ProblemTest  # a class named Test* would be collected

# name -> (path under shared/data, format, number of problems)
DATASETS = {
    "cruxeval": ("cruxeval/cruxeval.jsonl", "cruxeval", 800),
    "humaneval": ("humaneval/HumanEval.jsonl.gz", "humaneval", 164),
    "mbpp": ("mbpp/mbpp.jsonl", "mbpp", 974),
    "mbpp_sanitized": ("mbpp/sanitized-mbpp.json", "mbpp_sanitized", 427),
    "codecontests": ("codecontests_py300/codecontests_py300.jsonl", "codecontests_py300", 300),
}


@functools.cache
def _load(path: Path) -> tuple[Problem, ...]:
    return tuple(load_problems(path))


def _problems(shared_data: Path, name: str) -> dict[str, Problem]:
    return {p.problem_id: p for p in _load(shared_data / DATASETS[name][0])}


# --------------------------------------------------------------------------- bundled data


@pytest.mark.parametrize("name", DATASETS)
def test_counts_and_detection(shared_data, name, capsys):
    rel, fmt, count = DATASETS[name]
    assert detect_format(shared_data / rel) == fmt
    problems = load_problems(shared_data / rel, format=fmt)
    assert len(problems) == count
    assert len({p.problem_id for p in problems}) == count
    for p in problems:
        assert p.solutions and all(s.label == "correct" for s in p.solutions)
        assert p.tests and len({t.test_id for t in p.tests}) == len(p.tests)
        assert p.kind == ("stdio" if name == "codecontests" else "function")
        assert p.kind == "stdio" or p.entry_point
    assert capsys.readouterr() == ("", "")  # loaders print nothing


def test_cruxeval_shape(shared_data):
    p = _problems(shared_data, "cruxeval")["cruxeval/sample_0"]
    assert (p.source, p.kind, p.entry_point, p.license) == ("cruxeval", "function", "f", "MIT")
    assert [(s.solution_id, s.label) for s in p.solutions] == [("ref", "correct")]
    assert p.tests == [ProblemTest("0", "[1, 1, 3, 1, 3, 1]", "[(4, 1), (4, 1), (4, 1), (4, 1), (2, 3), (2, 3)]", True)]


def test_humaneval_tests(shared_data):
    problems = _problems(shared_data, "humaneval")
    p0 = problems["HumanEval/0"]
    assert p0.solutions[0].code.startswith(p0.statement)  # code = prompt + canonical_solution
    assert [t.test_id for t in p0.tests] == [str(i) for i in range(7)]  # all plain equalities: no check
    assert p0.tests[0].input == "[1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3" and p0.tests[0].output == "True"
    # `assert True, "..."` lines are no-ops and do not force a check test (HumanEval/1 has one)
    assert all(t.check is None for t in problems["HumanEval/1"].tests)
    # tolerances (2), random loops (32, 38), truthiness (52): a whole-check test besides the literal ones
    for task in ("HumanEval/2", "HumanEval/32", "HumanEval/38", "HumanEval/52"):
        check = problems[task].tests[-1]
        assert (check.test_id, check.input, check.output, check.public) == ("check", "", None, False)
        assert check.check.endswith("\ncheck(candidate)\n") and "METADATA" not in check.check
    assert sum(1 for p in problems.values() for t in p.tests if t.check) == 16
    # public = the call is shown in the docstring
    assert sum(t.public for t in p0.tests) == 0
    p23 = problems["HumanEval/23"]  # strlen: '>>> strlen('')' and '>>> strlen('abc')'
    assert [t.input for t in p23.tests if t.public] == ["''"]


def test_mbpp_tests(shared_data):
    mbpp = _problems(shared_data, "mbpp")
    assert all("\r" not in p.solutions[0].code for p in mbpp.values())
    p1 = mbpp["mbpp/1"]
    assert (p1.entry_point, p1.license) == ("min_cost", "CC-BY-4.0")
    assert [(t.test_id, t.public) for t in p1.tests] == [("0", True), ("1", False), ("2", False)]
    assert p1.tests[0].input == "[[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2" and p1.tests[0].output == "8"
    # `assert int(lobb_num(5, 3)) == 35`: the entry point is the called function the code defines
    assert mbpp["mbpp/912"].entry_point == "lobb_num"
    # test_setup_code builds trees with the solution's Node class: every test becomes a check with it
    for t in mbpp["mbpp/367"].tests:
        assert t.check.startswith("is_tree_balanced = candidate\nroot = Node(1)") and "\r" not in t.check
    challenge = [t for p in mbpp.values() for t in p.tests if t.test_id.startswith("challenge-")]
    assert len(challenge) == 16 and not any(t.public for t in challenge)

    sanitized = _problems(shared_data, "mbpp_sanitized")
    p2 = sanitized["mbpp_sanitized/2"]
    assert p2.entry_point == "similar_elements"
    assert p2.tests[0].check == (
        "similar_elements = candidate\nassert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"
    )
    # test_imports are prepended to every test, plain equalities included
    assert [t.check for t in sanitized["mbpp_sanitized/85"].tests][0] == (
        "surfacearea_sphere = candidate\nimport math\n"
        "assert math.isclose(surfacearea_sphere(10), 1256.6370614359173, rel_tol=0.001)\n"
    )
    assert all(t.check for t in sanitized["mbpp_sanitized/85"].tests)


def test_set_outputs_are_stable(shared_data):
    mbpp = _problems(shared_data, "mbpp")
    outputs = [t.output for p in mbpp.values() for t in p.tests if t.output and t.output.startswith("{'")]
    assert "{'x', 'y', 'z'}" in outputs
    assert stable_repr({"b", "a", ("c",)}) == "{'a', 'b', ('c',)}"
    assert stable_repr(frozenset({2, 1})) == "frozenset({1, 2})" and stable_repr(set()) == "set()"
    assert stable_repr([(1,), {"k": -0.5}, None]) == repr([(1,), {"k": -0.5}, None])


def test_codecontests_tests(shared_data):
    problems = list(_problems(shared_data, "codecontests").values())
    assert sum(len(p.tests) for p in problems) == 14_779
    p = problems[0]
    assert p.problem_id == "codecontests/1041_e_tree_reconstruction_8858"
    assert (p.source, p.license, p.entry_point) == ("codecontests_py300", "CC-BY-4.0", "")
    assert p.meta == {
        "cluster": "cluster0",
        "tags": "constructive algorithms,data structures,graphs,greedy",
        "source_path": "problems/cluster0/1041_e_tree_reconstruction_8858",
        "difficulty": "11",
    }
    assert [t.test_id for t in p.tests[:3]] == ["1", "2", "3"]
    for p in problems:
        assert all(t.input.endswith("\n") and "\r" not in t.input for t in p.tests)
        # public tests are the statement's samples, and come first
        flags = [t.public for t in p.tests]
        k = sum(flags)
        assert 1 <= k <= 6 and flags == [True] * k + [False] * (len(flags) - k)
        assert p.solutions[0].solution_id == "ref"


# --------------------------------------------------------------------------- reference solutions

# Runs in a fresh interpreter: each test executes the reference in a fresh namespace. Function tests
# evaluate the argument list in the solution's namespace as `f(<input>)` does: CRUXEval inputs may be
# empty (sample_135), end in a comma (sample_452) or name a global of the code (sample_258,
# `thigh_o_two[:]`), so `eval("(" + input + ",)")` in an empty namespace would be wrong for them.
# Check tests exec `check` with `candidate` bound. In "dummy" mode each check test runs with a candidate
# returning object() and one returning None, and a check passing with both is reported (it tests nothing).
_RUNNER = r'''
import ast, contextlib, io, json, math, signal, sys

class Timeout(BaseException):
    pass

def on_alarm(signum, frame):
    raise Timeout()

def close(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and (isinstance(a, float) or isinstance(b, float)):
        return a == b or math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-5)
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b

def run(problem, test, candidate=None):
    ns = {"__name__": "__main__"}
    exec(compile(problem["solutions"][0]["code"], "<solution>", "exec"), ns)
    func = candidate or ns[problem["entry_point"]]
    if test["check"] is not None:
        ns["candidate"] = func
        exec(compile(test["check"], "<check>", "exec"), ns)
        return None
    args, kwargs = eval("(lambda *a, **k: (a, k))(" + test["input"] + ")", ns)
    got, want = func(*args, **kwargs), ast.literal_eval(test["output"])
    return None if close(got, want) else f"got {got!r}, want {want!r}"

def attempt(problem, test, timeout, candidate=None):
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return run(problem, test, candidate)
    except Timeout:
        return "timeout"
    except BaseException as e:
        return f"{type(e).__name__}: {e}"[:300]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

req = json.load(sys.stdin)
signal.signal(signal.SIGALRM, on_alarm)
report = []
for p in req["problems"]:
    for t in p["tests"]:
        if not req["dummy"]:
            why = attempt(p, t, req["timeout"])
            if why is not None:
                report.append([p["problem_id"], t["test_id"], why])
        elif t["check"] is not None:
            passes = [attempt(p, t, req["timeout"], dummy) is None for dummy in (lambda *a, **k: object(), lambda *a, **k: None)]
            if all(passes):
                report.append([p["problem_id"], t["test_id"], "passes with dummy candidates"])
json.dump(report, sys.stdout)
'''


def _run_reference(problems, *, dummy: bool = False, timeout: float = 10.0) -> list[list[str]]:
    request = {"problems": [p.to_dict() for p in problems], "dummy": dummy, "timeout": timeout}
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER], input=json.dumps(request), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cruxeval", "humaneval", "mbpp", "mbpp_sanitized"])
def test_reference_solutions_pass_every_test(shared_data, name):
    # No upstream item needs excusing: every reference passes every converted test (CPython 3.11).
    failures = _run_reference(_load(shared_data / DATASETS[name][0]))
    assert failures == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["humaneval", "mbpp", "mbpp_sanitized"])
def test_check_tests_reject_dummy_candidates(shared_data, name):
    problems = [p for p in _load(shared_data / DATASETS[name][0]) if any(t.check for t in p.tests)]
    assert problems
    assert _run_reference(problems, dummy=True) == []


# --------------------------------------------------------------------------- code_contests_hf


def _hf_rows() -> list[dict]:
    empty = {"input": [], "output": []}
    return [
        {
            "name": "1_A. Sum",
            "description": "Print a + b.",
            "public_tests": {"input": ["1 2"], "output": ["3\n"]},
            "private_tests": {"input": ["5 5\r\n"], "output": ["10\n"]},
            "generated_tests": {"input": ["0 0\n", "7 1\n"], "output": ["0\n", "8\n"]},
            "solutions": {
                "language": [3, 2, 1, 3],
                "solution": ["print(sum(map(int, input().split())))", "int main(){}", "print 3", "a,b=map(int,input().split())\nprint(a+b)"],
            },
            "incorrect_solutions": {"language": [4, 3], "solution": ["class A {}", "print(0)"]},
            "difficulty": 7,
            "cf_rating": 800,
            "cf_tags": ["math", "implementation"],
            "time_limit": {"seconds": 2, "nanos": 500000000},
        },
        {
            "name": "2_B. Cpp only",
            "description": "Nothing in Python.",
            "public_tests": {"input": ["1\n"], "output": ["1\n"]},
            "private_tests": empty,
            "generated_tests": empty,
            "solutions": {"language": [2], "solution": ["int main(){}"]},
            "incorrect_solutions": {"language": [], "solution": []},
            "difficulty": 8,
            "cf_rating": 1200,
            "cf_tags": [],
            "time_limit": {"seconds": 1, "nanos": 0},
        },
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_code_contests_hf(tmp_path, suffix):
    path = tmp_path / f"train-00000-of-00001{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in _hf_rows()))
    else:
        pq.write_table(pa.Table.from_pylist(_hf_rows()), path)
    assert detect_format(path) == "code_contests_hf"
    first, second = load_problems(path)
    assert (first.problem_id, first.source, first.kind, first.license) == ("codecontests/1_A. Sum", "code_contests", "stdio", "CC-BY-4.0")
    assert first.statement == "Print a + b."
    assert [(s.solution_id, s.label) for s in first.solutions] == [("correct-0", "correct"), ("correct-3", "correct"), ("incorrect-1", "incorrect")]
    assert first.solutions[2].code == "print(0)"
    assert [(t.test_id, t.input, t.output, t.public) for t in first.tests] == [
        ("public-0", "1 2\n", "3\n", True),
        ("private-0", "5 5\n", "10\n", False),
        ("generated-0", "0 0\n", "0\n", False),
        ("generated-1", "7 1\n", "8\n", False),
    ]
    assert first.meta == {"difficulty": "7", "cf_rating": "800", "tags": "math,implementation", "time_limit_s": "2.5"}
    assert second.solutions == [] and [t.test_id for t in second.tests] == ["public-0"]


# --------------------------------------------------------------------------- canonical format


def _sample_problems() -> list[Problem]:
    return [
        Problem("mine/1", "mine", "function", "Add.", "add", [Solution("a", "def add(x, y):\n    return x + y\n", "correct"),
                Solution("b", "def add(x, y):\n    return x - y\n", "incorrect")],
                [ProblemTest("0", "1, 2", "3", True), ProblemTest("c", "", None, False, "assert candidate(2, 2) == 4\n")],
                "MIT", {"origin": "hand-written"}),
        Problem("mine/2", "mine", "stdio", "Echo \u00e9.", "", [Solution("s", "print(input())")],
                [ProblemTest("0", "h\u00e9\n", "h\u00e9\n")]),
    ]


def test_canonical_roundtrip_jsonl(tmp_path, shared_data):
    problems = _sample_problems() + list(_load(shared_data / DATASETS["humaneval"][0]))[:20] + list(
        _load(shared_data / DATASETS["codecontests"][0]))[:3]
    for name in ("all.jsonl", "all.jsonl.gz"):
        path = write_canonical_jsonl(problems, tmp_path / "out" / name)
        assert detect_format(path) == "canonical"
        assert load_problems(path) == problems
    assert len((tmp_path / "out" / "all.jsonl").read_text().splitlines()) == len(problems)


def test_canonical_parquet(tmp_path):
    problems = _sample_problems()
    path = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist([p.to_dict() for p in problems]), path)  # meta becomes a struct
    assert detect_format(path) == "canonical"
    assert load_problems(path) == problems


def test_load_many_rejects_duplicate_ids(tmp_path):
    a = write_canonical_jsonl(_sample_problems(), tmp_path / "a.jsonl")
    b = write_canonical_jsonl(_sample_problems()[:1], tmp_path / "b.jsonl")
    c = write_canonical_jsonl([Problem("other/1", "other", "stdio")], tmp_path / "c.jsonl")
    assert [p.problem_id for p in load_many([a, c])] == ["mine/1", "mine/2", "other/1"]
    with pytest.raises(LoaderError, match=r"problem_id 'mine/1' appears in both .*a\.jsonl and .*b\.jsonl"):
        load_many([a, b])


# --------------------------------------------------------------------------- error messages

_CRUX = {"code": "def f(x):\n    return x", "input": "1", "output": "1", "id": "sample_0"}
_CANON = {"problem_id": "p/1", "source": "mine", "kind": "stdio", "solutions": [], "tests": []}


def _jsonl(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


ERROR_CASES = [
    # (id, file name, content, format, fragments the message must contain)
    ("bad-json", "c.jsonl", _jsonl(_CRUX, '{"id": "sample_1", '), "cruxeval",
     ["c.jsonl line 2:", "not valid JSON", "one JSON object"]),
    ("not-object", "c.jsonl", _jsonl(_CRUX, "[1, 2]"), "cruxeval", ["c.jsonl line 2:", "expected a JSON object", "a list"]),
    ("missing-field", "c.jsonl", _jsonl({k: v for k, v in _CRUX.items() if k != "code"}), "cruxeval",
     ["c.jsonl line 1: field 'code' is missing (expected a string with the function source)"]),
    # blank lines are skipped but still counted
    ("null-field", "c.jsonl", "\n" + _jsonl({**_CRUX, "code": None}), "cruxeval",
     ["c.jsonl line 2: field 'code' is null (expected a string with the function source)"]),
    ("wrong-type", "c.jsonl", _jsonl({**_CRUX, "input": 5}), "cruxeval",
     ["line 1: field 'input' is an integer (expected a string with the argument list"]),
    ("bad-kind", "p.jsonl", _jsonl(_CANON, {**_CANON, "problem_id": "p/2", "kind": "script"}), "canonical",
     ["p.jsonl line 2: field 'kind' is 'script' (expected one of stdio, function)"]),
    ("bad-label", "p.jsonl", _jsonl({**_CANON, "solutions": [{"solution_id": "a", "code": "", "label": "ok"}]}), "canonical",
     ["line 1: field 'solutions[0].label' is 'ok' (expected one of correct, incorrect, unknown)"]),
    ("test-type", "p.jsonl", _jsonl({**_CANON, "tests": [{"test_id": "0", "input": 3}]}), "canonical",
     ["line 1: field 'tests[0].input' is an integer (expected a string"]),
    ("public-type", "p.jsonl", _jsonl({**_CANON, "tests": [{"test_id": "0", "input": "", "public": 1}]}), "canonical",
     ["field 'tests[0].public' is an integer (expected true or false)"]),
    ("unknown-key", "p.jsonl", _jsonl({**_CANON, "difficulty": 3}), "canonical",
     ["line 1: field 'difficulty' is not part of the canonical schema", "put extra data in 'meta'"]),
    ("meta-type", "p.jsonl", _jsonl({**_CANON, "meta": {"n": 3}}), "canonical", ["field 'meta.n' is not a string"]),
    ("no-entry-point", "p.jsonl", _jsonl({**_CANON, "kind": "function"}), "canonical", ["field 'entry_point' is empty"]),
    ("dup-test-id", "p.jsonl", _jsonl({**_CANON, "tests": [{"test_id": "0", "input": ""}] * 2}), "canonical",
     ["test_id '0' is used twice"]),
    ("dup-problem", "p.jsonl", _jsonl(_CANON, _CANON), "canonical", ["p.jsonl line 2: problem_id 'p/1' was already used at", "line 1"]),
    ("mbpp-assert-type", "m.jsonl", _jsonl({"task_id": 1, "text": "t", "code": "def g(): return 1", "test_list": ["assert g() == 1", 7]}),
     "mbpp", ["m.jsonl line 1: field 'test_list[1]' is an integer"]),
    ("mbpp-no-call", "m.jsonl", _jsonl({"task_id": 1, "text": "t", "code": "def g(): return 1", "test_list": ["assert h() == 1"]}),
     "mbpp", ["field 'test_list[0]' calls no function defined in 'code'"]),
    ("humaneval-syntax", "h.jsonl", _jsonl({"task_id": "H/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
                                              "entry_point": "f", "test": "def check(candidate:\n"}),
     "humaneval", ["h.jsonl line 1: field 'test' is not valid Python"]),
    ("hf-mismatch", "cc.jsonl", _jsonl({"name": "x", "description": "", "solutions": {"language": [], "solution": []},
                                          "public_tests": {"input": ["1"], "output": []}}),
     "code_contests_hf", ["cc.jsonl line 1: field 'public_tests' has 1 inputs but 0 outputs"]),
    ("json-not-list", "s.json", json.dumps({"task_id": 1}), "mbpp_sanitized", ["s.json: expected a JSON list", "got an object"]),
    ("json-record", "s.json", json.dumps([{"task_id": 1, "prompt": "p", "code": "def g(): pass", "test_list": "assert g()"}]),
     "mbpp_sanitized", ["s.json record 1: field 'test_list' is a string (expected a list"]),
    ("suffix", "p.csv", "a,b\n", "canonical", ["p.csv: unsupported file type", ".jsonl"]),
    ("unknown-format", "p.jsonl", _jsonl(_CANON), "cannonical", ["unknown format 'cannonical'", "valid formats: auto, canonical"]),
    ("undetectable", "x.jsonl", _jsonl({"prompt": "p", "samples": []}), "auto",
     ["x.jsonl: cannot detect the format", "prompt, samples", "canonical, cruxeval", "--format"]),
    ("empty-auto", "e.jsonl", "\n", "auto", ["e.jsonl: cannot detect the format of a file with no records", "--format"]),
]


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_messages(tmp_path, case):
    _, name, content, fmt, fragments = case
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LoaderError) as info:
        load_problems(path, format=fmt)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(LoaderError, match="file not found"):
        load_problems(tmp_path / "nope.jsonl")
    bad_gz = tmp_path / "x.jsonl.gz"
    bad_gz.write_bytes(b"not gzip")
    with pytest.raises(LoaderError, match="not a valid gzip file"):
        load_problems(bad_gz, format="canonical")
    latin = tmp_path / "l.jsonl"
    latin.write_bytes(b'{"id": "\xe9"}\n')
    with pytest.raises(LoaderError, match="not valid UTF-8"):
        load_problems(latin, format="cruxeval")
    with gzip.open(tmp_path / "empty.jsonl.gz", "wt") as f:
        f.write("")
    assert load_problems(tmp_path / "empty.jsonl.gz", format="canonical") == []
    assert "auto" in FORMATS and isinstance(LoaderError("x"), ValueError)


def test_detection_uses_the_file_name_to_break_ties(tmp_path):
    # a record carrying both MBPP flavours' keys: the name decides, and without a hint it is an error
    both = {"task_id": 2, "text": "t", "prompt": "p", "code": "def g():\n    return 1", "test_list": ["assert g() == 1"]}
    hinted = tmp_path / "sanitized-mine.jsonl"
    hinted.write_text(_jsonl(both))
    assert detect_format(hinted) == "mbpp_sanitized"
    assert load_problems(hinted)[0].problem_id == "mbpp_sanitized/2"
    plain = tmp_path / "mine.jsonl"
    plain.write_text(_jsonl(both))
    with pytest.raises(LoaderError, match="matches several formats: mbpp, mbpp_sanitized; pass the format"):
        detect_format(plain)
