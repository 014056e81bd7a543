"""The four configs of a published dataset (DESIGN §3), built from a run's tables.

- `traces`: every trace of the run (any status), with its events.
- `narrated`: the curated rows kept (narration + trace fields + verdict).
- `sft`: TRL conversational `messages`: the task as the user turn, the narration then the answer as
  the assistant turn. Function traces in CRUXEval style (`[PYTHON] … assert f(x) == ?? [/PYTHON]`,
  answered `[ANSWER] assert f(x) == value [/ANSWER]`), stdio traces with the stdin (answered
  `<output>…</output>`).
- `rl`: the same user turn as a conversational `prompt`, and the ground truth a reward needs:
  `kind`, `expected_output` (what the program really returned, as a repr, or printed), the
  problem's `tests`.

Every row carries provenance columns: source, license, trace_id, solution and input hashes, and the
tracer (and, past `traces`, narrator and verifier) versions. Splits are by problem (see `split_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import pyarrow as pa

from tracegen.narrate.output import CLOSE, OPEN

from ..answers import answer, user_turn

CONFIGS = ("traces", "narrated", "sft", "rl", "input_prediction")
SPLITS = ("train", "validation", "test")

MESSAGE_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
TESTS_TYPE = pa.list_(pa.struct([("test_id", pa.string()), ("input", pa.string()), ("output", pa.string()),
                                 ("public", pa.bool_())]))
_PROVENANCE = [("source", pa.string()), ("license", pa.string()), ("trace_id", pa.string()),
               ("problem_id", pa.string()), ("solution_id", pa.string()), ("test_id", pa.string()),
               ("kind", pa.string()), ("solution_sha", pa.string()), ("input_sha", pa.string()),
               ("tracer_version", pa.string()), ("python_version", pa.string()), ("narrator", pa.string()),
               ("model", pa.string()), ("revision", pa.string()), ("prompt_sha", pa.string()),
               ("verifier_version", pa.string())]
SFT_SCHEMA = pa.schema([("messages", MESSAGE_TYPE), *_PROVENANCE])
RL_SCHEMA = pa.schema([("prompt", MESSAGE_TYPE), ("expected_output", pa.string()), ("entry_point", pa.string()),
                       ("code", pa.string()), ("input", pa.string()), ("tests", TESTS_TYPE), *_PROVENANCE])


def sha(text: str | None) -> str:
    """Short content hash of a solution or an input, for joins across datasets.

    >>> sha("print(1)")
    'd287bb7f9d15abdc'
    """
    return hashlib.sha256((text or "").encode("utf-8", "surrogatepass")).hexdigest()[:16]


def split_of(source: str, problem_id: str, seed: int, fractions: dict[str, float]) -> str:
    """The split of a problem: a hash of (seed, source, problem_id) against the cumulative
    fractions. Every row of a problem lands in one split, and a problem keeps its split when
    later versions add problems (nothing moves from train to test between versions).

    >>> split_of("cruxeval", "cruxeval/0", 0, {"train": 1.0})
    'train'
    """
    h = hashlib.sha256(f"{seed}\0{source}\0{problem_id}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    acc = 0.0
    names = [s for s in SPLITS if fractions.get(s, 0) > 0]
    for name in names:
        acc += fractions[name]
        if u < acc:
            return name
    return names[-1]


def narration_body(text: str) -> str:
    """The narration without its final `[OUTPUT]` block: the answer replaces it.

    >>> narration_body("x becomes 3.\\n[OUTPUT]\\n3\\n[/OUTPUT]")
    'x becomes 3.'
    """
    end = text.rfind(CLOSE)
    start = text.rfind(OPEN, 0, end) if end >= 0 else -1
    return (text[:start] if start >= 0 else text).rstrip()


def _provenance(r: dict[str, Any]) -> dict[str, Any]:
    return {name: r.get(name) for name, _ in _PROVENANCE if name not in ("solution_sha", "input_sha")} | {
        "solution_sha": sha(r.get("code")), "input_sha": sha(r.get("input"))}


def sft_rows(narrated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in narrated:
        user = user_turn(r["kind"], r["code"], r["input"], r["entry_point"] or "f")
        reply = narration_body(r["text"]) + "\n" + answer(r["kind"], r["true_output"], r["input"],
                                                           r["entry_point"] or "f")
        out.append({"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}],
                    **_provenance(r)})
    return out


def rl_rows(narrated: list[dict[str, Any]], traces: pa.Table) -> list[dict[str, Any]]:
    """One prompt per distinct traced (solution, test) among the kept rows, with the problem's tests."""
    cols = ["problem_id", "solution_id", "test_id", "input", "expected_output", "public"]
    tests: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    have = set(traces.column_names)
    for t in traces.select([c for c in cols if c in have]).to_pylist():
        tests[(t["problem_id"], t["solution_id"])].append(
            {"test_id": t["test_id"], "input": t["input"], "output": t["expected_output"],
             "public": bool(t.get("public"))})
    out, seen = [], set()
    for r in narrated:
        key = (r["trace_id"], r["problem_id"], r["solution_id"], r["test_id"])
        if key in seen:
            continue
        seen.add(key)
        prompt = [{"role": "user", "content": user_turn(r["kind"], r["code"], r["input"], r["entry_point"] or "f")}]
        out.append({"prompt": prompt, "expected_output": r["true_output"], "entry_point": r["entry_point"] or "",
                    "code": r["code"], "input": r["input"], "tests": sorted(
                        tests.get((r["problem_id"], r["solution_id"]), []), key=lambda x: x["test_id"]),
                    **_provenance(r)})
    return out


def row_keys(config: str, table: pa.Table) -> set[str]:
    """What makes a row the same row in two versions: its ids and a hash of its content."""
    ids = [table.column(c).to_pylist() for c in ("trace_id", "problem_id", "solution_id", "test_id")]
    content_col = {"narrated": "text", "sft": "messages", "rl": "expected_output",
                   "input_prediction": "expected_output"}.get(config)
    content = table.column(content_col).to_pylist() if content_col else [None] * table.num_rows
    return {json.dumps([*row[:4], sha(json.dumps(row[4], sort_keys=True))]) for row in zip(*ids, content)}
