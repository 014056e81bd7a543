"""`trace_one(problem, solution, test, limits, sandbox) -> Trace`: the stage's core, engine-free."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
from typing import Any

from . import TRACER_VERSION
from .compare import reprs_match, stdout_matches
from .records import Limits, Problem, Solution, Test, Trace
from .sandbox import Sandbox
from .event_arrow import read_events

PYTHON_VERSION = platform.python_version()


def stdin_text(test_input: str) -> str:
    """Stdin as a prompt shows it: LF line ends and a final newline. (The sandbox hands the program
    the test's input byte for byte; the loaders of sets that lost final newlines add them.)"""
    text = test_input.replace("\r\n", "\n")
    return text if text.endswith("\n") or not text else text + "\n"


_LIMIT_FIELDS = tuple(f.name for f in dataclasses.fields(Limits))


def limits_dict(limits: Limits) -> dict[str, Any]:
    """dataclasses.asdict(limits), made once per distinct limits (every item of a run asks).
    The dict is shared: copy it before changing it."""
    return _limits_dict_of(tuple(getattr(limits, f) for f in _LIMIT_FIELDS))


@functools.lru_cache(maxsize=16)
def _limits_dict_of(values: tuple) -> dict[str, Any]:
    return dict(zip(_LIMIT_FIELDS, values))


def trace_id(code: str, test_input: str, kind: str, entry_point: str, check: str | None,
             limits: Limits, traced: bool = True) -> str:
    """Content hash: same program, input, tracer and limits give the same id."""
    payload = json.dumps(
        [code, test_input, kind, entry_point, check, TRACER_VERSION, limits_dict(limits), traced],
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def make_job(problem: Problem, solution: Solution, test: Test, limits: Limits, trace: bool = True) -> dict[str, Any]:
    job = dict(limits_dict(limits))
    job.update(
        kind=problem.kind,
        code=solution.code,
        input=test.input,  # byte for byte, as plain `python3 main.py < in.txt` reads it
        entry_point=problem.entry_point,
        check=test.check,
        trace=trace,
    )
    return job


def trace_one(problem: Problem, solution: Solution, test: Test, limits: Limits, sandbox: Sandbox,
              trace: bool = True) -> Trace:
    """Run one (solution, test) in the sandbox, traced unless `trace=False`, and make its row."""
    job = make_job(problem, solution, test, limits, trace)
    res = sandbox.run(job)
    status = res.get("status", "internal_error")
    try:
        events = read_events(res.get("events") or [])  # a long trace: Arrow; a short one: dicts
    except (ValueError, TypeError, KeyError, IndexError):  # the untrusted child wrote something that is not events
        events, status = [], "sandbox_violation"
        res["reason"] = "malformed events from the sandboxed child"
    stdout = res.get("stdout") or ""
    return_repr = res.get("return_repr")
    compared_repr = res.get("return_plain_repr") or return_repr
    matches: bool | None
    if status in ("ok", "event_budget", "byte_budget", "runtime_error"):
        if problem.kind == "stdio":
            matches = stdout_matches(stdout, test.output)
        elif test.check:
            matches = bool(res.get("check_passed")) and (
                test.output is None or bool(reprs_match(compared_repr, test.output)))
        else:
            matches = reprs_match(compared_repr, test.output) if status != "runtime_error" else (
                False if test.output is not None else None)
        if status == "runtime_error" and problem.kind == "stdio" and test.output is not None:
            matches = False
    else:
        matches = False if (test.output is not None or test.check) else None
    return Trace(
        trace_id=trace_id(solution.code, test.input, problem.kind, problem.entry_point, test.check,
                          limits, trace),
        problem_id=problem.problem_id,
        solution_id=solution.solution_id,
        test_id=test.test_id,
        kind=problem.kind,
        code=solution.code,
        input=test.input,
        expected_output=test.output,
        status=status,
        stdout=stdout,
        return_repr=return_repr,
        exception=res.get("exception"),
        matches_expected=matches,
        n_events=len(events),
        events=events,
        tracer_version=TRACER_VERSION,
        python_version=PYTHON_VERSION,
        wall_ms=round(float(res.get("wall_ms") or 0.0), 3),
        source=problem.source,
        stderr=(res.get("stderr") or "")[:4000],
        reason=res.get("reason") or "",
        sandbox=sandbox.mode,
        license=problem.license,
        entry_point=problem.entry_point,
        public=test.public,
    )
