"""`selfexec trace` as a user runs it: output layout, stats, resume, determinism, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "problems.jsonl"


def selfexec(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=600)


def read_traces(run: Path) -> list[dict]:
    rows = []
    for f in sorted((run / "traces").glob("*.parquet")):
        rows += pq.read_table(f).to_pylist()
    return sorted(rows, key=lambda r: (r["problem_id"], r["solution_id"], r["test_id"]))


def test_trace_examples_end_to_end(tmp_path):
    run = tmp_path / "run"
    res = selfexec("trace", str(EXAMPLES), "--out", str(run), "--workers", "2", "--shards", "4")
    assert res.returncode == 0, res.stderr
    assert "rows per source" in res.stdout and "events/s" in res.stdout
    rows = read_traces(run)
    n_pairs = sum(len(json.loads(line)["tests"]) for line in EXAMPLES.read_text().splitlines())
    assert len(rows) == n_pairs
    stats = json.loads((run / "stats" / "trace.json").read_text())
    assert stats["rows"] == n_pairs == sum(stats["by_status"].values())
    assert stats["by_source"] == {"selfexec-demo": n_pairs}
    assert stats["sandbox"] in ("bwrap", "rlimit")
    # the demo holds one deliberately crashing test: a row, not a failed run
    crash = [r for r in rows if r["status"] == "runtime_error"]
    assert [r["problem_id"] for r in crash] == ["demo/buggy_mean"]
    assert crash[0]["exception"].startswith("ZeroDivisionError")
    assert all(r["matches_expected"] for r in rows if r["status"] == "ok")
    # real `datasets` reads what we wrote
    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(run / "traces" / "*.parquet"), split="train")
    assert ds.num_rows == n_pairs and "events" in ds.column_names

    # rerun: every shard is complete, nothing is traced again
    before = {f.name: f.stat().st_mtime_ns for f in (run / "traces").glob("*.parquet")}
    res = selfexec("trace", str(EXAMPLES), "--out", str(run), "--workers", "2", "--shards", "4")
    assert res.returncode == 0, res.stderr
    after = {f.name: f.stat().st_mtime_ns for f in (run / "traces").glob("*.parquet")}
    assert before == after

    # a second run folder: byte-identical events and the same trace ids
    run2 = tmp_path / "run2"
    assert selfexec("trace", str(EXAMPLES), "--out", str(run2), "--shards", "4").returncode == 0
    rows2 = read_traces(run2)
    strip = lambda r: {k: v for k, v in r.items() if k != "wall_ms"}  # noqa: E731
    assert [strip(r) for r in rows] == [strip(r) for r in rows2]


def test_resume_after_a_lost_shard(tmp_path):
    run = tmp_path / "run"
    assert selfexec("trace", str(EXAMPLES), "--out", str(run), "--shards", "4").returncode == 0
    shard = sorted((run / "traces").glob("*.parquet"))[1]
    shard.unlink()
    (run / "logs" / "trace" / "completions" / "00001").unlink()
    assert selfexec("trace", str(EXAMPLES), "--out", str(run), "--shards", "4").returncode == 0
    assert shard.exists()
    assert len(read_traces(run)) == json.loads((run / "stats" / "trace.json").read_text())["rows"]


def test_malformed_file_is_one_clear_error_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = json.loads(EXAMPLES.read_text().splitlines()[0])
    del good["kind"]
    bad.write_text(EXAMPLES.read_text().splitlines()[1] + "\n" + json.dumps(good) + "\n")
    run = tmp_path / "run"
    res = selfexec("trace", str(bad), "--out", str(run))
    assert res.returncode == 2
    assert "bad.jsonl" in res.stderr and "line 2" in res.stderr and "kind" in res.stderr
    assert "Traceback" not in res.stderr
    assert not run.exists()


def test_other_settings_on_an_existing_run_are_refused(tmp_path):
    run = tmp_path / "run"
    assert selfexec("trace", str(EXAMPLES), "--out", str(run), "--max-problems", "2").returncode == 0
    res = selfexec("trace", str(EXAMPLES), "--out", str(run), "--max-problems", "2", "--timeout", "3")
    assert res.returncode == 2 and "other settings" in res.stderr


@pytest.mark.parametrize("args, words", [
    (["--workers", "0"], "workers"),
    (["--sandbox", "docker"], "sandbox"),
    (["--timeout", "0"], "timeout"),
])
def test_bad_options_are_clear(tmp_path, args, words):
    res = selfexec("trace", str(EXAMPLES), "--out", str(tmp_path / "r"), *args)
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr


def test_missing_file(tmp_path):
    res = selfexec("trace", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "not found" in res.stderr
