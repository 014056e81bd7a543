"""`selfexec synth-inputs`: new tests for problems, kept when they run `ok` and show something new.

Reads top to bottom, per problem:
  1. run the reference (the first correct solution, else the first) traced on the problem's own tests:
     the outputs and covered lines seen so far;
  2. propose candidates: function problems by type-directed fuzzing of the seed arguments (fuzz.py;
     kept inputs become seeds too), stdio problems by running a generator program in the sandbox with
     seeds 0, 1, 2, ... on stdin (its stdout is the candidate stdin);
  3. run the reference traced on each candidate; keep it when the status is `ok` (inside the limits:
     time, memory, event and byte budgets) and its output or its covered lines are new. The expected
     output is the reference's; `origin` says where the test came from.
Problems run in parallel, one sandbox per worker process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from ..records import Limits, Problem, Solution, Test, Trace
from ..runner import trace_one
from ..sandbox import Sandbox
from .fuzz import Observed, args_source, candidate, parse_args


@dataclass
class SynthConfig:
    per_problem: int = 5  # new tests kept per problem (at most)
    max_attempts: int = 40  # candidates tried per problem (at most)
    generator: str = ""  # Python source of a stdio input generator: reads a seed on stdin, prints one input
    workers: int = 0  # 0: one per CPU
    sandbox: str = "auto"
    seed: int = 0
    limits: Limits = field(default_factory=lambda: Limits(timeout_s=2.0))

    def validate(self) -> None:
        if self.per_problem < 1 or self.max_attempts < 1:
            raise UserError("synth-inputs: per_problem and max_attempts must be >= 1")
        if self.generator:
            try:
                compile(self.generator, "<generator>", "exec")
            except SyntaxError as e:
                raise UserError(f"synth-inputs: the generator program is not valid Python ({e.msg}, line "
                                f"{e.lineno}); it must read a seed from stdin and print one test input") from None


def _reference(problem: Problem) -> Solution | None:
    correct = [s for s in problem.solutions if s.label == "correct"]
    return (correct or problem.solutions or [None])[0]


def _output(trace: Trace) -> str | None:
    return trace.return_repr if trace.kind == "function" else trace.stdout


def _lines(trace: Trace) -> set[tuple[str, int]]:
    return {(e["func"], e["lineno"]) for e in trace.events if e["event"] == "line"}


def synthesize_problem(problem: Problem, cfg: SynthConfig, box: Sandbox) -> tuple[Problem, Counter]:
    """The problem with its kept synthesized tests appended."""
    stats: Counter = Counter()
    ref = _reference(problem)
    if ref is None:
        stats["no solution to run"] += 1
        return problem, stats
    outputs: set[str | None] = set()
    covered: set[tuple[str, int]] = set()
    for t in problem.tests:
        if t.check and not t.input:
            continue
        tr = trace_one(problem, ref, t, cfg.limits, box)
        if tr.status == "ok":
            outputs.add(_output(tr))
            covered |= _lines(tr)
    rng = random.Random(int(hashlib.sha256(f"{cfg.seed}/{problem.problem_id}".encode()).hexdigest(), 16))
    proposals, on_kept = _proposals(problem, cfg, box, rng, stats)
    kept: list[Test] = []
    first_id = sum(1 for t in problem.tests if t.test_id.startswith("synth-"))  # a rerun on our own output
    seen_inputs = {t.input for t in problem.tests}
    runs = 0
    for proposed, (inp, origin) in enumerate(proposals):
        # a repeated candidate costs no run; the second bound stops a fuzzer that only repeats itself
        if runs >= cfg.max_attempts or len(kept) >= cfg.per_problem or proposed >= 10 * cfg.max_attempts:
            break
        if inp in seen_inputs:
            stats["repeated input"] += 1
            continue
        seen_inputs.add(inp)
        runs += 1
        test = Test(f"synth-{first_id + len(kept)}", inp, None, public=False, origin=origin)
        tr = trace_one(problem, ref, test, cfg.limits, box)
        if tr.status != "ok":
            stats[f"not ok: {tr.status}"] += 1
            continue
        out, lines = _output(tr), _lines(tr)
        if out in outputs and lines <= covered:
            stats["nothing new"] += 1
            continue
        stats["kept: new output" if out not in outputs else "kept: new lines"] += 1
        outputs.add(out)
        covered |= lines
        kept.append(dataclasses.replace(test, output=out))
        on_kept(inp, test.test_id)
    return dataclasses.replace(problem, tests=[*problem.tests, *kept]), stats


class _FunctionProposals:
    """Fuzzed argument lists; inputs that were kept join the seeds (so fuzzing walks further)."""

    def __init__(self, problem: Problem, rng: random.Random):
        self.rng = rng
        self.seeds: list[tuple[tuple[Any, ...], str]] = []
        for t in problem.tests:
            args = parse_args(t.input) if t.input.strip() else None
            if args:
                self.seeds.append((args, f"test {t.test_id}"))
        self.obs = Observed.of([s for s, _ in self.seeds])

    def send_kept(self, inp: str, test_id: str) -> None:
        args = parse_args(inp)
        if args:
            self.seeds.append((args, test_id))

    def __iter__(self):
        while self.seeds:
            i, values = candidate([s for s, _ in self.seeds], self.obs, self.rng)
            yield args_source(values), f"fuzz from {self.seeds[i][1]}"


def _proposals(problem: Problem, cfg: SynthConfig, box: Sandbox, rng: random.Random, stats: Counter):
    """(candidates as (input, origin), a callback told of each kept input)."""
    if problem.kind == "function":
        props = _FunctionProposals(problem, rng)
        if not props.seeds:
            stats["no literal seed input"] += 1
        return iter(props), props.send_kept
    generator = cfg.generator or problem.meta.get("generator", "")
    if not generator:
        stats["stdio without a generator"] += 1
        return iter(()), _ignore
    return _generated(problem, generator, cfg, box, stats), _ignore


def _ignore(inp: str, test_id: str) -> None:
    """Generator seeds do not depend on what was kept."""


def _generated(problem: Problem, generator: str, cfg: SynthConfig, box: Sandbox, stats: Counter):
    """stdin texts printed by the generator program, run in the sandbox on seeds 0, 1, 2, ..."""
    gen = Problem(f"{problem.problem_id}#generator", problem.source, "stdio")
    for seed in range(cfg.max_attempts):
        run = trace_one(gen, Solution("generator", generator), Test(str(seed), f"{cfg.seed * 100003 + seed}\n"),
                        cfg.limits, box, trace=False)
        if run.status != "ok" or not run.stdout.strip():
            stats[f"generator {run.status if run.status != 'ok' else 'printed nothing'}"] += 1
            continue
        yield run.stdout if run.stdout.endswith("\n") else run.stdout + "\n", f"generator seed {seed}"


# --------------------------------------------------------------------------- parallel driver

_BOX: Sandbox | None = None


def _worker_init(mode: str) -> None:
    from multiprocessing.util import Finalize

    global _BOX
    _BOX = Sandbox(mode)
    Finalize(_BOX, _BOX.close, exitpriority=10)  # pool workers skip atexit; stop the sandbox worker


def _worker(args: tuple[Problem, SynthConfig]) -> tuple[Problem, Counter]:
    assert _BOX is not None
    return synthesize_problem(args[0], args[1], _BOX)


def synthesize(problems: list[Problem], cfg: SynthConfig,
               on_progress: Callable[[int, int], None] | None = None) -> tuple[list[Problem], dict[str, Any]]:
    """Every problem with its new tests, in input order, and counts (kept and rejected, by reason)."""
    cfg.validate()
    workers = min(cfg.workers or os.cpu_count() or 1, max(1, len(problems)))
    results: list[tuple[Problem, Counter]] = []
    if workers == 1:
        with Sandbox(cfg.sandbox) as box:
            for i, p in enumerate(problems):
                results.append(synthesize_problem(p, cfg, box))
                if on_progress:
                    on_progress(i + 1, len(problems))
    else:
        with ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(cfg.sandbox,)) as pool:
            for i, r in enumerate(pool.map(_worker, [(p, cfg) for p in problems])):
                results.append(r)
                if on_progress:
                    on_progress(i + 1, len(problems))
    total: Counter = Counter()
    for _, c in results:
        total.update(c)
    new = [len(p.tests) - len(q.tests) for (p, _), q in zip(results, problems)]
    return [p for p, _ in results], {"problems": len(problems), "new_tests": sum(new),
                                     "problems_with_new_tests": sum(1 for n in new if n),
                                     "counts": dict(sorted(total.items()))}
