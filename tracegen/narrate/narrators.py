"""The written interface of a narrator, and the table that builds each one from the stage's config.

A narrator turns Trace rows into Narration rows; the stage (stage.py) runs it over a run's shards and
reuse (tracegen/reuse.py) asks it what it would send, so an earlier narration made by the same
narrator, model, revision and prompt can be taken instead of asked for again. Three implement it:
`template` (template_narrator.py, no model), `openai` (openai_narrator.py, any OpenAI-compatible
endpoint) and `transformers` (hf_narrator.py, a local model folder). `import` is not a narrator: it
reads narrations made elsewhere (import_narrator.py) and the stage handles it on its own path.

A new narrator is a class with these members and one entry in FACTORIES.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..records import Trace
    from .records import Narration
    from .stage import NarrateConfig


@runtime_checkable
class Narrator(Protocol):
    name: str  # the `narrator` column: template | openai | transformers
    model: str  # the `model` column: served model name, local model folder, "" for the template narrator
    revision: str  # what identifies the weights or the template version (the `revision` column)

    def prompt_sha(self, trace: Trace) -> str | None:
        """The sha256 of what narrating `trace` would send (None: the prompt cannot fit its budget)."""

    def narrate_batch(self, traces: list[Trace], on_done: Callable[[int], None] | None = None) -> list[Narration]:
        """One Narration per trace, in order; a failure is a row with a status and a reason, never an exception.
        `on_done(n)` is called as rows finish (the progress bar)."""


def _template(cfg: NarrateConfig) -> Narrator:
    from .template_narrator import TemplateNarrator

    return TemplateNarrator(seed=cfg.seed)


def _openai(cfg: NarrateConfig) -> Narrator:
    from .cache import RequestCache
    from .openai_narrator import EndpointSettings, OpenAINarrator
    from .tokens import token_counter

    s = EndpointSettings(base_url=cfg.base_url, model=cfg.model, api_key_env=cfg.api_key_env,
                         temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed,
                         concurrency=cfg.concurrency, timeout_s=cfg.timeout_s, max_retries=cfg.max_retries)
    return OpenAINarrator(s, token_counter(cfg.tokenizer), cfg.max_prompt_tokens, RequestCache(cfg.cache_path()))


def _transformers(cfg: NarrateConfig) -> Narrator:
    from .cache import RequestCache
    from .hf_narrator import HFNarrator, LocalSettings

    s = LocalSettings(model_dir=cfg.model, device=cfg.device, batch_size=cfg.batch_size,
                      temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed)
    return HFNarrator(s, cfg.max_prompt_tokens, RequestCache(cfg.cache_path()))


# `narrator:` name -> builder; heavy imports happen inside, in the worker that narrates
FACTORIES: dict[str, Callable[[NarrateConfig], Narrator]] = {
    "template": _template,
    "openai": _openai,
    "transformers": _transformers,
}


def make_narrator(cfg: NarrateConfig) -> Narrator:
    """The narrator a config asks for."""
    return FACTORIES[cfg.narrator](cfg)
