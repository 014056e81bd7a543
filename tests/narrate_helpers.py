"""Shared by tests/test_narrate_*.py: real traces made once per test process, and the real
small model. Cached at module level (not session fixtures) so every test module shares them."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tracegen.records import Limits, Problem, Solution, Test, Trace, traces_to_table

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def need_shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"../shared/data not found: {SHARED_DATA} (CI must provide the bundled data)")
        pytest.skip(f"../shared/data not found: {SHARED_DATA}")
    return SHARED_DATA


@functools.lru_cache(maxsize=None)
def _traced_run(inputs: tuple[str, ...]) -> Path:
    from tracegen.stage import TraceConfig, run_trace_stage

    out = Path(tempfile.mkdtemp(prefix="narrate-test-"))
    atexit.register(shutil.rmtree, out, True)  # shared by the whole test process, removed at its end
    stats = run_trace_stage(TraceConfig(inputs=list(inputs), out=str(out), workers=2, shards=4))
    assert stats["rows"] > 0
    return out


def traced_run_copy(inputs: list[str | Path], dest: Path) -> Path:
    """A fresh run folder holding the traces of `inputs` (traced once per process, then copied)."""
    src = _traced_run(tuple(str(p) for p in inputs))
    shutil.copytree(src / "traces", dest / "traces")
    return dest


def load_traces(run: Path) -> list[Trace]:
    import pyarrow.parquet as pq

    from tracegen.records import trace_from_row

    return [trace_from_row(r) for f in sorted((run / "traces").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


@functools.lru_cache(maxsize=None)
def crux_traces() -> tuple[Trace, ...]:
    data = need_shared_data()
    return tuple(load_traces(_traced_run((str(data / "cruxeval" / "cruxeval.jsonl"),))))


def demo_inputs() -> list[Path]:
    return [REPO / "examples" / "problems.jsonl"]


def trace_code(code: str, kind: str = "function", test_input: str = "", entry_point: str = "f",
               limits: Limits | None = None) -> Trace:
    """Run one program under the real sandbox and tracer."""
    from tracegen.runner import trace_one
    from tracegen.sandbox import Sandbox

    p = Problem("t/p", "test", kind, entry_point=entry_point, solutions=[Solution("s", code)],
                tests=[Test("t0", test_input)])
    with Sandbox("auto") as sb:
        return trace_one(p, p.solutions[0], p.tests[0], limits or Limits(), sb)


def write_traces(run: Path, traces: list[Trace], shards: int = 1) -> Path:
    import pyarrow.parquet as pq

    (run / "traces").mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        part = traces[s::shards]
        pq.write_table(traces_to_table(part), run / "traces" / f"traces-{s:05d}-of-{shards:05d}.parquet")
    return run


@functools.lru_cache(maxsize=None)
def _smollm() -> Path:
    from tracegen.narrate.smollm import smollm_dir

    return smollm_dir()


def need_smollm() -> Path:
    """SmolLM2-135M-Instruct as a model folder; skip (fail in CI) when the package is missing."""
    from tracegen.narrate.smollm import SmolLMUnavailable

    try:
        return _smollm()
    except SmolLMUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"SmolLM2 is needed in CI: {exc}")
        pytest.skip(f"SmolLM2 not available: {exc}")
