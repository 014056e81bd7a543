"""Records of the curate stage (DESIGN §2): the Verdict on one narration, and the curated row.

A curated row is the narration, the trace fields a dataset needs (not the events: the `traces`
config has them), and the verdict as flat columns, so `datasets` users filter with
`ds.filter(lambda r: r["kept"])` and count `reject_reason`. Kept rows go to RUN/curated/,
rejected rows (same schema) to RUN/rejects/.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from tracegen.narrate.records import META_TYPE, meta_dict, meta_pairs
from tracegen.schema import arrow_schema

SCHEMA_VERSION = "1"

# Every reason a row can be dropped for, in the order the filters run (a row gets the first).
REASONS = (
    "trace_status",  # the run did not finish normally (or its trace is missing)
    "narration_status",  # the narrator failed (transport error, no output to report, ...)
    "bad_output",  # no [OUTPUT]…[/OUTPUT] block, or not a Python literal (function traces)
    "output_mismatch",  # the [OUTPUT] is not what the program returned / printed
    "trace_talk",  # the text talks about "the trace"
    "unknown_variable",  # a claim about a variable (or function) that does not exist in the run
    "wrong_claim",  # a stated value the variable never held at that point (or a wrong count, branch, expression)
    "ungrounded_value",  # a value in the prose that no claim, constant, input or count accounts for
    "length",  # token count outside [min_tokens, max_tokens]
    "contaminated",  # the program overlaps a benchmark program
    "duplicate",  # same normalised program and input as a kept row
    "near_duplicate",  # the program is a near-duplicate (MinHash) of a kept row's program
)


@dataclass(slots=True)
class Verdict:
    """What verification says about one narration. `kept` is False iff `reject_reason` is set."""

    kept: bool = True
    reject_reason: str = ""
    reject_detail: str = ""
    output_ok: bool | None = None
    claims: int = 0  # all claims found
    claims_checked: int = 0  # compared with a value the trace shows in full
    claims_wrong: int = 0  # checked and wrong
    claims_unchecked: int = 0  # about elided values (or otherwise not checkable): counted only
    claims_unknown: int = 0  # about variables or functions the run does not have
    trace_talk: int = 0  # mentions of "the trace"
    n_tokens: int | None = None
    literals: int = 0  # concrete values the prose states
    literals_accounted: int = 0  # ... of which something accounts for (closed world: all, or rejected)
    claim_checks: list[dict[str, Any]] = field(default_factory=list)  # each claim: span, kind, stated, actual, step, status

    def drop(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; add it to REASONS")
        if self.kept:
            self.kept = False
            self.reject_reason = reason
            self.reject_detail = detail[:500]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(slots=True)
class CuratedRow:
    # the narration
    trace_id: str
    narrator: str
    model: str
    revision: str
    prompt_sha: str
    text: str
    predicted_output: str | None
    narration_status: str
    narration_reason: str
    problem_id: str
    solution_id: str
    test_id: str
    kind: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    cached: bool
    finish_reason: str
    folded: bool
    events_shown: int
    # the trace fields a dataset needs
    source: str | None
    license: str | None
    entry_point: str | None
    code: str | None
    input: str | None
    expected_output: str | None
    true_output: str | None  # what the program returned (repr) or printed
    trace_status: str | None
    stdout: str | None
    return_repr: str | None
    exception: str | None
    matches_expected: bool | None
    n_events: int | None
    tracer_version: str | None
    python_version: str | None
    # the verdict
    kept: bool
    reject_reason: str
    reject_detail: str
    output_ok: bool | None
    claims: int
    claims_checked: int
    claims_wrong: int
    claims_unchecked: int
    claims_unknown: int
    trace_talk: int
    n_tokens: int | None
    literals: int
    literals_accounted: int
    claim_checks: list[dict[str, Any]]
    contaminated_by: str = ""  # "benchmark:item (overlap 0.93)" for any row that overlaps
    duplicate_of: str = ""  # trace_id of the kept row this one duplicates
    verifier_version: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # the narration's meta

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


CLAIM_CHECKS_TYPE = pa.list_(pa.struct([
    ("start", pa.int32()), ("end", pa.int32()), ("kind", pa.string()), ("subject", pa.string()),
    ("stated", pa.string()), ("actual", pa.string()), ("step", pa.int32()), ("status", pa.string())]))

CURATED_SCHEMA = arrow_schema(CuratedRow, SCHEMA_VERSION, claim_checks=CLAIM_CHECKS_TYPE, meta=META_TYPE)


def curated_row(trace: Any, narration: Any, verdict: Verdict, verifier_version: str) -> CuratedRow:
    """Join a narration, its trace (None when missing) and the verdict into one row."""
    n, t = narration, trace
    true_output = None
    if t is not None:
        true_output = t.stdout if t.kind == "stdio" else t.return_repr
    return CuratedRow(
        trace_id=n.trace_id, narrator=n.narrator, model=n.model, revision=n.revision, prompt_sha=n.prompt_sha,
        text=n.text, predicted_output=n.predicted_output, narration_status=n.status, narration_reason=n.reason,
        problem_id=n.problem_id or (t.problem_id if t else ""), solution_id=n.solution_id or (t.solution_id if t else ""),
        test_id=n.test_id or (t.test_id if t else ""), kind=n.kind or (t.kind if t else ""),
        tokens_in=n.tokens_in, tokens_out=n.tokens_out, latency_ms=n.latency_ms, cached=n.cached,
        finish_reason=n.finish_reason, folded=n.folded, events_shown=n.events_shown,
        source=t.source if t else None, license=t.license if t else None,
        entry_point=t.entry_point if t else None, code=t.code if t else None, input=t.input if t else None,
        expected_output=t.expected_output if t else None, true_output=true_output,
        trace_status=t.status if t else None, stdout=t.stdout if t else None,
        return_repr=t.return_repr if t else None, exception=t.exception if t else None,
        matches_expected=t.matches_expected if t else None, n_events=t.n_events if t else None,
        tracer_version=t.tracer_version if t else None, python_version=t.python_version if t else None,
        verifier_version=verifier_version, meta=dict(n.meta or {}), **verdict.to_dict(),
    )


def rows_to_table(rows: list[CuratedRow] | list[dict[str, Any]]) -> pa.Table:
    dicts = []
    for r in rows:
        d = r.to_dict() if isinstance(r, CuratedRow) else dict(r)
        d["meta"] = meta_pairs(meta_dict(d.get("meta")))
        dicts.append(d)
    return pa.Table.from_pylist(dicts, schema=CURATED_SCHEMA)


def row_from_dict(d: dict[str, Any]) -> CuratedRow:
    names = {f.name for f in dataclasses.fields(CuratedRow)}
    d = {k: v for k, v in d.items() if k in names}
    d["meta"] = meta_dict(d.get("meta"))
    return CuratedRow(**d)
