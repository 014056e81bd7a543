"""Counting prompt tokens the way the narrator's own model will.

Local models count with their HF tokenizer, chat template included. Endpoints count with the
tokenizer folder given by `--tokenizer`; without one we fall back to a character estimate and
say so, since a prompt that fits by estimate may still overflow the server's context.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0  # code and reprs tokenize densely; 3 errs on the side of a shorter prompt
PER_MESSAGE_OVERHEAD = 8  # role markers of a chat template, in tokens


class TokenCounter(Protocol):
    name: str

    def count(self, messages: list[dict[str, str]]) -> int: ...


class HFTokenCounter:
    """Exact counts: the chat template applied as the server or `generate` will apply it."""

    def __init__(self, tokenizer: Any, name: str = ""):
        self.tokenizer = tokenizer
        self.name = name or f"tokenizer:{getattr(tokenizer, 'name_or_path', '')}"

    def count(self, messages: list[dict[str, str]]) -> int:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
            if hasattr(ids, "keys"):  # transformers 5 returns a BatchEncoding here
                ids = ids["input_ids"]
            return len(ids)
        return sum(len(tok(m["content"], add_special_tokens=False)["input_ids"]) + PER_MESSAGE_OVERHEAD
                   for m in messages)


class CharEstimate:
    """ceil(chars / CHARS_PER_TOKEN) plus a per-message overhead; used only without a tokenizer."""

    name = f"estimate:chars/{CHARS_PER_TOKEN:g}"

    def count(self, messages: list[dict[str, str]]) -> int:
        return sum(math.ceil(len(m["content"]) / CHARS_PER_TOKEN) + PER_MESSAGE_OVERHEAD for m in messages)


def load_tokenizer(path: str | Path) -> Any:
    """An HF tokenizer from a local folder (never a Hub id: the pipeline must run offline)."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {p} (give a local folder with tokenizer.json)")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(p))


def token_counter(tokenizer_path: str | Path | None) -> TokenCounter:
    if tokenizer_path:
        return HFTokenCounter(load_tokenizer(tokenizer_path), f"tokenizer:{Path(tokenizer_path).name}")
    msg = (f"no --tokenizer given: prompt budgets are estimated as {CHARS_PER_TOKEN:g} characters per "
           "token, which can be off by 2x for some models; pass the model's tokenizer folder to be exact")
    log.warning(msg)
    warnings.warn(msg, stacklevel=2)
    return CharEstimate()
