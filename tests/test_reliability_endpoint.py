"""Issue 14, item 1: an endpoint that refuses the key, answers 404 or answers with something that is
not a chat completion fails the narrate stage with one line naming the cause, and a plain rerun
(no --overwrite) retries exactly those rows once the endpoint is fixed.

Before the fix these rows were `request_error`, the stage ended with exit 0, curate and publish
went on to an empty dataset, and a rerun did nothing ("shards run this call 0/N").
A real HTTP server on 127.0.0.1 (tests/narrate_fake_server.py) stands in for the service.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from narrate_helpers import REPO, crux_traces, write_traces
from narrate_fake_server import FakeChatServer, echo_answer
from tracegen import layout
from tracegen.narrate.stage import NarrateConfig, NarrateIncomplete, run_narrate_stage

pytestmark = pytest.mark.filterwarnings("ignore:no --tokenizer given")


class Switch:
    """Answers with `fail` until `.fixed` is set, then with a narration that parses."""

    def __init__(self, fail: tuple):
        self.fail, self.fixed = fail, False

    def __call__(self, n, body):
        return ("answer", echo_answer(body)) if self.fixed else self.fail


def _run(tmp_path, n=6):
    traces = [t for t in crux_traces() if t.status == "ok"][:n]
    return write_traces(tmp_path / "run", traces, shards=2)


def _cfg(run, url):
    return NarrateConfig(run=str(run), narrator="openai", base_url=url, model="m", concurrency=2, timeout_s=5,
                         max_retries=0)


@pytest.mark.parametrize("fail,status,words", [
    (("status", 401), "auth_error", "refused the API key: set OPENAI_API_KEY"),
    (("garbage",), "bad_response", "not a chat completion"),
])
def test_endpoint_failure_fails_the_stage_and_a_plain_rerun_retries(tmp_path, fail, status, words):
    run = _run(tmp_path)
    plan = Switch(fail)
    with FakeChatServer(plan) as server:
        with pytest.raises(NarrateIncomplete) as err:
            run_narrate_stage(_cfg(run, server.base_url))
        msg = str(err.value)
        assert "\n" not in msg and words in msg and status in msg, msg
        assert set(err.value.stats["by_status"]) == {status}
        # a later stage refuses the half-done narrate stage
        assert status in layout.unfinished_reason(run, "narrate")
        plan.fixed = True  # the user fixes the key / URL and reruns the same command: no --overwrite
        stats = run_narrate_stage(_cfg(run, server.base_url))
    assert stats["by_status"] == {"ok": 6}
    assert stats["shards_run_this_call"] == 2
    assert layout.unfinished_reason(run, "narrate") == ""


def test_most_rows_rejected_for_one_reason_fails_with_that_reason(tmp_path):
    run = _run(tmp_path)
    with FakeChatServer(lambda n, body: ("status", 400)) as server:
        with pytest.raises(NarrateIncomplete) as err:
            run_narrate_stage(_cfg(run, server.base_url))
    msg = str(err.value)
    assert "request_error 6" in msg and "6 of 6" in msg and "400" in msg and "\n" not in msg


def test_a_few_rejected_rows_do_not_fail_the_stage(tmp_path):
    run = _run(tmp_path)
    with FakeChatServer(lambda n, body: ("status", 400) if n == 1 else ("answer", echo_answer(body))) as server:
        stats = run_narrate_stage(NarrateConfig(**{**_cfg(run, server.base_url).__dict__, "concurrency": 1}))
    assert stats["by_status"] == {"ok": 5, "request_error": 1}


def test_cli_run_against_a_401_endpoint_exits_non_zero_with_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, OPENAI_API_KEY="sk-wrong", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    cli = Path(sys.executable).parent / "selfexec"
    with FakeChatServer(lambda n, body: ("status", 401)) as server:
        res = subprocess.run([
            str(cli), "run", "recipes/demo.yaml", "--set", f"run={tmp_path / 'r'}", "--set",
            f"publish.out={tmp_path / 'ds'}", "--set", "narrate.narrator=openai", "--set",
            f"narrate.base_url={server.base_url}", "--set", "narrate.model=x"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Traceback" not in out
    assert out.count("error:") == 1 and "refused the API key" in " ".join(out.split()), out
    assert not (tmp_path / "ds").exists()


def test_cli_narrate_against_a_refused_connection_is_one_line(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    run = _run(tmp_path, n=2)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cli = Path(sys.executable).parent / "selfexec"
    res = subprocess.run([str(cli), "narrate", str(run), "--narrator", "openai", "--model", "m", "--retries", "0",
                          "--base-url", f"http://127.0.0.1:{port}/v1"], cwd=REPO, capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "datatrove" not in res.stderr, res.stderr  # was ~35 lines of engine log
    assert res.stderr.count("error:") == 1 and "cannot reach the endpoint" in " ".join(res.stderr.split())
