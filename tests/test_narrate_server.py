"""Integration: the OpenAI-compatible narrator against a real `transformers serve` running
SmolLM2-135M-Instruct on 127.0.0.1 (CPU). Slow, and run in CI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from narrate_helpers import crux_traces, need_smollm, write_traces

from tracegen.narrate.cache import RequestCache
from tracegen.narrate.output import parse_output
from tracegen.narrate.records import PARSE_FAILURES, TRANSPORT_FAILURES, narration_from_row
from tracegen.narrate.stage import NarrateConfig, NarrateIncomplete, run_narrate_stage

pytestmark = pytest.mark.slow
# a 500-token prompt takes ~2 s to read and ~0.1 s per generated token on a 2-core CPU: keep it short
MAX_TOKENS = 24
N_TRACES = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`transformers serve MODEL --host 127.0.0.1`: started, waited for, killed."""

    def __init__(self, model_dir: Path, log: Path):
        exe = Path(sys.executable).with_name("transformers")
        if not exe.exists():
            pytest.fail(f"the transformers CLI is missing next to {sys.executable}")
        self.port = _free_port()
        self.log = log
        # one thread per request: two requests in flight use both cores without oversubscribing them
        env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
        self.proc = subprocess.Popen(
            [str(exe), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(self.port),
             "--device", "cpu", "--log-level", "info"],
            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"transformers serve exited ({self.proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.kill()
        pytest.fail(f"transformers serve did not come up in 120 s:\n{log.read_text()[-3000:]}")

    def chat_requests(self) -> int:
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _rows(run: Path):
    return [narration_from_row(r) for f in sorted((run / "narrations").glob("*.parquet"))
            for r in pq.read_table(f).to_pylist()]


def test_real_server_rows_cache_and_a_server_that_dies(tmp_path):
    model_dir = need_smollm()
    traces = sorted((t for t in crux_traces() if t.status == "ok"), key=lambda t: len(t.code) + 40 * len(t.events))
    traces = traces[:N_TRACES]
    run = write_traces(tmp_path / "run", traces, shards=2)
    server = Server(model_dir, tmp_path / "serve.log")
    try:
        cfg = NarrateConfig(run=str(run), narrator="openai", base_url=server.base_url, model=str(model_dir),
                            tokenizer=str(model_dir), max_tokens=MAX_TOKENS, max_prompt_tokens=2048,
                            concurrency=2, timeout_s=120, max_retries=1)
        stats = run_narrate_stage(cfg)
        rows = _rows(run)
        assert len(rows) == N_TRACES == stats["rows"]
        assert server.chat_requests() == N_TRACES == stats["requests"]
        by_id = {t.trace_id: t for t in traces}
        for r in rows:
            t = by_id[r.trace_id]
            assert r.text.strip() and 1 <= r.tokens_out <= MAX_TOKENS and r.tokens_in > 300
            pred, status, reason = parse_output(r.text, t.kind)
            # a 135M model may or may not write the block: the row must say which, with a reason
            assert (r.status, r.predicted_output, r.reason) == (status, pred, reason + (
                " (the answer was cut off at max_tokens)" if status != "ok" and r.finish_reason == "length" else ""))
            assert r.status in ("ok", *PARSE_FAILURES) and (r.status == "ok" or r.reason)

        # rerun: finished shards are skipped; then a forced redo is served from the cache alone
        again = run_narrate_stage(cfg)
        assert again["shards_run_this_call"] == 0 and again["this_call"]["requests"] == 0
        redo = run_narrate_stage(NarrateConfig(**{**cfg.__dict__, "overwrite": True}))
        assert redo["this_call"]["requests"] == 0 and redo["this_call"]["cache_hits"] == N_TRACES
        assert server.chat_requests() == N_TRACES  # zero new requests reached the server
        assert sorted(r.text for r in _rows(run)) == sorted(r.text for r in rows)

        # the server dies mid-run: the stage ends (no hang) with failure rows and a clear error
        cache = RequestCache(cfg.cache_path())
        n_cached = len(cache)
        died = NarrateConfig(**{**cfg.__dict__, "overwrite": True, "max_tokens": MAX_TOKENS - 8, "concurrency": 1})
        outcome: list[BaseException | dict] = []
        th = threading.Thread(target=lambda: outcome.append(_catch(run_narrate_stage, died)), daemon=True)
        th.start()
        deadline = time.monotonic() + 120
        while len(cache) == n_cached and time.monotonic() < deadline and th.is_alive():
            time.sleep(0.2)
        assert len(cache) > n_cached, "no answer arrived before the deadline"
        server.kill()
        th.join(60)
        assert not th.is_alive(), "the stage hung after the server died"
        assert isinstance(outcome[0], NarrateIncomplete), outcome
        assert "rerun the same command" in str(outcome[0])
        rows = _rows(run)
        failed = [r for r in rows if r.status in TRANSPORT_FAILURES]
        assert failed and all(r.reason for r in failed)
        assert any(r.status not in TRANSPORT_FAILURES for r in rows)  # what was answered is kept
    finally:
        server.kill()


def _catch(fn, *args):
    try:
        return fn(*args)
    except BaseException as exc:  # handed to the test thread to assert on
        return exc
