"""Run a model's program on a problem's tests in our sandbox, many programs at once, under one deadline.

Rewards call `run_batch(jobs, ...)` with one `ProgramJob` per completion. Each job runs its tests one by
one in a sandbox borrowed from a pool (one pre-forked worker per slot, `tracegen.sandbox.Sandbox`), and
stops at the first test that fails: all must pass, so the rest would only cost time. Every test's
timeout is cut to what is left of the batch's wall-clock budget, so a batch of infinite loops ends
when the budget does, not after `len(jobs) * len(tests) * timeout`.

What the program does is data (a status per test); what our sandbox does wrong is not: a worker that
cannot start or answers `internal_error` raises `PipelineError`, so a broken sandbox never turns into
a quiet stream of -1 rewards.
"""

from __future__ import annotations

import atexit
import dataclasses
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tracegen.errors import PipelineError

# statuses of a run of the model's program; `internal_error` is ours and raises instead
PASSED, FAILED, NO_TIME = "passed", "failed", "no_time"


@dataclass(slots=True)
class ProgramJob:
    """One completion's program and the tests it must pass (`tests`: dicts with input, output)."""

    code: str
    kind: str  # function | stdio
    entry_point: str
    tests: list[dict[str, Any]]


@dataclass(slots=True)
class ProgramResult:
    passed: bool
    status: str  # passed | failed | no_time
    detail: str = ""  # the first failing test's run status and reason, e.g. "timeout: wall-clock limit ..."
    tests_run: int = 0
    wall_s: float = 0.0
    statuses: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RunLimits:
    """Limits of one test run of a model's program: tighter than the tracer's (rewards run thousands)."""

    timeout_s: float = 4.0
    memory_mb: int = 1024
    max_stdout_bytes: int = 1_000_000
    max_file_bytes: int = 4_000_000
    max_processes: int = 16


class SandboxPool:
    """`size` sandboxes, each its own worker process, lent to one thread at a time."""

    def __init__(self, size: int, mode: str = "auto"):
        from tracegen.sandbox import Sandbox, SandboxError

        self.size, self.mode = size, mode
        self._free: queue.Queue = queue.Queue()
        try:
            for _ in range(size):
                box = Sandbox(mode)
                box.start()
                self._free.put(box)
        except (SandboxError, OSError) as exc:
            self.close()
            raise PipelineError(f"the reward sandbox cannot start: {exc}") from exc

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        box = self._free.get()
        try:
            return box.run(job)
        finally:
            self._free.put(box)

    def close(self) -> None:
        while True:
            try:
                self._free.get_nowait().close()
            except queue.Empty:
                return


_POOLS: dict[tuple[int, str], SandboxPool] = {}
_POOLS_LOCK = threading.Lock()


def pool(size: int = 4, mode: str = "auto") -> SandboxPool:
    """The process-wide pool of this size and mode, started on first use, closed at exit."""
    with _POOLS_LOCK:
        key = (size, mode)
        if key not in _POOLS:
            _POOLS[key] = SandboxPool(size, mode)
        return _POOLS[key]


@atexit.register
def _close_pools() -> None:
    for p in _POOLS.values():
        p.close()
    _POOLS.clear()


def run_batch(jobs: list[ProgramJob], limits: RunLimits | None = None, batch_timeout_s: float = 60.0,
              workers: int = 4, sandbox: str = "auto") -> list[ProgramResult]:
    """Run every job's program on its tests, `workers` at a time, all within `batch_timeout_s`."""
    limits = limits or RunLimits()
    if not jobs:
        return []
    boxes = pool(workers, sandbox)
    deadline = time.monotonic() + batch_timeout_s
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reward-sandbox") as ex:
        return list(ex.map(lambda j: run_program(j, boxes, limits, deadline), jobs))


def run_program(job: ProgramJob, boxes: SandboxPool, limits: RunLimits, deadline: float) -> ProgramResult:
    """One program on its tests, in order, stopping at the first failure or at the deadline."""
    from tracegen.records import Limits, Problem, Solution, Test
    from tracegen.runner import trace_one

    t0 = time.monotonic()
    result = ProgramResult(passed=False, status=FAILED)
    if not job.tests:
        result.detail = "no tests to run"
        return result
    problem = Problem(problem_id="reward", source="reward", kind=job.kind, entry_point=job.entry_point)
    solution = Solution("completion", job.code)
    for i, t in enumerate(job.tests):
        left = deadline - time.monotonic()
        if left < 0.05:
            result.status, result.detail = NO_TIME, "the batch's wall-clock budget ran out"
            break
        run_limits = Limits(**{**dataclasses.asdict(Limits()), **dataclasses.asdict(limits),
                               "timeout_s": min(limits.timeout_s, left), "max_events": 1, "max_bytes": 1000})
        test = Test(test_id=str(t.get("test_id") or i), input=t.get("input") or "", output=t.get("output"))
        row = trace_one(problem, solution, test, run_limits, _PoolAsSandbox(boxes), trace=False)
        result.tests_run += 1
        result.statuses.append(row.status)
        if row.status == "internal_error":
            raise PipelineError(f"the reward sandbox failed (not the program): {row.reason or row.stderr[-300:]}")
        if not row.matches_expected:
            result.detail = f"{row.status}: {row.reason}".rstrip(": ") if row.status != "ok" else \
                f"wrong output on test {test.test_id}"
            break
    else:
        result.passed, result.status = True, PASSED
    result.wall_s = time.monotonic() - t0
    return result


class _PoolAsSandbox:
    """What `trace_one` needs of a sandbox (`run`, `mode`), served by the pool."""

    def __init__(self, boxes: SandboxPool):
        self._boxes = boxes
        self.mode = boxes.mode

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        return self._boxes.run(job)
