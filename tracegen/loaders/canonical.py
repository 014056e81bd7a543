"""The canonical problem format: rows of `Problem.to_dict()` (JSONL or parquet), checked field by field
so that a hand-written file fails with the line and the field to fix, not deep inside a later stage."""

from __future__ import annotations

import dataclasses
from typing import Any

from .common import LoaderError, get_field
from ..records import KINDS, LABELS, Problem, Solution, Test

_PROBLEM_FIELDS = tuple(f.name for f in dataclasses.fields(Problem))
_SOLUTION_FIELDS = tuple(f.name for f in dataclasses.fields(Solution))
_TEST_FIELDS = tuple(f.name for f in dataclasses.fields(Test))


def _no_unknown_keys(rec: dict[str, Any], known: tuple[str, ...], where: str, prefix: str) -> None:
    unknown = [k for k in rec if k not in known]
    if unknown:
        raise LoaderError(
            f"{where}: field '{prefix}{unknown[0]}' is not part of the canonical schema "
            f"(expected only {', '.join(known)}; put extra data in 'meta')"
        )


def _meta(value: Any, where: str) -> dict[str, str]:
    # JSONL gives an object; parquet gives a struct (dict with nulls for absent keys) or a map (pairs)
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, dict):
        raise LoaderError(f"{where}: field 'meta' is not an object (expected an object of string values)")
    meta = {}
    for k, v in value.items():
        if v is None:
            continue
        if not isinstance(v, str):
            raise LoaderError(
                f"{where}: field 'meta.{k}' is not a string (expected a string; encode other values as JSON text)"
            )
        meta[str(k)] = v
    return meta


def _items(rec: dict[str, Any], name: str, where: str, expect: str) -> list[dict[str, Any]]:
    items = get_field(rec, name, where, list, f"a list of {expect} objects", [])
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise LoaderError(f"{where}: field '{name}[{i}]' is not an object (expected a {expect} object)")
    return items


def canonical_problem(rec: dict[str, Any], where: str) -> Problem:
    """A `Problem.to_dict()` row, checked field by field."""
    _no_unknown_keys(rec, _PROBLEM_FIELDS, where, "")
    problem_id = get_field(rec, "problem_id", where, str, "a non-empty string")
    if not problem_id:
        raise LoaderError(f"{where}: field 'problem_id' is empty (expected a non-empty string)")
    kind = get_field(rec, "kind", where, str, f"one of {', '.join(KINDS)}")
    if kind not in KINDS:
        raise LoaderError(f"{where}: field 'kind' is {kind!r} (expected one of {', '.join(KINDS)})")
    entry_point = get_field(rec, "entry_point", where, str, "the function name as a string", "")
    if kind == "function" and not entry_point:
        raise LoaderError(f"{where}: field 'entry_point' is empty (expected the function name; kind is 'function')")

    solutions = []
    for i, s in enumerate(_items(rec, "solutions", where, "{solution_id, code, label}")):
        _no_unknown_keys(s, _SOLUTION_FIELDS, where, f"solutions[{i}].")
        label = get_field(s, "label", where, str, f"one of {', '.join(LABELS)}", "unknown", f"solutions[{i}].label")
        if label not in LABELS:
            raise LoaderError(
                f"{where}: field 'solutions[{i}].label' is {label!r} (expected one of {', '.join(LABELS)})"
            )
        solutions.append(Solution(
            solution_id=get_field(s, "solution_id", where, str, "a string", label=f"solutions[{i}].solution_id"),
            code=get_field(s, "code", where, str, "a string with the source", label=f"solutions[{i}].code"),
            label=label,
            origin=get_field(s, "origin", where, str, "a string", "", f"solutions[{i}].origin"),
            divergence=get_field(s, "divergence", where, dict, "an object or null", None, f"solutions[{i}].divergence"),
        ))
    tests = []
    for i, t in enumerate(_items(rec, "tests", where, "{test_id, input, output, public}")):
        _no_unknown_keys(t, _TEST_FIELDS, where, f"tests[{i}].")
        tests.append(Test(
            test_id=get_field(t, "test_id", where, str, "a string", label=f"tests[{i}].test_id"),
            input=get_field(t, "input", where, str, "a string (stdin, or the argument list source)",
                            label=f"tests[{i}].input"),
            output=get_field(t, "output", where, str, "a string or null", None, f"tests[{i}].output"),
            public=get_field(t, "public", where, bool, "true or false", False, f"tests[{i}].public"),
            check=get_field(t, "check", where, str, "a string of Python source or null", None, f"tests[{i}].check"),
            origin=get_field(t, "origin", where, str, "a string", "", f"tests[{i}].origin"),
        ))
    for name, ids in (("solution_id", [s.solution_id for s in solutions]), ("test_id", [t.test_id for t in tests])):
        seen: set[str] = set()
        for x in ids:
            if x in seen:
                raise LoaderError(f"{where}: {name} {x!r} is used twice in this problem (expected unique ids)")
            seen.add(x)
    return Problem(
        problem_id=problem_id,
        source=get_field(rec, "source", where, str, "a string naming the problem set"),
        kind=kind,
        statement=get_field(rec, "statement", where, str, "a string", ""),
        entry_point=entry_point,
        solutions=solutions,
        tests=tests,
        license=get_field(rec, "license", where, str, "a string", ""),
        meta=_meta(rec.get("meta"), where),
    )
