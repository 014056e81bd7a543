"""The published `sft` and `rl` configs train with TRL as loaded: one SFTTrainer step, one GRPOTrainer step.

Each config is read with plain `datasets.load_dataset(folder, config, split="train")` and handed to the
trainer as it is: no map, rename or column removal in between. A tiny random Llama stands in for the model.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from test_narrate_hf import tiny_model

from finetune.rewards import output_prediction_reward

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_dataset(tmp_path_factory) -> Path:
    """The bundled examples, run end to end by the real CLI (`selfexec run`, as `make demo` does)."""
    tmp = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, "-m", "selfexec.cli", "run", str(ROOT / "recipes" / "demo.yaml"),
                    "--set", f"run={tmp / 'run'}", "--set", f"publish.out={tmp / 'dataset'}"],
                   check=True, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert (tmp / "dataset" / "selfexec.json").is_file()
    return tmp / "dataset"


def fresh_cache(dataset: Path) -> str:
    """A datasets cache of this test's own: datasets keys a local folder's cache by the folder's name and
    config, not its content, so a `dataset` folder of an earlier session (older schema) would come back."""
    return str(dataset.parent / "hf-datasets-cache")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("tiny-model"))


def test_demo_dataset_loads_and_its_answers_score_plus_one(demo_dataset):
    import datasets

    cache = fresh_cache(demo_dataset)
    sft = datasets.concatenate_datasets(list(datasets.load_dataset(str(demo_dataset), "sft", cache_dir=cache).values()))
    rl = datasets.concatenate_datasets(list(datasets.load_dataset(str(demo_dataset), "rl", cache_dir=cache).values()))
    # one solving prompt per problem (8) follows the output-prediction prompts
    assert rl["task"].count("solve") == 8 and rl["task"].count("output_prediction") == 15
    rl = rl.filter(lambda r: r["task"] == "output_prediction")
    assert len(sft) == len(rl) == 15 and sft["trace_id"] == rl["trace_id"]
    assert {"function", "stdio"} == set(rl["kind"])
    # the reference answer of every sft row earns +1 against the rl row's ground truth, a wrong one -1
    completions = [row["messages"][1:] for row in sft]
    assert output_prediction_reward(completions, rl["kind"], rl["expected_output"]) == [1.0] * len(rl)
    wrong = ["-1" if k == "function" else "nope\n" for k in rl["kind"]]
    assert output_prediction_reward(completions, rl["kind"], wrong) == [-1.0] * len(rl)


def test_sft_trainer_takes_one_step_on_the_sft_config(demo_dataset, model_dir, tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    train = datasets.load_dataset(str(demo_dataset), "sft", split="train", cache_dir=fresh_cache(demo_dataset))
    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=1, per_device_train_batch_size=2,
                     max_length=16384, learning_rate=1e-3, bf16=False, use_cpu=True, report_to=[],
                     logging_steps=1, save_strategy="no", dataloader_num_workers=0, seed=0)
    trainer = SFTTrainer(model=str(model_dir), args=args, train_dataset=train)
    # nothing truncated: the narration and its [ANSWER] / <output> block are in what the model trains on
    assert all(len(ids) < args.max_length for ids in trainer.train_dataset["input_ids"])
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert math.isfinite(result.training_loss) and result.training_loss > 0
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert losses and all(math.isfinite(x) for x in losses)


def test_grpo_trainer_takes_one_step_on_the_rl_config(demo_dataset, model_dir, tmp_path):
    import datasets
    from trl import GRPOConfig, GRPOTrainer

    train = datasets.load_dataset(str(demo_dataset), "rl", split="train", cache_dir=fresh_cache(demo_dataset))
    train = train.filter(lambda r: r["task"] == "output_prediction")  # solve rows score None here
    calls = []

    def output_prediction(prompts, completions, **kwargs):
        rewards = output_prediction_reward(completions, **kwargs)
        calls.append({"prompts": prompts, "completions": completions, "kwargs": kwargs, "rewards": rewards})
        return rewards

    args = GRPOConfig(output_dir=str(tmp_path / "grpo"), max_steps=1, per_device_train_batch_size=2,
                      num_generations=2, max_completion_length=16, learning_rate=1e-3, bf16=False, use_cpu=True,
                      report_to=[], logging_steps=1, save_strategy="no", dataloader_num_workers=0, seed=0)
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=output_prediction, args=args, train_dataset=train)
    result = trainer.train()
    assert trainer.state.global_step == 1
    assert math.isfinite(result.training_loss)
    assert calls, "the reward function was never called"
    by_id = {row["trace_id"]: row for row in train}
    for call in calls:
        kw = call["kwargs"]
        n = len(call["completions"])
        assert n == 2 and call["rewards"] and set(call["rewards"]) <= {-1.0, 1.0}
        assert len(kw["kind"]) == len(kw["expected_output"]) == n
        # our columns arrive as they are in the dataset, one entry per completion
        for i in range(n):
            row = by_id[kw["trace_id"][i]]
            assert kw["kind"][i] == row["kind"] and kw["expected_output"][i] == row["expected_output"]
            assert kw["tests"][i] == row["tests"] and call["prompts"][i] == row["prompt"]
        assert all(isinstance(c, list) and c[0]["role"] == "assistant" for c in call["completions"])
