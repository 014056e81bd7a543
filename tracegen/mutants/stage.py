"""`selfexec mutate`: incorrect variants of correct solutions, each with its first divergent step.

For every problem, reads top to bottom:
  1. run each correct solution untraced on up to `max_tests` tests (public first); keep the tests it
     passes, and note how long each took: a mutant gets `slowdown` times that (at least `min_timeout_s`)
     before it counts as not terminating;
  2. walk the mutation sites in a seeded shuffled order; a mutant is kept when it compiles, terminates
     on every test it runs and fails at least one (runs stop at the first failure);
  3. trace original and mutant on that failing test and record the first divergent step.
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
from ..records import Limits, Problem, Solution, Test
from ..runner import trace_one
from ..sandbox import Sandbox
from .divergence import first_divergence
from .operators import apply, compiles, mutation_sites


@dataclass
class MutateConfig:
    per_solution: int = 5  # mutants kept per correct solution (at most)
    max_attempts: int = 40  # mutation sites tried per correct solution (at most)
    max_tests: int = 10  # tests a mutant is run on (public first); the original must pass them
    slowdown: float = 5.0  # a mutant may take this many times the original's time on a test
    min_timeout_s: float = 1.0
    workers: int = 0  # 0: one per CPU
    sandbox: str = "auto"
    seed: int = 0
    limits: Limits = field(default_factory=Limits)

    def validate(self) -> None:
        for name in ("per_solution", "max_attempts", "max_tests"):
            if getattr(self, name) < 1:
                raise UserError(f"mutate: {name} must be >= 1 (got {getattr(self, name)})")
        if self.slowdown < 1 or self.min_timeout_s <= 0:
            raise UserError("mutate: slowdown must be >= 1 and min_timeout_s > 0")


@dataclass
class ProblemResult:
    problem: Problem
    stats: Counter


def _passes(problem: Problem, solution: Solution, test: Test, limits: Limits, box: Sandbox):
    row = trace_one(problem, solution, test, limits, box, trace=False)
    return row.status == "ok" and row.matches_expected is not False, row


def mutate_problem(problem: Problem, cfg: MutateConfig, box: Sandbox) -> ProblemResult:
    """The problem with its kept mutants appended to `solutions` (label `incorrect`)."""
    stats: Counter = Counter()
    tests = sorted((t for t in problem.tests if t.output is not None or t.check),
                   key=lambda t: not t.public)[: cfg.max_tests]
    mutants: list[Solution] = []
    for original in [s for s in problem.solutions if s.label == "correct"]:
        budget: list[tuple[Test, float]] = []  # the tests the original passes, with its time on each
        for test in tests:
            ok, row = _passes(problem, original, test, cfg.limits, box)
            if ok:
                budget.append((test, max(cfg.min_timeout_s, cfg.slowdown * row.wall_ms / 1000)))
        if not budget:
            stats["original fails its tests"] += 1
            continue
        # fast tests first (stable: public first among equals): most mutants fail the first test they
        # run, and a short run makes a short trace for the divergence
        budget.sort(key=lambda tb: tb[1])
        sites = mutation_sites(original.code)
        seed = int(hashlib.sha256(f"{cfg.seed}/{problem.problem_id}/{original.solution_id}".encode()).hexdigest(), 16)
        random.Random(seed).shuffle(sites)
        seen_codes = {original.code}
        kept = 0
        for site in sites[: cfg.max_attempts]:
            if kept >= cfg.per_solution:
                break
            code = apply(original.code, site)
            if code in seen_codes or not compiles(code):
                stats["does not compile" if code not in seen_codes else "duplicate"] += 1
                continue
            seen_codes.add(code)
            stats["tried"] += 1
            mutant = Solution(f"{original.solution_id}-mut{kept}", code, "incorrect",
                              origin=f"mutant of {original.solution_id}: {site.operator}, {site.description}")
            failing, verdict = None, "passes every test (equivalent or untested)"
            for test, timeout in budget:
                limits = dataclasses.replace(cfg.limits, timeout_s=min(cfg.limits.timeout_s, timeout))
                ok, row = _passes(problem, mutant, test, limits, box)
                if row.status in ("timeout", "memory", "output_limit", "internal_error", "sandbox_violation"):
                    failing, verdict = None, f"does not terminate ({row.status})"
                    break
                if not ok:
                    failing = test
                    break
            if failing is None:
                stats[verdict] += 1
                continue
            divergence = _divergence(problem, original, mutant, failing, cfg.limits, box)
            if divergence is None:
                stats["no divergent step"] += 1
                continue
            mutant.divergence = divergence
            mutants.append(mutant)
            stats[f"kept: {site.operator}"] += 1
            kept += 1
    out = dataclasses.replace(problem, solutions=[*problem.solutions, *mutants])
    return ProblemResult(out, stats)


def _divergence(problem: Problem, original: Solution, mutant: Solution, test: Test, limits: Limits,
                box: Sandbox) -> dict[str, Any] | None:
    a = trace_one(problem, original, test, limits, box)
    b = trace_one(problem, mutant, test, limits, box)
    found = first_divergence(a, b)
    if found and found["kind"] == "output" and "budget" in a.status + b.status:
        # the runs agree on every recorded event: look further once, with ten times the budgets
        more = dataclasses.replace(limits, max_events=limits.max_events * 10, max_bytes=limits.max_bytes * 10)
        further = first_divergence(trace_one(problem, original, test, more, box),
                                   trace_one(problem, mutant, test, more, box))
        if further and further["kind"] != "output":
            found, limits = further, more
    if found:  # the budgets of the two traces compared: re-tracing with them finds the same step
        found.update(max_events=limits.max_events, max_bytes=limits.max_bytes)
    return found


# --------------------------------------------------------------------------- parallel driver

_BOX: Sandbox | None = None


def _worker_init(mode: str) -> None:
    from multiprocessing.util import Finalize

    global _BOX
    _BOX = Sandbox(mode)
    Finalize(_BOX, _BOX.close, exitpriority=10)  # pool workers skip atexit; stop the sandbox worker


def _worker(args: tuple[Problem, MutateConfig]) -> ProblemResult:
    assert _BOX is not None
    return mutate_problem(args[0], args[1], _BOX)


def mutate_problems(problems: list[Problem], cfg: MutateConfig,
                    on_progress: Callable[[int, int], None] | None = None) -> tuple[list[Problem], dict[str, Any]]:
    """Every problem with its mutants, in input order, and counts (kept per operator, rejected per reason)."""
    cfg.validate()
    workers = cfg.workers or os.cpu_count() or 1
    results: list[ProblemResult] = []
    if workers == 1 or len(problems) == 1:
        with Sandbox(cfg.sandbox) as box:
            for i, p in enumerate(problems):
                results.append(mutate_problem(p, cfg, box))
                if on_progress:
                    on_progress(i + 1, len(problems))
    else:
        with ProcessPoolExecutor(min(workers, len(problems)), initializer=_worker_init,
                                 initargs=(cfg.sandbox,)) as pool:
            for i, r in enumerate(pool.map(_worker, [(p, cfg) for p in problems])):
                results.append(r)
                if on_progress:
                    on_progress(i + 1, len(problems))
    total: Counter = Counter()
    per_problem = []
    for r in results:
        total.update(r.stats)
        per_problem.append(sum(1 for s in r.problem.solutions if s.label == "incorrect" and s.divergence))
    stats = {
        "problems": len(problems),
        "mutants": sum(per_problem),
        "problems_with_3_or_more": sum(1 for n in per_problem if n >= 3),
        "counts": dict(sorted(total.items())),
    }
    return [r.problem for r in results], stats
