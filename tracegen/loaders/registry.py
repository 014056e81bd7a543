"""The loader registry: one `Loader` entry per problem-set format, and the functions that use it.

Adding a format is one entry in `LOADERS` (its name, the keys its first record always has, words in a
file name that point at it, its converter). Detection picks the formats whose keys are all present in
the first record, and uses the name hints only to break a tie.

Strict formats (the curated ones we ship tests for) stop at the first bad record with a `LoaderError`
naming the file, line and field. Lenient formats (big scraped sets: APPS, TACO, LiveCodeBench, a
column mapping) count a row they cannot use in a `LoadReport` under a reason and go on: one broken row
in 26,000 must not stop a curation rerun, and the count still says it happened.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Problem
from .apps import apps_problem, taco_problem
from .canonical import canonical_problem
from .columns import ColumnMapping, parse_columns
from .common import LoaderError, RowSkipped, first_record_keys, iter_records
from .contests import code_contests_hf_problem, codecontests_py300_problem
from .function_sets import cruxeval_problem, humaneval_problem, mbpp_problem, mbpp_sanitized_problem
from .livecodebench import livecodebench_problem

Converter = Callable[[dict[str, Any], str], Problem]


@dataclass(frozen=True, slots=True)
class Loader:
    name: str
    signature: frozenset[str]  # keys the first record of this format always has
    convert: Converter  # (record, where) -> Problem; `where` names the file and line for messages
    hints: tuple[str, ...] = ()  # words in a file name that point at this format (tie-breaker only)
    lenient: bool = False  # a row it cannot use is counted in the LoadReport, not fatal


LOADERS: dict[str, Loader] = {loader.name: loader for loader in (
    Loader("canonical", frozenset({"problem_id", "kind"}), canonical_problem),
    Loader("cruxeval", frozenset({"id", "code", "input", "output"}), cruxeval_problem, ("cruxeval",)),
    Loader("humaneval", frozenset({"task_id", "prompt", "canonical_solution", "test", "entry_point"}),
           humaneval_problem, ("humaneval",)),
    # "sanitized" before "mbpp": a sanitized file's name holds both words
    Loader("mbpp", frozenset({"task_id", "text", "code", "test_list"}), mbpp_problem, ("mbpp",)),
    Loader("mbpp_sanitized", frozenset({"task_id", "prompt", "code", "test_list"}), mbpp_sanitized_problem,
           ("sanitized",)),
    Loader("codecontests_py300", frozenset({"id", "statement_md", "solution_py", "tests"}),
           codecontests_py300_problem, ("py300",)),
    Loader("code_contests_hf", frozenset({"name", "description", "solutions"}), code_contests_hf_problem,
           ("code_contests",)),
    Loader("apps", frozenset({"problem_id", "question", "solutions", "input_output"}), apps_problem, ("apps",),
           lenient=True),
    Loader("taco", frozenset({"question", "solutions", "input_output", "raw_tags"}), taco_problem, ("taco",),
           lenient=True),
    Loader("livecodebench", frozenset({"question_id", "question_content", "public_test_cases"}),
           livecodebench_problem, ("livecodebench", "code_generation", "lcb"), lenient=True),
)}

# "columns" is not detected: it is what a column mapping (recipe `trace.columns`, CLI --columns) reads
FORMATS = ("auto", *LOADERS, "columns")


@dataclass
class LoadReport:
    """What loading saw besides the problems: rows skipped and solutions dropped, by reason, with the
    first place each reason happened (so a user can look at one)."""

    rows: int = 0
    problems: int = 0
    skipped_rows: Counter = field(default_factory=Counter)
    dropped_solutions: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, message: str) -> None:
        self.skipped_rows[reason] += 1
        self.examples.setdefault(reason, message)

    def drop_solutions(self, problem: Problem) -> None:
        """Move the loader's per-solution drop counts (meta `dropped_solutions`, JSON) into the report."""
        raw = problem.meta.get("dropped_solutions")
        if raw:
            for reason, n in json.loads(raw).items():
                self.dropped_solutions[reason] += n

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "problems": self.problems, "skipped_rows": dict(self.skipped_rows),
                "dropped_solutions": dict(self.dropped_solutions), "examples": dict(self.examples)}

    def summary(self) -> str:
        """One line for the terminal; empty when nothing was skipped or dropped."""
        parts = []
        if self.skipped_rows:
            parts.append(f"{sum(self.skipped_rows.values())} of {self.rows} rows skipped (" + ", ".join(
                f"{n} {r}" for r, n in self.skipped_rows.most_common()) + ")")
        if self.dropped_solutions:
            parts.append(f"{sum(self.dropped_solutions.values())} solutions dropped (" + ", ".join(
                f"{n} {r}" for r, n in self.dropped_solutions.most_common()) + ")")
        return "; ".join(parts)


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise LoaderError(f"unknown format {format!r}; valid formats: {', '.join(FORMATS)}")


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a problem file, from the keys of its first record (and its name, to break ties)."""
    path = Path(path)
    keys = first_record_keys(path)
    tried = ", ".join(LOADERS)
    if keys is None:
        raise LoaderError(
            f"{path}: cannot detect the format of a file with no records (tried {tried}); "
            "pass the format explicitly (--format)"
        )
    matches = [name for name, loader in LOADERS.items() if loader.signature <= set(keys)]
    if len(matches) > 1:
        lowered = path.name.lower()  # a dataset folder's own name counts too (TACO/, apps/)
        # the longest hint first: "sanitized-mbpp.json" is mbpp_sanitized, not mbpp
        hinted = sorted(((len(h), name) for name in matches for h in LOADERS[name].hints if h in lowered),
                        reverse=True)
        matches = [hinted[0][1]] if hinted else matches
    if len(matches) != 1:
        found = ", ".join(sorted(keys)[:20])
        why = "matches several formats: " + ", ".join(matches) if matches else f"matches none of: {tried}"
        raise LoaderError(
            f"{path}: cannot detect the format from the first record's keys ({found}); it {why}; "
            f"pass the format explicitly (--format, one of {', '.join(FORMATS[1:-1])}), or map the columns "
            "(--columns problem_id=ID_COLUMN,code=CODE_COLUMN,...)"
        )
    return matches[0]


def load_problems(path: str | os.PathLike[str], format: str = "auto", columns: dict[str, str] | str | None = None,
                  report: LoadReport | None = None) -> list[Problem]:
    """All problems of one file (or dataset folder), converted to `Problem` records, in file order.

    `columns` maps canonical field names to the file's column names (see `loaders.columns`); it reads
    files of any layout and implies format "columns". `report`, when given, receives the counts.
    """
    _check_format(format)
    path = Path(path)
    report = report if report is not None else LoadReport()
    if isinstance(columns, str):
        columns = parse_columns(columns)
    if columns or format == "columns":
        if format not in ("auto", "columns"):
            raise LoaderError(f"--columns reads a file by its column names; it cannot be combined with "
                              f"--format {format} (drop one of them)")
        mapping = ColumnMapping.parse(columns or {})
        mapping.check_columns(path, first_record_keys(path) or [])
        convert, lenient = mapping.convert, True
    else:
        if format == "auto":
            format = detect_format(path)
        loader = LOADERS[format]
        convert, lenient = loader.convert, loader.lenient
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for where, record in iter_records(path):
        report.rows += 1
        try:
            if isinstance(record, LoaderError):  # a line that is not a JSON object
                raise record
            problem = convert(record, where)
        except RowSkipped as e:
            if not lenient:
                raise
            report.skip(e.reason, str(e))
            continue
        except LoaderError as e:
            if not lenient:
                raise
            report.skip("unreadable row", str(e))
            continue
        if problem.problem_id in seen:
            message = (f"{where}: problem_id {problem.problem_id!r} was already used at {seen[problem.problem_id]} "
                       "(problem ids must be unique; rename or drop one of them)")
            if not lenient:
                raise LoaderError(message)
            report.skip("duplicate problem_id", message)
            continue
        report.drop_solutions(problem)
        problem.meta.pop("dropped_solutions", None)
        seen[problem.problem_id] = where
        problems.append(problem)
    report.problems += len(problems)
    return problems


def load_many(paths: Iterable[str | os.PathLike[str]], format: str = "auto", columns: dict[str, str] | str | None = None,
              report: LoadReport | None = None) -> list[Problem]:
    """Problems of several files, in order; a problem_id used in two files is an error."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    _check_format(format)
    problems: list[Problem] = []
    origin: dict[str, Path] = {}
    for path in map(Path, paths):
        for problem in load_problems(path, format, columns, report):
            if problem.problem_id in origin:
                raise LoaderError(
                    f"problem_id {problem.problem_id!r} appears in both {origin[problem.problem_id]} and {path} "
                    "(problem ids must be unique across the files of a run; load only one of them)"
                )
            origin[problem.problem_id] = path
            problems.append(problem)
    return problems


def write_canonical_jsonl(problems: Iterable[Problem], path: str | os.PathLike[str]) -> Path:
    """One `Problem.to_dict()` JSON object per line (gzip when the name ends in .gz), written to a
    temporary name and renamed, so a reader never sees half a file. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(tmp, "wt", encoding="utf-8", newline="\n") as f:
            for problem in problems:
                f.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path
