"""A column mapping: read a set we have never seen (parquet, JSONL, JSON, a dataset folder) by naming
which of its columns holds each canonical field.

    recipe:  trace: {columns: {problem_id: id, code: solution, input: stdin, output: expected}}
    CLI:     selfexec trace my.parquet --columns problem_id=id,code=solution,input=stdin,output=expected

Fields (canonical name: what the column holds):
  problem_id   the id (required)
  code         one solution's source            | solutions  a list of sources (or a JSON text of one)
  input/output one test per row (input required, output optional)
  tests        a list of {input, output} objects, or APPS-style {inputs: [...], outputs: [...]}, or JSON of either
  statement, entry_point, kind (stdio | function), label (correct | incorrect | unknown), source
Without `kind`, a mapped `entry_point` makes a function problem and no entry point a stdio one.
A mapped column missing from the file is one error naming it and the columns the file has; a row whose
mapped values are unusable is counted and skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..records import KINDS, LABELS, Problem, Test
from .common import LoaderError, RowSkipped, crlf_to_lf, python3_solutions, stdin_text

FIELDS = ("problem_id", "code", "solutions", "input", "output", "tests", "statement", "entry_point", "kind",
          "label", "source")


def parse_columns(text: str) -> dict[str, str]:
    """`problem_id=id,code=solution` (the CLI form) as a dict.

    >>> parse_columns("problem_id=id, code=solution")
    {'problem_id': 'id', 'code': 'solution'}
    """
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        field, sep, column = part.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise LoaderError(f"--columns {text!r}: write FIELD=COLUMN pairs separated by commas, "
                              "e.g. problem_id=id,code=solution")
        mapping[field.strip()] = column.strip()
    return mapping


@dataclass(frozen=True)
class ColumnMapping:
    columns: dict[str, str]

    @classmethod
    def parse(cls, columns: dict[str, str]) -> ColumnMapping:
        if not isinstance(columns, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in columns.items()):
            raise LoaderError("columns must map canonical field names to column names, e.g. "
                              "{problem_id: id, code: solution}")
        unknown = [k for k in columns if k not in FIELDS]
        if unknown:
            raise LoaderError(f"columns: {unknown[0]!r} is not a field a column can fill (fields: {', '.join(FIELDS)})")
        if "problem_id" not in columns:
            raise LoaderError("columns: map problem_id to the column holding each problem's id "
                              "(e.g. --columns problem_id=id,...)")
        if not ({"code", "solutions", "tests", "input"} & set(columns)):
            raise LoaderError("columns: map at least one of code, solutions, tests or input "
                              "(a problem needs a program or a test)")
        if "output" in columns and "input" not in columns:
            raise LoaderError("columns: output is mapped but input is not (map input=COLUMN too)")
        return cls(dict(columns))

    def check_columns(self, path: Path, present: list[str]) -> None:
        """Every mapped column exists in the file: one error naming the first missing one."""
        for field, column in self.columns.items():
            if column not in present:
                raise LoaderError(
                    f"{path}: column {column!r} (mapped to {field}) is not in the file; its columns are "
                    f"{', '.join(present[:30]) or '(none)'}; fix the mapping (recipe trace.columns or --columns)"
                )

    def _get(self, rec: dict[str, Any], field: str) -> Any:
        column = self.columns.get(field)
        return None if column is None else rec.get(column)

    def convert(self, rec: dict[str, Any], where: str) -> Problem:
        pid = self._get(rec, "problem_id")
        if pid is None or str(pid) == "":
            raise RowSkipped("no problem_id", f"{where}: column {self.columns['problem_id']!r} is empty")
        entry_point = str(self._get(rec, "entry_point") or "")
        kind = str(self._get(rec, "kind") or ("function" if entry_point else "stdio"))
        if kind not in KINDS:
            raise RowSkipped("bad kind", f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        label = str(self._get(rec, "label") or "unknown")
        if label not in LABELS:
            raise RowSkipped("bad label", f"{where}: label {label!r} is not one of {', '.join(LABELS)}")
        codes = _as_list(self._get(rec, "solutions"), where, "solutions")
        if self._get(rec, "code") not in (None, ""):
            codes.insert(0, self._get(rec, "code"))
        if not all(isinstance(c, str) for c in codes):
            raise RowSkipped("code is not text", f"{where}: a mapped solution is not a string")
        solutions, dropped = python3_solutions(codes, label, "sol")
        tests = self._tests(rec, kind, where)
        meta = {"dropped_solutions": json.dumps(dropped)} if dropped else {}
        return Problem(problem_id=str(pid), source=str(self._get(rec, "source") or "columns"), kind=kind,
                       statement=str(self._get(rec, "statement") or ""), entry_point=entry_point,
                       solutions=solutions, tests=tests, meta=meta)

    def _tests(self, rec: dict[str, Any], kind: str, where: str) -> list[Test]:
        pairs: list[tuple[Any, Any]] = []
        if "input" in self.columns:
            pairs.append((self._get(rec, "input"), self._get(rec, "output")))
        raw = self._get(rec, "tests")
        if isinstance(raw, str) and raw.strip():
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise RowSkipped("tests not JSON", f"{where}: the tests column is a string but not JSON") from None
        if isinstance(raw, dict) and isinstance(raw.get("inputs"), list) and isinstance(raw.get("outputs"), list):
            pairs += list(zip(raw["inputs"], raw["outputs"]))
        elif isinstance(raw, list):
            for t in raw:
                if not isinstance(t, dict) or "input" not in t:
                    raise RowSkipped("tests unreadable", f"{where}: a test is not an object with an 'input'")
                pairs.append((t["input"], t.get("output")))
        elif raw not in (None, ""):
            raise RowSkipped("tests unreadable", f"{where}: the tests column holds {type(raw).__name__}, "
                                                 "expected a list of {input, output} objects")
        tests = []
        for i, (inp, out) in enumerate(pairs):
            if not isinstance(inp, str) or not (out is None or isinstance(out, str)):
                raise RowSkipped("test is not text", f"{where}: test {i} has a non-string input or output")
            if kind == "stdio":
                tests.append(Test(str(i), stdin_text(inp), None if out is None else crlf_to_lf(out)))
            else:
                tests.append(Test(str(i), inp, out))
        return tests


def _as_list(value: Any, where: str, field: str) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RowSkipped(f"{field} not JSON", f"{where}: the {field} column is a string but not a JSON list") from None
    if not isinstance(value, list):
        raise RowSkipped(f"{field} not a list", f"{where}: the {field} column is not a list")
    return list(value)
