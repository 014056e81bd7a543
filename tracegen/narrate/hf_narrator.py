"""Narration with a local transformers model: a model folder, batched generation with its chat
template, on CPU or GPU.

Prompts are counted and folded with the model's own tokenizer, so they always fit. Batches are
formed from prompts of similar length (fewer pad tokens) and padded on the left, as generation
needs. Answers go through the same request cache as the endpoint narrator, keyed by the model's
revision (a hash of its config and weight files), so a rerun generates nothing it already has.
A batch that raises is retried one prompt at a time; what still fails becomes a
`generation_error` row.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..records import Trace
from .cache import RequestCache, request_key
from .llm_rows import answer_row, base_row, failure_row
from .records import Narration
from .render_prompt import Prompt, PromptTooLong, build_prompt, trace_prompt_sha
from .tokens import HFTokenCounter

_LOADED: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # one load per process, shared by shards


@dataclass
class LocalSettings:
    model_dir: str
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    dtype: str = "auto"  # auto (bf16 on GPU, fp32 on CPU) | float32 | bfloat16 | float16
    batch_size: int = 8
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0

    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
                "seed": self.seed}


def model_revision(model_dir: str | Path) -> str:
    """What identifies the weights without reading them: config.json and the weight files' names
    and sizes, hashed."""
    d = Path(model_dir)
    h = hashlib.sha256()
    cfg = d / "config.json"
    if cfg.is_file():
        h.update(cfg.read_bytes())
    for p in sorted(d.glob("*.safetensors")) + sorted(d.glob("*.bin")):
        h.update(f"{p.name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


def load_model(settings: LocalSettings) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = Path(settings.model_dir)
    if not (d / "config.json").is_file():
        raise FileNotFoundError(f"not a model folder (no config.json): {d}")
    device = settings.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    key = (str(d.resolve()), device, settings.dtype)
    if key in _LOADED:
        return _LOADED[key]
    dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32, "float32": torch.float32,
             "bfloat16": torch.bfloat16, "float16": torch.float16}[settings.dtype]
    tok = AutoTokenizer.from_pretrained(str(d))
    tok.padding_side = "left"  # generation continues from the right end of every row
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=dtype).to(device).eval()
    _LOADED[key] = (model, tok)
    return model, tok


class HFNarrator:
    name = "transformers"

    def __init__(self, settings: LocalSettings, prompt_budget: int, cache: RequestCache | None = None):
        self.s = settings
        self.model = str(settings.model_dir)
        self.revision = model_revision(settings.model_dir)
        self.prompt_budget = prompt_budget
        self.cache = cache
        self.lm, self.tok = load_model(settings)
        self.counter = HFTokenCounter(self.tok, f"tokenizer:{Path(settings.model_dir).name}")
        self.generated = 0  # prompts actually run through the model

    def prompt_sha(self, trace: Trace) -> str | None:
        """The sha of the exact messages this narrator would send for `trace` (None: too long)."""
        return trace_prompt_sha(trace, self.counter, self.prompt_budget)

    def narrate_batch(self, traces: list[Trace], on_done: Callable[[int], None] | None = None) -> list[Narration]:
        rows: list[Narration | None] = [None] * len(traces)
        todo: list[tuple[int, Prompt, str]] = []
        params = self.s.sampling()
        for i, t in enumerate(traces):
            try:
                prompt = build_prompt(t, self.counter, self.prompt_budget)
            except PromptTooLong as exc:
                rows[i] = failure_row(base_row(t, self.name, self.model, self.revision, None), "prompt_too_long", str(exc))
                continue
            key = request_key(f"{self.model}@{self.revision}", prompt.messages, params)
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                rows[i] = answer_row(base_row(t, self.name, self.model, self.revision, prompt), t.kind, hit, True)
            else:
                todo.append((i, prompt, key))
        if on_done and len(traces) > len(todo):
            on_done(len(traces) - len(todo))
        todo.sort(key=lambda x: x[1].tokens)  # similar lengths together: less padding
        for b in range(0, len(todo), self.s.batch_size):
            batch = todo[b:b + self.s.batch_size]
            for (i, prompt, key), answer in zip(batch, self._generate_safely([p for _, p, _ in batch])):
                row = base_row(traces[i], self.name, self.model, self.revision, prompt)
                if isinstance(answer, str):
                    rows[i] = failure_row(row, "generation_error", answer)
                    continue
                if self.cache is not None:
                    self.cache.put(key, f"{self.model}@{self.revision}", answer)
                rows[i] = answer_row(row, traces[i].kind, answer, cached=False)
            if on_done:
                on_done(len(batch))
        return [r for r in rows if r is not None]

    def _generate_safely(self, prompts: list[Prompt]) -> list[dict[str, Any] | str]:
        try:
            return self.generate(prompts)
        except (RuntimeError, ValueError, MemoryError) as exc:
            if len(prompts) == 1:
                return [f"{type(exc).__name__}: {str(exc)[:300]}"]
        out: list[dict[str, Any] | str] = []
        for p in prompts:  # one at a time, so one bad prompt fails alone
            out.extend(self._generate_safely([p]))
        return out

    def generate(self, prompts: list[Prompt]) -> list[dict[str, Any]]:
        """Answers for a batch of prompts: text, finish_reason, tokens_in, tokens_out, latency_ms."""
        import torch

        t0 = time.perf_counter()
        texts = [self.tok.apply_chat_template(p.messages, tokenize=False, add_generation_prompt=True) for p in prompts]
        enc = self.tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.lm.device)
        sample = self.s.temperature > 0
        kwargs: dict[str, Any] = {"max_new_tokens": self.s.max_tokens, "do_sample": sample,
                                  "pad_token_id": self.tok.pad_token_id}
        if sample:
            kwargs.update(temperature=self.s.temperature, top_p=self.s.top_p)
            torch.manual_seed(self.s.seed)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)  # silence sampling-only defaults
        with torch.no_grad():
            out = self.lm.generate(**enc, **kwargs)
        self.generated += len(prompts)
        new = out[:, enc["input_ids"].shape[1]:]
        eos = _eos_ids(self.lm, self.tok)
        ms = (time.perf_counter() - t0) * 1000 / len(prompts)  # the batch's time, shared out
        answers = []
        for r in range(len(prompts)):
            ids = new[r].tolist()
            stop = next((j for j, x in enumerate(ids) if x in eos), None)
            used = ids if stop is None else ids[:stop]
            answers.append({
                "text": self.tok.decode(used, skip_special_tokens=True),
                "finish_reason": "stop" if stop is not None else "length",
                "tokens_in": int(enc["attention_mask"][r].sum()),
                "tokens_out": len(used) + (stop is not None),
                "latency_ms": round(ms, 3),
            })
        return answers

    def stats(self) -> dict[str, Any]:
        return {"generated": self.generated, "device": str(self.lm.device), "revision": self.revision}


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    out = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tok.eos_token_id is not None:
        out.add(tok.eos_token_id)
    return out
