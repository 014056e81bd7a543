"""`selfexec sft` and `selfexec rl` through the real CLI, on a dataset our own pipeline published:
3 SFT steps and 2 GRPO steps with a tiny model built on the fly, the saved models reload and generate,
the card names the dataset and its version; recipe errors are one line; the GPU recipe validates;
a batch where every reward is None leaves the model finite."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.config import RecipeError, load_finetune_recipe

ROOT = Path(__file__).resolve().parents[1]


def selfexec(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ft-demo")
    r = selfexec("run", str(ROOT / "recipes" / "demo.yaml"), "--set", f"run={tmp / 'run'}",
                 "--set", f"publish.out={tmp / 'demo-ds'}")
    assert r.returncode == 0, r.stderr[-2000:]
    return tmp / "demo-ds"


def reloads_and_generates(folder: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    ids = tok.apply_chat_template([{"role": "user", "content": "def f(x):\n    return x"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    return tok.decode(out[0])


@pytest.mark.slow
def test_sft_three_steps_through_the_cli(demo_dataset, tmp_path):
    out = tmp_path / "sft-model"
    r = selfexec("sft", str(ROOT / "recipes" / "sft-smoke.yaml"), "--set", f"dataset={demo_dataset}",
                 "--set", f"output_dir={out}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "sft: 3 steps" in r.stdout and "eval_loss_after" in r.stdout
    metrics = json.loads((out / "finetune_metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["dataset_version"] == "1.0.0"
    assert math.isfinite(metrics["eval_loss_before"]) and math.isfinite(metrics["eval_loss_after"])
    card = (out / "README.md").read_text()
    assert str(demo_dataset) in card and "dataset version: **1.0.0**" in card and "max_steps: 3" in card
    assert "# sft-model" in card
    reloads_and_generates(out)
    # nothing half-written is left beside the output
    assert [p.name for p in tmp_path.iterdir()] == ["sft-model"]


@pytest.mark.slow
def test_rl_two_steps_through_the_cli(demo_dataset, tmp_path):
    out = tmp_path / "rl-model"
    r = selfexec("rl", str(ROOT / "recipes" / "rl-smoke.yaml"), "--set", f"dataset={demo_dataset}",
                 "--set", f"output_dir={out}", "--set", "task_mix.solve=0.5", "--set", "task_mix.output_prediction=0.5")
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((out / "finetune_metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["dataset_version"] == "1.0.0"
    assert metrics["train_rows_solve"] > 0 and metrics["train_rows_output_prediction"] > 0
    assert math.isfinite(metrics["train_loss"])
    card = (out / "README.md").read_text()
    assert str(demo_dataset) in card and "dataset version: **1.0.0**" in card and "`solve` | 1.0" in card
    reloads_and_generates(out)


@pytest.mark.slow
def test_sft_with_lora_saves_a_merged_model(demo_dataset, tmp_path):
    pytest.importorskip("peft")
    out = tmp_path / "lora"
    r = selfexec("sft", str(ROOT / "recipes" / "sft-smoke.yaml"), "--set", f"dataset={demo_dataset}",
                 "--set", f"output_dir={out}", "--set", "max_steps=1", "--set", "lora={r: 4, alpha: 8}",
                 "--set", "eval_split=null")
    assert r.returncode == 0, r.stderr[-3000:]
    assert not (out / "adapter_config.json").exists()  # merged: a plain model folder
    reloads_and_generates(out)


@pytest.mark.slow
@pytest.mark.parametrize(("sets", "message"), [
    (["max_seq_length=512"], "unknown settings ['max_seq_length']"),  # refused before any data is read
    (["eval_split=dev"], "no 'dev' split"),  # refused once the dataset is open, before the model loads
])
def test_recipe_errors_are_one_line_on_the_cli(demo_dataset, tmp_path, sets, message):
    args = ["sft", str(ROOT / "recipes" / "sft-smoke.yaml"), "--set", f"dataset={demo_dataset}",
            "--set", f"output_dir={tmp_path / 'out'}"]
    for s in sets:
        args += ["--set", s]
    r = selfexec(*args, timeout=300)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("sets", "message"), [
    (["dataset=/nonexistent/ds"], "neither a folder here nor a Hub id"),
    ([f"dataset={ROOT / 'recipes'}"], "not a published dataset folder"),
    (["learning_rate=fast"], "learning_rate must be a number"),
    (["lr_scheduler_type=sideways"], "TRL refused"),
    (["seed=zero"], "seed must be an integer"),
    (["dataset_config=rl"], "trains on the `sft` config"),
    (["model=/nonexistent/model"], "neither tiny, smollm2"),
    ([f"model={ROOT / 'recipes'}"], "has no config.json"),
    ([f"output_dir={ROOT / 'recipes'}"], "holds no earlier fine-tune"),
    (["nonsense"], "use KEY=VALUE"),
])
def test_recipe_errors(demo_dataset, tmp_path, sets, message):
    from finetune.data import load_training_data
    from finetune.models import resolve_model
    from tracegen.errors import UserError

    with pytest.raises(UserError, match=re.escape(message)):
        cfg = load_finetune_recipe(ROOT / "recipes" / "sft-smoke.yaml", [
            f"dataset={demo_dataset}", f"output_dir={tmp_path / 'out'}", *sets], "sft")
        load_training_data(cfg)
        resolve_model(cfg.model, [], tmp_path)


def test_rl_recipe_errors(tmp_path):
    base = ROOT / "recipes" / "rl-smoke.yaml"
    common = [f"dataset={tmp_path}", f"output_dir={tmp_path / 'o'}"]
    with pytest.raises(RecipeError, match="unknown rewards"):
        load_finetune_recipe(base, [*common, "rewards.speed=1"], "rl")
    with pytest.raises(RecipeError, match="unknown tasks"):
        load_finetune_recipe(base, [*common, "task_mix.input_prediction=0.3"], "rl")
    with pytest.raises(RecipeError, match="values must be numbers"):
        load_finetune_recipe(base, [*common, "task_weights.solve=-1"], "rl")
    with pytest.raises(RecipeError, match="holds no earlier fine-tune"):
        load_finetune_recipe(base, [f"dataset={tmp_path}", f"output_dir={ROOT / 'recipes'}"], "rl")


def test_gpu_recipe_validates_without_running():
    """The documented GPU recipe (bf16, vLLM generation) is checked here, not run: our keys, and
    TRL's GRPOConfig accepts every TRL argument it names."""
    from trl import GRPOConfig

    cfg = load_finetune_recipe(ROOT / "recipes" / "rl-gpu.yaml", ["dataset=runs/x", "output_dir=/tmp/never"], "rl")
    assert cfg.model.startswith("Qwen/") and cfg.task_weights["output_prediction"] == 0.8
    assert cfg.trainer["bf16"] is True and cfg.trainer["use_vllm"] is True
    import dataclasses

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert set(cfg.trainer) <= names
    sft = load_finetune_recipe(ROOT / "recipes" / "sft-smollm2.yaml", ["dataset=runs/x", "output_dir=/tmp/n"], "sft")
    assert sft.model == "smollm2"


def test_a_batch_of_all_none_rewards_does_not_poison_training(demo_dataset, tmp_path):
    """TRL gives a completion no reward scored advantage 0: the step runs, the loss is finite and the
    weights stay finite (and, with no signal and no weight decay, unchanged)."""
    import datasets
    import torch
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from finetune.models import corpus_of, tiny_model

    rl = datasets.load_dataset(str(demo_dataset), "rl", split="train", cache_dir=str(tmp_path / "cache"))
    folder = tiny_model(tmp_path / "tiny", corpus_of(rl))
    before = {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(str(folder)).state_dict().items()}

    def nothing_applies(completions, **kwargs):
        return [None] * len(completions)

    args = GRPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=8, learning_rate=1e-2, bf16=False, use_cpu=True, report_to=[],
                      save_strategy="no", logging_steps=1, seed=0, weight_decay=0.0)
    trainer = GRPOTrainer(model=str(folder), reward_funcs=[nothing_applies, nothing_applies], args=args,
                          train_dataset=rl)
    result = trainer.train()
    assert trainer.state.global_step == 1 and math.isfinite(result.training_loss)
    after = trainer.model.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    assert all(torch.equal(before[k], after[k].cpu()) for k in before)
