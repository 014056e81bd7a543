"""Where a fine-tune writes: a temporary sibling of `output_dir`, swapped in only when the model,
tokenizer, card and metrics are all there, so a failed or interrupted run leaves nothing half-written."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from tracegen.errors import PipelineError, UserError

from .config import METRICS_FILE, FinetuneConfig


class Staging:
    def __init__(self, output_dir: str):
        self.final = Path(output_dir)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.final.parent.glob(f".{self.final.name}.partial-*"):  # a run killed part-way
            shutil.rmtree(stale, ignore_errors=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.partial-", dir=self.final.parent))

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def commit(self) -> Path:
        old = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.chmod(self.tmp, 0o755)  # mkdtemp made it private; a model folder is read by others
        os.replace(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


def save_model(trainer: Any, folder: Path, merge_lora: bool) -> None:
    """The trained weights and tokenizer, as a plain model folder (a LoRA adapter merged in)."""
    model = trainer.model
    if merge_lora and hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(str(folder))
    trainer.processing_class.save_pretrained(str(folder))


def write_metrics(folder: Path, metrics: dict[str, Any]) -> None:
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def lora_config(cfg: FinetuneConfig) -> Any:
    if cfg.lora is None:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise UserError("lora needs the peft package: pip install peft (or remove `lora:` from the recipe)") from None
    lo = cfg.lora
    return LoraConfig(r=int(lo.get("r", 8)), lora_alpha=int(lo.get("alpha", 16)),
                      lora_dropout=float(lo.get("dropout", 0.0)),
                      target_modules=lo.get("target_modules", "all-linear"), task_type="CAUSAL_LM")


def push_model(folder: Path, repo_id: str, private: bool) -> str:
    """Upload the finished folder as a model repo; errors say what to fix, the folder stays as it is."""
    from huggingface_hub import HfApi, constants, get_token

    rerun = f"The model folder {folder} is complete but was not pushed."
    if constants.is_offline_mode():
        raise PipelineError(f"Hugging Face offline mode is on (HF_HUB_OFFLINE=1): unset it to push. {rerun}")
    if not get_token():
        raise PipelineError(f"no Hugging Face token: log in with `hf auth login` (or set HF_TOKEN). {rerun}")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message="selfexec fine-tune")
    except Exception as exc:  # huggingface_hub's HTTP and transport errors
        raise PipelineError(f"pushing to {repo_id} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}. "
                            f"{rerun}") from None
    return str(getattr(info, "commit_url", repo_id))
