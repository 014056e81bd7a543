"""`selfexec sft RECIPE`: TRL SFTTrainer on the `sft` config of a published dataset.

Reads top to bottom: load the data, resolve the model, build TRL's config from the recipe, evaluate
on the validation split, train, evaluate again, save the model (LoRA merged in) with its tokenizer,
card and metrics into a temporary folder, swap it into `output_dir`, push when asked.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import FinetuneConfig, trl_args
from .data import load_training_data
from .model_card import write_model_card
from .models import corpus_of, resolve_model
from .output import Staging, lora_config, push_model, save_model, write_metrics


def run_sft(cfg: FinetuneConfig) -> dict[str, Any]:
    """Train, save and describe; returns the metrics also written to OUTPUT_DIR/finetune_metrics.json."""
    from trl import SFTTrainer

    data = load_training_data(cfg)
    lora = lora_config(cfg)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="selfexec-sft-") as work, Staging(cfg.output_dir) as stage:
        model, description = resolve_model(cfg.model, corpus_of(data.train), Path(work))
        args = trl_args(cfg, "sft", str(Path(work) / "checkpoints"))
        trainer = SFTTrainer(model=model, args=args, train_dataset=data.train, eval_dataset=data.eval,
                             peft_config=lora)
        metrics: dict[str, Any] = {"dataset": data.source, "dataset_version": data.version,
                                   "train_rows": data.rows["train"], "eval_rows": data.rows["eval"], "seed": args.seed}
        if data.eval is not None:
            metrics["eval_loss_before"] = trainer.evaluate()["eval_loss"]
        result = trainer.train()
        metrics.update(steps=trainer.state.global_step, train_loss=result.training_loss,
                       train_runtime_s=round(result.metrics.get("train_runtime", 0.0), 2))
        if data.eval is not None:
            after = trainer.evaluate()
            metrics["eval_loss_after"] = after["eval_loss"]
            if "eval_mean_token_accuracy" in after:
                metrics["eval_mean_token_accuracy_after"] = after["eval_mean_token_accuracy"]
        save_model(trainer, stage.tmp, merge_lora=lora is not None)
        shutil.rmtree(Path(work) / "checkpoints", ignore_errors=True)
        metrics["wall_s"] = round(time.monotonic() - t0, 2)
        write_metrics(stage.tmp, metrics)
        write_model_card(
            stage.tmp, title=Path(cfg.output_dir).name, stage="sft", base_model=cfg.model, base_description=description,
                         dataset=data.source if not Path(cfg.dataset).exists() else cfg.dataset,
                         dataset_version=data.version, dataset_config=data.config, rows=data.rows,
                         recipe_text=cfg.recipe_text, metrics=metrics)
        out = stage.commit()
    metrics["output_dir"] = str(out)
    if cfg.push_to_hub and cfg.hub_model_id:
        metrics["pushed"] = push_model(out, cfg.hub_model_id, cfg.hub_private)
    return metrics
