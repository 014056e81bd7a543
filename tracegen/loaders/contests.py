"""Loaders for stdin/stdout contest problems: the bundled CodeContests subset (codecontests_py300) and
the Hugging Face `deepmind/code_contests` schema (code_contests_hf)."""

from __future__ import annotations

import re
from typing import Any

from .common import LoaderError, crlf_to_lf, get_field, get_str_list, stdin_text
from ..records import Problem, Solution, Test

# deepmind/code_contests language codes: 0 UNKNOWN, 1 PYTHON (2), 2 CPP, 3 PYTHON3, 4 JAVA.
# Only Python 3 runs under our interpreter; some exports store the enum name instead of the number.
_PYTHON3 = (3, "PYTHON3")


def count_statement_examples(statement: str) -> int:
    """How many sample tests the original Codeforces statement shows.

    The statement text (before the packer's own "## Categories" / "## Examples" sections) ends with an
    "Example(s)" heading followed by "Input" / "Output" blocks; each "Input" line is one sample.
    CodeContests stores the public (sample) tests first, and on the bundled 300 problems the first k
    tests match the k samples of the statement in every case. The packer's "## Examples" section is
    not used: it always lists the first three tests, whatever the number of samples.
    """
    end = statement.find("\n## Categories")
    text = statement if end < 0 else statement[:end]
    heading = None
    for heading in re.finditer(r"^Examples?[ \t]*$", text, re.M):
        pass  # the last such heading: the statement may say "Example" earlier in prose
    if heading is None:
        return 0
    return sum(1 for line in text[heading.end():].split("\n") if line.strip() == "Input")


def codecontests_py300_problem(rec: dict[str, Any], where: str) -> Problem:
    pid = get_field(rec, "id", where, str, "a string like '1041_e_tree_reconstruction_8858'")
    statement = get_field(rec, "statement_md", where, str, "a string with the problem statement", "")
    code = get_field(rec, "solution_py", where, str, "a string with the Python 3 solution")
    tags = get_str_list(rec, "tags", where, "a list of tag strings", [])
    cluster = get_field(rec, "cluster", where, str, "a string like 'cluster0'", "")
    raw_tests = get_field(rec, "tests", where, list, "a list of {name, input, output} objects")
    # the first k tests are the statement's samples (see count_statement_examples), the rest are hidden
    n_public = count_statement_examples(statement)
    tests = []
    for i, t in enumerate(raw_tests):
        if not isinstance(t, dict):
            raise LoaderError(f"{where}: field 'tests[{i}]' is not an object (expected {{name, input, output}})")
        name = get_field(t, "name", where, str, "a string test name", str(i + 1), label=f"tests[{i}].name")
        inp = get_field(t, "input", where, str, "the stdin text as a string", label=f"tests[{i}].input")
        out = get_field(t, "output", where, str, "the expected stdout as a string", label=f"tests[{i}].output")
        tests.append(Test(name, stdin_text(inp), crlf_to_lf(out), public=i < n_public))
    meta = {"cluster": cluster, "tags": ",".join(tags)}
    if source_path := rec.get("source_path"):
        meta["source_path"] = str(source_path)
    if m := re.search(r"^\*\*Difficulty:\*\*\s*(\S+)", statement, re.M):
        meta["difficulty"] = m.group(1)
    return Problem(
        problem_id=f"codecontests/{pid}",
        source="codecontests_py300",
        kind="stdio",
        statement=statement,
        solutions=[Solution("ref", code, "correct")],
        tests=tests,
        license="CC-BY-4.0",
        meta=meta,
    )


def _hf_tests(rec: dict[str, Any], where: str, split: str) -> list[Test]:
    field = f"{split}_tests"
    value = get_field(rec, field, where, dict, "an object {input: [str, ...], output: [str, ...]}", {})
    inputs = get_str_list(value, "input", where, "a list of stdin strings", [], f"{field}.input")
    outputs = get_str_list(value, "output", where, "a list of expected stdout strings", [], f"{field}.output")
    if len(inputs) != len(outputs):
        raise LoaderError(
            f"{where}: field '{field}' has {len(inputs)} inputs but {len(outputs)} outputs "
            "(expected one output per input)"
        )
    return [
        Test(f"{split}-{i}", stdin_text(inp), crlf_to_lf(out), public=split == "public")
        for i, (inp, out) in enumerate(zip(inputs, outputs))
    ]


def _hf_solutions(rec: dict[str, Any], where: str, field: str, label: str) -> list[Solution]:
    value = get_field(rec, field, where, dict, "an object {language: [int, ...], solution: [str, ...]}", {})
    languages = get_field(value, "language", where, list, "a list of language codes", [], label=f"{field}.language")
    codes = get_str_list(value, "solution", where, "a list of source strings", [], f"{field}.solution")
    if len(languages) != len(codes):
        raise LoaderError(
            f"{where}: field '{field}' has {len(languages)} languages but {len(codes)} solutions "
            "(expected one language code per solution)"
        )
    # the id keeps the upstream index, so a solution can be found again in the original row
    return [
        Solution(f"{label}-{i}", code, label)
        for i, (lang, code) in enumerate(zip(languages, codes))
        if lang in _PYTHON3
    ]


def code_contests_hf_problem(rec: dict[str, Any], where: str) -> Problem:
    name = get_field(rec, "name", where, str, "a string like '1548_E. Gregor and the Two Painters'")
    description = get_field(rec, "description", where, str, "a string with the problem statement", "")
    tests = [t for split in ("public", "private", "generated") for t in _hf_tests(rec, where, split)]
    solutions = _hf_solutions(rec, where, "solutions", "correct") + _hf_solutions(
        rec, where, "incorrect_solutions", "incorrect"
    )
    meta: dict[str, str] = {}
    for key in ("difficulty", "source", "cf_contest_id", "cf_index", "cf_points", "cf_rating", "memory_limit_bytes"):
        if rec.get(key) is not None:
            meta[key] = str(rec[key])
    if rec.get("cf_tags"):
        meta["tags"] = ",".join(str(t) for t in rec["cf_tags"])
    limit = rec.get("time_limit")
    if isinstance(limit, dict) and limit.get("seconds") is not None:
        meta["time_limit_s"] = str(limit["seconds"] + (limit.get("nanos") or 0) / 1e9)
    return Problem(
        problem_id=f"codecontests/{name}",
        source="code_contests",
        kind="stdio",
        statement=description,
        solutions=solutions,
        tests=tests,
        license="CC-BY-4.0",
        meta=meta,
    )
