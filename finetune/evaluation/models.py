"""The model SPEC of `selfexec eval` / `selfexec solve`: who answers the prompts.

- `oracle`: runs the program in the sandbox and answers with the true output, written in the one
  answer format (`curation.answers`), so it checks the harness itself: prompt, parser, comparison
  and judge must give it 100%. For input prediction it answers the benchmark's own input.
- `constant:VALUE`: answers VALUE for every item (a baseline whose score a hand count gives).
- a local model folder (has config.json): generation in this process with transformers.
- any other NAME with `--base-url URL`: an OpenAI-compatible endpoint serving NAME.

Both real models go through the narrator's request cache (`tracegen.narrate.cache`), keyed by
(model, messages, sampling params, sample seed), and the endpoint through its bounded concurrency
and retries, so a rerun of the same command sends no request. Greedy decoding (temperature 0)
asks once per prompt and repeats the answer n times; sampling asks once per (prompt, seed + i).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from curation.answers import answer, input_answer
from tracegen.errors import PipelineError, UserError
from tracegen.records import Test

from .execute import Executor

ORACLE, CONSTANT = "oracle", "constant:"


@dataclass(slots=True)
class Query:
    """One question: the chat messages, plus what the oracle needs to answer by running the code."""

    messages: list[dict[str, str]]
    task: str  # output | input (prediction) | solve (write a program) | review (#SUBMIT or a fix)
    kind: str = "function"
    code: str = ""
    input: str = ""
    entry_point: str = ""
    reference: str | None = None  # input prediction: the benchmark's input (what the oracle answers)
    output: str | None = None  # input prediction: the output the input must produce


@dataclass
class ModelSettings:
    spec: str
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"
    cache: str = ""  # request cache file; default ~/.cache/selfexec/eval/requests.sqlite
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    concurrency: int = 8
    timeout_s: float = 120.0
    retries: int = 4
    device: str = "auto"
    batch_size: int = 8


class Model(Protocol):
    name: str

    def complete(self, queries: list[Query], n: int = 1, seed: int = 0) -> list[list[str]]:
        """n answer texts per query."""
        ...

    def stats(self) -> dict[str, Any]: ...


def default_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "selfexec" / "eval" / "requests.sqlite"


def load_model(settings: ModelSettings, executor: Executor) -> Model:
    """The model a SPEC names; a spec that names nothing usable is a UserError saying what to pass."""
    spec = settings.spec.strip()
    if spec == ORACLE:
        return OracleModel(executor)
    if spec.startswith(CONSTANT):
        return ConstantModel(spec[len(CONSTANT):])
    if not spec:
        raise UserError("--model is empty: pass oracle, constant:VALUE, a local model folder, or a served model "
                        "name with --base-url URL")
    if settings.base_url:
        return EndpointModel(settings)
    if (Path(spec) / "config.json").is_file():
        return LocalModel(settings)
    if Path(spec).exists():
        raise UserError(f"--model {spec}: the folder has no config.json, so it is not a transformers model folder")
    raise UserError(f"--model {spec}: not oracle, not constant:VALUE, not a local model folder, and no --base-url "
                    "was given (for a served model pass --base-url http://HOST:PORT/v1 --model NAME)")


class OracleModel:
    """Answers by running the code: the true output (or the benchmark's input) in the answer format."""

    name = ORACLE
    writes_programs = False

    def __init__(self, executor: Executor):
        self.executor = executor

    def complete(self, queries: list[Query], n: int = 1, seed: int = 0) -> list[list[str]]:
        return [[text] * n for text in self.executor.map(self._one, queries)]

    def _one(self, q: Query) -> str:
        if q.task == "input":
            if q.reference is None:
                raise UserError("the oracle answers input prediction with the benchmark's input, and this item has none")
            return input_answer(q.reference, q.output or "", q.entry_point)
        if q.task != "output":
            raise UserError("the oracle runs programs but cannot write them: for `solve` give --candidates FILE "
                            "(the oracle then simulates) or a real model")
        r = self.executor.run(q.kind, q.code, q.entry_point, Test("oracle", q.input))
        if r.status != "ok":
            return f"The program does not finish normally: {r.status} {r.exception or r.reason}".strip()
        true = r.stdout if q.kind == "stdio" else (r.value_repr or "None")
        return answer(q.kind, true, q.input, q.entry_point)

    def stats(self) -> dict[str, Any]:
        return {"sandbox_runs": self.executor.runs}


class ConstantModel:
    """Answers VALUE to every prediction."""

    writes_programs = False

    def __init__(self, value: str):
        self.value = value
        self.name = CONSTANT + value

    def complete(self, queries: list[Query], n: int = 1, seed: int = 0) -> list[list[str]]:
        out = []
        for q in queries:
            if q.task == "output":
                out.append([answer(q.kind, self.value, q.input, q.entry_point)] * n)
            elif q.task == "input":
                out.append([input_answer(self.value, q.output or "", q.entry_point)] * n)
            else:
                raise UserError(f"{self.name} only predicts values; it cannot write programs")
        return out

    def stats(self) -> dict[str, Any]:
        return {}


def _samples(settings: ModelSettings, n: int, seed: int) -> list[int]:
    """The seeds of the n samples; greedy decoding gives one answer, repeated."""
    return [seed] if settings.temperature == 0 else [seed + i for i in range(n)]


class EndpointModel:
    """An OpenAI-compatible endpoint, through the endpoint narrator's cache, concurrency and retries."""

    def __init__(self, settings: ModelSettings):
        from tracegen.narrate.cache import RequestCache
        from tracegen.narrate.openai_narrator import EndpointSettings, OpenAINarrator

        self.s = settings
        self.name = settings.spec
        self.cache = RequestCache(settings.cache or default_cache())
        self.client = OpenAINarrator(
            EndpointSettings(base_url=settings.base_url, model=settings.spec, api_key_env=settings.api_key_env,
                             temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_tokens,
                             concurrency=settings.concurrency, timeout_s=settings.timeout_s,
                             max_retries=settings.retries),
            counter=None, prompt_budget=0, cache=self.cache)  # type: ignore[arg-type]  # no trace prompts here

    def complete(self, queries: list[Query], n: int = 1, seed: int = 0) -> list[list[str]]:
        seeds = _samples(self.s, n, seed)
        answers = self.client.complete([(q.messages, {"seed": s}) for q in queries for s in seeds])
        failed = [a for a in answers if "error" in a]
        if failed:
            raise PipelineError(f"{len(failed)} of {len(answers)} requests to {self.s.base_url} failed "
                                f"(first: {failed[0]['error']}: {failed[0]['reason']}); the answers received are "
                                "cached, rerun the same command to ask only for the rest")
        texts = [a.get("text") or "" for a in answers]
        per = len(seeds)
        return [_repeat(texts[i * per:(i + 1) * per], n) for i in range(len(queries))]

    def stats(self) -> dict[str, Any]:
        return {"requests": self.client.requests, "cache_hits": self.cache.hits, "cache": str(self.cache.path),
                "base_url": self.s.base_url}


class LocalModel:
    """A local transformers model folder, batched generation in this process, answers cached."""

    def __init__(self, settings: ModelSettings):
        from tracegen.narrate.cache import RequestCache
        from tracegen.narrate.hf_narrator import HFNarrator, LocalSettings

        self.s = settings
        self.name = settings.spec
        self.cache = RequestCache(settings.cache or default_cache())
        self.lm = HFNarrator(LocalSettings(model_dir=settings.spec, device=settings.device,
                                           batch_size=settings.batch_size, temperature=settings.temperature,
                                           top_p=settings.top_p, max_tokens=settings.max_tokens),
                             prompt_budget=0, cache=None)

    def complete(self, queries: list[Query], n: int = 1, seed: int = 0) -> list[list[str]]:
        from tracegen.narrate.cache import request_key
        from tracegen.narrate.render_prompt import Prompt

        seeds = _samples(self.s, n, seed)
        model_key = f"{self.lm.model}@{self.lm.revision}"
        texts: dict[tuple[int, int], str] = {}
        for s in seeds:
            self.lm.s.seed = s
            params = self.lm.s.sampling()
            todo = []
            for i, q in enumerate(queries):
                key = request_key(model_key, q.messages, params)
                hit = self.cache.get(key)
                if hit is not None:
                    texts[i, s] = hit.get("text") or ""
                else:
                    todo.append((i, key))
            for b in range(0, len(todo), self.s.batch_size):
                batch = todo[b:b + self.s.batch_size]
                prompts = [Prompt(queries[i].messages, "", 0, False, 0, None) for i, _ in batch]
                for (i, key), ans in zip(batch, self.lm.generate(prompts)):
                    self.cache.put(key, model_key, ans)
                    texts[i, s] = ans.get("text") or ""
        return [_repeat([texts[i, s] for s in seeds], n) for i in range(len(queries))]

    def stats(self) -> dict[str, Any]:
        return {"generated": self.lm.generated, "cache_hits": self.cache.hits, "cache": str(self.cache.path),
                "revision": self.lm.revision}


def _repeat(texts: list[str], n: int) -> list[str]:
    return texts if len(texts) == n else (texts * n)[:n]
