"""Integration: `selfexec eval` and every `solve` strategy against a real `transformers serve` running
SmolLM2-135M-Instruct on 127.0.0.1 (CPU), reproducibly with a seed; a rerun sends no request.
Slow (about 0.3 s per generated token here), so one item, one problem and few tokens."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from narrate_helpers import need_smollm
from test_narrate_server import Server

from tracegen.loaders import write_canonical_jsonl
from tracegen.records import Problem, Test

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "selfexec.cli"]
MAX_TOKENS = "12"
STRATEGIES = ("sample", "best-exec", "best-simulate", "short", "self-fix")


def _strip(result: dict) -> dict:
    """The result less what differs between two identical runs (timings, request counters)."""
    return {k: v for k, v in result.items() if k not in ("model_stats", "plot")}


def test_eval_and_every_solve_strategy_against_a_real_server(tmp_path, shared_data):
    model_dir = need_smollm()
    crux = shared_data / "cruxeval" / "cruxeval.jsonl"
    one = tmp_path / "crux1.jsonl"
    one.write_text(crux.read_text().splitlines()[0] + "\n")
    problem = Problem("t/add", "test", "function", statement='def add(a, b):\n    """Return a + b."""\n',
                      entry_point="add", tests=[Test("0", "1, 2", "3", public=True), Test("1", "5, 5", "10")])
    problems = write_canonical_jsonl([problem], tmp_path / "p.jsonl")
    cands = tmp_path / "c.jsonl"
    cands.write_text(json.dumps({"problem_id": "t/add", "candidates": [
        "def add(a, b):\n    return a - b\n", "def add(a, b):\n    return a + b\n"]}) + "\n")
    server = Server(model_dir, tmp_path / "serve.log")
    common = ["--model", str(model_dir), "--base-url", server.base_url, "--cache", str(tmp_path / "cache.sqlite"),
              "--max-tokens", MAX_TOKENS, "--seed", "1", "--concurrency", "2"]
    evaluate = [*CLI, "eval", "cruxeval", "--data", str(one), "--direction", "output", "--direction", "input", *common]
    solve = [*CLI, "solve", str(problems), "--candidates", str(cands), "--k", "2", "--max-turns", "1",
             *[a for s in STRATEGIES for a in ("-s", s)], *common]
    write = [*CLI, "solve", str(problems), "--k", "1", "-s", "sample", "-s", "self-fix", "--max-turns", "1", *common]
    try:
        results = {}
        for name, cmd in (("eval", evaluate), ("solve", solve), ("write", write)):
            run = subprocess.run([*cmd, "--out", str(tmp_path / f"{name}.json")], capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            results[name] = json.loads((tmp_path / f"{name}.json").read_text())
        sent = server.chat_requests()
        r = results["eval"]
        assert r["n"] == 1 and set(r["directions"]) == {"output", "input"} and r["model_stats"]["requests"] == 2
        assert 0.0 <= r["pass@1"] <= 1.0
        s = results["solve"]
        assert set(s["strategies"]) == set(STRATEGIES) and s["n"] == 1
        # best-simulate: one prompt per (candidate, public test); self-fix: simulate (cached) + one review
        assert s["model_stats"]["requests"] == 2 + 1
        assert s["strategies"]["self-fix"]["avg_turns"] == 1.0
        assert sum(s["strategies"]["self-fix"]["fix_break"]["public"].values()) == 1
        w = results["write"]
        assert set(w["strategies"]) == {"sample", "self-fix"} and w["model_stats"]["requests"] >= 2
        assert sent == 2 + 3 + w["model_stats"]["requests"]

        # the same commands again: the same results, and not one request reaches the server
        for name, cmd in (("eval", evaluate), ("solve", solve), ("write", write)):
            run = subprocess.run([*cmd, "--out", str(tmp_path / f"{name}2.json")], capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            again = json.loads((tmp_path / f"{name}2.json").read_text())
            assert _strip(again) == _strip(results[name])
            assert again["model_stats"]["requests"] == 0
        assert server.chat_requests() == sent
    finally:
        server.kill()
