"""Loader for LiveCodeBench code generation (`livecodebench/code_generation_lite` and its parent).

Upstream schema (dataset card and its `lcb_runner`): `question_id`, `question_title`,
`question_content`, `platform` (leetcode | codeforces | atcoder), `contest_id`, `contest_date`,
`starter_code`, `difficulty`, `public_test_cases` (a JSON list of `{input, output, testtype}`),
`private_test_cases` (the same JSON, or from release_v2 on that JSON pickled, zlib-compressed and
base64-encoded) and `metadata` (JSON; `func_name` for LeetCode problems). `testtype` is `stdin` (a
whole program) or `functional` (LeetCode: the input is one JSON value per line, one per argument, and
the output a JSON value). The set ships no solutions: problems load with tests only (for solving,
input synthesis, evaluation).

The pickle is read with an unpickler that refuses every global, so a tampered file can at most fail to
load a row; it cannot run code.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zlib
from typing import Any

from ..records import Problem, Test
from .common import RowSkipped, crlf_to_lf, get_field, stdin_text
from .function_sets import stable_repr


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: D401 - pickle's hook
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only plain strings are expected")


def decode_test_cases(raw: Any, where: str, field: str) -> list[dict[str, Any]]:
    """A test-case list from its JSON text, or from LiveCodeBench's base64(zlib(pickle(json))) form."""
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        try:
            text = _PlainUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(raw, validate=False)))).load()
            value = json.loads(text) if isinstance(text, (str, bytes)) else text
        except (binascii.Error, zlib.error, pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
            raise RowSkipped(f"{field} unreadable",
                             f"{where}: field '{field}' is neither JSON nor LiveCodeBench's compressed form ({e})") from None
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise RowSkipped(f"{field} unreadable", f"{where}: field '{field}' is not a list of test objects")
    return value


def _functional_test(test_id: str, case: dict[str, Any], public: bool, where: str) -> Test:
    try:
        args = [json.loads(line) for line in str(case["input"]).split("\n") if line.strip()]
        expected = json.loads(str(case["output"]))
    except (json.JSONDecodeError, KeyError) as e:
        raise RowSkipped("functional test not JSON", f"{where}: functional test {test_id} is not JSON lines ({e})") from None
    return Test(test_id, ", ".join(stable_repr(a) for a in args), stable_repr(expected), public=public)


def livecodebench_problem(rec: dict[str, Any], where: str) -> Problem:
    qid = get_field(rec, "question_id", where, (str, int), "the question id")
    content = get_field(rec, "question_content", where, str, "a string with the statement", "")
    metadata = rec.get("metadata") or {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata) if metadata.strip() else {}
        except json.JSONDecodeError:
            metadata = {}
    cases = [(c, True) for c in decode_test_cases(rec.get("public_test_cases"), where, "public_test_cases")]
    cases += [(c, False) for c in decode_test_cases(rec.get("private_test_cases"), where, "private_test_cases")]
    if not cases:
        raise RowSkipped("no tests", f"{where}: no public or private test cases (nothing to run)")
    types = {c.get("testtype") for c, _ in cases}
    if len(types) != 1 or not types <= {"stdin", "functional"}:
        raise RowSkipped("unknown testtype", f"{where}: test types {sorted(map(str, types))} (expected all 'stdin' "
                                             "or all 'functional')")
    kind = "function" if types == {"functional"} else "stdio"
    entry_point = str(metadata.get("func_name") or "") if isinstance(metadata, dict) else ""
    if kind == "function" and not entry_point:
        raise RowSkipped("functional without func_name", f"{where}: functional tests but no metadata.func_name")
    tests = []
    for i, (case, public) in enumerate(cases):
        test_id = f"{'public' if public else 'private'}-{i}"
        if kind == "function":
            tests.append(_functional_test(test_id, case, public, where))
        else:
            if not isinstance(case.get("input"), str) or not isinstance(case.get("output"), str):
                raise RowSkipped("test is not text", f"{where}: stdin test {i} has no string input/output")
            tests.append(Test(test_id, stdin_text(case["input"]), crlf_to_lf(case["output"]), public=public))
    meta = {k: str(rec[k]) for k in ("question_title", "platform", "contest_id", "contest_date", "difficulty",
                                      "starter_code") if rec.get(k) not in (None, "")}
    return Problem(problem_id=f"livecodebench/{qid}", source="livecodebench", kind=kind, statement=content,
                   entry_point=entry_point, solutions=[], tests=tests, license="cc", meta=meta)
