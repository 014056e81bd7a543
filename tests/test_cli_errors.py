"""Every command's user-fixable error ends as one line on stderr (exit 2), never a traceback: the CLI
catches tracegen.errors.UserError in one place, whichever stage raised it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.decontam import BenchmarkError
from curation.publish.hub import PushError
from curation.publish.manifest import ConfigError as PublishConfigError
from curation.stage import ConfigError as CurateConfigError
from selfexec.recipe import RecipeError
from tracegen.errors import PipelineError, UserError
from tracegen.loaders import LoaderError
from tracegen.narrate.import_narrator import ImportFileError
from tracegen.narrate.smollm import SmolLMUnavailable
from tracegen.narrate.stage import ConfigError as NarrateConfigError
from tracegen.reuse import ReuseError
from tracegen.stage import ConfigError as TraceConfigError

ROOT = Path(__file__).resolve().parents[1]


def selfexec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "80"}, timeout=300)


def test_the_user_fixable_errors_share_one_base():
    for cls in (TraceConfigError, NarrateConfigError, CurateConfigError, PublishConfigError, RecipeError,
                LoaderError, BenchmarkError, ImportFileError, ReuseError, SmolLMUnavailable):
        assert issubclass(cls, UserError), cls
    assert issubclass(PushError, PipelineError)


@pytest.mark.parametrize("args, says", [
    (["narrate", "{tmp}/none"], "no traces"),
    (["curate", "{tmp}/none"], "no narrations"),
    (["publish", "{tmp}/none", "--out", "{tmp}/ds", "--version", "x"], "MAJOR.MINOR.PATCH"),
    (["trace", "examples/problems.jsonl", "--out", "{tmp}/r", "--sandbox", "nope"], "unknown sandbox mode"),
    (["run", "{tmp}/missing.yaml"], "recipe not found"),
    (["run", "recipes/demo.yaml", "--set", "run={tmp}/r", "--set", "engine.stages.narrate.gpus_per_node=1"],
     "unknown keys"),
])
def test_each_command_says_one_line_and_exits_2(tmp_path, args, says):
    res = selfexec(*[a.format(tmp=tmp_path) for a in args])
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], res.stderr
    assert "Traceback" not in res.stdout + res.stderr
