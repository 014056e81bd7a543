"""Input synthesis on CRUXEval: distinct outputs and line coverage per function, seeds vs seeds + synthesized.

    .venv/bin/python benchmarks/synth_coverage.py [--n 100] [--per-problem 5] [--max-attempts 40] [--workers 2]

Synthesizes tests for the first N CRUXEval functions (`selfexec synth-inputs`'s core), then traces
every test of every function (the shipped seed and the new ones) in the sandbox and prints, per
group, the mean number of distinct outputs and the mean fraction of the function's statement lines
that ran, side by side, with their ratios; and how many synthesized inputs re-run `ok`.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from tracegen.loaders import load_problems  # noqa: E402
from tracegen.records import Limits  # noqa: E402
from tracegen.runner import trace_one  # noqa: E402
from tracegen.sandbox import Sandbox  # noqa: E402
from tracegen.synth import SynthConfig, synthesize  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"


def statement_lines(code: str, entry_point: str) -> set[int]:
    """Line numbers of the statements inside the entry point (what line coverage counts)."""
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return {n.lineno for body in node.body for n in ast.walk(body) if isinstance(n, ast.stmt)}
    return set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--per-problem", type=int, default=5)
    ap.add_argument("--max-attempts", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    problems = load_problems(args.data)[: args.n]
    t0 = time.monotonic()
    out, stats = synthesize(problems, SynthConfig(per_problem=args.per_problem, max_attempts=args.max_attempts,
                                                  workers=args.workers))
    synth_s = time.monotonic() - t0
    groups = {"seeds": [], "seeds + synthesized": []}  # per function: (distinct outputs, coverage)
    reruns_ok = reruns = 0
    with Sandbox() as box:
        for before, after in zip(problems, out):
            code = after.solutions[0].code
            lines = statement_lines(code, after.entry_point)
            rows = {t.test_id: trace_one(after, after.solutions[0], t, Limits(timeout_s=5), box) for t in after.tests}
            for t in after.tests[len(before.tests):]:
                reruns += 1
                reruns_ok += rows[t.test_id].status == "ok" and rows[t.test_id].matches_expected is True
            for name, tests in (("seeds", before.tests), ("seeds + synthesized", after.tests)):
                ran = [rows[t.test_id] for t in tests if rows[t.test_id].status == "ok"]
                covered = {e["lineno"] for r in ran for e in r.events if e["event"] == "line"} & lines
                groups[name].append((len({r.return_repr for r in ran}), len(covered) / len(lines) if lines else 1.0))
    print(f"CRUXEval, first {len(problems)} functions; synthesis {synth_s:.1f} s on {args.workers} workers; "
          f"{stats['new_tests']} new tests for {stats['problems_with_new_tests']} functions")
    print(f"{'tests':<22}{'mean distinct outputs':>24}{'mean line coverage':>22}")
    means = {}
    for name, vals in groups.items():
        means[name] = (sum(v[0] for v in vals) / len(vals), sum(v[1] for v in vals) / len(vals))
        print(f"{name:<22}{means[name][0]:>24.2f}{means[name][1]:>21.1%}")
    a, b = means["seeds"], means["seeds + synthesized"]
    print(f"{'ratio':<22}{b[0] / a[0]:>23.2f}x{b[1] / a[1]:>21.2f}x")
    print(f"synthesized inputs that re-run ok with the recorded output: {reruns_ok}/{reruns}")
    print("rejected candidates: " + ", ".join(f"{k} {v}" for k, v in stats["counts"].items() if not k.startswith("kept")))


if __name__ == "__main__":
    main()
