"""Loaders for APPS (`codeparrot/apps`) and TACO (`BAAI/TACO`): the same row layout.

Upstream schema (both dataset cards): every field is a string; `solutions` is a JSON list of Python
sources, `input_output` a JSON object `{"inputs": [...], "outputs": [...]}` with an optional
`fn_name`. Without `fn_name` a problem reads stdin: each input is the stdin text and each output the
expected stdout (sometimes a list of lines). With `fn_name` it is call-based: each input is the list of
arguments and each output the return value, which upstream usually wraps in a one-element list (their
checker accepts `result == out or result == out[0]`); we unwrap when every output of the problem is so
wrapped. LeetCode-style solutions define `class Solution` with the method; we append a two-line
adapter so the entry point is a plain function, as our harness calls it.

APPS rows carry an integer `problem_id`; TACO rows do not, so a TACO id is the file's stem and row.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from ..records import Problem, Test
from .common import RowSkipped, crlf_to_lf, get_field, python3_solutions, row_number, stdin_text
from .function_sets import stable_repr


def _json_field(rec: dict[str, Any], name: str, where: str, empty: Any) -> Any:
    raw = rec.get(name)
    if raw is None or raw == "":
        return empty
    if not isinstance(raw, str):
        return raw  # a re-export that stored the decoded value
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as e:
        raise RowSkipped(f"{name} is not JSON", f"{where}: field '{name}' is not valid JSON ({e})") from None


def _text(value: Any) -> str | None:
    """A stdin / stdout value: a string, or a list of lines (some APPS rows)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value) + "\n"
    return None


def _adapter(code: str, fn_name: str) -> str:
    """The solution, plus a module-level `fn_name` calling `Solution().fn_name` when it only defines the
    method (LeetCode style)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    top = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if fn_name in top or "Solution" not in top:
        return code
    return code.rstrip("\n") + (f"\n\n\ndef {fn_name}(*args):  # added by the loader: the set calls "
                                f"Solution().{fn_name}\n    return Solution().{fn_name}(*args)\n")


def _tests(io: dict[str, Any], where: str) -> tuple[str, str, list[Test]]:
    """(kind, entry_point, tests) from an `input_output` object."""
    inputs, outputs = io.get("inputs"), io.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or not inputs:
        raise RowSkipped("no tests", f"{where}: field 'input_output' has no inputs/outputs lists (nothing to run)")
    if len(inputs) != len(outputs):
        raise RowSkipped("inputs and outputs differ in number",
                         f"{where}: field 'input_output' has {len(inputs)} inputs but {len(outputs)} outputs")
    fn_name = io.get("fn_name")
    tests = []
    if isinstance(fn_name, str) and fn_name:
        wrapped = all(isinstance(o, list) and len(o) == 1 for o in outputs)
        for i, (args, out) in enumerate(zip(inputs, outputs)):
            args = args if isinstance(args, list) else [args]
            tests.append(Test(str(i), ", ".join(stable_repr(a) for a in args),
                              stable_repr(out[0] if wrapped else out), public=False))
        return "function", fn_name, tests
    for i, (inp, out) in enumerate(zip(inputs, outputs)):
        inp_text, out_text = _text(inp), _text(out)
        if inp_text is None or out_text is None:
            raise RowSkipped("test is not text", f"{where}: input_output test {i} is not a string or list of lines")
        tests.append(Test(str(i), stdin_text(inp_text), crlf_to_lf(out_text), public=False))
    return "stdio", "", tests


def _problem(rec: dict[str, Any], where: str, problem_id: str, source: str, license: str,
             meta_keys: tuple[str, ...]) -> Problem:
    question = get_field(rec, "question", where, str, "a string with the problem statement", "")
    io = _json_field(rec, "input_output", where, {})
    if not isinstance(io, dict):
        raise RowSkipped("input_output is not an object", f"{where}: field 'input_output' is not a JSON object")
    kind, entry_point, tests = _tests(io, where)
    codes = _json_field(rec, "solutions", where, [])
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        raise RowSkipped("solutions is not a list of strings",
                         f"{where}: field 'solutions' is not a JSON list of source strings")
    solutions, dropped = python3_solutions(codes, "correct", "sol")
    if entry_point:
        for s in solutions:
            s.code = _adapter(s.code, entry_point)
    meta = {k.replace(" ", "_").lower(): str(rec[k]) for k in meta_keys if rec.get(k) not in (None, "")}
    if dropped:
        meta["dropped_solutions"] = json.dumps(dropped)
    return Problem(problem_id=problem_id, source=source, kind=kind, statement=question, entry_point=entry_point,
                   solutions=solutions, tests=tests, license=license, meta=meta)


def apps_problem(rec: dict[str, Any], where: str) -> Problem:
    pid = get_field(rec, "problem_id", where, (int, str), "the integer problem id")
    return _problem(rec, where, f"apps/{pid}", "apps", "MIT", ("difficulty", "url", "starter_code"))


def taco_problem(rec: dict[str, Any], where: str) -> Problem:
    stem = Path(where.split(" line ")[0].split(" record ")[0]).name.split(".")[0]
    return _problem(rec, where, f"taco/{stem}-{row_number(where)}", "taco", "Apache-2.0",
                    ("name", "difficulty", "url", "source", "tags", "skill_types", "starter_code", "time_limit",
                     "memory_limit"))
