"""The transformers narrator: a tiny random model built here (fast), and SmolLM2 (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from narrate_helpers import crux_traces, need_smollm

from tracegen.narrate.cache import RequestCache
from tracegen.narrate.hf_narrator import HFNarrator, LocalSettings
from tracegen.narrate.output import parse_output
from tracegen.narrate.records import PARSE_FAILURES

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_model(folder: Path) -> Path:
    """A 2-layer Llama with a byte-level BPE tokenizer trained here on a few lines of text."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ["def f(x):\n    return x + 1\n", "[OUTPUT]\n3\n[/OUTPUT]", "line 3: total = 15"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>")
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder


def test_batched_generation_rows_and_cache(tmp_path):
    folder = tiny_model(tmp_path / "tiny")
    traces = [t for t in crux_traces() if t.status == "ok"][:5]
    cache = RequestCache(tmp_path / "cache.sqlite")
    settings = LocalSettings(str(folder), device="cpu", batch_size=2, max_tokens=12)
    nar = HFNarrator(settings, prompt_budget=20000, cache=cache)
    done = []
    rows = nar.narrate_batch(traces, done.append)
    assert sum(done) == 5 and nar.generated == 5
    assert [r.trace_id for r in rows] == [t.trace_id for t in traces]
    for t, r in zip(traces, rows):
        # a random model writes no [OUTPUT]: the row says so, with the reason
        assert r.status in ("ok", *PARSE_FAILURES) and (r.status == "ok") == (parse_output(r.text, t.kind)[1] == "ok")
        assert r.status == "ok" or r.reason
        assert 1 <= r.tokens_out <= 12 and r.finish_reason in ("stop", "length")
        assert r.tokens_in == nar.counter.count(_messages(nar, t))  # the model saw the counted prompt
        assert r.narrator == "transformers" and r.revision and r.model == str(folder)
    again = HFNarrator(settings, prompt_budget=20000, cache=RequestCache(cache.path))
    rows2 = again.narrate_batch(traces)
    assert again.generated == 0 and [r.text for r in rows2] == [r.text for r in rows]
    assert all(r.cached for r in rows2)


def test_batched_equals_one_by_one_greedy(tmp_path):
    folder = tiny_model(tmp_path / "tiny")
    traces = [t for t in crux_traces() if t.status == "ok"][10:14]
    one = HFNarrator(LocalSettings(str(folder), device="cpu", batch_size=1, max_tokens=8), 20000)
    four = HFNarrator(LocalSettings(str(folder), device="cpu", batch_size=4, max_tokens=8), 20000)
    a, b = one.narrate_batch(traces), four.narrate_batch(traces)
    # left padding with an attention mask must not change what greedy decoding picks
    assert [r.text for r in a] == [r.text for r in b]


def test_prompt_too_long_is_a_row(tmp_path):
    folder = tiny_model(tmp_path / "tiny")
    nar = HFNarrator(LocalSettings(str(folder), device="cpu", max_tokens=4), prompt_budget=50)
    rows = nar.narrate_batch([t for t in crux_traces() if t.status == "ok"][:2])
    assert [r.status for r in rows] == ["prompt_too_long"] * 2 and nar.generated == 0


@pytest.mark.slow
def test_smollm2_narrates_real_traces_in_a_batch():
    model_dir = need_smollm()
    traces = sorted((t for t in crux_traces() if t.status == "ok"), key=lambda t: len(t.code) + len(t.events))[:2]
    nar = HFNarrator(LocalSettings(str(model_dir), device="cpu", batch_size=2, max_tokens=24), 2000)
    rows = nar.narrate_batch(traces)
    for t, r in zip(traces, rows):
        assert r.status in ("ok", *PARSE_FAILURES) and r.text.strip()
        assert r.tokens_in == nar.counter.count(_messages(nar, t)) and 1 <= r.tokens_out <= 24


def _messages(nar: HFNarrator, trace):
    from tracegen.narrate.render_prompt import build_prompt

    return build_prompt(trace, nar.counter, nar.prompt_budget).messages
