"""Shared by tests/test_curate_*.py: real runs (traced, then narrated by the template narrator)
made once per test process and copied into each test's tmp_path, and small hand-built traces."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tracegen.records import Trace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CRUX = SHARED_DATA / "cruxeval" / "cruxeval.jsonl"
CODECONTESTS = SHARED_DATA / "codecontests_py300" / "codecontests_py300.jsonl"
HUMANEVAL = SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz"
# CodeContests problems that are one problem posted twice (Div. 1 / Div. 2): the same solution
# (18/19: an exact duplicate program) or one edited a little (258/259: a near duplicate)
CC_TWINS = (18, 19, 258, 259)
CC_EVERY = 10  # plus every 10th problem
CC_TESTS = 3  # first 3 tests of each


def need_data() -> Path:
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"../shared/data not found: {SHARED_DATA} (CI must provide the bundled data)")
        pytest.skip(f"../shared/data not found: {SHARED_DATA}")
    return SHARED_DATA


def _tmpdir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, True)
    return path


def _trace_and_narrate(inputs: list[str], out: Path) -> Path:
    from tracegen.narrate.stage import NarrateConfig, run_narrate_stage
    from tracegen.stage import TraceConfig, run_trace_stage

    run_trace_stage(TraceConfig(inputs=inputs, out=str(out), workers=2, shards=2))
    run_narrate_stage(NarrateConfig(run=str(out), workers=2))
    return out


@functools.lru_cache(maxsize=None)
def _crux_run() -> Path:
    need_data()
    return _trace_and_narrate([str(CRUX)], _tmpdir("curate-crux-") / "run")


@functools.lru_cache(maxsize=None)
def _cc_run() -> Path:
    from tracegen.loaders import load_problems, write_canonical_jsonl

    need_data()
    tmp = _tmpdir("curate-cc-")
    problems = load_problems(CODECONTESTS)
    keep = sorted(set(range(0, len(problems), CC_EVERY)) | set(CC_TWINS))
    subset = [problems[i] for i in keep]
    for p in subset:
        p.tests = p.tests[:CC_TESTS]
    path = write_canonical_jsonl(subset, tmp / "codecontests_subset.jsonl")
    return _trace_and_narrate([str(path)], tmp / "run")


def copy_run(dest: Path, crux: bool = True, codecontests: bool = False) -> Path:
    """A fresh run folder with traces/ and narrations/ of CRUXEval and/or the CodeContests subset
    (files of the second set get a `cc-` infix, so both live in one run)."""
    for sub in ("traces", "narrations"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    sources = ([(_crux_run(), "")] if crux else []) + ([(_cc_run(), "cc-")] if codecontests else [])
    for src, infix in sources:
        for sub, prefix in (("traces", "traces-"), ("narrations", "narrations-")):
            for f in sorted((src / sub).glob("*.parquet")):
                shutil.copy(f, dest / sub / f.name.replace(prefix, prefix + infix, 1))
    return dest


def load_pairs(run: Path) -> list[tuple[Trace, Any]]:
    """(trace, narration) for every narration of a run."""
    import pyarrow.parquet as pq

    from tracegen.narrate.records import narration_from_row
    from tracegen.records import trace_from_row

    traces = {r["trace_id"]: trace_from_row(r) for f in sorted((run / "traces").glob("*.parquet"))
              for r in pq.read_table(f).to_pylist()}
    narrations = [narration_from_row(r) for f in sorted((run / "narrations").glob("*.parquet"))
                  for r in pq.read_table(f).to_pylist()]
    return [(traces[n.trace_id], n) for n in narrations]


def crux_pairs() -> list[tuple[Trace, Any]]:
    return load_pairs(_crux_run())


def crux_traces() -> list[Trace]:
    import pyarrow.parquet as pq

    from tracegen.records import trace_from_row

    return [trace_from_row(r) for f in sorted((_crux_run() / "traces").glob("*.parquet"))
            for r in pq.read_table(f).to_pylist()]


def cc_traces() -> list[Trace]:
    import pyarrow.parquet as pq

    from tracegen.records import trace_from_row

    return [trace_from_row(r) for f in sorted((_cc_run() / "traces").glob("*.parquet"))
            for r in pq.read_table(f).to_pylist()]


def tokenizer() -> str:
    """The real tokenizer (SmolLM2's) for the length filter; skip (fail in CI) without it."""
    from tracegen.narrate.smollm import SmolLMUnavailable, smollm_dir

    try:
        smollm_dir()
    except SmolLMUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"SmolLM2 is needed in CI: {exc}")
        pytest.skip(f"SmolLM2 not available: {exc}")
    return "smollm2"


# -- hand-built traces ---------------------------------------------------------------------------
def ev(step: int, event: str, lineno: int, func: str = "f", depth: int = 0, value: str | None = None,
       **changes: Any) -> dict[str, Any]:
    """One event; keyword arguments are changes (name=value text; `stdout` means <stdout>;
    a tuple (text, True) marks an elided value)."""
    out = []
    for name, v in changes.items():
        text, elided = v if isinstance(v, tuple) else (v, False)
        out.append({"name": "<stdout>" if name == "stdout" else name, "value": text, "elided": elided})
    return {"step": step, "event": event, "lineno": lineno, "func": func, "depth": depth, "changes": out,
            "value": value}


def make_trace(code: str, events: list[dict[str, Any]], kind: str = "function", return_repr: str | None = None,
               stdout: str = "", status: str = "ok", trace_id: str = "t") -> Trace:
    for i, e in enumerate(events):
        e["step"] = i
    return Trace(trace_id=trace_id, problem_id="p", solution_id="s", test_id="0", kind=kind, code=code, input="",
                 expected_output=None, status=status, stdout=stdout, return_repr=return_repr, exception=None,
                 matches_expected=None, n_events=len(events), events=events, tracer_version="test",
                 python_version="3.11", wall_ms=0.0, source="hand")


def narration(text: str, trace_id: str = "t", status: str = "ok", **kw: Any) -> Any:
    from tracegen.narrate.records import Narration

    return Narration(trace_id=trace_id, narrator=kw.pop("narrator", "test"), model="", revision="v0",
                     prompt_sha=kw.pop("prompt_sha", "sha"), text=text, predicted_output=None, status=status, **kw)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path
