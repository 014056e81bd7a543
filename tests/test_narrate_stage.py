"""The narrate stage and `selfexec narrate`: files, stats, resume, settings checks, failures."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from narrate_helpers import crux_traces, demo_inputs, load_traces, traced_run_copy, write_traces
from narrate_fake_server import FakeChatServer

from tracegen.narrate.records import NARRATION_SCHEMA, narration_from_row
from tracegen.narrate.stage import ConfigError, NarrateConfig, NarrateIncomplete, run_narrate_stage


def _rows(run):
    files = sorted((run / "narrations").glob("*.parquet"))
    for f in files:
        assert pq.read_schema(f).equals(NARRATION_SCHEMA, check_metadata=False)
    return [narration_from_row(r) for f in files for r in pq.read_table(f).to_pylist()]


def test_template_stage_writes_rows_stats_and_resumes(tmp_path):
    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    traces = load_traces(run)
    ok = [t for t in traces if t.status == "ok"]
    assert len(ok) < len(traces)  # the demo has a failing run: it must be skipped and counted
    seen = []
    stats = run_narrate_stage(NarrateConfig(run=str(run)), on_progress=lambda d, n: seen.append((d, n)))
    rows = _rows(run)
    assert sorted(r.trace_id for r in rows) == sorted(t.trace_id for t in ok)
    assert all(r.status == "ok" for r in rows)
    assert stats["rows"] == len(ok) and stats["by_status"] == {"ok": len(ok)}
    assert sum(stats["skipped_by_trace_status"].values()) == len(traces) - len(ok)
    assert json.loads((run / "stats" / "narrate.json").read_text())["rows"] == len(ok)
    assert seen and seen[-1] == (len(ok), len(ok))
    assert not list((run / "narrations").glob(".*tmp"))  # temp files renamed away
    before = {f.name: f.stat().st_mtime_ns for f in (run / "narrations").glob("*.parquet")}
    again = run_narrate_stage(NarrateConfig(run=str(run)))
    assert again["shards_run_this_call"] == 0 and again["this_call"]["rows"] == 0
    assert {f.name: f.stat().st_mtime_ns for f in (run / "narrations").glob("*.parquet")} == before
    with pytest.raises(ConfigError, match="--overwrite"):
        run_narrate_stage(NarrateConfig(run=str(run), seed=7))
    redo = run_narrate_stage(NarrateConfig(run=str(run), seed=7, overwrite=True))
    assert redo["shards_run_this_call"] == redo["shards"] and redo["rows"] == len(ok)


def test_config_errors_say_what_to_change(tmp_path):
    with pytest.raises(ConfigError, match="selfexec trace"):
        run_narrate_stage(NarrateConfig(run=str(tmp_path)))
    run = write_traces(tmp_path / "r", list(crux_traces()[:3]))
    with pytest.raises(ConfigError, match="--base-url"):
        run_narrate_stage(NarrateConfig(run=str(run), narrator="openai"))
    with pytest.raises(ConfigError, match="model folder"):
        run_narrate_stage(NarrateConfig(run=str(run), narrator="transformers", model="org/name"))
    with pytest.raises(ConfigError, match="unknown narrator"):
        run_narrate_stage(NarrateConfig(run=str(run), narrator="gpt"))


@pytest.mark.filterwarnings("ignore:no --tokenizer given")
def test_openai_stage_dead_endpoint_then_rerun_asks_only_for_the_failed(tmp_path):
    traces = [t for t in crux_traces() if t.status == "ok"][:10]
    run = write_traces(tmp_path / "run", traces, shards=2)

    def cfg(url):
        return NarrateConfig(run=str(run), narrator="openai", base_url=url, model="fake", concurrency=2,
                             timeout_s=5, max_retries=1)

    # shard 0 answered, then the endpoint dies: shard 1 fails, with rows and a clear error
    with FakeChatServer() as server:
        url = server.base_url
        run_narrate_stage(NarrateConfig(**{**cfg(url).__dict__, "max_traces": 5}))
        assert server.requests == 5
    with pytest.raises(ConfigError):  # max_traces changed what the run holds: refused without --overwrite
        run_narrate_stage(cfg(url))
    with pytest.raises(NarrateIncomplete, match="rerun the same command") as err:
        run_narrate_stage(NarrateConfig(**{**cfg(url).__dict__, "overwrite": True}))
    assert err.value.stats["by_status"].get("connection_error", 0) + err.value.stats["by_status"].get("aborted", 0) == 5
    rows = _rows(run)
    assert len(rows) == 10 and sum(r.status == "ok" for r in rows) == 5 and sum(r.cached for r in rows) == 5
    assert all(r.reason for r in rows if r.status != "ok")
    # the endpoint is back (on another port): only the 5 failed requests are sent
    with FakeChatServer() as server2:
        stats = run_narrate_stage(cfg(server2.base_url))
        assert server2.requests == 5
    assert stats["by_status"] == {"ok": 10}
    assert stats["warnings"] and "tokenizer" in stats["warnings"][0]  # the estimate is never silent


@pytest.mark.filterwarnings("ignore:no --tokenizer given")
def test_cli_narrate_prints_a_summary(tmp_path):
    from typer.testing import CliRunner

    from selfexec.cli import app

    run = traced_run_copy(demo_inputs(), tmp_path / "run")
    res = CliRunner().invoke(app, ["narrate", str(run)])
    assert res.exit_code == 0, res.output
    assert "narrate:" in res.output and "rows" in res.output and "ok" in res.output
    res = CliRunner().invoke(app, ["narrate", str(run), "--narrator", "openai"])
    assert res.exit_code == 2 and "--base-url" in res.output
    server = FakeChatServer()
    dead = server.base_url
    server.stop()
    res = CliRunner().invoke(app, ["narrate", str(run), "--narrator", "openai", "--base-url", dead, "--model", "m",
                                   "--overwrite"])
    assert res.exit_code == 1, res.output
    assert "rerun the same command" in res.output and "connection_error" in res.output
