"""Tracing alone, the C hook (tracegen/_fasttrace.c) against the pure-Python tracer, side by side.

    python benchmarks/fasttrace.py [--programs knapsack,sieve,...] [--repeats 3] [--scale 1.0]

For the acceptance check's knapsack and the six CP programs of cp_programs.py (full size, budgets
lifted), each run in a fresh process per path (the tracer picks its path when imported;
SELFEXEC_PURE_TRACER=1 is the pure one), the two paths interleaved, best of --repeats:
  plain   the program exec'd in process (stdin and stdout in memory)
  C, pure tracing only: Tracer.start(), exec, stop() - the events stay in memory as lists
and the ratios to plain, the C path's speed-up, and how many line events the C path took without
calling Python. Also checks that both paths recorded the same number of events. CPU seconds
(process time), so other load on the machine counts less. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

def programs(names: list[str], scale: float) -> dict[str, tuple[str, str]]:
    from cp_programs import PROGRAMS
    from tracer_cli import DP, knapsack_input  # the acceptance check's knapsack, 0.7M events

    out = {"acceptance_dp": (DP, knapsack_input())}
    for p in PROGRAMS:
        out[p.name] = (p.source, p.gen(int(p.full * scale)))
    return {k: v for k, v in out.items() if not names or k in names}


def measure(source: str, stdin: str, repeats: int) -> dict:
    """In this process: best plain and traced CPU seconds of one program."""
    from tracegen import tracer as tracer_mod

    code = compile(source, tracer_mod.USER_FILENAME, "exec")

    def run(traced: bool):
        keep = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = io.StringIO(stdin), io.StringIO()
        t = tracer_mod.Tracer(source, max_events=10**9, max_bytes=10**12) if traced else None
        try:
            t0 = time.process_time()
            if t:
                t.start()
            try:
                exec(code, {"__name__": "__main__"})
            finally:
                if t:
                    t.stop()
            return time.process_time() - t0, (len(t.events) if t else 0)
        finally:
            sys.stdin, sys.stdout = keep

    plain = min(run(False)[0] for _ in range(max(repeats, 5)))
    before = tracer_mod._fasttrace.counts() if tracer_mod._fasttrace else (0, 0)
    best, n = float("inf"), 0
    for _ in range(repeats):
        dt, n = run(True)
        best = min(best, dt)
    after = tracer_mod._fasttrace.counts() if tracer_mod._fasttrace else (0, 0)
    in_c, to_python = ((a - b) // repeats for a, b in zip(after, before))
    return {"plain": plain, "traced": best, "events": n, "in_c": in_c, "to_python": to_python,
            "c_hook": tracer_mod._fasttrace is not None}


def child(name: str, scale: float, repeats: int) -> dict:
    source, stdin = programs([name], scale)[name]
    return measure(source, stdin, repeats)


def in_fresh_process(name: str, scale: float, repeats: int, pure: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SELFEXEC_PURE_TRACER"}
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", **({"SELFEXEC_PURE_TRACER": "1"} if pure else {}))
    out = subprocess.run([sys.executable, __file__, "--child", name, "--scale", str(scale), "--repeats", str(repeats)],
                         capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", default="", help="comma-separated: acceptance_dp, sieve, knapsack, bfs, ...")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0, help="input size relative to cp_programs' full size")
    ap.add_argument("--child", default="")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.scale, args.repeats)))
        return
    names = list(programs([n for n in args.programs.split(",") if n], args.scale))
    print(f"{'program':<14} {'events':>9} {'plain s':>8} {'C s':>7} {'pure s':>7} {'C x':>7} {'pure x':>7} "
          f"{'speed-up':>8} {'lines in C':>10}")
    ratios_c, ratios_pure = [], []
    for name in names:
        c = in_fresh_process(name, args.scale, args.repeats, pure=False)
        p = in_fresh_process(name, args.scale, args.repeats, pure=True)
        plain = min(c["plain"], p["plain"])
        same = "" if c["events"] == p["events"] else f"  EVENT COUNTS DIFFER ({c['events']} vs {p['events']})"
        if not c["c_hook"]:
            same += "  (no C hook: tracegen._fasttrace is not built)"
        rc, rp = c["traced"] / plain, p["traced"] / plain
        ratios_c.append(rc)
        ratios_pure.append(rp)
        share = c["in_c"] / max(c["in_c"] + c["to_python"], 1)
        print(f"{name:<14} {c['events']:>9} {plain:>8.3f} {c['traced']:>7.3f} {p['traced']:>7.3f} {rc:>6.1f}x "
              f"{rp:>6.1f}x {p['traced'] / c['traced']:>7.2f}x {share:>9.1%}{same}", flush=True)
    geo = lambda xs: (lambda p: p ** (1 / len(xs)))(__import__("math").prod(xs))  # noqa: E731
    print(f"geometric mean: C {geo(ratios_c):.1f}x plain, pure-Python {geo(ratios_pure):.1f}x plain "
          f"(goal: tracing alone <= 15x)")


if __name__ == "__main__":
    main()
