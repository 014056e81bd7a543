"""The Narration record (DESIGN §2): one natural-language account of one Trace.

A slotted dataclass with an explicit Arrow schema, so every shard has the same column types and an
empty shard still has a schema. Field names are a contract read by curation and users' scripts.

Statuses. `ok` means the narrator produced text whose `[OUTPUT]` block parsed; it says nothing
about whether the narration is right (curation verifies that). Every other status is a reason code
and `reason` says the rest in words:

  no_output_block    the text has no `[OUTPUT]…[/OUTPUT]` block (truncated, or the model ignored it)
  bad_output         the block is there but empty, or (function traces) not a Python literal
  prompt_too_long    the fixed part of the prompt (code, input, final result) alone passes the budget
  no_output          the trace has nothing to put in `[OUTPUT]` (a check-only test, no return value)
  request_error      the endpoint rejected the request (4xx other than 429): not retried
  generation_error   the local model raised while generating
  rate_limited | server_error | timeout | connection_error
                     transport failures left after the retries (429 / 5xx / timeouts) or at once
                     (connection refused or reset); never cached, so a rerun asks again
  auth_error         the endpoint refused the API key (401 / 403); a rerun asks again
  not_found          404: a wrong base URL or model name; a rerun asks again
  bad_response       a 200 whose body is not a chat completion (not an OpenAI-compatible server)
  aborted            not sent: the endpoint had just failed many requests in a row
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..schema import arrow_schema

SCHEMA_VERSION = "1"

PARSE_FAILURES = ("no_output_block", "bad_output")
# the statuses a plain rerun of the stage retries (the endpoint or its settings were at fault)
TRANSPORT_FAILURES = ("rate_limited", "server_error", "timeout", "connection_error", "auth_error", "not_found",
                      "bad_response", "aborted")
STATUSES = ("ok", *PARSE_FAILURES, "prompt_too_long", "no_output", "request_error", "generation_error",
            *TRANSPORT_FAILURES)


@dataclass(slots=True)
class Narration:
    trace_id: str
    narrator: str  # template | openai | transformers
    model: str  # endpoint model name, local model folder, or "" for the template narrator
    revision: str  # template narrator version, or what identifies the weights (config hash)
    prompt_sha: str  # sha256 of the exact chat messages sent (template narrator: of its settings)
    text: str
    predicted_output: str | None  # the parsed [OUTPUT] block (repr for function, stdout for stdio)
    status: str
    reason: str = ""
    problem_id: str = ""
    solution_id: str = ""
    test_id: str = ""
    kind: str = ""
    tokens_in: int = 0  # prompt tokens as the endpoint / tokenizer counted them
    tokens_out: int = 0
    latency_ms: float = 0.0  # of the request that produced the text (cached rows: the original one)
    cached: bool = False
    finish_reason: str = ""
    folded: bool = False  # the prompt (or the narration) left out repeated loop iterations
    events_shown: int = 0  # trace events the prompt (or the narration) shows one by one
    meta: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


# A list of key/value structs, not an Arrow map: `datasets` has no feature type for maps, and
# every file we write must load with `datasets.load_dataset` as it is.
META_TYPE = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))


def meta_pairs(meta: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted((meta or {}).items())]


def meta_dict(value: Any) -> dict[str, str]:
    """The `meta` column read back (list of key/value structs, pairs, or a dict) as a dict."""
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return {(x["key"] if isinstance(x, dict) else x[0]): (x["value"] if isinstance(x, dict) else x[1])
            for x in value}


NARRATION_SCHEMA = arrow_schema(Narration, SCHEMA_VERSION, meta=META_TYPE)


def narrations_to_table(rows: list[Narration]) -> pa.Table:
    dicts = []
    for r in rows:
        d = r.to_dict()
        d["meta"] = meta_pairs(d["meta"])
        dicts.append(d)
    return pa.Table.from_pylist(dicts, schema=NARRATION_SCHEMA)


def narration_from_row(row: dict[str, Any]) -> Narration:
    names = {f.name for f in dataclasses.fields(Narration)}
    d = {k: v for k, v in row.items() if k in names}
    d["meta"] = meta_dict(d.get("meta"))
    return Narration(**d)
