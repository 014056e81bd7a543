"""Input prediction: the reward as a table (right, other right, wrong, unreadable, not a literal, hanging,
memory-hungry, hostile), and the `input_prediction` config of a published demo dataset, loaded with
plain `datasets` and scored by running its own reference inputs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation.answers import input_answer
from finetune.input_prediction import input_prediction_reward, literal_arguments
from tracegen.sandbox import resolve_mode

ROOT = Path(__file__).resolve().parents[1]

CODE = """def f(xs, k):
    out = []
    for x in xs:
        if x > k:
            out.append(x - k)
    return out
"""
LOOP = """def f(n):
    while n != 0:
        n -= 2
    return n
"""
ALLOC = "def f(n):\n    return len([0] * n)\n"
SHELL = "def f(cmd):\n    import os\n    return os.system(cmd)\n"
PWNED = Path("/tmp/selfexec-input-prediction-pwned")


def _answer(args: str, code: str = "f") -> str:
    return f"Let me think.\n[ANSWER]\nassert {code}({args}) == ??\n[/ANSWER]"


# (id, code, completion, expected_output, reward)
CASES = [
    ("reference", CODE, _answer("[5, 1, 7], 3"), "[2, 4]", 1.0),
    ("another-input-works-too", CODE, _answer("[4, 5], 2"), "[2, 3]", 1.0),
    ("keywords", CODE, _answer("xs=[9], k=4"), "[5]", 1.0),
    ("float-tolerance", "def f(x):\n    return x / 3\n", _answer("1.0"), "0.3333333", 1.0),
    ("wrong-output", CODE, _answer("[1, 2], 3"), "[2, 4]", -1.0),
    ("conversational", CODE, [{"role": "assistant", "content": _answer("[5, 1, 7], 3").replace("??", "[2, 4]")}],
     "[2, 4]", 1.0),
    ("no-answer-block", CODE, "the input is [5, 1, 7], 3", "[2, 4]", -1.0),
    ("unparseable", CODE, "[ANSWER]\nassert f([5, 1 == [2, 4]\n[/ANSWER]", "[2, 4]", -1.0),
    ("not-a-call", CODE, "[ANSWER]\n[5, 1, 7]\n[/ANSWER]", "[2, 4]", -1.0),
    ("raises", CODE, _answer("None, 3"), "[2, 4]", -1.0),
    ("wrong-arity", CODE, _answer("[5, 1, 7]"), "[2, 4]", -1.0),
    # not literals: code in the input, or an object that equals everything, never runs
    ("code-in-input", CODE, _answer("__import__('os').system('touch /tmp/selfexec-input-prediction-pwned') or [5], 0"),
     "[5]", -1.0),
    ("eq-hack", CODE, _answer("type('X', (), {'__iter__': lambda s: iter([5, 7]), '__eq__': lambda s, o: True})(), 3"),
     "[2, 4]", -1.0),
    ("starred", CODE, _answer("*[[5, 1, 7], 3]"), "[2, 4]", -1.0),
    ("hangs", LOOP, _answer("3"), "0", -1.0),
    ("terminates", LOOP, _answer("4"), "0", 1.0),
    ("memory", ALLOC, _answer("10 ** 12"), "1000000000000", -1.0),
    ("memory-literal", ALLOC, _answer("1000000000000"), "1000000000000", -1.0),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reward_table(case):
    _, code, completion, expected, reward = case
    if isinstance(completion, str):  # the model restates the output it was given
        completion = completion.replace("??", expected)
    t0 = time.monotonic()
    assert input_prediction_reward([completion], code=[code], entry_point=["f"], expected_output=[expected],
                                   timeout_s=2.0) == [reward]
    assert time.monotonic() - t0 < 30  # a hanging input is cut by the timeout
    assert not PWNED.exists()


@pytest.mark.skipif(resolve_mode("auto") != "bwrap", reason="the host file system is only shielded by bubblewrap")
def test_a_literal_input_that_drives_the_program_to_attack_stays_in_the_jail():
    PWNED.unlink(missing_ok=True)
    got = input_prediction_reward([_answer(f"'touch {PWNED} && echo done'").replace("??", "0")], code=[SHELL], entry_point=["f"],
                                  expected_output=["0"], timeout_s=2.0)
    assert got in ([1.0], [-1.0]) and not PWNED.exists()


def test_rows_of_other_tasks_score_none_and_lengths_are_checked():
    got = input_prediction_reward([_answer("[5, 1, 7], 3").replace("??", "[2, 4]")] * 3, code=[CODE] * 3, entry_point=["f"] * 3,
                                  expected_output=["[2, 4]", None, "[2, 4]"],
                                  task=["input_prediction", "input_prediction", "solve"])
    assert got == [1.0, None, None]
    with pytest.raises(ValueError, match="lengths differ"):
        input_prediction_reward(["x"], code=[], entry_point=["f"], expected_output=["1"])


@pytest.mark.parametrize("source, ok", [("1, 'a'", True), ("[1, (2, 3)], x={1: None}", True), ("", True),
                                        ("1 + 1", False), ("1 + 2j", True), ("len('a')", False), ("**{'x': 1}", False),
                                        ("lambda: 1", False), ("f(", False)])
def test_literal_arguments(source, ok):
    assert literal_arguments(source) is ok


@pytest.mark.slow
def test_published_input_prediction_config_loads_and_its_reference_inputs_score_one(tmp_path):
    import datasets

    env = {**os.environ, "COLUMNS": "200"}
    subprocess.run([sys.executable, "-m", "selfexec.cli", "run", str(ROOT / "recipes" / "demo.yaml"), "--set",
                    f"run={tmp_path / 'run'}", "--set", f"publish.out={tmp_path / 'ds'}"], check=True,
                   capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    ds = datasets.load_dataset(str(tmp_path / "ds"), "input_prediction")
    rows = [r for split in ds.values() for r in split]
    assert rows and all(r["task"] == "input_prediction" and r["kind"] == "function" for r in rows)
    for r in rows:
        assert r["prompt"][0]["role"] == "user" and f"assert {r['entry_point']}(??) ==" in r["prompt"][0]["content"]
    completions = [input_answer(r["input"], r["expected_output"], r["entry_point"]) for r in rows]
    rewards = input_prediction_reward(completions, code=[r["code"] for r in rows],
                                      entry_point=[r["entry_point"] for r in rows],
                                      expected_output=[r["expected_output"] for r in rows])
    assert rewards == [1.0] * len(rows)
