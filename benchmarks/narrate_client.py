"""Throughput and overhead of the OpenAI-compatible narration client (DESIGN §6).

    python benchmarks/narrate_client.py                  # against `transformers serve` + SmolLM2 (CPU)
    python benchmarks/narrate_client.py --fake           # against a canned loopback server (client cost alone)
    python benchmarks/narrate_client.py --base-url http://127.0.0.1:8000/v1 --model NAME --tokenizer DIR

For each concurrency (1, 8, 32) it narrates N distinct CRUXEval traces with an empty request
cache and reports requests/s, generated tokens/s, the client's own share of the wall time (this
process's CPU time while the batch ran: prompt rendering and folding, token counting, the openai
SDK, asyncio, the cache, parsing) and its CPU per request; then it runs the same batch again with
the cache full and reports that rerun's time as a share of the first run.

Targets (issue 3): client share <= 10% of wall time against a real server; a full-cache rerun
<= 5% of the first run. Against the canned server (answers after --fake-latency seconds) the share
is not meaningful (the server does almost nothing); read the CPU per request instead.
Servers are started on 127.0.0.1 only and stopped at the end. Every figure is measured in this run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server did not answer {url} within {timeout} s")


def serve_fake(port: int, latency: float) -> None:
    """Run the canned server in this process until killed (a separate process from the client)."""
    sys.path.insert(0, str(REPO / "tests"))
    from narrate_fake_server import FakeChatServer, echo_answer

    server = FakeChatServer(lambda n, body: ("sleep", latency, echo_answer(body)) if latency else
                            ("answer", echo_answer(body)))
    server.httpd.server_close()
    from http.server import ThreadingHTTPServer

    server.httpd = ThreadingHTTPServer(("127.0.0.1", port), server._handler())
    server.httpd.daemon_threads = True
    server.httpd.serve_forever(poll_interval=0.05)


def load_traces(run: str | None, n: int) -> list:
    import pyarrow.parquet as pq

    from tracegen.records import trace_from_row

    if run is None:
        from tracegen.stage import TraceConfig, run_trace_stage

        data = REPO.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"
        run = tempfile.mkdtemp(prefix="bench-narrate-")
        print(f"tracing {data} into {run} ...", flush=True)
        run_trace_stage(TraceConfig(inputs=[str(data)], out=run, workers=2, shards=4))
    rows = [trace_from_row(r) for f in sorted(Path(run, "traces").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    ok = [t for t in rows if t.status == "ok"]
    # the shortest runs first: short prompts keep a CPU-served model's requests comparable
    ok.sort(key=lambda t: (len(t.code) + 40 * len(t.events), t.trace_id))
    if len(ok) < n:
        raise SystemExit(f"need {n} ok traces, found {len(ok)}")
    return ok[:n]


def measure(url: str, model: str, counter, traces: list, concurrency: int, max_tokens: int) -> dict:
    from tracegen.narrate.cache import RequestCache
    from tracegen.narrate.openai_narrator import EndpointSettings, OpenAINarrator

    tmp = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    try:
        s = EndpointSettings(base_url=url, model=model, max_tokens=max_tokens, concurrency=concurrency,
                             timeout_s=600, max_retries=0)
        nar = OpenAINarrator(s, counter, 2048, RequestCache(tmp / "requests.sqlite"))
        c0, t0 = time.process_time(), time.perf_counter()
        rows = nar.narrate_batch(traces)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        bad = [r for r in rows if r.status not in ("ok", "no_output_block", "bad_output")]
        if bad:
            raise SystemExit(f"{len(bad)} requests failed: {bad[0].status}: {bad[0].reason}")
        again = OpenAINarrator(s, counter, 2048, RequestCache(tmp / "requests.sqlite"))
        t1 = time.perf_counter()
        rows2 = again.narrate_batch(traces)
        rerun = time.perf_counter() - t1
        assert again.requests == 0 and all(r.cached for r in rows2)
        toks = sum(r.tokens_out for r in rows)
        return {"concurrency": concurrency, "requests": len(rows), "wall_s": round(wall, 3),
                "req_per_s": round(len(rows) / wall, 2), "gen_tok_per_s": round(toks / wall, 1),
                "client_cpu_s": round(cpu, 3), "client_share": round(cpu / wall, 4),
                "client_cpu_ms_per_req": round(1000 * cpu / len(rows), 2),
                "rerun_s": round(rerun, 3), "rerun_share": round(rerun / wall, 4),
                "parsed_ok": sum(r.status == "ok" for r in rows)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fake", action="store_true", help="use the canned loopback server")
    ap.add_argument("--fake-latency", type=float, default=0.05, help="seconds the canned server waits per answer")
    ap.add_argument("--base-url", help="an already running OpenAI-compatible server (else one is started)")
    ap.add_argument("--model", help="model name for --base-url")
    ap.add_argument("--tokenizer", help="tokenizer folder (default: SmolLM2's)")
    ap.add_argument("--traces", help="a run folder with traces/ (default: trace CRUXEval now)")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--requests", type=int, help="requests per concurrency (default: fake 256, real max(8, c))")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_fake:
        serve_fake(args.serve_fake, args.fake_latency)
        return

    from tracegen.narrate.smollm import SmolLMUnavailable, smollm_dir
    from tracegen.narrate.tokens import CharEstimate, HFTokenCounter, load_tokenizer

    levels = [int(c) for c in args.concurrency.split(",")]
    n_max = max(args.requests or (256 if args.fake else max(8, c)) for c in levels)
    traces = load_traces(args.traces, n_max)
    try:
        model_dir = smollm_dir()
    except SmolLMUnavailable as exc:
        model_dir = None
        if not args.fake and not args.base_url:
            raise SystemExit(f"the real-server mode needs SmolLM2: {exc}")
    tok_dir = args.tokenizer or model_dir
    counter = HFTokenCounter(load_tokenizer(tok_dir)) if tok_dir else CharEstimate()
    proc = None
    log = None
    if args.base_url:
        url, model, what = args.base_url, args.model or "", f"server at {args.base_url}"
    else:
        port = _free_port()
        if args.fake:
            cmd = [sys.executable, __file__, "--serve-fake", str(port), "--fake-latency", str(args.fake_latency)]
            what = f"canned loopback server (answers after {args.fake_latency} s)"
            model = "fake"
        else:
            cmd = [str(Path(sys.executable).with_name("transformers")), "serve", str(model_dir), "--host", "127.0.0.1",
                   "--port", str(port), "--device", "cpu"]
            what = f"transformers serve {model_dir.name} on CPU"
            model = str(model_dir)
        log = tempfile.NamedTemporaryFile("w", prefix="bench-server-", suffix=".log", delete=False)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}/v1"
        _wait_health(f"http://127.0.0.1:{port}/health", proc)
    results = []
    try:
        print(f"client benchmark: {what}; tokenizer {counter.name}; max_tokens {args.max_tokens}; "
              f"{os.cpu_count()} CPUs", flush=True)
        hdr = f"{'conc':>4} {'reqs':>5} {'wall s':>8} {'req/s':>7} {'gen tok/s':>9} {'client %':>8} " \
              f"{'cpu ms/req':>10} {'rerun s':>8} {'rerun %':>7} {'[OUTPUT] ok':>11}"
        print(hdr)
        for c in levels:
            n = args.requests or (256 if args.fake else max(8, c))
            r = measure(url, model, counter, traces[:n], c, args.max_tokens)
            results.append(r)
            print(f"{c:>4} {r['requests']:>5} {r['wall_s']:>8.2f} {r['req_per_s']:>7.2f} {r['gen_tok_per_s']:>9.1f} "
                  f"{100 * r['client_share']:>7.1f}% {r['client_cpu_ms_per_req']:>10.2f} {r['rerun_s']:>8.3f} "
                  f"{100 * r['rerun_share']:>6.2f}% {r['parsed_ok']:>11}", flush=True)
    finally:
        if proc is not None:
            proc.kill()
            proc.wait(10)
    worst_share = max(r["client_share"] for r in results)
    worst_rerun = max(r["rerun_share"] for r in results)
    share_note = " (canned server: not meaningful, see cpu ms/req)" if args.fake else ""
    print(f"client share of wall time: max {100 * worst_share:.1f}% (target <= 10%: "
          f"{'PASS' if worst_share <= 0.10 else 'MISS'}){share_note}")
    print(f"full-cache rerun: max {100 * worst_rerun:.2f}% of the first run (target <= 5%: "
          f"{'PASS' if worst_rerun <= 0.05 else 'MISS'})")
    if args.json:
        Path(args.json).write_text(json.dumps({"server": what, "results": results}, indent=2))


if __name__ == "__main__":
    main()
