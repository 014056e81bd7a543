"""The trained model's card (huggingface_hub `ModelCard`): dataset, its version, the recipe, the scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def write_model_card(folder: Path, *, title: str, stage: str, base_model: str, base_description: str, dataset: str,
                     dataset_version: str, dataset_config: str, rows: dict[str, int], recipe_text: str,
                     metrics: dict[str, Any], rewards: dict[str, float] | None = None) -> Path:
    from huggingface_hub import ModelCard, ModelCardData

    is_hub_model = base_model.count("/") == 1 and not Path(base_model).exists()
    is_hub_data = dataset.count("/") == 1 and not Path(dataset).exists()
    data = ModelCardData(
        library_name="transformers", pipeline_tag="text-generation",
        base_model=base_model if is_hub_model else None, datasets=[dataset] if is_hub_data else None,
        tags=["selfexec", "trl", "sft" if stage == "sft" else "grpo", "code", "execution-traces"],
    )
    trainer = "SFTTrainer (loss on the assistant turn only)" if stage == "sft" else "GRPOTrainer"
    lines = [
        "---", data.to_yaml(), "---", "",
        f"# {title}", "",
        f"Fine-tuned with `selfexec {stage}` (TRL {trainer}) from **{base_description}**.", "",
        "## Training data", "",
        f"- dataset: `{dataset}`",
        f"- dataset version: **{dataset_version}**",
        f"- config: `{dataset_config}`; rows: {rows.get('train', 0)} train, {rows.get('eval', 0)} evaluation",
        "",
    ]
    if rewards:
        lines += ["## Rewards", "", "| reward | weight |", "| --- | --- |",
                  *[f"| `{k}` | {v} |" for k, v in rewards.items()], ""]
    lines += ["## Metrics", "", "| metric | value |", "| --- | --- |",
              *[f"| {k} | {_fmt(v)} |" for k, v in metrics.items()], "",
              "## Recipe", "", "```yaml", recipe_text.rstrip(), "```", ""]
    card = ModelCard("\n".join(lines))
    path = folder / "README.md"
    card.save(str(path))
    return path


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
