"""best@k on HumanEval with CodeGen-16B's precomputed candidates (../shared/data), the oracle as simulator.

Prints, side by side from one run: best-exec (pick by real runs of the public tests), best-simulate
(pick by the simulator's predicted passes: with the oracle the two must be equal), a seeded random
pick (`sample`), the shortest candidate, and the candidates' unbiased pass@1 (a random pick's
expectation) and pass@k. Every chosen program is judged on all of HumanEval's tests in the sandbox.

    .venv/bin/python benchmarks/eval_best_of_k.py [--k 10] [--max-problems 164] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLES = DATA / "humaneval_codegen16b_samples" / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--max-problems", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="results JSON (and a .png next to it)")
    a = ap.parse_args()

    from finetune.evaluation.commands import run_solve
    from finetune.evaluation.data import write_json
    from finetune.evaluation.models import ModelSettings

    t0 = time.perf_counter()
    r = run_solve([str(DATA / "humaneval" / "HumanEval.jsonl.gz")], ModelSettings(spec="oracle"),
                  ("sample", "best-exec", "best-simulate", "short"), str(SAMPLES), k=a.k, seed=a.seed,
                  max_problems=a.max_problems, workers=a.workers, judge_all=True,
                  plot=str(Path(a.out).with_suffix(".png")) if a.out else None)
    wall = time.perf_counter() - t0
    s, c = r["strategies"], r["candidates"]
    print(f"HumanEval x CodeGen-16B samples: {r['n']} problems, k={a.k}, seed {a.seed}, oracle simulator")
    for name in ("best-exec", "best-simulate", "sample", "short"):
        print(f"  {name:14s} {s[name]['pass@1']:.4f}  ({s[name]['solved']}/{r['n']} solved)")
    print(f"  random pick    {c['pass@1']:.4f}  (expected: the candidates' unbiased pass@1)")
    print(f"  any of k       {c[f'pass@{a.k}']:.4f}  (pass@{a.k})")
    print(f"  best-exec / random pick = {s['best-exec']['pass@1'] / c['pass@1']:.3f}x; "
          f"best-simulate == best-exec: {s['best-simulate']['pass@1'] == s['best-exec']['pass@1']} "
          f"(same picks: {_same_picks(r)})")
    print(f"  wall {wall:.1f} s")
    if a.out:
        write_json(a.out, r)
    return 0 if _same_picks(r) else 1


def _same_picks(r: dict) -> bool:
    picks = {}
    for p in r["problems"]:
        picks.setdefault(p["strategy"], {})[p["problem_id"]] = p["index"]
    return picks["best-exec"] == picks["best-simulate"]


if __name__ == "__main__":
    sys.exit(main())
