"""All 14,779 CodeContests tests, traced and untraced, in the real sandbox.

Prints: traced stdout == untraced stdout on every test where neither run timed out, and how the
pass counts per problem compare with `verification_local.json` (the upstream local run), allowing
for timeouts. CI runs a fixed sample of this (tests/test_trace_datasets.py); this is the whole set.

    python benchmarks/codecontests_fidelity.py [--workers 2] [--max-problems N] [--timeout 6]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from collections import Counter
from pathlib import Path

from tracegen.loaders import load_problems
from tracegen.records import Limits
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "codecontests_py300"


def work(args):
    problems, timeout = args
    limits = Limits(timeout_s=timeout)
    out = []
    with Sandbox("auto") as sb:
        for p in problems:
            for t in p.tests:
                a = trace_one(p, p.solutions[0], t, limits, sb)
                b = trace_one(p, p.solutions[0], t, limits, sb, trace=False)
                out.append((p.problem_id.split("/", 1)[1], t.test_id, a.status, b.status, a.stdout == b.stdout,
                            bool(a.matches_expected), bool(b.matches_expected), a.n_events, sb.mode))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-problems", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=6.0)
    args = ap.parse_args()
    problems = load_problems(DATA / "codecontests_py300.jsonl")[: args.max_problems]
    verification = json.loads((DATA / "verification_local.json").read_text())["per_problem"]
    chunks = [(problems[i::args.workers * 4], args.timeout) for i in range(args.workers * 4)]
    t0 = time.monotonic()
    with mp.get_context("fork").Pool(args.workers) as pool:
        rows = [r for part in pool.map(work, chunks) for r in part]
    wall = time.monotonic() - t0
    n = len(rows)
    no_timeout = [r for r in rows if "timeout" not in (r[2], r[3])]
    same = sum(r[4] for r in no_timeout)
    statuses = Counter(r[2] for r in rows)
    print(f"tests: {n} in {wall:.0f} s with {args.workers} workers, sandbox {rows[0][8] if rows else '-'}")
    print(f"traced statuses: {dict(statuses)}")
    print(f"traced stdout == untraced stdout: {same}/{len(no_timeout)} (tests where neither run timed out)")
    for r in no_timeout:
        if not r[4]:
            print(f"  differs: {r[0]} test {r[1]} (traced {r[2]}, untraced {r[3]})")
    agree, disagree = 0, []
    per: dict[str, Counter] = {}
    for pid, _tid, st_a, _st_b, _same, ok_a, _ok_b, _ev, _m in rows:
        c = per.setdefault(pid, Counter())
        c["timeout" if st_a == "timeout" else ("pass" if ok_a else "fail")] += 1
    for pid, c in sorted(per.items()):
        v = verification.get(pid, {})
        v_pass = v.get("pass", 0) + v.get("pass_float", 0)
        slack = c["timeout"] + v.get("timeout", 0)
        if abs(c["pass"] - v_pass) <= slack:
            agree += 1
        else:
            disagree.append((pid, dict(c), v))
    print(f"problems whose pass count agrees with verification_local.json (timeouts excepted): "
          f"{agree}/{len(per)}")
    total_pass = sum(c["pass"] for c in per.values())
    print(f"tests passing here: {total_pass}/{n}  (verification_local: 13,404/14,779)")
    for pid, c, v in disagree[:20]:
        print(f"  disagrees: {pid}: here {c}, there {v}")


if __name__ == "__main__":
    main()
