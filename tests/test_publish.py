"""`selfexec publish` / `selfexec run` on the bundled examples: the folder loads with plain
`datasets`, the card parses and matches the files, splits are by problem, publishing is
deterministic and versioned, bad input fails with one clear message, and the CLI pushes to a
test double of the Hub's HTTP API."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from test_publish_hub import FakeHub

from curation.publish.configs import CONFIGS, SPLITS, sha
from curation.publish.manifest import ConfigError
from curation.publish.stage import PublishConfig, run_publish_stage
from selfexec.recipe import RecipeError, load_recipe, stage_configs
from tracegen.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recipes" / "demo.yaml"


def selfexec(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfexec.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600, check=check, env=env)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """(run folder, dataset folder) of the demo recipe, run by the real CLI."""
    tmp = tmp_path_factory.mktemp("demo")
    selfexec("run", str(DEMO), "--set", f"run={tmp / 'run'}", "--set", f"publish.out={tmp / 'ds'}")
    return tmp / "run", tmp / "ds"


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_config_loads_with_plain_datasets(demo):
    import datasets

    run, ds = demo
    sizes = {}
    for config in CONFIGS:
        d = datasets.load_dataset(str(ds), config)
        sizes[config] = {s: len(d[s]) for s in d}
        assert set(d) <= set(SPLITS) and "train" in d
    manifest = json.loads((ds / "selfexec.json").read_text())
    assert sizes == {c: manifest["configs"][c]["rows"] for c in CONFIGS}
    # 16 traced pairs, one crashes (demo/buggy_mean): 15 narrated, all verified
    assert sum(sizes["traces"].values()) == 16 and sum(sizes["narrated"].values()) == 15
    assert sum(sizes["sft"].values()) == 15 and sum(sizes["rl"].values()) == 15 + 8  # + a solve row per problem
    sft = datasets.load_dataset(str(ds), "sft", split="train")
    roles = [[m["role"] for m in row["messages"]] for row in sft]
    assert roles == [["user", "assistant"]] * len(sft)
    rl = datasets.load_dataset(str(ds), "rl", split="train")
    assert [p[0]["role"] for p in rl["prompt"]] == ["user"] * len(rl)
    assert all(t and {"test_id", "input", "output", "public"} == set(t[0]) for t in rl["tests"])


def test_sft_turns_follow_the_cruxeval_and_stdio_formats(demo):
    import datasets

    _, ds = demo
    rows = datasets.concatenate_datasets(list(datasets.load_dataset(str(ds), "sft").values()))
    narrated = datasets.concatenate_datasets(list(datasets.load_dataset(str(ds), "narrated").values()))
    by_key = {(r["trace_id"], r["test_id"]): r for r in narrated}
    kinds = set()
    for row in rows:
        user, reply = row["messages"][0]["content"], row["messages"][1]["content"]
        n = by_key[(row["trace_id"], row["test_id"])]
        kinds.add(row["kind"])
        assert n["code"].rstrip() in user and "[OUTPUT]" not in reply
        if row["kind"] == "function":
            call = f"{n['entry_point']}({n['input']})"
            assert f"assert {call} == ??\n[/PYTHON]" in user
            assert reply.endswith(f"[ANSWER]\nassert {call} == {n['true_output']}\n[/ANSWER]")
        else:
            assert "[STDIN]\n" in user and n["input"].strip() in user
            assert reply.endswith(f"<output>\n{n['stdout']}</output>")
        # the narration itself, minus its [OUTPUT] block, is the body of the reply
        assert reply.startswith(n["text"][: n["text"].rfind("[OUTPUT]")].rstrip())
    assert kinds == {"function", "stdio"}


def test_provenance_columns(demo):
    _, ds = demo
    for config in CONFIGS:
        for f in sorted((ds / "data" / config).glob("*.parquet")):
            t = pq.read_table(f)
            for col in ("source", "license", "trace_id", "solution_sha", "input_sha", "tracer_version",
                        "python_version"):
                assert col in t.column_names, (config, col)
            rows = t.to_pylist()
            assert {r["license"] for r in rows} == {"Apache-2.0"}
            # the rl config's solving rows come from a problem and its tests, not from a narration
            solving = [r for r in rows if r.get("task") == "solve"]
            assert all(r["narrator"] == "" and r["code"] == "" and r["tests"] for r in solving)
            rows = [r for r in rows if r.get("task") != "solve"]
            if config != "traces":
                assert all(r["narrator"] == "template" and r["verifier_version"] for r in rows)
            if "code" in t.column_names:
                assert all(r["solution_sha"] == sha(r["code"]) and r["input_sha"] == sha(r["input"]) for r in rows)


def test_splits_are_by_problem(demo):
    _, ds = demo
    split_of = {}
    for config in CONFIGS:
        for f in sorted((ds / "data" / config).glob("*.parquet")):
            split = f.name.split("-")[0]
            for pid in pq.read_table(f, columns=["problem_id"]).column("problem_id").to_pylist():
                assert split_of.setdefault(pid, split) == split, f"{pid} in {split_of[pid]} and {split}"
    assert set(split_of.values()) == set(SPLITS)  # the demo seed puts problems in every split


def test_card_parses_and_its_configs_are_the_files(demo):
    from huggingface_hub import DatasetCard

    _, ds = demo
    card = DatasetCard.load(ds / "README.md")
    assert card.data.license == "apache-2.0"
    assert "text-generation" in card.data.task_categories and card.data.size_categories == ["n<1K"]
    declared = {c["config_name"]: {f["split"] for f in c["data_files"]} for c in card.data.configs}
    on_disk = {c: {f.name.split("-")[0] for f in (ds / "data" / c).glob("*.parquet")}
               for c in (p.name for p in (ds / "data").iterdir())}
    assert declared == on_disk and set(declared) == set(CONFIGS)
    text = card.text
    for needed in ("Filter funnel", "| kept | 15 |", "plots/funnel.png", "Python 3.", "Verifier", "template",
                   "arXiv", "Licence and attribution", "load_dataset", "[ANSWER]", "First version"):
        assert needed in text, needed
    for png in ("funnel", "trace_length", "narration_tokens", "rows_per_source"):
        assert (ds / "plots" / f"{png}.png").read_bytes().startswith(b"\x89PNG"), png
    assert f"plots/{png}.png" in text
    assert "/work/" not in text and str(ROOT) not in text  # local paths reduced to file names


def test_publishing_twice_is_byte_identical(demo, tmp_path):
    run, ds = demo
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        run_publish_stage(PublishConfig(**{**yaml.safe_load(DEMO.read_text())["publish"],
                                                   "run": str(run), "out": str(out), "parent": None}))
    assert tree(first) == tree(second)
    # and into the folder that already holds it: same version, same bytes
    before = tree(first)
    stats = run_publish_stage(PublishConfig(**{**yaml.safe_load(DEMO.read_text())["publish"],
                                                       "run": str(run), "out": str(first)}))
    assert stats["version"] == "1.0.0" and tree(first) == before
    assert filecmp.cmp(first / "README.md", ds / "README.md", shallow=False)


def test_new_content_in_the_same_folder_is_the_next_version(demo, tmp_path):
    """5 problems first, then all 8 with --reuse: only the new pairs run, the card counts them."""
    problems = (ROOT / "examples" / "problems.jsonl").read_text().splitlines()
    ds = tmp_path / "ds"
    selfexec("run", str(DEMO), "--set", f"run={tmp_path / 'r1'}", "--set", f"publish.out={ds}",
             "--set", "trace.max_problems=5")
    v1 = json.loads((ds / "selfexec.json").read_text())
    out = selfexec("run", str(DEMO), "--set", f"run={tmp_path / 'r2'}", "--set", f"publish.out={ds}",
                   "--reuse", str(tmp_path / "r1")).stdout
    v2 = json.loads((ds / "selfexec.json").read_text())
    assert (v1["version"], v2["version"], v2["parent_version"]) == ("1.0.0", "1.1.0", "1.0.0")
    n_pairs = [sum(len(json.loads(p)["tests"]) * len(json.loads(p)["solutions"]) for p in problems[:k])
               for k in (5, 8)]
    trace_stats = json.loads((tmp_path / "r2" / "stats" / "trace.json").read_text())
    assert (trace_stats["reused"], trace_stats["computed"]) == (n_pairs[0], n_pairs[1] - n_pairs[0])
    assert v2["diff_vs_parent"]["traces"] == {"added": n_pairs[1] - n_pairs[0], "removed": 0, "kept": n_pairs[0]}
    assert f"{trace_stats['computed']} traced, {trace_stats['reused']} reused" in out
    card = (ds / "README.md").read_text()
    assert "Parent version: **1.0.0**" in card
    added = v2["diff_vs_parent"]["narrated"]["added"]
    assert added > 0 and f"{added} rows added and 0 rows removed in `narrated` since 1.0.0" in card
    # the same version number with other content is refused, and nothing is half-written
    with pytest.raises(ConfigError, match="already published"):
        run_publish_stage(PublishConfig(run=str(tmp_path / "r1"), out=str(ds), version="1.1.0"))
    with pytest.raises(ConfigError, match="higher than the parent"):
        run_publish_stage(PublishConfig(run=str(tmp_path / "r1"), out=str(ds), version="0.9.0"))
    assert json.loads((ds / "selfexec.json").read_text()) == v2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]


def test_missing_licence_is_one_clear_error(demo, tmp_path):
    run, _ = demo
    copy = tmp_path / "run"
    shutil.copytree(run / "traces", copy / "traces")
    shutil.copytree(run / "curated", copy / "curated")
    for f in (copy / "traces").glob("*.parquet"):
        t = pq.read_table(f)
        pq.write_table(t.drop_columns(["license"]), f)
    with pytest.raises(ConfigError, match=r"no licence for source\(s\) selfexec-demo.*--license selfexec-demo=MIT"):
        run_publish_stage(PublishConfig(run=str(copy), out=str(tmp_path / "ds")))
    assert not (tmp_path / "ds").exists()
    stats = run_publish_stage(PublishConfig(run=str(copy), out=str(tmp_path / "ds"), licenses={"selfexec-demo": "MIT"}))
    assert stats["rows"]["traces"] and "license: mit" in (tmp_path / "ds" / "README.md").read_text()


@pytest.mark.parametrize("settings, message", [
    ({"splits": {"train": 0.5, "test": 0.2}}, "add up to 1"),
    ({"splits": {"train": 0.9, "dev": 0.1}}, "splits must map"),
    ({"version": "v2"}, "MAJOR.MINOR.PATCH"),
    ({"repo_id": "noslash"}, "ORG/NAME"),
])
def test_bad_publish_settings(demo, tmp_path, settings, message):
    run, _ = demo
    with pytest.raises(ConfigError, match=message):
        run_publish_stage(PublishConfig(run=str(run), out=str(tmp_path / "ds"), **settings))
    assert not (tmp_path / "ds").exists()


def test_out_must_be_empty_or_a_dataset(demo, tmp_path):
    run, _ = demo
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no selfexec dataset"):
        run_publish_stage(PublishConfig(run=str(run), out=str(tmp_path / "ds")))
    assert (tmp_path / "ds" / "notes.txt").read_text() == "mine"


def test_recipe_errors_name_the_key(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown recipe keys \['trcae'\]"):
        load_recipe(DEMO, ["trcae.workers=2"])
    with pytest.raises(RecipeError, match=r"unknown narrate settings \['narater'\]"):
        stage_configs(load_recipe(DEMO, ["narrate.narater=openai"]))
    with pytest.raises(RecipeError, match=r"unknown trace.limits settings \['timeout'\]"):
        stage_configs(load_recipe(DEMO, ["trace.limits.timeout=3"]))
    with pytest.raises(RecipeError, match=r"trace.workers must be an integer \(got 'two'\)"):
        stage_configs(load_recipe(DEMO, ["trace.workers=two"]))
    with pytest.raises(RecipeError, match="trace.limits.timeout_s must be a number"):
        stage_configs(load_recipe(DEMO, ["trace.limits.timeout_s=soon"]))
    with pytest.raises(UserError, match="KEY=VALUE"):  # the shared --set reader's error
        load_recipe(DEMO, ["trace.workers"])
    (tmp_path / "r.yaml").write_text("trace: {inputs: [x.jsonl]}\n")
    with pytest.raises(RecipeError, match="needs `run:`"):
        load_recipe(tmp_path / "r.yaml")
    cfgs = stage_configs(load_recipe(DEMO, ["trace.limits.timeout_s=3", "publish.version=2.0.0", "run=/tmp/x"]))
    assert cfgs["trace"].limits.timeout_s == 3 and cfgs["publish"].version == "2.0.0"
    assert cfgs["publish"].out == "runs/demo-dataset" and cfgs["narrate"].run == "/tmp/x"
    out = selfexec("run", str(DEMO), "--set", "narrate.narrator=gpt", "--set", f"run={tmp_path / 'x'}", check=False)
    assert out.returncode == 2 and "unknown narrator 'gpt'" in out.stderr
    assert not (tmp_path / "x").exists()  # refused before any work


def _hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_HUB_OFFLINE", "HUGGING_FACE_HUB_TOKEN")}
    env["HF_HOME"] = str(tmp_path / "hf-home")  # no saved login
    env.update(extra)
    return env


def test_cli_pushes_the_folder_and_tags_the_version(demo, tmp_path):
    run, _ = demo
    with FakeHub() as hub:
        env = _hub_env(tmp_path, HF_ENDPOINT=hub.url, HF_TOKEN="hf_test_token")
        out = selfexec("publish", str(run), "--out", str(tmp_path / "ds"), "--repo-id", "my-org/selfexec-demo",
                       "--version", "1.0.0", "--private", env=env)
    assert "pushed to my-org/selfexec-demo" in out.stdout
    assert len(hub.commits) == 1 and hub.commits[0]["files"] == tree(tmp_path / "ds")
    assert hub.tags[0]["tag"] == "v1.0.0" and hub.tags[0]["revision"] == hub.commits[0]["oid"]
    assert hub.repos["my-org/selfexec-demo"]["private"] is True


def test_cli_without_a_token_writes_the_folder_and_says_how_to_push(demo, tmp_path):
    import datasets

    run, _ = demo
    out = selfexec("publish", str(run), "--out", str(tmp_path / "ds"), "--repo-id", "my-org/x",
                   env=_hub_env(tmp_path, HF_ENDPOINT="http://127.0.0.1:9"), check=False)
    assert out.returncode == 1
    err = " ".join(out.stderr.split())
    assert "no Hugging Face token" in err and "hf auth login" in err and "HF_TOKEN" in err
    assert str(tmp_path / "ds") in err.replace(" ", "") or "ds" in err
    assert len(datasets.load_dataset(str(tmp_path / "ds"), "sft", split="train")) > 0


@pytest.mark.parametrize("module", ["curation.publish.configs", "curation.publish.manifest", "selfexec.recipe",
                                    "tracegen.overrides"])
def test_doctest_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
