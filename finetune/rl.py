"""`selfexec rl RECIPE`: TRL GRPOTrainer on the `rl` config with our verifiable rewards.

The recipe's `rewards` picks the reward functions and their TRL weights; `task_weights` scales each
task's score inside its reward (the paper's 0.8 on output prediction); `task_mix` resamples the
prompts to each task's share (data.py). Rewards that do not apply to a row return None, and TRL
leaves them out of that row's sum; a row no reward applies to gets advantage 0.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .code_runner import RunLimits
from .config import FinetuneConfig, trl_args
from .data import load_training_data
from .model_card import write_model_card
from .models import corpus_of, resolve_model
from .output import Staging, lora_config, push_model, save_model, write_metrics


def reward_functions(cfg: FinetuneConfig) -> tuple[list[Any], list[float]]:
    """The recipe's rewards as TRL reward functions, in `cfg.rewards` order, with their weights."""
    from . import rewards as r

    make = {
        "output_prediction": lambda: r.by_task(r.output_prediction_reward, cfg.task_weights),
        "solve": lambda: r.by_task(r.make_solve_reward(RunLimits(timeout_s=cfg.reward_timeout_s),
                                                       cfg.reward_batch_timeout_s, cfg.reward_workers,
                                                       cfg.sandbox), cfg.task_weights),
        "format": lambda: r.format_reward,
        "trace": lambda: r.make_trace_reward(cfg.trace_wrong_penalty, cfg.reward_workers, cfg.sandbox),
    }
    names = list(cfg.rewards)
    return [make[n]() for n in names], [float(cfg.rewards[n]) for n in names]


def run_rl(cfg: FinetuneConfig) -> dict[str, Any]:
    """Train with GRPO, save and describe; returns the metrics also written to OUTPUT_DIR/finetune_metrics.json."""
    from trl import GRPOTrainer

    data = load_training_data(cfg)
    lora = lora_config(cfg)
    funcs, weights = reward_functions(cfg)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="selfexec-rl-") as work, Staging(cfg.output_dir) as stage:
        model, description = resolve_model(cfg.model, corpus_of(data.train), Path(work))
        args = trl_args(cfg, "rl", str(Path(work) / "checkpoints"), {"reward_weights": weights})
        trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=data.train,
                              eval_dataset=data.eval, peft_config=lora)
        metrics: dict[str, Any] = {"dataset": data.source, "dataset_version": data.version,
                                   "train_rows": data.rows["train"], "eval_rows": data.rows["eval"], "seed": args.seed}
        if "task" in data.train.column_names:
            tasks = data.train["task"]
            metrics.update({f"train_rows_{t}": tasks.count(t) for t in sorted(set(tasks))})
        if data.eval is not None:
            metrics["eval_reward_before"] = trainer.evaluate().get("eval_reward")
        result = trainer.train()
        logs = [h for h in trainer.state.log_history if "reward" in h]
        metrics.update(steps=trainer.state.global_step, train_loss=result.training_loss,
                       train_reward_first=logs[0]["reward"] if logs else None,
                       train_reward_last=logs[-1]["reward"] if logs else None,
                       train_runtime_s=round(result.metrics.get("train_runtime", 0.0), 2))
        if data.eval is not None:
            metrics["eval_reward_after"] = trainer.evaluate().get("eval_reward")
        save_model(trainer, stage.tmp, merge_lora=lora is not None)
        shutil.rmtree(Path(work) / "checkpoints", ignore_errors=True)
        metrics["wall_s"] = round(time.monotonic() - t0, 2)
        write_metrics(stage.tmp, metrics)
        write_model_card(
            stage.tmp, title=Path(cfg.output_dir).name, stage="rl", base_model=cfg.model, base_description=description,
                         dataset=data.source if not Path(cfg.dataset).exists() else cfg.dataset,
                         dataset_version=data.version, dataset_config=data.config, rows=data.rows,
                         recipe_text=cfg.recipe_text, metrics=metrics, rewards=cfg.rewards)
        out = stage.commit()
    metrics["output_dir"] = str(out)
    if cfg.push_to_hub and cfg.hub_model_id:
        metrics["pushed"] = push_model(out, cfg.hub_model_id, cfg.hub_private)
    return metrics
