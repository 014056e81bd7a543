"""Memory flat in dataset size, measured side by side in one run: `selfexec run` (trace, narrate, curate,
publish) on CRUXEval and on CRUXEval repeated FACTOR times with distinct problem ids, each with the same
rows per shard. Prints the peak RSS of the driver process (the one `selfexec run` starts: planning, dedup,
publish), the peak of the whole process tree (driver + shard workers + sandboxes, sampled every 50 ms), and
the ratios; the issue's target is the FACTORx run's peak within 1.5x of the 1x run's.

With --stages, curate and publish are then run again alone on each run, each in a process of its own
(curate from scratch: its derived work is cleared first), and their peaks are printed too: the whole run's
peak is mostly the tracer's and the workers', and hides what the driver of these two stages holds.

    python benchmarks/memory_scaling.py [--base 800] [--factor 10] [--workers 2] [--rows-per-shard 100] [--data F] [--stages]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"


def repeated(base: list[dict], factor: int, dest: Path) -> Path:
    """CRUXEval `factor` times over; copy k of `sample_3` is `sample_3-k` (a problem of its own)."""
    with dest.open("w") as f:
        for k in range(factor):
            for row in base:
                f.write(json.dumps(dict(row, id=f"{row['id']}-{k}")) + "\n")
    return dest


def peak_rss(cmd: list[str], cwd: Path) -> dict[str, float]:
    """Run `cmd`; the peak RSS (MB) of its own process and of its whole process tree, and its wall seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = psutil.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"driver": 0, "tree": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                procs = [proc, *proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            rss = {}
            for p in procs:
                try:
                    rss[p.pid] = p.memory_info().rss
                except psutil.Error:
                    pass
            peak["driver"] = max(peak["driver"], rss.get(proc.pid, 0))
            peak["tree"] = max(peak["tree"], sum(rss.values()))
            done.wait(0.05)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    done.set()
    th.join()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {"driver_mb": peak["driver"] / 2**20, "tree_mb": peak["tree"] / 2**20, "wall_s": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=int, default=800, help="CRUXEval problems in the 1x run")
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rows-per-shard", type=int, default=100, help="kept the same in both runs")
    ap.add_argument("--data", type=Path, default=DATA, help="cruxeval.jsonl")
    ap.add_argument("--stages", action="store_true", help="also curate and publish alone on each run")
    args = ap.parse_args()
    base = [json.loads(line) for line in args.data.read_text().splitlines()][: args.base]
    results = {}
    with tempfile.TemporaryDirectory(prefix="memory_scaling.") as tmp:
        tmp = Path(tmp)
        for factor in (1, args.factor):
            problems = repeated(base, factor, tmp / f"crux-x{factor}.jsonl")
            shards = math.ceil(len(base) * factor / args.rows_per_shard)
            recipe = tmp / f"x{factor}.yaml"
            recipe.write_text(json.dumps({
                "run": str(tmp / f"run-x{factor}"),
                "trace": {"inputs": [str(problems)], "format": "cruxeval", "workers": args.workers, "shards": shards},
                "narrate": {"narrator": "template", "workers": args.workers},
                "curate": {"workers": args.workers},
                "publish": {"out": str(tmp / f"ds-x{factor}"), "name": f"memory-x{factor}"},
            }))
            results[factor] = peak_rss([sys.executable, "-m", "selfexec.cli", "run", str(recipe)], ROOT)
            r = results[factor]
            print(f"{factor:>3}x  {len(base) * factor:>6} problems, {shards:>3} shards: driver peak "
                  f"{r['driver_mb']:7.1f} MB, process tree peak {r['tree_mb']:7.1f} MB, {r['wall_s']:6.1f} s", flush=True)
            if args.stages:
                run = tmp / f"run-x{factor}"
                shutil.rmtree(run / "logs" / "curate")  # so curate verifies every row again, not only writes
                cli = [sys.executable, "-m", "selfexec.cli"]
                for stage, cmd in (("curate", [*cli, "curate", str(run), "--workers", str(args.workers)]),
                                   ("publish", [*cli, "publish", str(run), "--out", str(tmp / f"ds2-x{factor}")])):
                    results[(stage, factor)] = s = peak_rss(cmd, ROOT)
                    print(f"     {stage} alone: driver peak {s['driver_mb']:7.1f} MB, process tree peak "
                          f"{s['tree_mb']:7.1f} MB, {s['wall_s']:6.1f} s", flush=True)
    one, many = results[1], results[args.factor]
    print(f"{args.factor}x / 1x peak RSS: driver {many['driver_mb'] / one['driver_mb']:.2f}, "
          f"process tree {many['tree_mb'] / one['tree_mb']:.2f} (target: within 1.5)")
    for stage in ("curate", "publish") if args.stages else ():
        one, many = results[(stage, 1)], results[(stage, args.factor)]
        print(f"{stage} alone, {args.factor}x / 1x driver peak RSS: {many['driver_mb'] / one['driver_mb']:.2f}")


if __name__ == "__main__":
    main()
