"""All 14,779 CodeContests tests, traced and untraced, in the real sandbox.

Prints: traced stdout == untraced stdout on every test where neither run timed out, and how the
pass counts per problem compare with `verification_local.json` (the upstream local run), allowing
for timeouts. CI runs a fixed sample of this (tests/test_trace_datasets.py); this is the whole set.

    python benchmarks/codecontests_fidelity.py [--workers 2] [--max-problems N] [--timeout 6]
        [--rewrite crlf|cr] [--plain]

--rewrite gives every input CRLF line ends (crlf) or lone CR line ends (cr) first: the traced run
must still print what the untraced one does (the program sees the bytes; CPython translates
nothing). --plain also runs each test as plain `python3 main.py < in.txt` (buffered, no sandbox)
and compares its stdout with the traced one. It also counts trace values that name an object of
the harness (there must be none).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import multiprocessing as mp
import time
from collections import Counter
from pathlib import Path

from tracegen.loaders import load_problems
from tracegen.records import Limits
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "codecontests_py300"


HARNESS_NAMES = ("Captured", "tracegen", "selfexec", "StdoutTap")


def rewrite(text: str, how: str | None) -> str:
    if how == "crlf":
        return text.replace("\r\n", "\n").replace("\n", "\r\n")
    if how == "cr":
        return text.replace("\r\n", "\n").replace("\n", "\r")
    return text


def plain_stdout(code: str, stdin: str, timeout: float) -> str | None:
    """stdout of plain `python3 main.py < in.txt` (no sandbox, buffered as a judge runs it)."""
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "main.py"), "w").write(code)
        with open(os.path.join(d, "in.txt"), "wb") as f:
            f.write(stdin.encode("utf-8", "surrogateescape"))
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
        try:
            with open(os.path.join(d, "in.txt"), "rb") as f:
                p = subprocess.run([sys.executable, "main.py"], stdin=f, capture_output=True, cwd=d, env=env,
                                   timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return p.stdout.decode("utf-8", "replace")


def work(args):
    problems, timeout, how, plain = args
    limits = Limits(timeout_s=timeout)
    out = []
    with Sandbox("auto") as sb:
        for p in problems:
            for t in p.tests:
                t = dataclasses.replace(t, input=rewrite(t.input, how))
                a = trace_one(p, p.solutions[0], t, limits, sb)
                b = trace_one(p, p.solutions[0], t, limits, sb, trace=False)
                leaks = sum(any(n in c["value"] for n in HARNESS_NAMES) for e in a.events for c in e["changes"])
                c = plain_stdout(p.solutions[0].code, t.input, timeout) if plain else None
                out.append((p.problem_id.split("/", 1)[1], t.test_id, a.status, b.status, a.stdout == b.stdout,
                            bool(a.matches_expected), bool(b.matches_expected), a.n_events, sb.mode, leaks,
                            None if c is None else c == a.stdout))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-problems", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=6.0)
    ap.add_argument("--rewrite", choices=["crlf", "cr"], default=None)
    ap.add_argument("--plain", action="store_true")
    args = ap.parse_args()
    problems = load_problems(DATA / "codecontests_py300.jsonl")[: args.max_problems]
    verification = json.loads((DATA / "verification_local.json").read_text())["per_problem"]
    chunks = [(problems[i::args.workers * 4], args.timeout, args.rewrite, args.plain) for i in range(args.workers * 4)]
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
    print(f"inputs rewritten: {args.rewrite or 'no'}")
    print(f"traced stdout == untraced stdout: {same}/{len(no_timeout)} (tests where neither run timed out)")
    print(f"trace values naming an object of the harness: {sum(r[9] for r in rows)}")
    if args.plain:
        compared = [r for r in no_timeout if r[10] is not None]
        print(f"traced stdout == plain `python3 main.py < in.txt`: {sum(r[10] for r in compared)}/{len(compared)}")
        for r in compared:
            if not r[10]:
                print(f"  differs from plain: {r[0]} test {r[1]} (traced {r[2]})")
    for r in no_timeout:
        if not r[4]:
            print(f"  differs: {r[0]} test {r[1]} (traced {r[2]}, untraced {r[3]})")
    agree, disagree = 0, []
    per: dict[str, Counter] = {}
    for pid, _tid, st_a, _st_b, _same, ok_a, _ok_b, _ev, _m, _leaks, _plain in rows:
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
