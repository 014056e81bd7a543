"""The four configs of a published dataset (DESIGN §3), built from a run's tables.

- `traces`: every trace of the run (any status), with its events.
- `narrated`: the curated rows kept (narration + trace fields + verdict).
- `sft`: TRL conversational `messages`: the task as the user turn, the narration then the answer as
  the assistant turn. Function traces in CRUXEval style (`[PYTHON] … assert f(x) == ?? [/PYTHON]`,
  answered `[ANSWER] assert f(x) == value [/ANSWER]`), stdio traces with the stdin (answered
  `<output>…</output>`).
- `rl`: the same user turn as a conversational `prompt`, and the ground truth a reward needs:
  `kind`, `expected_output` (what the program really returned, as a repr, or printed), the
  problem's `tests`; `task` is `output_prediction`. Each problem also gets one `solve` row: its
  statement and example tests as the prompt (`answers.solve_turn`), every test with a known output
  in `tests`, no `expected_output` (the reward runs the model's program on the tests).

Every row carries provenance columns: source, license, trace_id, solution and input hashes, and the
tracer (and, past `traces`, narrator and verifier) versions. Splits are by problem (see `split_of`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from tracegen.narrate.output import CLOSE, OPEN

from ..answers import answer, solve_turn, user_turn

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
RL_SCHEMA = pa.schema([("prompt", MESSAGE_TYPE), ("task", pa.string()),  # output_prediction | solve
                       ("expected_output", pa.string()), ("entry_point", pa.string()),
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


def rl_rows(narrated: list[dict[str, Any]], traces: pa.Table,
            statements: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One prompt per distinct traced (solution, test) among the kept rows, with the problem's tests,
    then one solving prompt per problem (`statements`: problem_id -> statement, where known)."""
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
        out.append({"prompt": prompt, "task": "output_prediction", "expected_output": r["true_output"],
                    "entry_point": r["entry_point"] or "",
                    "code": r["code"], "input": r["input"], "tests": sorted(
                        tests.get((r["problem_id"], r["solution_id"]), []), key=lambda x: x["test_id"]),
                    **_provenance(r)})
    return out + solve_rows(narrated, tests, statements or {})


def solve_rows(narrated: list[dict[str, Any]], tests: dict[tuple[str, str], list[dict[str, Any]]],
               statements: dict[str, str]) -> list[dict[str, Any]]:
    """One `solve` row per problem with a kept row and a test with a known output: up to three
    (public first) shown as examples, all of them run by the reward."""
    out, seen = [], set()
    for r in narrated:
        if r["problem_id"] in seen:
            continue
        seen.add(r["problem_id"])
        by_id = {t["test_id"]: t for (pid, _), ts in tests.items() if pid == r["problem_id"] for t in ts}
        known = sorted((t for t in by_id.values() if t["output"] is not None),
                       key=lambda t: (not t["public"], t["test_id"]))
        if not known:
            continue
        entry = r["entry_point"] or "f"
        shown = [(t["input"], t["output"]) for t in known[:3]]
        statement = statements.get(r["problem_id"], "")
        prompt = [{"role": "user", "content": solve_turn(r["kind"], statement, entry, shown)}]
        prov = {k: r.get(k) for k, _ in _PROVENANCE} | {
            "trace_id": sha(f"solve\0{r['problem_id']}"), "solution_id": "", "test_id": "", "solution_sha": "",
            "input_sha": "", "narrator": "", "model": "", "revision": "", "prompt_sha": ""}
        out.append({"prompt": prompt, "task": "solve", "expected_output": None,
                    "entry_point": r["entry_point"] or "", "code": "", "input": "",
                    "tests": sorted(known, key=lambda t: t["test_id"]), **prov})
    return out


def problem_statements(run: str | Path) -> dict[str, str]:
    """problem_id -> statement, read again from the problem files the run's trace stage loaded
    (RUN/recipe.yaml). A file that is gone or no longer loads gives no statements: its solving
    prompts then state the problem by its example tests alone."""
    import yaml

    from tracegen.loaders import LoaderError, load_many

    recipe = Path(run) / "recipe.yaml"
    trace = (yaml.safe_load(recipe.read_text()) or {}).get("trace") or {} if recipe.is_file() else {}
    out: dict[str, str] = {}
    for path in trace.get("inputs") or []:
        try:
            problems = load_many([path], trace.get("format") or "auto", trace.get("columns"))
        except (LoaderError, OSError, ValueError):
            continue
        out.update({p.problem_id: p.statement for p in problems if p.statement})
    return out


def row_keys(config: str, table: pa.Table) -> set[str]:
    """What makes a row the same row in two versions: its ids and a hash of its content."""
    ids = [table.column(c).to_pylist() for c in ("trace_id", "problem_id", "solution_id", "test_id")]
    content_col = {"narrated": "text", "sft": "messages", "rl": "expected_output",
                   "input_prediction": "expected_output"}.get(config)
    content = table.column(content_col).to_pylist() if content_col else [None] * table.num_rows
    return {json.dumps([*row[:4], sha(json.dumps(row[4], sort_keys=True))]) for row in zip(*ids, content)}
