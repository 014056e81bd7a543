"""Real execution for evaluation: every answer is judged by running code in our sandbox.

`Executor` holds a few pre-forked sandbox workers (`tracegen.sandbox.Sandbox`) and runs jobs on them
from a thread pool (a job is a blocking pipe exchange, so threads are enough). Runs are untraced and
memoised by their content, so the oracle's run of a (program, input) and the judge's run of the same
pair cost one sandbox run, and best-exec and the final judgement of the same candidate share theirs.

A program that fails is data (a status); a sandbox that fails is ours (`internal_error` raises
`PipelineError`), so a broken jail never reads as a model's wrong answers.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from tracegen.errors import PipelineError
from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import make_job, trace_one
from tracegen.sandbox import Sandbox

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class RunResult:
    """What one untraced run did: `status` (the Trace statuses), the value's repr or the stdout."""

    status: str
    stdout: str
    value_repr: str | None  # function problems: the plain repr (Counter -> dict) of the return value
    exception: str | None
    passed: bool | None  # against the test's expected output or check; None when nothing is expected
    reason: str = ""


class Executor:
    """A pool of sandboxes; `run(problem_kind, code, entry_point, test)` is thread-safe and memoised."""

    def __init__(self, workers: int = 2, sandbox: str = "auto", timeout_s: float = 10.0, memory_mb: int = 2048):
        self.workers = max(1, workers)
        self.mode = sandbox
        self.limits = Limits(timeout_s=timeout_s, memory_mb=memory_mb)
        self._free: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
        self._made = 0
        self._lock = threading.Lock()
        self._memo: dict[tuple, RunResult] = {}
        self.runs = 0  # sandbox runs done (memo hits excluded)
        self.pool = ThreadPoolExecutor(self.workers)

    def run(self, kind: str, code: str, entry_point: str, test: Test) -> RunResult:
        key = (kind, code, entry_point, test.input, test.output, test.check)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        box = self._borrow()
        try:
            problem = Problem("eval", "eval", kind, entry_point=entry_point)
            raw = box.run(make_job(problem, Solution("s", code), test, self.limits, trace=False))
            row = trace_one(problem, Solution("s", code), test, self.limits, _Replay(raw, box.mode), trace=False)
        finally:
            self._free.put(box)
        if row.status == "internal_error":
            raise PipelineError(f"the sandbox failed on an evaluation run: {row.reason or raw.get('reason', '')}")
        value = raw.get("return_plain_repr") or raw.get("return_repr")
        result = RunResult(row.status, row.stdout, value, row.exception, row.matches_expected, row.reason)
        with self._lock:
            self._memo[key] = result
            self.runs += 1
        return result

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """`fn` over `items` on the pool, results in order (fn calls `run`)."""
        return list(self.pool.map(fn, items))

    def passes_all(self, kind: str, code: str, entry_point: str, tests: Sequence[Test]) -> bool:
        """Whether `code` passes every test; stops at the first failure (the rest would only cost time)."""
        return all(self.run(kind, code, entry_point, t).passed for t in tests)

    def _borrow(self) -> Sandbox:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            with self._lock:
                self._made += 1
            box = Sandbox(self.mode)
            box.start()
            return box

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        while True:
            try:
                self._free.get_nowait().close()
            except queue.Empty:
                break

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Replay:
    """A stand-in sandbox that hands `trace_one` a result already computed, so the row (status,
    matches_expected) is made by the trace stage's own rules and the raw result stays readable here."""

    def __init__(self, raw: dict[str, Any], mode: str):
        self.raw, self.mode = raw, mode

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        return dict(self.raw)
