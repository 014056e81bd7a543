"""The training data: one config of a published dataset (a local folder or a Hub id + revision), as TRL wants it.

- `sft` rows keep their provenance columns, and their `messages` become TRL's conversational
  prompt/completion form (`prompt` = the user turn, `completion` = the assistant turn). TRL then
  computes the loss on the completion only, whatever the chat template (no `{% generation %}`
  markers needed, which `assistant_only_loss` would ask of the template).
- `rl` rows are used as published (`prompt` plus the ground-truth columns the rewards read); a
  `task_mix` resamples them to the asked share of each task.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracegen.errors import UserError

from .config import FinetuneConfig


class DatasetError(UserError):
    """The dataset cannot be read as asked; the message says what to change."""


@dataclass
class TrainingData:
    train: Any  # datasets.Dataset
    eval: Any | None
    source: str  # the folder's absolute path, or the Hub id
    version: str  # the published version (selfexec.json), or the Hub revision
    config: str
    rows: dict[str, int]


def load_training_data(cfg: FinetuneConfig) -> TrainingData:
    import datasets

    datasets.disable_progress_bars()  # a wrong split or config is one line, not a wall of bars
    folder = Path(cfg.dataset)
    if folder.exists():
        if not (folder / "README.md").is_file() or not (folder / "data").is_dir():
            raise DatasetError(f"{folder} is not a published dataset folder (no README.md and data/): point "
                               f"dataset at the folder `selfexec run` or `selfexec publish` wrote")
        source, version = str(folder.resolve()), _folder_version(folder)
        if not (folder / "data" / cfg.dataset_config).is_dir():
            raise DatasetError(f"{folder} has no `{cfg.dataset_config}` config (data/{cfg.dataset_config}/); "
                               f"republish it with this version of selfexec")
    elif cfg.dataset.count("/") == 1 and not cfg.dataset.startswith((".", "/")):
        source, version = cfg.dataset, cfg.dataset_revision or "main"
    else:
        raise DatasetError(f"dataset {cfg.dataset!r} is neither a folder here nor a Hub id ORG/NAME")
    # a fresh cache: a republished folder keeps its paths, and datasets would hand back the old rows
    cache = tempfile.mkdtemp(prefix="selfexec-ft-data-")
    try:
        loaded = datasets.load_dataset(source, cfg.dataset_config, revision=cfg.dataset_revision if
                                       not folder.exists() else None, cache_dir=cache, keep_in_memory=True)
    except Exception as exc:  # datasets raises many types (offline, missing config, bad files)
        hint = (" (offline: HF_HUB_OFFLINE is set; download the dataset or use a local folder)"
                if not folder.exists() else "")
        raise DatasetError(f"cannot load {source} config {cfg.dataset_config}: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{hint}") from None
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if cfg.train_split not in loaded:
        raise DatasetError(f"{source} has no {cfg.train_split!r} split in {cfg.dataset_config} (has {sorted(loaded)})")
    train = loaded[cfg.train_split]
    evald = None
    if cfg.eval_split:
        if cfg.eval_split not in loaded:
            raise DatasetError(f"{source} has no {cfg.eval_split!r} split in {cfg.dataset_config} "
                               f"(has {sorted(loaded)}); set eval_split: null to train without evaluation")
        evald = loaded[cfg.eval_split]
    if cfg.dataset_config == "sft":
        train, evald = as_prompt_completion(train), evald and as_prompt_completion(evald)
    elif cfg.task_mix is not None:
        train = mix_tasks(train, cfg.task_mix, cfg.seed)
    if cfg.max_train_rows:
        train = train.shuffle(seed=cfg.seed).select(range(min(cfg.max_train_rows, len(train))))
    if evald is not None and cfg.max_eval_rows:
        evald = evald.select(range(min(cfg.max_eval_rows, len(evald))))
    if len(train) == 0:
        raise DatasetError(f"the {cfg.train_split} split of {source} ({cfg.dataset_config}) has no rows to train on")
    rows = {"train": len(train), "eval": len(evald) if evald is not None else 0}
    return TrainingData(train, evald if evald is not None and len(evald) else None, source, version,
                        cfg.dataset_config, rows)


def _folder_version(folder: Path) -> str:
    manifest = folder / "selfexec.json"
    if manifest.is_file():
        try:
            return str(json.loads(manifest.read_text()).get("version") or "unversioned")
        except ValueError:
            pass
    return "unversioned"


def as_prompt_completion(ds: Any) -> Any:
    """`messages` [user, assistant] -> `prompt` [user turn(s)], `completion` [the last assistant turn]."""
    if "messages" not in ds.column_names:
        raise DatasetError("the sft config has no `messages` column: republish it with this version of selfexec")

    def split(row: dict[str, Any]) -> dict[str, Any]:
        msgs = row["messages"]
        return {"prompt": msgs[:-1], "completion": msgs[-1:]}

    return ds.map(split, remove_columns=["messages"])


def mix_tasks(ds: Any, shares: dict[str, float], seed: int) -> Any:
    """The rows resampled (without replacement) so each task has its share: as many rows as the
    scarcest task allows. A task asked for that has no rows is an error, not a silent skip.

    >>> import datasets
    >>> d = datasets.Dataset.from_dict({"task": ["output_prediction"] * 8 + ["solve"] * 8})
    >>> sorted(mix_tasks(d, {"output_prediction": 0.8, "solve": 0.2}, 0)["task"]).count("solve")
    2
    """
    if "task" not in ds.column_names:
        raise DatasetError("task_mix needs the rl config's `task` column: republish the dataset with this "
                           "version of selfexec, or set task_mix: null")
    tasks = ds["task"]
    wanted = {t: s for t, s in shares.items() if s > 0}
    total = sum(wanted.values())
    have = {t: [i for i, x in enumerate(tasks) if x == t] for t in wanted}
    for t, idx in have.items():
        if not idx:
            raise DatasetError(f"task_mix asks for {t} rows but the dataset has none; set task_mix.{t}=0")
    n = min(len(have[t]) / (wanted[t] / total) for t in wanted)
    import random

    rng = random.Random(seed)
    keep: list[int] = []
    for t in sorted(wanted):
        k = max(1, int(n * wanted[t] / total))
        keep += rng.sample(have[t], min(k, len(have[t])))
    rng.shuffle(keep)
    return ds.select(keep)
