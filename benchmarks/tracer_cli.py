"""The tracer's cost end to end, as a user meets it: `selfexec trace` on the command line.

    python benchmarks/tracer_cli.py [--skip-cruxeval] [--repeats 2]

1. A knapsack DP (about 0.7M line events) with budgets lifted, through `selfexec trace --workers 1`,
   against the same program run plain in-process (best of 5); the CLI's fixed start-up is taken
   out by tracing a one-line program the same way. Prints the ratio (goal <= 20x).
   `--split`: where this tree's marginal seconds go, from the same trace timed in parts in this
   process: tracing, packing the events (C, and the pure-Python packer), the parent's read and
   validation, the Arrow table, the parquet write; the rest of the marginal is the transport
   (fork, pipes, the worker) and whatever the parts miss.
   `--compare TREE`: also time another checkout of the project the same way, interleaved with
   this one (e.g. `git worktree add /tmp/before REV`, its C extensions built in place or not):
   before and after side by side in one run.
2. CRUXEval, 80 and all 800 items with `--workers 2`: traces per second per core over the 720
   items the larger run adds (goal >= 300).

Everything printed is measured in this run, side by side; on a shared machine rerun before
believing a near miss. Exits 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "selfexec.cli"]
CRUXEVAL = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
LIFTED = ["--max-events", "100000000", "--max-bytes", "100000000000", "--timeout", "300", "--memory-mb", "16384"]

DP = '''import sys
def main():
    data = sys.stdin.read().split()
    n, cap = int(data[0]), int(data[1])
    items = [(int(data[2 + 2 * i]), int(data[3 + 2 * i])) for i in range(n)]
    prev = [0] * (cap + 1)
    for w, v in items:
        cur = prev[:]
        for c in range(w, cap + 1):
            cand = prev[c - w] + v
            if cand > cur[c]:
                cur[c] = cand
        prev = cur
    print(prev[cap])
main()
'''
TRIVIAL = "print(sum(map(int, input().split())))\n"


def knapsack_input() -> str:
    rng = random.Random(7)
    n, cap = 800, 300
    return f"{n} {cap}\n" + "\n".join(f"{rng.randint(1, 40)} {rng.randint(1, 100)}" for _ in range(n)) + "\n"


def problem_file(path: Path, code: str, stdin: str) -> Path:
    path.write_text(json.dumps({"problem_id": path.stem, "source": "bench", "kind": "stdio", "statement": "",
                                "entry_point": None, "solutions": [{"solution_id": "0", "code": code}],
                                "tests": [{"test_id": "0", "input": stdin, "output": None, "public": True}]}) + "\n")
    return path


def plain_seconds(code: str, stdin: str, reps: int = 5) -> float:
    obj = compile(code, "prog.py", "exec")
    best = float("inf")
    for _ in range(reps):
        keep = sys.stdin, sys.stdout
        sys.stdin, sys.stdout = io.StringIO(stdin), io.StringIO()
        t = time.perf_counter()
        exec(obj, {"__name__": "__main__"})
        best = min(best, time.perf_counter() - t)
        sys.stdin, sys.stdout = keep
    return best


def cli_seconds(inputs: list[Path], out: Path, args: list[str], reps: int, root: Path = ROOT) -> float:
    best = float("inf")
    for _ in range(reps):
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        # run from `root`: `-m` puts it first on sys.path, and the sandbox's worker follows it
        subprocess.run([*CLI, "trace", *map(str, inputs), "--out", str(out), *args], check=True, cwd=root,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t)
    return best


def split_seconds(code: str, stdin: str, out: Path, reps: int = 3) -> dict[str, float]:
    """The knapsack's trace timed in parts in this process (best of `reps` each), as the CLI's
    child and parent run them."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(ROOT))
    from tracegen import event_columns
    from tracegen.event_arrow import ArrowEvents, from_packed
    from tracegen.records import TRACE_PARQUET_OPTIONS, TRACE_SCHEMA, Trace, traces_to_table
    from tracegen.tracer import Tracer

    best: dict[str, float] = {}

    def timed(name: str, fn):
        t = time.perf_counter()
        value = fn()
        best[name] = min(best.get(name, float("inf")), time.perf_counter() - t)
        return value

    obj = compile(code, "<solution>", "exec")
    for _ in range(reps):
        tracer = Tracer(code, max_events=10**8, max_bytes=40_000_000)

        def trace():
            keep = sys.stdin, sys.stdout
            sys.stdin, sys.stdout = io.StringIO(stdin), io.StringIO()
            tracer.start()
            try:
                exec(obj, {"__name__": "__main__"})
            finally:
                tracer.stop()
                sys.stdin, sys.stdout = keep

        timed("tracing", trace)
        blob = timed("packing", lambda: event_columns.pack(tracer.events))
        timed("packing, pure Python", lambda: event_columns.pack_py(tracer.events))
        payload = event_columns.result_payload({"status": "ok"}, blob)
        events = timed("parent: read + validate", lambda: ArrowEvents(from_packed(event_columns.split_payload(payload)[1])))
        row = Trace(trace_id="t", problem_id="p", solution_id="s", test_id="0", kind="stdio", code=code,
                    input=stdin, expected_output=None, status="ok", stdout="", return_repr=None, exception=None,
                    matches_expected=None, n_events=len(events), events=events, tracer_version="",
                    python_version="", wall_ms=0.0)
        table = timed("Arrow table", lambda: traces_to_table([row]))

        def write():
            with pq.ParquetWriter(out, TRACE_SCHEMA, **TRACE_PARQUET_OPTIONS) as writer:
                writer.write_table(table)

        timed("parquet", write)
    best["C packer"] = float(event_columns._packcols is not None)
    return best


def stats(out: Path) -> dict:
    return json.loads((out / "stats" / "trace.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-cruxeval", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--split", action="store_true", help="time this tree's trace in parts, in process")
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="another checkout of the project to time the same way, side by side")
    args = ap.parse_args()
    trees = [ROOT, *(p.resolve() for p in args.compare)]
    tmp = Path(tempfile.mkdtemp(prefix="tracer-cli-"))
    try:
        stdin = knapsack_input()
        dp, trivial = problem_file(tmp / "dp.jsonl", DP, stdin), problem_file(tmp / "trivial.jsonl", TRIVIAL, "1 2\n")
        plain = plain_seconds(DP, stdin)
        base = {t: float("inf") for t in trees}
        full = dict(base)
        for _ in range(args.repeats):  # interleaved, so the trees meet the same load
            for i, tree in enumerate(trees):
                base[tree] = min(base[tree], cli_seconds([trivial], tmp / f"r0-{i}", [*LIFTED, "--workers", "1"], 1, tree))
                full[tree] = min(full[tree], cli_seconds([dp], tmp / f"r1-{i}", [*LIFTED, "--workers", "1"], 1, tree))
        for i, tree in enumerate(trees):
            st = stats(tmp / f"r1-{i}")
            inside = st.get("sandbox_wall_ms", 0) / 1000
            marginal = full[tree] - base[tree]
            if i == 0:
                print(f"knapsack DP: {st.get('events')} events, plain {plain:.3f} s in-process")
            print(f"  {'this tree' if i == 0 else tree}: selfexec trace {full[tree]:.2f} s, start-up (one-line "
                  f"program) {base[tree]:.2f} s -> marginal {marginal:.2f} s = {marginal / plain:.0f}x plain "
                  f"end to end (goal <= 20x); in the sandbox {inside:.2f} s = {inside / plain:.0f}x plain")
            if i == 0:
                this_marginal = marginal
        if args.split:
            parts = split_seconds(DP, stdin, tmp / "split.parquet")
            c = parts.pop("C packer")
            pure = parts.pop("packing, pure Python")
            print(f"  split of this tree's marginal {this_marginal:.2f} s (parts timed in process, best of 3; "
                  f"packer: {'C' if c else 'pure Python'}):")
            for name, sec in parts.items():
                print(f"    {name:26s} {sec:6.3f} s  {sec / plain:5.1f}x plain")
            rest = this_marginal - sum(parts.values())
            print(f"    {'transport and the rest':26s} {rest:6.3f} s  {rest / plain:5.1f}x plain  "
                  f"(fork, pipes, the worker; what the parts miss)")
            print(f"    (the pure-Python packer: {pure:.3f} s)")
        if not args.skip_cruxeval and CRUXEVAL.exists():
            c80 = tmp / "c80.jsonl"
            c80.write_text("".join(CRUXEVAL.read_text().splitlines(keepends=True)[:80]))
            for i, tree in enumerate(trees):
                t80 = cli_seconds([c80], tmp / "a", ["--workers", "2"], args.repeats, tree)
                t800 = cli_seconds([CRUXEVAL], tmp / "b", ["--workers", "2"], args.repeats, tree)
                per_core = 720 / max(t800 - t80, 1e-3) / 2
                print(f"CRUXEval, 2 workers{'' if i == 0 else f' ({tree})'}: 80 items {t80:.2f} s, 800 items "
                      f"{t800:.2f} s -> {per_core:.0f} traces/s per core (goal >= 300)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
