"""A local transformers model folder as the SPEC: a tiny random model built here (fast). Its answers are
noise; what is checked is that every path runs, sampling is reproducible with a seed, and a rerun
generates nothing (the request cache answers)."""

from __future__ import annotations

import json

import pytest
from test_narrate_hf import tiny_model

from finetune.evaluation.commands import run_solve
from finetune.evaluation.cruxeval import evaluate, run_cruxeval
from finetune.evaluation.execute import Executor
from finetune.evaluation.models import LocalModel, ModelSettings
from tracegen.loaders import write_canonical_jsonl
from tracegen.records import Problem, Test


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_cruxeval_with_a_local_model_is_reproducible_and_cached(folder, tmp_path, shared_data):
    data = tmp_path / "crux.jsonl"
    data.write_text("".join((shared_data / "cruxeval" / "cruxeval.jsonl").read_text().splitlines(True)[:3]))
    settings = ModelSettings(spec=str(folder), cache=str(tmp_path / "cache.sqlite"), max_tokens=6, temperature=0.8,
                             batch_size=2)
    first = run_cruxeval(str(data), settings, n=3, seed=5, directions=("output", "input"))
    assert first["n"] == 3 and first["samples"] == 3 and first["model_stats"]["generated"] == 3 * 3 * 2
    assert first["pass@1"] == 0.0 and first["output"]["unparsed"] == 9  # noise has no [ANSWER] block
    again = run_cruxeval(str(data), settings, n=3, seed=5, directions=("output", "input"))
    assert again["model_stats"]["generated"] == 0 and again["model_stats"]["cache_hits"] == 18
    assert again["items"] == first["items"]


def test_sampling_seeds_give_the_same_texts_without_the_cache(folder, tmp_path):
    from finetune.evaluation.models import Query

    q = [Query([{"role": "user", "content": "def f(x):\n    return x + 1"}], "output")]
    texts = []
    for i in range(2):
        m = LocalModel(ModelSettings(spec=str(folder), cache=str(tmp_path / f"c{i}.sqlite"), max_tokens=8,
                                     temperature=1.0))
        texts.append(m.complete(q, n=3, seed=11)[0])
    assert texts[0] == texts[1] and len(set(texts[0])) > 1  # seeded, and each sample its own seed


def test_solve_with_a_local_model_runs_every_strategy(folder, tmp_path):
    problem = Problem("t/add", "test", "function", statement='def add(a, b):\n    """a + b"""\n', entry_point="add",
                      tests=[Test("0", "1, 2", "3", public=True), Test("1", "5, 5", "10")])
    problems = write_canonical_jsonl([problem], tmp_path / "p.jsonl")
    settings = ModelSettings(spec=str(folder), cache=str(tmp_path / "cache.sqlite"), max_tokens=6)
    r = run_solve([str(problems)], settings, ("sample", "best-exec", "best-simulate", "short", "self-fix"),
                  k=2, max_turns=2, seed=0, plot=str(tmp_path / "s.png"))
    assert set(r["strategies"]) == {"sample", "best-exec", "best-simulate", "short", "self-fix"}
    assert r["pass@1"] == 0.0 and 1 <= r["strategies"]["self-fix"]["avg_turns"] <= 2
    assert (tmp_path / "s.png").stat().st_size > 1000
    json.dumps(r)  # the result is plain JSON


def test_evaluate_is_callable_on_problems_and_a_model(folder, tmp_path, shared_data):
    """The entry point the fine-tune stage calls."""
    from finetune.evaluation.data import load_benchmark

    problems = load_benchmark(str(shared_data / "cruxeval" / "cruxeval.jsonl"))[:2]
    model = LocalModel(ModelSettings(spec=str(folder), cache=str(tmp_path / "c.sqlite"), max_tokens=4))
    with Executor(1) as ex:
        r = evaluate(problems, model, n=1, seed=0, executor=ex)
    assert r["n"] == 2 and r["pass@1"] == 0.0 and r["pass@5"] is None
