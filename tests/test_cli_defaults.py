"""Each setting's default is declared once, on its stage's config dataclass: a CLI option left out takes
that default (the CLI passes only what was typed), so the CLI, recipes and Python callers agree."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from curation.stage import CurateConfig
from tracegen.records import Limits
from tracegen.stage import TraceConfig

ROOT = Path(__file__).resolve().parents[1]


def selfexec(*args: str) -> None:
    res = subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "COLUMNS": "120"}, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_options_left_out_take_the_dataclass_defaults(tmp_path):
    run = tmp_path / "run"
    selfexec("trace", "examples/problems.jsonl", "--out", str(run), "--max-problems", "1", "--sandbox", "rlimit")
    written = yaml.safe_load((run / "recipe.yaml").read_text())["trace"]
    defaults = TraceConfig(inputs=[], out="")
    assert written["limits"] == dataclasses.asdict(Limits())
    for name in ("format", "shards", "columns"):
        assert written[name] == getattr(defaults, name), name
    selfexec("narrate", str(run))
    selfexec("curate", str(run), "--tokenizer", "chars")
    settings = json.loads((run / "stats" / "curate.json").read_text())["settings"]
    expected = CurateConfig(run=str(run), tokenizer="chars").settings()
    assert settings == expected


def test_options_typed_reach_the_config(tmp_path):
    run = tmp_path / "run"
    selfexec("trace", "examples/problems.jsonl", "--out", str(run), "--max-problems", "1", "--sandbox", "rlimit",
             "--max-events", "500", "--timeout", "3", "--shards", "2")
    written = yaml.safe_load((run / "recipe.yaml").read_text())["trace"]
    assert written["limits"] == dataclasses.asdict(Limits(max_events=500, timeout_s=3.0))
    assert (written["shards"], written["sandbox"], written["max_problems"]) == (2, "rlimit", 1)
