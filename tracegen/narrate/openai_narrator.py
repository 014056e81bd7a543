"""Narration through any OpenAI-compatible chat endpoint (vLLM, TGI, llama.cpp, `transformers
serve`, hosted APIs), with `openai.AsyncOpenAI`.

- Bounded concurrency: at most `concurrency` requests in flight (an asyncio.Semaphore).
- Retries with exponential backoff and jitter on 429, 5xx and timeouts only; a Retry-After
  header is honoured up to `max_backoff_s`. Other 4xx and connection errors are not retried:
  the first is our fault, the second means the server is gone (many in a row abort the rest of
  the batch, so a dead endpoint costs seconds, not hours). A refused key (401/403), a 404 (wrong
  URL or model) and an answer that is not a chat completion get their own statuses, which a plain
  rerun of the stage retries once the setting is fixed.
- Every attempt is bounded by `timeout_s` twice over (the HTTP client's timeout and an
  asyncio deadline that also covers a server trickling bytes), so nothing hangs.
- Answers are cached (cache.py) before they are parsed: a rerun sends zero requests for them.
- Every trace gives a row; failures are rows with a status and a reason, never an exception.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from ..records import Trace
from .cache import RequestCache, request_key
from .llm_rows import answer_row, base_row, failure_row
from .records import Narration
from .render_prompt import Prompt, PromptTooLong, build_prompt, trace_prompt_sha
from .tokens import TokenCounter


@dataclass
class EndpointSettings:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    abort_after: int = 16  # consecutive transport failures before the rest of a batch is aborted

    def sampling(self) -> dict[str, Any]:
        """The params that change the answer: part of the cache key and of the request."""
        p: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            p["seed"] = self.seed
        return p


class _Transport(Exception):
    def __init__(self, status: str, reason: str, retry: bool, retry_after: float | None = None):
        super().__init__(reason)
        self.status, self.reason, self.retry, self.retry_after = status, reason, retry, retry_after


class OpenAINarrator:
    name = "openai"

    def __init__(self, settings: EndpointSettings, counter: TokenCounter, prompt_budget: int,
                 cache: RequestCache | None = None):
        self.s = settings
        self.model = settings.model
        self.revision = ""  # an endpoint does not tell which weights it serves
        self.counter = counter
        self.prompt_budget = prompt_budget
        self.cache = cache
        self.requests = 0  # HTTP attempts sent, retries included
        self.retries = 0
        self._failures_in_a_row = 0

    def prompt_sha(self, trace: Trace) -> str | None:
        """The sha of the exact messages this narrator would send for `trace` (None: too long)."""
        return trace_prompt_sha(trace, self.counter, self.prompt_budget)

    def narrate_batch(self, traces: list[Trace], on_done: Callable[[int], None] | None = None) -> list[Narration]:
        return asyncio.run(self.anarrate_batch(traces, on_done))

    async def anarrate_batch(self, traces: list[Trace], on_done: Callable[[int], None] | None = None) -> list[Narration]:
        import openai

        key = os.environ.get(self.s.api_key_env) or "EMPTY"  # local servers accept any key
        client = openai.AsyncOpenAI(base_url=self.s.base_url, api_key=key, max_retries=0,
                                    timeout=self.s.timeout_s)
        sem = asyncio.Semaphore(self.s.concurrency)

        async def one(t: Trace) -> Narration:
            row = await self._one(client, sem, t)
            if on_done:
                on_done(1)
            return row

        try:
            return list(await asyncio.gather(*(one(t) for t in traces)))
        finally:
            await client.close()

    async def _one(self, client: Any, sem: asyncio.Semaphore, trace: Trace) -> Narration:
        # everything under the semaphore: at most `concurrency` prompts are built and held at once,
        # and the first requests go out before the last prompt is built
        async with sem:
            try:
                prompt = build_prompt(trace, self.counter, self.prompt_budget)
            except PromptTooLong as exc:
                return failure_row(base_row(trace, self.name, self.model, self.revision, None),
                                   "prompt_too_long", str(exc))
            row = base_row(trace, self.name, self.model, self.revision, prompt)
            params = self.s.sampling()
            key = request_key(self.model, prompt.messages, params)
            if self.cache is not None:
                hit = self.cache.get(key)
                if hit is not None:
                    return answer_row(row, trace.kind, hit, cached=True)
            if self._failures_in_a_row >= self.s.abort_after:
                return failure_row(row, "aborted", f"not sent: the endpoint failed {self._failures_in_a_row} "
                                                   "requests in a row just before")
            t0 = time.perf_counter()
            try:
                answer = await self._request(client, prompt, params)
            except _Transport as exc:
                if exc.status != "request_error":
                    self._failures_in_a_row += 1
                return failure_row(row, exc.status, exc.reason, (time.perf_counter() - t0) * 1000)
            self._failures_in_a_row = 0
            if self.cache is not None:
                self.cache.put(key, self.model, answer)
            return answer_row(row, trace.kind, answer, cached=False)

    async def _request(self, client: Any, prompt: Prompt, params: dict[str, Any]) -> dict[str, Any]:
        attempt = 0
        while True:
            t0 = time.perf_counter()
            try:
                self.requests += 1
                resp = await asyncio.wait_for(
                    client.chat.completions.create(model=self.model, messages=prompt.messages, **params),
                    timeout=self.s.timeout_s + 1.0)
                return _answer(resp, (time.perf_counter() - t0) * 1000)
            except _Transport as exc:
                err = exc
            except Exception as exc:  # noqa: BLE001 - mapped to a status below, re-raised if unknown
                err = _classify(exc)
            if not err.retry or attempt >= self.s.max_retries:
                if err.retry:
                    err.reason = f"{err.reason} (gave up after {attempt + 1} attempts)"
                raise err
            delay = min(self.s.max_backoff_s, self.s.backoff_s * 2 ** attempt) * (0.5 + random.random())
            if err.retry_after is not None:
                delay = min(self.s.max_backoff_s, max(delay, err.retry_after))
            attempt += 1
            self.retries += 1
            await asyncio.sleep(delay)

    def complete(self, requests: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[dict[str, Any]]:
        """Answers to plain chat requests, each (messages, sampling overrides such as a seed), through
        the same cache, concurrency bound and retries as narrations (evaluation sends its prompts
        this way). A request that fails is `{"error": status, "reason": ...}` and is not cached."""
        return asyncio.run(self._complete_all(requests))

    async def _complete_all(self, requests: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[dict[str, Any]]:
        import openai

        client = openai.AsyncOpenAI(base_url=self.s.base_url, api_key=os.environ.get(self.s.api_key_env) or "EMPTY",
                                    max_retries=0, timeout=self.s.timeout_s)
        sem = asyncio.Semaphore(self.s.concurrency)

        async def one(messages: list[dict[str, str]], overrides: dict[str, Any]) -> dict[str, Any]:
            params = {**self.s.sampling(), **overrides}
            key = request_key(self.model, messages, params)
            async with sem:
                hit = self.cache.get(key) if self.cache is not None else None
                if hit is not None:
                    return hit
                if self._failures_in_a_row >= self.s.abort_after:
                    return {"error": "aborted", "reason": f"not sent: the endpoint failed {self._failures_in_a_row} "
                                                          "requests in a row just before"}
                try:
                    answer = await self._request(client, Prompt(messages, "", 0, False, 0, None), params)
                except _Transport as exc:
                    if exc.status != "request_error":
                        self._failures_in_a_row += 1
                    return {"error": exc.status, "reason": exc.reason}
                self._failures_in_a_row = 0
                if self.cache is not None:
                    self.cache.put(key, self.model, answer)
                return answer

        try:
            return list(await asyncio.gather(*(one(m, o) for m, o in requests)))
        finally:
            await client.close()

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "retries": self.retries,
                "endpoint": {k: v for k, v in asdict(self.s).items() if k != "api_key_env"}}


def _answer(resp: Any, latency_ms: float) -> dict[str, Any]:
    try:
        choice = resp.choices[0]
        text = choice.message.content
        if text is not None and not isinstance(text, str):
            raise TypeError(f"message content is a {type(text).__name__}")
    except (AttributeError, IndexError, TypeError, KeyError) as exc:
        raise _Transport("bad_response", f"the endpoint answered with something that is not a chat "
                                         f"completion ({type(exc).__name__}: {exc})", retry=False) from exc
    usage = getattr(resp, "usage", None)
    return {
        "text": text or "",
        "finish_reason": str(getattr(choice, "finish_reason", "") or ""),
        "tokens_in": int(getattr(usage, "prompt_tokens", 0) or 0),
        "tokens_out": int(getattr(usage, "completion_tokens", 0) or 0),
        "latency_ms": round(latency_ms, 3),
    }


def _classify(exc: BaseException) -> _Transport:
    """429 / 5xx / timeouts are retried; everything else the endpoint said is final."""
    import openai

    if isinstance(exc, (asyncio.TimeoutError, openai.APITimeoutError)):
        return _Transport("timeout", "the request timed out", retry=True)
    if isinstance(exc, openai.RateLimitError):
        return _Transport("rate_limited", f"429 from the endpoint: {_msg(exc)}", retry=True,
                          retry_after=_retry_after(exc))
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code >= 500:
            return _Transport("server_error", f"{code} from the endpoint: {_msg(exc)}", retry=True,
                              retry_after=_retry_after(exc))
        if code in (401, 403):  # a rerun retries these rows once the key is fixed
            return _Transport("auth_error", f"{code} from the endpoint: {_msg(exc)}", retry=False)
        if code == 404:  # a wrong --base-url or --model: also retried once fixed
            return _Transport("not_found", f"404 from the endpoint: {_msg(exc)}", retry=False)
        return _Transport("request_error", f"{code} from the endpoint: {_msg(exc)}", retry=False)
    if isinstance(exc, openai.APIConnectionError):
        return _Transport("connection_error", f"cannot reach the endpoint: {_msg(exc)}", retry=False)
    if isinstance(exc, (openai.APIError, ValueError)):
        # a 200 whose body is not a chat completion (APIResponseValidationError, bad JSON)
        return _Transport("bad_response", f"unusable answer: {type(exc).__name__}: {_msg(exc)}", retry=False)
    raise exc


def _msg(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {cause})"
    return text[:300]


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (AttributeError, TypeError, ValueError):
        return None
