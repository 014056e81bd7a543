"""Where one sandboxed trace's CPU goes, per CRUXEval item: the profile behind the throughput figures.

    python benchmarks/sandbox_job_cost.py [--quick] [--data PATH]

The sandbox runs each job in a fresh child forked from a warm worker (tracegen/worker.py). On a VM,
where a page fault costs microseconds, a short program's job is mostly fork, copy-on-write faults and
set-up rather than the program. Measured here, each in a fresh process shaped like the worker (its
environment, gc.freeze(), no other threads; no jail, no uid drop), per item:

  worker   CPU and minor page faults of the forking process per job, and of its parts (analysing the
           program: lineinfo.Prepared; the fork system call; waiting for and reading the result)
  child    CPU and page faults of the forked child (set-up, the traced run, its result, exit)
  floor    a bare fork + _exit + waitpid from the same process
  parent   the stage's side: trace_one (message out, reply in, the Trace row) through a real Sandbox,
           and turning rows into a parquet table

CPU is getrusage (user + system), so a loaded machine inflates it less than wall time; rerun before
believing a small difference. Exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cruxeval" / "cruxeval.jsonl"

# Runs in a fresh `python -s` with the worker's environment: argv = jobs.json, result.json
WORKER_SIDE = r'''
import gc, json, os, resource, sys, time
from tracegen import worker
jobs = json.load(open(sys.argv[1]))
os.environ.clear(); os.environ.update(worker.CHILD_ENV); worker._env_is_childs = True
gc.freeze()
def usage():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return [s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime, s.ru_minflt, c.ru_minflt]
parts = {}
def timed(name):
    f = getattr(worker, name)
    def g(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            parts[name] = parts.get(name, 0.0) + time.process_time() - t
    setattr(worker, name, g)
for name in ("_prepared", "fork_quietly", "_collect", "_kill_leftovers"):
    timed(name)
tmp = os.environ.get("JOB_TMP", "/tmp")
out = {}
u0 = usage()
for i, job in enumerate(jobs):
    wd = os.path.join(tmp, f"bench-job-{os.getpid()}-{i}")
    try:
        worker.run_in_child(job, wd, False)
    finally:
        worker.remove_workdir(wd)
out["jobs"] = [b - a for a, b in zip(u0, usage())]
out["parts"] = parts
u0 = usage()
for _ in range(len(jobs)):
    pid = worker.fork_quietly()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
out["floor"] = [b - a for a, b in zip(u0, usage())]
json.dump(out, open(sys.argv[2], "w"))
'''


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    return s.ru_utime + s.ru_stime


def parent_side(problems, limits) -> dict[str, float]:
    """The stage's own CPU per item: trace_one through a real Sandbox, then rows to a parquet table."""
    import pyarrow.parquet as pq

    from tracegen.records import TRACE_PARQUET_OPTIONS, TRACE_SCHEMA, traces_to_table
    from tracegen.runner import trace_one
    from tracegen.sandbox import Sandbox

    items = [(p, s, t) for p in problems for s in p.solutions for t in p.tests]
    with Sandbox("auto") as sb:
        trace_one(*items[0], limits, sb)  # waits for the worker's start-up
        c0 = _cpu()
        rows = [trace_one(p, s, t, limits, sb) for p, s, t in items]
        c1 = _cpu()
        mode = sb.description
    with tempfile.TemporaryDirectory() as tmp:
        writer = pq.ParquetWriter(Path(tmp) / "t.parquet", TRACE_SCHEMA, **TRACE_PARQUET_OPTIONS)
        writer.write_table(traces_to_table(rows[:8]))  # warm-up: the writer's first table
        c2 = _cpu()
        for i in range(0, len(rows), 128):
            writer.write_table(traces_to_table(rows[i:i + 128]))
        c3 = _cpu()
        writer.close()
    n = len(items)
    return {"trace_one": (c1 - c0) / n * 1000, "parquet": (c3 - c2) / n * 1000, "mode": mode}


def in_process(jobs) -> dict[str, float]:
    """Prepared alone, and the traced run_job alone (Prepared made beforehand), in a forked child
    that runs every job in turn: the tracer's own cost with no fork per job."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            import gc
            import time

            from tracegen import harness
            from tracegen.lineinfo import Prepared
            from tracegen.tracer import USER_FILENAME

            fd = os.open(os.devnull, os.O_RDWR)
            os.dup2(fd, 0)
            out = os.open(os.path.join(tempfile.gettempdir(), f"bench-out-{os.getpid()}"),
                          os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, 1)
            harness.real_std_streams()
            gc.freeze()
            t0 = time.process_time()
            prepared = [Prepared(j["code"], USER_FILENAME) for j in jobs]
            t1 = time.process_time()
            for j, p in zip(jobs, prepared):
                harness.run_job({**j, "compact": True}, prepared=p)
                os.ftruncate(1, 0)
                os.lseek(1, 0, os.SEEK_SET)
            t2 = time.process_time()
            os.write(w, json.dumps({"prepared": (t1 - t0) / len(jobs) * 1000,
                                    "run_job": (t2 - t1) / len(jobs) * 1000}).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    for p in Path(tempfile.gettempdir()).glob(f"bench-out-{pid}"):
        p.unlink()
    return json.loads(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the first 200 problems")
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from tracegen.loaders import load_problems
    from tracegen.records import Limits
    from tracegen.runner import make_job
    from tracegen.sandbox import _memory_tmp

    problems = load_problems(args.data)[: 200 if args.quick else None]
    limits = Limits()
    jobs = [make_job(p, s, t, limits) for p in problems for s in p.solutions for t in p.tests]
    n = len(jobs)
    print(f"# sandbox job cost: {n} CRUXEval items, {os.cpu_count()} cpus, load average "
          f"{os.getloadavg()[0]:.2f}\n")
    with tempfile.TemporaryDirectory() as tmp:
        jobs_file, result = Path(tmp) / "jobs.json", Path(tmp) / "result.json"
        jobs_file.write_text(json.dumps(jobs))
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT),
               "JOB_TMP": _memory_tmp() or tempfile.gettempdir()}
        subprocess.run([sys.executable, "-s", "-c", WORKER_SIDE, str(jobs_file), str(result)], env=env,
                       check=True, cwd="/")
        w = json.loads(result.read_text())
    inproc = in_process(jobs)
    parent = parent_side(problems, limits)

    ms = lambda v: v / n * 1000  # noqa: E731
    jobs_cpu, child_cpu, jobs_flt, child_flt = w["jobs"]
    floor = w["floor"]
    parts = w["parts"]
    rest = jobs_cpu - sum(parts.values())
    total = ms(jobs_cpu) + ms(child_cpu) + parent["trace_one"] + parent["parquet"]
    print(f"{'where':52s} {'CPU ms/item':>11s} {'page faults':>11s}")
    print("-" * 76)
    print(f"{'worker (the forking process), per job':52s} {ms(jobs_cpu):11.2f} {jobs_flt / n:11.0f}")
    print(f"{'  analysing the program (lineinfo.Prepared)':52s} {ms(parts['_prepared']):11.2f}")
    print(f"{'  the fork system call':52s} {ms(parts['fork_quietly']):11.2f}")
    print(f"{'  waiting for and reading the result':52s} {ms(parts['_collect']):11.2f}")
    print(f"{'  killing leftovers':52s} {ms(parts['_kill_leftovers']):11.2f}")
    print(f"{'  the rest (files, protocol, reaping)':52s} {ms(rest):11.2f}")
    print(f"{'child (set-up, traced run, result, exit)':52s} {ms(child_cpu):11.2f} {child_flt / n:11.0f}")
    print(f"{'stage process: trace_one (' + parent['mode'] + ')':52s} {parent['trace_one']:11.2f}")
    print(f"{'stage process: rows to parquet':52s} {parent['parquet']:11.2f}")
    print(f"{'all of it':52s} {total:11.2f}   -> {1000 / total:.0f} items per CPU-second (goal 300)")
    print("\nfor scale:")
    print(f"{'  bare fork + _exit + waitpid: forking side':52s} {ms(floor[0]):11.2f} {floor[2] / n:11.0f}")
    print(f"{'                               child':52s} {ms(floor[1]):11.2f} {floor[3] / n:11.0f}")
    print(f"{'  lineinfo.Prepared alone, in process':52s} {inproc['prepared']:11.2f}")
    print(f"{'  traced run_job alone, in process (no fork)':52s} {inproc['run_job']:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
