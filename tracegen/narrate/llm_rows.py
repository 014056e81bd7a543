"""Narration rows for the model narrators (endpoint and local): from an answer, or from a failure.

Shared so that both narrators parse `[OUTPUT]` the same way and fill the same fields.
"""

from __future__ import annotations

from ..records import Trace
from .output import parse_output
from .records import Narration
from .render_prompt import Prompt


def base_row(trace: Trace, narrator: str, model: str, revision: str, prompt: Prompt | None) -> Narration:
    return Narration(
        trace_id=trace.trace_id, narrator=narrator, model=model, revision=revision,
        prompt_sha=prompt.sha if prompt else "", text="", predicted_output=None, status="ok",
        problem_id=trace.problem_id, solution_id=trace.solution_id, test_id=trace.test_id, kind=trace.kind,
        folded=prompt.folded if prompt else False, events_shown=prompt.events_shown if prompt else 0,
        tokens_in=prompt.tokens if prompt else 0,
    )


def answer_row(row: Narration, kind: str, answer: dict, cached: bool) -> Narration:
    """Fill `row` from an answer dict: text, finish_reason, tokens_in, tokens_out, latency_ms."""
    row.text = answer.get("text") or ""
    row.finish_reason = answer.get("finish_reason") or ""
    if answer.get("tokens_in"):
        row.tokens_in = int(answer["tokens_in"])
    row.tokens_out = int(answer.get("tokens_out") or 0)
    row.latency_ms = float(answer.get("latency_ms") or 0.0)
    row.cached = cached
    pred, status, reason = parse_output(row.text, kind)
    row.predicted_output, row.status, row.reason = pred, status, reason
    if status != "ok" and row.finish_reason == "length":
        row.reason += " (the answer was cut off at max_tokens)"
    elif status != "ok" and not row.text.strip():
        row.reason = "the model returned an empty answer"
    return row


def failure_row(row: Narration, status: str, reason: str, latency_ms: float = 0.0) -> Narration:
    row.status, row.reason, row.latency_ms = status, reason, round(latency_ms, 3)
    return row
