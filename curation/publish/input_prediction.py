"""The `input_prediction` config (CRUXEval-I style, the backward direction): the code and an output
in, any input that gives that output out.

One row per distinct traced (solution, test) of a function problem among the kept rows: `prompt` asks
for the arguments (`answers.input_turn`), `expected_output` is the output the predicted input must
produce, `input` one input that does (the traced one). A prediction is checked by running it in the
sandbox, never by comparing it with `input` (many inputs give one output): see
`finetune/input_prediction.py`. stdio programs are left out: an input for a whole program's stdout is
rarely unique and rarely short.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..answers import input_turn
from .configs import _PROVENANCE, MESSAGE_TYPE, _provenance

TASK = "input_prediction"
# `kind` (always "function") comes with the provenance columns
INPUT_PREDICTION_SCHEMA = pa.schema([("prompt", MESSAGE_TYPE), ("task", pa.string()),
                                     ("expected_output", pa.string()), ("entry_point", pa.string()),
                                     ("code", pa.string()), ("input", pa.string()), *_PROVENANCE])


def input_prediction_rows(narrated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out, seen = [], set()
    for r in narrated:
        key = (r["problem_id"], r["solution_id"], r["test_id"])
        if r["kind"] != "function" or key in seen or r.get("true_output") is None:
            continue
        seen.add(key)
        entry = r["entry_point"] or "f"
        prompt = [{"role": "user", "content": input_turn(r["code"], r["true_output"], entry)}]
        out.append({"prompt": prompt, "task": TASK, "expected_output": r["true_output"],
                    "entry_point": entry, "code": r["code"], "input": r["input"], **_provenance(r)})
    return out
