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
        self._memo: dict[tuple, dict[str, Any]] = {}
        self.runs = 0  # sandbox runs done (memo hits excluded)
        self.pool = ThreadPoolExecutor(self.workers)

    def run(self, kind: str, code: str, entry_point: str, test: Test) -> RunResult:
        # the sandbox run is memoised on what it depends on (not the expected output), so the oracle's
        # run of a pair and the judge's run of the same pair are one run
        key = (kind, code, entry_point, test.input, test.check)
        raw = self._memo.get(key)
        if raw is None:
            box = self._borrow()
            try:
                job = make_job(Problem("eval", "eval", kind, entry_point=entry_point), Solution("s", code), test,
                               self.limits, trace=False)
                raw = box.run(job)
            finally:
                self._free.put(box)
            if raw.get("status") == "internal_error":
                raise PipelineError(f"the sandbox failed on an evaluation run: {raw.get('reason', '')}")
            with self._lock:
                self._memo[key] = raw
                self.runs += 1
        # the row (status, matches_expected) is made by the trace stage's own rules
        row = trace_one(Problem("eval", "eval", kind, entry_point=entry_point), Solution("s", code), test,
                        self.limits, _Replay(raw), trace=False)
        value = raw.get("return_plain_repr") or raw.get("return_repr")
        return RunResult(row.status, row.stdout, value, row.exception, row.matches_expected, row.reason)

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
    """Hands `trace_one` a sandbox result already computed (memoised), so the row is made by the trace
    stage's own rules without running the program again."""

    mode = ""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        return dict(self.raw)
