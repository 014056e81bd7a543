"""The OpenAI-compatible narrator against a canned HTTP server on 127.0.0.1: answers, parsing,
retries only where they belong, timeouts, bounded concurrency, the cache, a dead endpoint."""

from __future__ import annotations

import time

import pytest
from narrate_helpers import crux_traces
from narrate_fake_server import FakeChatServer, echo_answer

from tracegen.narrate.cache import RequestCache
from tracegen.narrate.openai_narrator import EndpointSettings, OpenAINarrator
from tracegen.narrate.output import parse_output
from tracegen.narrate.tokens import CharEstimate


def _traces(n: int):
    return [t for t in crux_traces() if t.status == "ok"][:n]


def _narrator(server: FakeChatServer, cache: RequestCache | None = None, **kw) -> OpenAINarrator:
    s = EndpointSettings(base_url=server.base_url, model="fake-model", backoff_s=0.01, max_backoff_s=0.05,
                         timeout_s=kw.pop("timeout_s", 10.0), **kw)
    return OpenAINarrator(s, CharEstimate(), 6000, cache)


def test_answers_parse_and_rerun_sends_nothing(tmp_path):
    traces = _traces(12)
    cache = RequestCache(tmp_path / "cache" / "requests.sqlite")
    with FakeChatServer() as server:
        rows = _narrator(server, cache).narrate_batch(traces)
        assert server.requests == 12
        assert [r.trace_id for r in rows] == [t.trace_id for t in traces]
        for t, r in zip(traces, rows):
            assert r.status == "ok", r.reason
            assert r.predicted_output == t.return_repr
            assert r.tokens_in > 0 and r.tokens_out > 0 and not r.cached and r.latency_ms > 0
            assert r.prompt_sha and r.model == "fake-model" and r.narrator == "openai"
        again_narrator = _narrator(server, RequestCache(cache.path))
        again = again_narrator.narrate_batch(traces)
        assert server.requests == 12 and again_narrator.requests == 0  # zero new requests
        assert [r.text for r in again] == [r.text for r in rows] and all(r.cached for r in again)
        # other sampling params are another request
        _narrator(server, RequestCache(cache.path), temperature=0.7).narrate_batch(traces[:2])
        assert server.requests == 14


def test_unparseable_answers_are_rows_with_reasons(tmp_path):
    plans = {1: ("answer", "I think it returns 5."), 2: ("answer", "[OUTPUT]\nf(3)\n[/OUTPUT]"),
             3: ("answer", "It goes on and on", "length"), 4: ("answer", "")}
    traces = _traces(4)
    with FakeChatServer(lambda n, body: plans[n]) as server:
        rows = _narrator(server, concurrency=1).narrate_batch(traces)
    assert [r.status for r in rows] == ["no_output_block", "bad_output", "no_output_block", "no_output_block"]
    assert "cut off at max_tokens" in rows[2].reason and rows[2].finish_reason == "length"
    assert "empty answer" in rows[3].reason
    assert all(r.reason for r in rows)


def test_retries_429_and_5xx_then_succeeds(tmp_path):
    def plan(n, body):
        if n == 1:
            return ("status", 429, {"retry-after": "0"})
        if n == 2:
            return ("status", 503)
        return ("answer", echo_answer(body))

    with FakeChatServer(plan) as server:
        nar = _narrator(server, concurrency=1)
        rows = nar.narrate_batch(_traces(1))
    assert rows[0].status == "ok" and server.requests == 3 and nar.retries == 2


@pytest.mark.parametrize("code,status,attempts", [(500, "server_error", 3), (429, "rate_limited", 3),
                                                  (400, "request_error", 1), (404, "not_found", 1),
                                                  (401, "auth_error", 1), (403, "auth_error", 1)])
def test_gives_up_with_a_status_and_retries_only_transient(code, status, attempts, tmp_path):
    cache = RequestCache(tmp_path / "c.sqlite")
    with FakeChatServer(lambda n, body: ("status", code)) as server:
        nar = _narrator(server, cache, max_retries=2, concurrency=1)
        rows = nar.narrate_batch(_traces(1))
    assert rows[0].status == status and str(code) in rows[0].reason
    assert server.requests == attempts
    assert len(cache) == 0  # failures are never cached: a rerun asks again


def test_garbage_body_is_a_row_not_a_crash():
    with FakeChatServer(lambda n, body: ("garbage",)) as server:
        rows = _narrator(server, max_retries=0).narrate_batch(_traces(2))
    assert all(r.status == "bad_response" and r.reason for r in rows)


def test_timeouts_are_bounded_and_retried():
    with FakeChatServer(lambda n, body: ("sleep", 3.0, "late")) as server:
        nar = _narrator(server, timeout_s=0.3, max_retries=1, concurrency=2)
        t0 = time.monotonic()
        rows = nar.narrate_batch(_traces(2))
        took = time.monotonic() - t0
    assert [r.status for r in rows] == ["timeout", "timeout"]
    assert server.requests == 4 and took < 3.0  # 2 traces x 2 attempts of 0.3 s, never the 3 s sleep


def test_concurrency_is_bounded():
    with FakeChatServer(lambda n, body: ("sleep", 0.15, echo_answer(body))) as server:
        rows = _narrator(server, concurrency=3).narrate_batch(_traces(12))
    assert all(r.status == "ok" for r in rows)
    assert server.max_in_flight == 3  # used, and never passed


def test_dead_endpoint_fails_fast_with_rows(tmp_path):
    server = FakeChatServer()
    url = server.base_url
    server.stop()  # nothing listens on that port now
    s = EndpointSettings(base_url=url, model="m", concurrency=2, abort_after=4, timeout_s=5)
    nar = OpenAINarrator(s, CharEstimate(), 6000, RequestCache(tmp_path / "c.sqlite"))
    t0 = time.monotonic()
    rows = nar.narrate_batch(_traces(20))
    assert time.monotonic() - t0 < 10
    statuses = {r.status for r in rows}
    assert statuses <= {"connection_error", "aborted"} and "aborted" in statuses
    assert sum(r.status == "connection_error" for r in rows) <= 4 + 2  # the rest never sent
    assert all(r.reason for r in rows) and parse_output(rows[0].text, "function")[1] == "no_output_block"
