"""Fine-tune recipes: TRL-style flat YAML, `--set key=value` overrides, checked before any model loads.

    model: tiny                      # tiny (built on the fly) | smollm2 | a local folder | a Hub id
    dataset: runs/demo-dataset       # a published dataset folder, or a Hub id (with dataset_revision)
    dataset_config: sft              # sft for `selfexec sft`, rl for `selfexec rl`
    output_dir: runs/sft-smoke
    max_steps: 3                     # every key that is not ours is a TRL SFTConfig / GRPOConfig argument
    learning_rate: 1.0e-3

`rl` recipes add `rewards` (reward name -> TRL weight), `task_mix` (share of each task's prompts)
and `task_weights` (per-task reward weights), see `RL_DEFAULTS`. Unknown keys, wrong types and TRL
arguments TRL does not have fail here with the key's name and what to write instead.
"""

from __future__ import annotations

import dataclasses
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracegen.errors import UserError
from tracegen.overrides import read_recipe

REWARDS = ("output_prediction", "solve", "format", "trace")
TASKS = ("output_prediction", "solve")


class RecipeError(UserError):
    """The fine-tune recipe (or an override) is wrong; the message names the key and the fix."""


@dataclass
class FinetuneConfig:
    model: str
    dataset: str
    output_dir: str
    dataset_config: str = "sft"
    dataset_revision: str | None = None  # Hub datasets: a tag (v1.2.0), branch or commit
    train_split: str = "train"
    eval_split: str | None = "validation"  # null: no evaluation
    max_train_rows: int | None = None
    max_eval_rows: int | None = None
    lora: dict[str, Any] | None = None  # {r, alpha, dropout, target_modules}: a LoRA adapter, merged on save
    push_to_hub: bool = False
    hub_model_id: str | None = None
    hub_private: bool = False
    seed: int = 0
    # rl only
    rewards: dict[str, float] = field(default_factory=lambda: {"output_prediction": 1.0, "solve": 1.0})
    task_mix: dict[str, float] | None = None  # e.g. {output_prediction: 0.8, solve: 0.2}; null: as published
    task_weights: dict[str, float] = field(default_factory=lambda: {"output_prediction": 0.8, "solve": 1.0})
    reward_timeout_s: float = 4.0  # per test run of a model's program
    reward_batch_timeout_s: float = 60.0  # all programs of one reward call
    reward_workers: int = 4  # sandboxes running programs at once
    sandbox: str = "auto"
    trace_wrong_penalty: float = 1.0
    trainer: dict[str, Any] = field(default_factory=dict)  # TRL arguments, as given
    recipe_path: str = ""
    recipe_text: str = ""  # the resolved recipe, for the model card

    def validate(self, stage: str) -> None:
        if not self.model:
            raise RecipeError("`model:` is required: tiny, smollm2, a local model folder or a Hub id")
        if not self.dataset:
            raise RecipeError("`dataset:` is required: a published dataset folder (selfexec run/publish) or a Hub id; "
                              "e.g. --set dataset=runs/demo-dataset")
        if not self.output_dir:
            raise RecipeError("`output_dir:` is required: where the trained model goes, e.g. --set output_dir=runs/sft")
        out = Path(self.output_dir)
        if out.exists() and (not out.is_dir() or any(out.iterdir()) and not (out / METRICS_FILE).is_file()):
            raise RecipeError(f"output_dir {out} exists and holds no earlier fine-tune ({METRICS_FILE}): "
                              f"pick a new or empty folder")
        want = {"sft": "sft", "rl": "rl"}[stage]
        if self.dataset_config != want:
            raise RecipeError(f"`selfexec {stage}` trains on the `{want}` config, not {self.dataset_config!r}: "
                              f"set dataset_config: {want}")
        if stage == "rl":
            bad = sorted(set(self.rewards) - set(REWARDS))
            if bad or not self.rewards:
                raise RecipeError(f"unknown rewards {bad}: `rewards:` maps some of {list(REWARDS)} to weights")
            for name, table in (("task_mix", self.task_mix or {}), ("task_weights", self.task_weights)):
                bad = sorted(set(table) - set(TASKS))
                if bad:
                    raise RecipeError(f"unknown tasks {bad} in {name}: use {list(TASKS)}")
                if any(not isinstance(v, (int, float)) or v < 0 for v in table.values()):
                    raise RecipeError(f"{name} values must be numbers >= 0 (got {table})")
            if self.task_mix is not None and sum(self.task_mix.values()) <= 0:
                raise RecipeError(f"task_mix must give some task a share > 0 (got {self.task_mix})")
            if self.reward_timeout_s <= 0 or self.reward_batch_timeout_s <= 0 or self.reward_workers < 1:
                raise RecipeError("reward_timeout_s and reward_batch_timeout_s must be > 0, reward_workers >= 1")
        if self.lora is not None:
            bad = sorted(set(self.lora) - {"r", "alpha", "dropout", "target_modules"})
            if bad:
                raise RecipeError(f"unknown lora settings {bad}; valid: r, alpha, dropout, target_modules")
        if self.push_to_hub and not self.hub_model_id:
            raise RecipeError("push_to_hub needs hub_model_id: ORG/NAME")


METRICS_FILE = "finetune_metrics.json"
_OURS = {f.name for f in dataclasses.fields(FinetuneConfig)} - {"trainer", "recipe_path", "recipe_text"}
_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}


def load_finetune_recipe(path: str | Path, sets: list[str] | tuple[str, ...], stage: str) -> FinetuneConfig:
    """The recipe at `path` with the overrides applied, our keys checked, the rest kept for TRL."""
    path = Path(path)
    doc = read_recipe(path, sets, "of settings (model:, dataset:, output_dir:, TRL arguments)", "max_steps=10")
    ours = {k: v for k, v in doc.items() if k in _OURS}
    for f in dataclasses.fields(FinetuneConfig):
        if f.name in ours and ours[f.name] is not None:
            _check_type(f, ours[f.name])
    missing = [k for k in ("model", "dataset", "output_dir") if not ours.get(k)]
    if missing:
        raise RecipeError(f"the recipe needs {', '.join(missing)} (set it in {path} or pass --set {missing[0]}=...)")
    ours.setdefault("dataset_config", stage)
    cfg = FinetuneConfig(**{k: str(v) if k in ("model", "dataset", "output_dir") else v for k, v in ours.items()},
                         trainer={k: v for k, v in doc.items() if k not in _OURS}, recipe_path=str(path),
                         recipe_text=yaml.safe_dump(doc, sort_keys=False))
    cfg.validate(stage)
    trl_args(cfg, stage, str(Path(tempfile.gettempdir()) / "selfexec-never-written"))  # TRL's own checks, now
    return cfg


def _check_type(f: dataclasses.Field, value: Any) -> None:
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        default = f.default_factory()  # type: ignore[misc]
    else:
        default = None
    want = type(default) if type(default) in _KINDS else {"model": str, "dataset": str, "output_dir": str,
                                                          "lora": dict, "task_mix": dict, "hub_model_id": str,
                                                          "dataset_revision": str, "eval_split": str,
                                                          "max_train_rows": int, "max_eval_rows": int}.get(f.name)
    if want is None:
        return
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if want is str and isinstance(value, (int, float)) and not isinstance(value, bool) and f.name == "dataset_revision":
        return
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise RecipeError(f"{f.name} must be {_KINDS[want]} (got {value!r})")


def trl_args(cfg: FinetuneConfig, stage: str, output_dir: str, extra: dict[str, Any] | None = None) -> Any:
    """The TRL SFTConfig / GRPOConfig of the recipe, with CPU-safe defaults where the recipe says nothing.
    A TRL argument that does not exist, or a value TRL refuses, is a RecipeError naming it."""
    import torch
    from trl import GRPOConfig, SFTConfig

    cls = SFTConfig if stage == "sft" else GRPOConfig
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(cfg.trainer) - valid)
    if unknown:
        raise RecipeError(f"unknown settings {unknown}: neither ours ({sorted(_OURS)}) nor TRL {cls.__name__} "
                          f"arguments (see the TRL docs; e.g. max_length, not max_seq_length)")
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for key, value in cfg.trainer.items():  # TRL's dataclasses take any type; a wrong one fails deep in training
        want = type(defaults[key]) if type(defaults[key]) in (bool, int, float) else None
        if value is None or want is None:
            continue
        ok = isinstance(value, bool) if want is bool else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and (want is float or value == int(value)))
        if not ok:
            raise RecipeError(f"{key} must be {_KINDS[want]} (got {value!r}), as TRL's {cls.__name__} takes it")
    kwargs: dict[str, Any] = {"report_to": [], "save_strategy": "no", "logging_steps": 1, "seed": cfg.seed,
                              "dataloader_num_workers": 0}
    if not torch.cuda.is_available():  # TRL turns bf16 on by default; a CPU without it would fail later
        kwargs.update(bf16=False, use_cpu=True)
    if stage == "rl":  # GRPO evaluates whole groups: the eval batch must hold a multiple of num_generations
        kwargs["per_device_eval_batch_size"] = int(cfg.trainer.get("num_generations") or 8)
    kwargs.update(cfg.trainer)
    kwargs.update(extra or {})
    kwargs["output_dir"] = output_dir
    try:
        with warnings.catch_warnings():  # TRL's own deprecation notes would break the one-line error
            warnings.simplefilter("ignore", FutureWarning)
            return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"TRL refused the recipe's {cls.__name__} arguments: {str(exc).splitlines()[0]}") from None
