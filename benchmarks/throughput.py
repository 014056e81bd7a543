"""Trace-stage throughput on CRUXEval (800 function problems), sandbox included.

    python benchmarks/throughput.py [--quick] [--data PATH] [--sandbox auto|bwrap|rlimit]

  (a) 1 worker : one Sandbox, trace_one over every (problem, solution, test) in a loop.
                 For scale, the same loop untraced (trace=False: the sandbox's own cost) and traced
                 in-process with no sandbox at all (run_job directly).
  (b) 2 workers: two processes (multiprocessing, fork), each with its own Sandbox and every other
                 item; wall time from the moment both sandboxes are up to the last one finishing.
  (c) the real stage: tracegen.stage.run_trace_stage with workers 1 and 2, default shards, fresh
                 temp out dirs (engine start-up, per-shard loading and sandbox start, parquet writing).
  (d) `--before REV|DIR` (with `--cli-only`, only this): `selfexec trace` on the command line, 80 and
                 800 items, --workers 2, timed as ../shared/acceptance/run 02-tracer-throughput does
                 (720 items' marginal time over 2 cores), for this checkout and for an older one (a git
                 revision extracted with git archive, or a folder), alternating, best of --repeats.

Every figure is measured in this run. `--quick` uses the first 200 items. Exits 0 unless a run
crashes; targets are reported as PASS/MISS.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import gc
import io
import json
import multiprocessing as mp
import platform
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

from tracegen import TRACER_VERSION
from tracegen.worker import run_forked
from tracegen.loaders import load_problems
from tracegen.records import Limits
from tracegen.runner import make_job, trace_one
from tracegen.sandbox import Sandbox, resolve_mode
from tracegen.stage import TraceConfig, run_trace_stage

DEFAULT_DATA = "/work/shared/data/cruxeval/cruxeval.jsonl"
TARGET_PER_CORE = 300.0
TARGET_SPEEDUP = 1.8

_ITEMS: list = []  # set before forking the 2-worker processes


def all_items(problems):
    return [(p, s, t) for p in problems for s in p.solutions for t in p.tests]


def _cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    return s.ru_utime + s.ru_stime


def _machine():
    """(busy, steal, total) jiffies of the whole machine from /proc/stat (other tenants included;
    the sandbox's jailed processes are not our waited-for children, so rusage misses them)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return (0, 0, 0)
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal, sum(v[:8])


def _machine_delta(m0, m1, wall_s):
    hz = os.sysconf("SC_CLK_TCK")
    return (m1[0] - m0[0]) / hz / wall_s, (m1[1] - m0[1]) / hz / wall_s


def one_worker(items, mode: str, limits: Limits, trace: bool = True) -> dict:
    """One Sandbox, trace_one over all items. Loop time excludes the sandbox start (reported apart);
    CPU seconds include it (the children's CPU is only known once the sandbox is closed)."""
    statuses: Counter = Counter()
    events = 0
    child_ms = 0.0
    with Sandbox(mode) as sb:
        # first job separately: it waits for the worker's start-up (bwrap, interpreter, imports)
        t0 = time.perf_counter()
        p, s, t = items[0]
        tr = trace_one(p, s, t, limits, sb, trace=trace)
        first_s = time.perf_counter() - t0
        statuses[tr.status] += 1
        events += tr.n_events
        cpu0, m0 = _cpu(), _machine()
        t_up = time.perf_counter()
        for p, s, t in items[1:]:
            tr = trace_one(p, s, t, limits, sb, trace=trace)
            statuses[tr.status] += 1
            events += tr.n_events
            child_ms += tr.wall_ms
        t_end = time.perf_counter()
        cpu1, m1 = _cpu(), _machine()
        used = sb.mode
    busy, steal = _machine_delta(m0, m1, t_end - t_up)
    # the loop rate is over items[1:]; n counts those
    return dict(n=len(items) - 1, loop_s=t_end - t_up, first_s=first_s, statuses=statuses, events=events,
                child_s=child_ms / 1000, mode=used, cpu_parent=cpu1 - cpu0, busy=busy, steal=steal)


def in_process(items, limits: Limits) -> dict:
    """The traced runs with no sandbox: run_job in this process (stdin empty for function jobs).
    gc.freeze() first, as the sandbox worker does before forking: run_job ends with a gc.collect(),
    which would otherwise walk this whole process's heap (problems, pyarrow, ...) on every job."""
    statuses: Counter = Counter()
    gc.collect()
    gc.freeze()
    try:
        t0 = time.perf_counter()
        for p, s, t in items:
            job = make_job(p, s, t, limits, True)
            res = run_forked(job, rows=False)  # (a fork per job, as in the sandbox, without the jail)
            statuses[res["status"]] += 1
        dt = time.perf_counter() - t0
    finally:
        gc.unfreeze()
    return dict(n=len(items), loop_s=dt, statuses=statuses)


def _worker_proc(rank: int, world: int, mode: str, limits: Limits, barrier, queue) -> None:
    items = _ITEMS[rank::world]
    statuses: Counter = Counter()
    with Sandbox(mode) as sb:
        # the first item waits for the worker's start-up; run it before the clock, as in (a)
        p, s, t = items[0]
        statuses[trace_one(p, s, t, limits, sb).status] += 1
        barrier.wait()
        m0 = _machine()
        t0 = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes on Linux
        for p, s, t in items[1:]:
            statuses[trace_one(p, s, t, limits, sb).status] += 1
        t1 = time.perf_counter()
        m1 = _machine()
    queue.put((rank, t0, t1, len(items) - 1, dict(statuses), m0, m1))


def two_workers(items, mode: str, limits: Limits, world: int = 2) -> dict:
    global _ITEMS
    _ITEMS = items
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(world)
    queue = ctx.Queue()
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_worker_proc, args=(r, world, mode, limits, barrier, queue)) for r in range(world)]
    for pr in procs:
        pr.start()
    results = [queue.get(timeout=1800) for _ in procs]
    for pr in procs:
        pr.join()
    total_s = time.perf_counter() - t0
    bad = [pr.exitcode for pr in procs if pr.exitcode != 0]
    if bad:
        raise RuntimeError(f"a worker process failed with exit code {bad}")
    start = min(r[1] for r in results)
    end = max(r[2] for r in results)
    statuses: Counter = Counter()
    for r in results:
        statuses.update(r[4])
    first = min(results, key=lambda r: r[1])
    last = max(results, key=lambda r: r[2])
    busy, steal = _machine_delta(first[5], last[6], end - start)
    return dict(n=sum(r[3] for r in results), loop_s=end - start, total_s=total_s, statuses=statuses,
                busy=busy, steal=steal,
                per_worker=[(r[0], r[3], r[2] - r[1]) for r in sorted(results)])


def stage_run(data: str, workers: int, max_problems: int | None, mode: str) -> dict:
    out = tempfile.mkdtemp(prefix=f"bench-stage-w{workers}-")
    try:
        cfg = TraceConfig(inputs=[data], out=out, workers=workers, sandbox=mode, max_problems=max_problems)
        t0 = time.perf_counter()
        stats = run_trace_stage(cfg)
        dt = time.perf_counter() - t0
        rows = sum(1 for _ in Path(out, "traces").glob("*.parquet"))
        return dict(n=stats.get("rows", 0), wall_s=dt, shards=stats.get("shards"), files=rows,
                    shard_s=stats.get("shard_seconds", 0.0), sandbox=stats.get("sandbox"),
                    statuses=stats.get("by_status", {}))
    finally:
        shutil.rmtree(out, ignore_errors=True)


def fmt_status(c) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(dict(c).items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="first 200 items only")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--sandbox", default="auto", choices=("auto", "bwrap", "rlimit"))
    ap.add_argument("--skip-stage", action="store_true", help="skip (c), the CLI stage runs")
    ap.add_argument("--before", metavar="REV|DIR", help="(d): compare the CLI with this git revision or checkout")
    ap.add_argument("--cli-only", action="store_true", help="run (d) only")
    ap.add_argument("--repeats", type=int, default=3, help="(d): runs of each size per checkout (best kept)")
    args = ap.parse_args()
    if args.cli_only:
        if not args.before:
            ap.error("--cli-only needs --before REV|DIR")
        return cli_side_by_side(args.before, args.data, args.sandbox, args.repeats)

    problems = load_problems(args.data)
    max_problems = 200 if args.quick else None
    if max_problems:
        problems = problems[:max_problems]
    items = all_items(problems)
    limits = Limits()
    mode = resolve_mode(args.sandbox)
    ncpu = os.cpu_count() or 1
    print(f"# throughput  (python {platform.python_version()}, tracer {TRACER_VERSION}, {ncpu} cpus, "
          f"sandbox {args.sandbox} -> {mode}, {len(problems)} problems -> {len(items)} traces, "
          f"default Limits: {limits.max_events} events / {limits.max_bytes} bytes)\n", flush=True)

    # background load of this shared machine, for reading the "cores busy" figures below
    m0, t0 = _machine(), time.perf_counter()
    time.sleep(1.0)
    idle_busy, idle_steal = _machine_delta(m0, _machine(), time.perf_counter() - t0)
    print(f"  background: {idle_busy:.2f} of {ncpu} cores busy before the runs (steal {idle_steal:.2f})",
          flush=True)

    # warm the page cache and imports once so (a) does not pay for them
    with Sandbox(mode) as sb:
        for p, s, t in items[:20]:
            trace_one(p, s, t, limits, sb)

    a = one_worker(items, mode, limits, trace=True)
    print(f"  (a) 1 worker traced       : {a['n'] / a['loop_s']:7.1f} traces/s", flush=True)
    a_untraced = one_worker(items, mode, limits, trace=False)
    print(f"      1 worker untraced     : {a_untraced['n'] / a_untraced['loop_s']:7.1f} runs/s", flush=True)
    inproc = in_process(items, limits)
    print(f"      in-process, no sandbox: {inproc['n'] / inproc['loop_s']:7.1f} traces/s", flush=True)
    b = two_workers(items, mode, limits)
    print(f"  (b) 2 workers traced      : {b['n'] / b['loop_s']:7.1f} traces/s", flush=True)
    c = []
    if not args.skip_stage:
        for w in (1, 2):
            c.append((w, stage_run(args.data, w, max_problems, args.sandbox)))
            print(f"  (c) stage, workers={w}     : {c[-1][1]['n'] / c[-1][1]['wall_s']:7.1f} traces/s", flush=True)

    r1 = a["n"] / a["loop_s"]
    r2 = b["n"] / b["loop_s"]
    cores2 = min(2, ncpu)
    per_core_2 = r2 / cores2
    speedup = r2 / r1

    print("\n## (a)/(b) trace_one loops (worker start-up excluded: (a) times items after the first;\n"
          "##  (b) times from both sandboxes being up to the last item)\n")
    hdr = f"{'run':34s} {'timed':>6s} {'wall s':>7s} {'traces/s':>9s} {'ms/trace':>9s}  statuses (all items)"
    print(hdr)
    print("-" * (len(hdr) + 20))

    def line(name, n, s, st):
        print(f"{name:34s} {n:6d} {s:7.2f} {n / s:9.1f} {1000 * s / n:9.2f}  {fmt_status(st)}")

    line(f"(a) 1 worker, traced [{a['mode']}]", a["n"], a["loop_s"], a["statuses"])
    line(f"    1 worker, untraced [{a_untraced['mode']}]", a_untraced["n"], a_untraced["loop_s"],
         a_untraced["statuses"])
    line("    traced in-process, no sandbox", inproc["n"], inproc["loop_s"], inproc["statuses"])
    line(f"(b) 2 workers, traced [{mode}]", b["n"], b["loop_s"], b["statuses"])
    print(f"      cores busy (whole machine) during the timed loops: (a) {a['busy']:.2f}, "
          f"(b) {b['busy']:.2f} of {ncpu}; background before the runs {idle_busy:.2f}")
    for rank, n, s in b["per_worker"]:
        print(f"      worker {rank}: {n} traces in {s:.2f} s ({n / s:.1f}/s)")
    print(f"      whole (b) incl. process + sandbox start-up: {b['total_s']:.2f} s "
          f"for {b['n'] + 2} traces ({(b['n'] + 2) / b['total_s']:.1f} traces/s)")

    n = a["n"]
    print("\n## Where one traced item's time goes (1 worker)\n")
    print(f"  first job (waits for bwrap + worker start-up) : {1000 * a['first_s']:8.1f} ms once")
    print(f"  per trace, steady loop                        : {1000 * a['loop_s'] / n:8.2f} ms")
    print(f"    in the worker's run_in_child (mkdir, fork,  : {1000 * a['child_s'] / n:8.2f} ms  "
          f"(untraced: {1000 * a_untraced['child_s'] / a_untraced['n']:.2f} ms)")
    print("     child runs + exits, reap; its wall_ms)")
    print(f"    the rest (pipe, JSON, parent, rmtree)       : {1000 * (a['loop_s'] - a['child_s']) / n:8.2f} ms")
    print(f"    the traced run_job itself, in-process       : {1000 * inproc['loop_s'] / inproc['n']:8.2f} ms"
          "  (gc.freeze()'d heap, as in the worker)")
    print(f"  parent CPU {1000 * a['cpu_parent'] / n:.2f} ms/trace; whole machine busy {a['busy']:.2f} "
          f"of {ncpu} cores during the loop (steal {a['steal']:.2f}); events: {a['events']:,d} "
          f"({a['events'] / (n + 1):.1f} per trace)")

    if c:
        print("\n## (c) the real trace stage (run_trace_stage, datatrove engine, fresh out dirs)\n")
        hdr = f"{'workers':>7s} {'shards':>6s} {'traces':>6s} {'wall s':>7s} {'traces/s':>9s} {'sum shard s':>11s}  statuses"
        print(hdr)
        print("-" * (len(hdr) + 20))
        for w, r in c:
            print(f"{w:7d} {r['shards']:6d} {r['n']:6d} {r['wall_s']:7.2f} {r['n'] / r['wall_s']:9.1f} "
                  f"{r['shard_s']:11.2f}  {fmt_status(r['statuses'])}")
        print(f"  stage vs bare loop: workers=1 {c[0][1]['n'] / c[0][1]['wall_s'] / r1:.2f}x of (a), "
              f"workers=2 {c[1][1]['n'] / c[1][1]['wall_s'] / r2:.2f}x of (b)")
        if c[0][1]["n"] != len(items) or c[1][1]["n"] != len(items):
            print(f"  NOTE: the stage wrote {c[0][1]['n']} / {c[1][1]['n']} rows of {len(items)} items")

    print("\n## Summary and targets\n")
    print(f"  sandbox mode used              : {a['mode']}")
    print(f"  1 worker                       : {r1:7.1f} traces/s")
    print(f"  2 workers                      : {r2:7.1f} traces/s")
    print(f"  per core (2 workers / {cores2})       : {per_core_2:7.1f} traces/s")
    print(f"  per busy core                  : 1 worker {r1 / max(a['busy'], 1e-9):.1f} "
          f"(it kept {a['busy']:.2f} cores busy), 2 workers {r2 / max(b['busy'], 1e-9):.1f} "
          f"({b['busy']:.2f} busy)")
    ok_core = min(r1, per_core_2) >= TARGET_PER_CORE
    print(f"  target >= {TARGET_PER_CORE:.0f} traces/s per core   : 1 worker {r1:.1f}, 2 workers per core "
          f"{per_core_2:.1f}  {'PASS' if ok_core else 'MISS'}")
    print(f"  target 2 workers >= {TARGET_SPEEDUP}x one    : {speedup:.2f}x  "
          f"{'PASS' if speedup >= TARGET_SPEEDUP else 'MISS'}")
    if c:
        s1 = c[0][1]["n"] / c[0][1]["wall_s"]
        s2 = c[1][1]["n"] / c[1][1]["wall_s"]
        print(f"  through the stage              : 1 worker {s1:.1f}/s, 2 workers {s2:.1f}/s "
              f"({s2 / s1:.2f}x)  [per core {s2 / cores2:.1f}: "
              f"{'PASS' if min(s1, s2 / cores2) >= TARGET_PER_CORE else 'MISS'}; speed-up "
              f"{'PASS' if s2 / s1 >= TARGET_SPEEDUP else 'MISS'}]")
    if args.before:
        print()
        cli_side_by_side(args.before, args.data, args.sandbox, args.repeats)
    return 0


ROOT = Path(__file__).resolve().parents[1]
CLI_MAIN = "import sys; from selfexec.cli import app; sys.argv[0] = 'selfexec'; sys.exit(app())"


def checkout(before: str, tmp: Path) -> Path:
    """A tree to run the CLI from: a folder as it is, or a git revision of this repository extracted
    into `tmp`. The compiled accelerators (not in git) are copied in only when the revision's C
    sources are this checkout's; otherwise it runs its pure-Python paths, and we say so."""
    if Path(before).is_dir():
        return Path(before).resolve()
    dest = tmp / "before"
    dest.mkdir()
    data = subprocess.run(["git", "-C", str(ROOT), "archive", before], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    ours = {p.name: p.read_bytes() for ext in ("*.c", "*.h") for p in (ROOT / "tracegen").glob(ext)}
    theirs = {p.name: p.read_bytes() for ext in ("*.c", "*.h") for p in (dest / "tracegen").glob(ext)}
    if ours == theirs:
        for so in (ROOT / "tracegen").glob("*.so"):
            shutil.copy2(so, dest / "tracegen" / so.name)
    elif ours:
        print(f"  note: {before}'s C sources differ from this checkout's: it runs without compiled accelerators")
    return dest


def cli_seconds(tree: Path, data: Path, out: Path, mode: str) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds of every process the run waited for (under bwrap that leaves out
    the jailed worker and its children: the kernel does not hand their usage back), stats."""
    shutil.rmtree(out, ignore_errors=True)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-c", CLI_MAIN, "trace", str(data), "--out", str(out), "--workers", "2", "--sandbox", mode]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    if done.returncode != 0:
        raise RuntimeError(f"selfexec trace failed in {tree}:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    stats = json.loads((out / "stats" / "trace.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return dt, cpu, stats


def cli_side_by_side(before: str, data: str, mode: str, repeats: int) -> int:
    """(d): the acceptance check's measure, for an older checkout and this one, in one run."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp_name:
        tmp = Path(tmp_name)
        trees = {"before": checkout(before, tmp), "this checkout": ROOT}
        small = tmp / "c80.jsonl"
        with open(data) as f:
            small.write_text("".join(line for _, line in zip(range(80), f)))
        best: dict[tuple[str, int], float] = {}
        best_cpu: dict[tuple[str, int], float] = {}
        rows: dict[str, dict] = {}
        load0 = os.getloadavg()[0]
        for _ in range(repeats):
            for name, tree in trees.items():  # alternating, so drifting load hits both alike
                for n, path in ((80, small), (800, Path(data))):
                    dt, cpu, stats = cli_seconds(tree, path, tmp / "run", mode)
                    best[name, n] = min(dt, best.get((name, n), dt))
                    best_cpu[name, n] = min(cpu, best_cpu.get((name, n), cpu))
                    if n == 800:
                        rows[name] = stats
        load1 = os.getloadavg()[0]
    print(f"## (d) `selfexec trace --workers 2` through the CLI, best of {repeats}, before = {before}\n")
    print(f"{'checkout':14s} {'80 items':>9s} {'800 items':>10s} {'traces/s per core':>18s} {'CPU ms/item':>12s}"
          f"  rows, statuses (800)")
    rate = {}
    for name in trees:
        t80, t800 = best[name, 80], best[name, 800]
        rate[name] = 720 / max(t800 - t80, 1e-3) / 2
        cpu_ms = (best_cpu[name, 800] - best_cpu[name, 80]) / 720 * 1000
        st = rows[name]
        print(f"{name:14s} {t80:8.2f}s {t800:9.2f}s {rate[name]:18.0f} {cpu_ms:12.2f}  {st.get('rows')}, "
              f"{fmt_status(st.get('by_status', {}))}")
    print("  CPU ms/item: the 720 items' marginal CPU of every process the CLI waited for (least of the runs);"
          " under bwrap the jailed worker and its children are not counted: use --sandbox rlimit to compare it")
    print(f"  ratio this/before: {rate['this checkout'] / rate['before']:.2f}x; per-core target >= {TARGET_PER_CORE:.0f}: "
          f"{'PASS' if rate['this checkout'] >= TARGET_PER_CORE else 'MISS'}; load average {load0:.2f} -> {load1:.2f} "
          f"on {os.cpu_count()} cpus (a shared machine: rerun a near miss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
