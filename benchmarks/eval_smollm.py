"""`selfexec eval` and every `selfexec solve` strategy against a real `transformers serve` of
SmolLM2-135M-Instruct on 127.0.0.1 (CPU), through the CLI, then the same commands again to show that
a rerun is answered from the request cache (0 requests) with the same figures.

    .venv/bin/python benchmarks/eval_smollm.py [--items 2] [--problems 2] [--max-tokens 32] [--out DIR]

A 135M model is expected to score near zero: the point is that every path runs end to end with a
real model, reproducibly with a seed. CPU-bound: ~0.3 s per generated token on this machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from smollm_grounding import REPO, kill_group, selfexec, start_server, wait_health  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SAMPLES = DATA / "humaneval_codegen16b_samples" / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
STRATEGIES = ("sample", "best-exec", "best-simulate", "short", "self-fix")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=2, help="CRUXEval items (both directions)")
    ap.add_argument("--problems", type=int, default=2, help="HumanEval problems for solve")
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or Path(tempfile.mkdtemp(prefix="eval-smollm-"))
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    from tracegen.narrate.smollm import smollm_dir

    model_dir = smollm_dir()
    proc, port = start_server(model_dir, out / "serve.log")
    common = ["--model", str(model_dir), "--base-url", f"http://127.0.0.1:{port}/v1", "--cache",
              str(out / "cache.sqlite"), "--max-tokens", str(a.max_tokens), "--seed", str(a.seed)]
    humaneval = str(DATA / "humaneval" / "HumanEval.jsonl.gz")
    commands = {
        "eval": ["eval", "cruxeval", "--data", str(DATA / "cruxeval" / "cruxeval.jsonl"), "--max-items",
                 str(a.items), "--direction", "output", "--direction", "input"],
        "solve-candidates": ["solve", humaneval, "--candidates", str(SAMPLES), "--k", str(a.k), "--max-turns", "1",
                             "--max-problems", str(a.problems), *[x for s in STRATEGIES for x in ("-s", s)]],
        "solve-own-samples": ["solve", humaneval, "--k", "1", "--max-turns", "1", "--max-problems", "1",
                              *[x for s in STRATEGIES for x in ("-s", s)]],
    }
    figures: dict[str, list] = {}
    try:
        wait_health(proc, port, out / "serve.log")
        for attempt in ("first", "rerun"):
            for name, cmd in commands.items():
                t = time.monotonic()
                selfexec(*cmd, *common, "--out", str(out / f"{name}-{attempt}.json"))
                r = json.loads((out / f"{name}-{attempt}.json").read_text())
                got = ({d: r[d]["pass@1"] for d in r["directions"]} if name == "eval"
                       else {s: v["pass@1"] for s, v in r["strategies"].items()})
                figures.setdefault(name, []).append((attempt, round(time.monotonic() - t, 1),
                                                     r["model_stats"]["requests"], got))
    finally:
        kill_group(proc)
    print(f"\nSmolLM2-135M-Instruct via transformers serve, max_tokens {a.max_tokens}, seed {a.seed} (files in {out})")
    for name, rows in figures.items():
        for attempt, secs, requests, got in rows:
            print(f"  {name:18s} {attempt:5s} {secs:6.1f} s  requests {requests:3d}  pass@1 {got}")


if __name__ == "__main__":
    main()
