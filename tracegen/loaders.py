"""Problem loaders: every known problem-set format into the canonical `Problem` record (DESIGN §2).

    problems = load_problems("data/cruxeval/cruxeval.jsonl")          # format detected from the keys
    problems = load_many(["a.jsonl", "b.parquet"], format="canonical") # ids checked unique across files
    write_canonical_jsonl(problems, "my_problems.jsonl")              # convert once, load fast later

Formats: canonical (JSONL / parquet of `Problem.to_dict()` rows), cruxeval, humaneval, mbpp,
mbpp_sanitized, codecontests_py300 (the bundled CodeContests subset) and code_contests_hf (the Hugging
Face `deepmind/code_contests` schema). Files: .jsonl, .jsonl.gz, .json (a list), .json.gz, .parquet.
Every problem in a bad file raises `LoaderError` naming the file, the line and the field; nothing is
printed and nothing is skipped silently.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .loaders_canonical import canonical_problem
from .loaders_common import LoaderError, first_record_keys, iter_records
from .loaders_contests import code_contests_hf_problem, codecontests_py300_problem
from .loaders_python import cruxeval_problem, humaneval_problem, mbpp_problem, mbpp_sanitized_problem
from .records import Problem

__all__ = ["FORMATS", "LoaderError", "detect_format", "load_many", "load_problems", "write_canonical_jsonl"]

FORMATS = (
    "auto", "canonical", "cruxeval", "humaneval", "mbpp", "mbpp_sanitized", "codecontests_py300", "code_contests_hf",
)

# Keys that the first record of each format always has; detection picks the formats whose keys are all
# present (the sets are disjoint enough that exactly one matches on every known file).
_SIGNATURES: dict[str, frozenset[str]] = {
    "canonical": frozenset({"problem_id", "kind"}),
    "cruxeval": frozenset({"id", "code", "input", "output"}),
    "humaneval": frozenset({"task_id", "prompt", "canonical_solution", "test", "entry_point"}),
    "mbpp": frozenset({"task_id", "text", "code", "test_list"}),
    "mbpp_sanitized": frozenset({"task_id", "prompt", "code", "test_list"}),
    "codecontests_py300": frozenset({"id", "statement_md", "solution_py", "tests"}),
    "code_contests_hf": frozenset({"name", "description", "solutions"}),
}

# Words in a file name that point at a format; used only to break a tie between matching key sets.
_NAME_HINTS = {
    "sanitized": "mbpp_sanitized",
    "mbpp": "mbpp",
    "humaneval": "humaneval",
    "cruxeval": "cruxeval",
    "py300": "codecontests_py300",
    "code_contests": "code_contests_hf",
}

_CONVERTERS: dict[str, Callable[[dict[str, Any], str], Problem]] = {
    "canonical": canonical_problem,
    "cruxeval": cruxeval_problem,
    "humaneval": humaneval_problem,
    "mbpp": mbpp_problem,
    "mbpp_sanitized": mbpp_sanitized_problem,
    "codecontests_py300": codecontests_py300_problem,
    "code_contests_hf": code_contests_hf_problem,
}


def _check_format(format: str) -> None:
    if format not in FORMATS:
        raise LoaderError(f"unknown format {format!r}; valid formats: {', '.join(FORMATS)}")


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a problem file, from the keys of its first record (and its name, to break ties)."""
    path = Path(path)
    keys = first_record_keys(path)
    tried = ", ".join(_SIGNATURES)
    if keys is None:
        raise LoaderError(
            f"{path}: cannot detect the format of a file with no records (tried {tried}); "
            "pass the format explicitly (--format)"
        )
    matches = [name for name, needed in _SIGNATURES.items() if needed <= set(keys)]
    if len(matches) > 1:
        lowered = path.name.lower()
        hinted = [fmt for word, fmt in _NAME_HINTS.items() if word in lowered and fmt in matches]
        matches = hinted[:1] or matches
    if len(matches) != 1:
        found = ", ".join(sorted(keys)[:20])
        why = "matches several formats: " + ", ".join(matches) if matches else f"matches none of: {tried}"
        raise LoaderError(
            f"{path}: cannot detect the format from the first record's keys ({found}); it {why}; "
            f"pass the format explicitly (--format, one of {', '.join(FORMATS[1:])})"
        )
    return matches[0]


def load_problems(path: str | os.PathLike[str], format: str = "auto") -> list[Problem]:
    """All problems of one file, converted to `Problem` records, in file order."""
    _check_format(format)
    path = Path(path)
    if format == "auto":
        format = detect_format(path)
    convert = _CONVERTERS[format]
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for where, record in iter_records(path):
        problem = convert(record, where)
        if problem.problem_id in seen:
            raise LoaderError(
                f"{where}: problem_id {problem.problem_id!r} was already used at {seen[problem.problem_id]} "
                "(problem ids must be unique; rename or drop one of them)"
            )
        seen[problem.problem_id] = where
        problems.append(problem)
    return problems


def load_many(paths: Iterable[str | os.PathLike[str]], format: str = "auto") -> list[Problem]:
    """Problems of several files, in order; a problem_id used in two files is an error."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    _check_format(format)
    problems: list[Problem] = []
    origin: dict[str, Path] = {}
    for path in map(Path, paths):
        for problem in load_problems(path, format):
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
    with opener(tmp, "wt", encoding="utf-8", newline="\n") as f:
        for problem in problems:
            f.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
