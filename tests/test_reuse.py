"""--reuse at the stage level: what is taken, what is refused, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tracegen.narrate.stage import NarrateConfig, run_narrate_stage
from tracegen.records import Limits
from tracegen.stage import ConfigError, TraceConfig, run_trace_stage

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "examples" / "problems.jsonl"


def trace(out: Path, reuse: Path | None = None, **kw) -> dict:
    return run_trace_stage(TraceConfig(inputs=[str(PROBLEMS)], out=str(out), shards=2,
                                       reuse=str(reuse) if reuse else None, **kw))


def rows(run: Path, what: str) -> dict[tuple, dict]:
    out = {}
    for f in sorted((run / what).glob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            out[(r["trace_id"], r["problem_id"], r["solution_id"], r["test_id"])] = r
    return out


def test_reused_traces_are_the_earlier_rows_and_changed_tests_rerun(tmp_path):
    first = trace(tmp_path / "a", max_problems=4)
    assert (first["computed"], first["reused"]) == (first["rows"], 0)
    # change one test's expected output: that pair is traced again, the rest is taken as it was
    edited = tmp_path / "problems.jsonl"
    lines = PROBLEMS.read_text().splitlines()
    p0 = json.loads(lines[0])
    p0["tests"][0]["output"] = "'something else'"
    edited.write_text("\n".join([json.dumps(p0), *lines[1:]]) + "\n")
    second = run_trace_stage(TraceConfig(inputs=[str(edited)], out=str(tmp_path / "b"), shards=2,
                                         reuse=str(tmp_path / "a")))
    assert second["reused"] == first["rows"] - 1 and second["computed"] == second["rows"] - second["reused"]
    old, new = rows(tmp_path / "a", "traces"), rows(tmp_path / "b", "traces")
    same = [k for k in old if k in new and new[k]["expected_output"] == old[k]["expected_output"]]
    assert len(same) == first["rows"] - 1
    for k in same:  # taken as they were: even the wall time of the earlier run
        assert new[k] == old[k]
    changed = [k for k in new if k[1] == p0["problem_id"] and k[3] == p0["tests"][0]["test_id"]]
    assert len(changed) == 1 and new[changed[0]]["matches_expected"] is False


def test_timeouts_are_traced_again(tmp_path):
    slow = tmp_path / "slow.jsonl"
    slow.write_text(json.dumps({"problem_id": "slow", "source": "mine", "kind": "stdio", "license": "MIT",
                                "solutions": [{"solution_id": "s", "code": "while True:\n    pass\n"}],
                                "tests": [{"test_id": "t", "input": ""}]}) + "\n")
    kw = {"limits": Limits(timeout_s=0.5)}
    run_trace_stage(TraceConfig(inputs=[str(slow)], out=str(tmp_path / "a"), **kw))
    again = run_trace_stage(TraceConfig(inputs=[str(slow)], out=str(tmp_path / "b"), reuse=str(tmp_path / "a"), **kw))
    assert (again["computed"], again["reused"], again["by_status"]) == (1, 0, {"timeout": 1})


def test_narrations_are_reused_only_with_the_same_settings(tmp_path):
    trace(tmp_path / "a", max_problems=4)
    run_narrate_stage(NarrateConfig(run=str(tmp_path / "a")))
    trace(tmp_path / "b", reuse=tmp_path / "a")
    same = run_narrate_stage(NarrateConfig(run=str(tmp_path / "b"), reuse=str(tmp_path / "a")))
    assert same["reused"] == len(rows(tmp_path / "a", "narrations")) and same["computed"] == same["rows"] - same["reused"]
    a, b = rows(tmp_path / "a", "narrations"), rows(tmp_path / "b", "narrations")
    assert all(b[k]["text"] == a[k]["text"] for k in a)
    # another phrasing seed: nothing fits, everything is narrated again, and the stats say why
    trace(tmp_path / "c", reuse=tmp_path / "a")
    other = run_narrate_stage(NarrateConfig(run=str(tmp_path / "c"), seed=1, reuse=str(tmp_path / "a")))
    assert (other["reused"], other["computed"]) == (0, other["rows"])
    assert any("other settings (seed)" in why for why in other["reuse_refused"])


def test_reuse_of_something_else_is_one_clear_error(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(ConfigError, match="neither a run folder .* nor a published dataset folder"):
        trace(tmp_path / "a", reuse=tmp_path / "junk")
    with pytest.raises(ConfigError, match="no such folder"):
        trace(tmp_path / "a", reuse=tmp_path / "missing")
    assert not (tmp_path / "a").exists()


@pytest.mark.filterwarnings("ignore:no --tokenizer given")
def test_endpoint_narrations_are_reused_without_a_request(tmp_path):
    """An LLM narrator's reuse key is the sha of the exact prompt it would send now: the new run
    (with an empty request cache of its own) asks the endpoint only for the new traces."""
    from narrate_fake_server import FakeChatServer

    trace(tmp_path / "a", max_problems=4)
    trace(tmp_path / "b", reuse=tmp_path / "a")
    with FakeChatServer() as server:
        def cfg(run: str, **kw) -> NarrateConfig:
            return NarrateConfig(run=str(tmp_path / run), narrator="openai", base_url=server.base_url, model="fake",
                                 concurrency=2, **kw)

        first = run_narrate_stage(cfg("a"))
        asked = server.requests
        second = run_narrate_stage(cfg("b", reuse=str(tmp_path / "a")))
        assert second["reused"] == first["by_status"]["ok"] and second["cache_hits"] == 0
        assert server.requests - asked == second["computed"] == second["rows"] - second["reused"]
        a, b = rows(tmp_path / "a", "narrations"), rows(tmp_path / "b", "narrations")
        assert all(b[k]["text"] == a[k]["text"] and b[k]["prompt_sha"] == a[k]["prompt_sha"] for k in a)
        # a smaller prompt budget changes the prompts: nothing is reused
        trace(tmp_path / "c", reuse=tmp_path / "a")
        third = run_narrate_stage(cfg("c", reuse=str(tmp_path / "a"), max_prompt_tokens=3000))
        assert third["reused"] == 0 and "max_prompt_tokens" in next(iter(third["reuse_refused"]))


def test_verdicts_are_reused_only_with_the_same_curate_settings(tmp_path):
    from curation.stage import CurateConfig, run_curate_stage

    trace(tmp_path / "a", max_problems=4)
    run_narrate_stage(NarrateConfig(run=str(tmp_path / "a")))
    first = run_curate_stage(CurateConfig(run=str(tmp_path / "a"), tokenizer="chars"))
    for run, settings in (("b", {}), ("c", {"min_tokens": 20})):
        trace(tmp_path / run, reuse=tmp_path / "a")
        run_narrate_stage(NarrateConfig(run=str(tmp_path / run), reuse=str(tmp_path / "a")))
        stats = run_curate_stage(CurateConfig(run=str(tmp_path / run), tokenizer="chars", reuse=str(tmp_path / "a"),
                                              **settings))
        if not settings:
            assert (stats["reused"], stats["computed"]) == (first["in"], stats["in"] - first["in"])
            assert stats["kept"] == stats["in"] and "reuse_refused" not in stats
        else:
            assert (stats["reused"], stats["computed"]) == (0, stats["in"])
            assert any("other settings (min_tokens)" in why for why in stats["reuse_refused"])
