"""`selfexec sft RECIPE` and `selfexec rl RECIPE`: parse, call finetune/, print a table. No training logic here."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from selfexec.terminal import make_console  # piped output is not wrapped mid-sentence

console = make_console()
err_console = make_console(stderr=True)

_SET_HELP = "Override a recipe key: KEY=VALUE, e.g. --set dataset=runs/demo-dataset --set max_steps=10 (repeatable)."


def sft(
    recipe: Path = typer.Argument(..., help="Recipe (YAML): model, dataset, output_dir, TRL SFTConfig arguments."),
    set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    push_to_hub: bool = typer.Option(False, "--push-to-hub", help="Upload the model folder to hub_model_id when done."),
) -> None:
    """Supervised fine-tuning (TRL SFTTrainer) on a published dataset's `sft` config; saves model + card."""
    _run("sft", recipe, set_, push_to_hub)


def rl(
    recipe: Path = typer.Argument(..., help="Recipe (YAML): model, dataset, output_dir, rewards, TRL GRPOConfig "
                                                 "arguments."),
    set_: list[str] = typer.Option([], "--set", help=_SET_HELP),
    push_to_hub: bool = typer.Option(False, "--push-to-hub", help="Upload the model folder to hub_model_id when done."),
) -> None:
    """GRPO (TRL GRPOTrainer) with verifiable rewards on a published dataset's `rl` config; saves model + card."""
    _run("rl", recipe, set_, push_to_hub)


def _run(stage: str, recipe: Path, sets: list[str], push: bool) -> None:
    from finetune.config import load_finetune_recipe

    # errors are UserError / PipelineError: the CLI's group prints them as one line
    cfg = load_finetune_recipe(recipe, [*sets, *(["push_to_hub=true"] if push else [])], stage)
    if stage == "sft":
        from finetune.sft import run_sft as train
    else:
        from finetune.rl import run_rl as train
    metrics = train(cfg)
    table = Table(title=f"{stage}: {metrics.get('steps')} steps on {metrics.get('train_rows')} rows "
                        f"(dataset version {metrics.get('dataset_version')})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if k not in ("dataset", "output_dir", "dataset_version"):
            table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)
    console.print(f"model: {metrics['output_dir']}   card: {Path(metrics['output_dir']) / 'README.md'}")
    if metrics.get("pushed"):
        console.print(f"pushed: {metrics['pushed']}")
