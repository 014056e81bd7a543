"""Incremental reruns, measured side by side in one run: CRUXEval's first N items, then all of them
with --reuse of that run, against all of them from scratch. Prints per-stage wall seconds, the
computed / reused counts from RUN/stats, and whether the reused run's sft / rl files are
byte-identical to the run from scratch.

    python benchmarks/incremental_rerun.py [--first 700] [--workers 2] [--narrator template]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
STAGES = ("trace", "narrate", "curate", "publish")


def run(recipe: Path, *sets: str, reuse: Path | None = None) -> float:
    args = [sys.executable, "-m", "selfexec.cli", "run", str(recipe), *[a for s in sets for a in ("--set", s)]]
    args += ["--reuse", str(reuse)] if reuse else []
    t0 = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def stage_figures(run_dir: Path) -> dict[str, dict]:
    out = {}
    for s in STAGES:
        st = json.loads((run_dir / "stats" / f"{s}.json").read_text())
        out[s] = {"computed": st.get("computed"), "reused": st.get("reused"), "wall_s": st.get("wall_s_this_call")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=700)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--narrator", default="template")
    a = ap.parse_args()
    if not DATA.is_file():
        sys.exit(f"CRUXEval not found at {DATA} (../shared/data must sit next to the repository)")
    tmp = Path(tempfile.mkdtemp(prefix="selfexec-incremental-"))
    recipe = tmp / "recipe.yaml"
    recipe.write_text(f"run: {tmp / 'first'}\ntrace: {{inputs: [{DATA}], workers: {a.workers}, max_problems: {a.first}}}\n"
                      f"narrate: {{narrator: {a.narrator}, workers: {a.workers}}}\ncurate: {{workers: {a.workers}}}\n"
                      f"publish: {{out: {tmp / 'ds-first'}}}\n")
    t_first = run(recipe)
    t_reuse = run(recipe, f"run={tmp / 'reuse'}", "trace.max_problems=null", f"publish.out={tmp / 'ds-reuse'}",
                  reuse=tmp / "first")
    t_fresh = run(recipe, f"run={tmp / 'fresh'}", "trace.max_problems=null", f"publish.out={tmp / 'ds-fresh'}")
    reuse, fresh = stage_figures(tmp / "reuse"), stage_figures(tmp / "fresh")
    print(f"CRUXEval: first {a.first} items in {t_first:.1f} s; then all with --reuse vs from scratch "
          f"({a.workers} workers, {a.narrator} narrator)")
    print(f"{'stage':<9}{'reuse: computed/reused':>24}{'wall s':>9}{'scratch: computed':>20}{'wall s':>9}")
    for s in STAGES:
        r, f = reuse[s], fresh[s]
        counts = f"{r['computed']}/{r['reused']}"
        print(f"{s:<9}{counts:>24}{r['wall_s'] or 0:>9.2f}{f['computed']:>20}{f['wall_s'] or 0:>9.2f}")
    print(f"whole command: reuse {t_reuse:.1f} s, scratch {t_fresh:.1f} s (ratio {t_fresh / t_reuse:.2f}x)")
    for config in ("sft", "rl"):
        same = all(p.read_bytes() == (tmp / "ds-fresh" / p.relative_to(tmp / "ds-reuse")).read_bytes()
                   for p in sorted((tmp / "ds-reuse" / "data" / config).glob("*.parquet")))
        print(f"{config}: reused run byte-identical to the run from scratch: {same}")
    m = json.loads((tmp / "ds-reuse" / "selfexec.json").read_text())
    print(f"version {m['version']} (parent {m['parent_version']}), narrated diff {m['diff_vs_parent']['narrated']}")
    print(f"folders under {tmp}")


if __name__ == "__main__":
    main()
