"""Incremental reruns on real data: the first 700 CRUXEval items, then all 800 with --reuse.

Exactly the 100 new (solution, test) pairs are traced, narrated and verified (from the stats), the new
version's card says 100 rows added, and what reuse produces is what a run from scratch produces:
the `sft` and `rl` files are byte-identical. Reusing the published dataset folder instead of the
run folder works the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(recipe: Path, *sets: str, reuse: Path | None = None) -> str:
    args = [sys.executable, "-m", "selfexec.cli", "run", str(recipe), *[a for s in sets for a in ("--set", s)]]
    if reuse:
        args += ["--reuse", str(reuse)]
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=900, check=True).stdout


def stats(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / "stats" / f"{stage}.json").read_text())


@pytest.fixture(scope="module")
def crux(shared_data, tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("crux")
    recipe = tmp / "cruxeval.yaml"
    recipe.write_text(
        f"run: {tmp / 'r700'}\n"
        f"trace: {{inputs: [{shared_data / 'cruxeval' / 'cruxeval.jsonl'}], workers: 2, max_problems: 700}}\n"
        "narrate: {narrator: template, workers: 2}\n"
        "curate: {workers: 2}\n"
        f"publish: {{out: {tmp / 'ds700'}, name: cruxeval-traces}}\n")
    run(recipe)
    out = run(recipe, f"run={tmp / 'r800'}", "trace.max_problems=null", f"publish.out={tmp / 'ds800'}",
              reuse=tmp / "r700")
    (tmp / "r800.out").write_text(out)
    run(recipe, f"run={tmp / 'fresh'}", "trace.max_problems=null", f"publish.out={tmp / 'ds-fresh'}")
    return {"tmp": tmp, "recipe": recipe}


def test_only_the_100_new_pairs_are_traced_and_narrated(crux):
    r800 = crux["tmp"] / "r800"
    assert (stats(r800, "trace")["computed"], stats(r800, "trace")["reused"]) == (100, 700)
    assert (stats(r800, "narrate")["computed"], stats(r800, "narrate")["reused"]) == (100, 700)
    assert (stats(r800, "curate")["computed"], stats(r800, "curate")["reused"]) == (100, 700)
    for stage in ("trace", "narrate", "curate", "publish"):
        s = stats(r800, stage)
        assert isinstance(s["computed"], int) and isinstance(s["reused"], int), stage
    assert "800 rows (100 traced, 700 reused)" in (crux["tmp"] / "r800.out").read_text()


def test_the_new_version_says_100_rows_added(crux):
    ds = crux["tmp"] / "ds800"
    m = json.loads((ds / "selfexec.json").read_text())
    assert (m["version"], m["parent_version"]) == ("1.1.0", "1.0.0")
    assert m["diff_vs_parent"]["traces"] == {"added": 100, "removed": 0, "kept": 700}
    assert m["diff_vs_parent"]["narrated"]["added"] == 100
    assert "100 rows added and 0 rows removed in `narrated` since 1.0.0" in (ds / "README.md").read_text()
    assert stats(crux["tmp"] / "r800", "publish")["diff_vs_parent"]["sft"]["added"] == 100


def test_reuse_gives_what_a_run_from_scratch_gives(crux):
    ds, fresh = crux["tmp"] / "ds800", crux["tmp"] / "ds-fresh"
    for config in ("sft", "rl"):
        ours = sorted((ds / "data" / config).glob("*.parquet"))
        theirs = sorted((fresh / "data" / config).glob("*.parquet"))
        assert [p.name for p in ours] == [p.name for p in theirs]
        for a, b in zip(ours, theirs):
            assert a.read_bytes() == b.read_bytes(), f"{config}/{a.name} differs from a run from scratch"


def test_reused_verdicts_are_the_verdicts_from_scratch(crux):
    import pyarrow.parquet as pq

    def verdicts(ds: Path) -> dict:
        cols = ["trace_id", "test_id", "kept", "reject_reason", "claims", "claims_checked", "claims_wrong",
                "n_tokens", "contaminated_by", "duplicate_of"]
        out = {}
        for f in sorted((ds / "data" / "narrated").glob("*.parquet")):
            for r in pq.read_table(f, columns=cols).to_pylist():
                out[(r["trace_id"], r["test_id"])] = r
        return out

    assert verdicts(crux["tmp"] / "ds800") == verdicts(crux["tmp"] / "ds-fresh")


def test_reusing_the_published_dataset_folder(crux):
    tmp = crux["tmp"]
    run(crux["recipe"], f"run={tmp / 'r800b'}", "trace.max_problems=null", f"publish.out={tmp / 'ds800b'}",
        reuse=tmp / "ds700")
    r = tmp / "r800b"
    assert (stats(r, "trace")["computed"], stats(r, "trace")["reused"]) == (100, 700)
    assert (stats(r, "narrate")["computed"], stats(r, "narrate")["reused"]) == (100, 700)
    # a dataset holds final verdicts of kept rows only: every narration is verified again, and it says so
    assert (stats(r, "curate")["computed"], stats(r, "curate")["reused"]) == (800, 0)
    assert any("holds no verified rows" in why for why in stats(r, "curate")["reuse_refused"])
    m = json.loads((tmp / "ds800b" / "selfexec.json").read_text())
    assert m["parent_version"] == "1.0.0" and m["diff_vs_parent"]["narrated"]["added"] == 100
