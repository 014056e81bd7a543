"""Loaders for function-call benchmarks: CRUXEval, HumanEval, MBPP (full and sanitized).

Their tests become `Test(input=<argument list source>, output=<repr of the expected value>)` where an
assert is a plain `f(ARGS) == LITERAL`, and otherwise a `Test(check=...)`: Python source that the runner
executes in the solution's global namespace with `candidate` bound to the entry point (the test passes
when it raises nothing). Running in the solution's namespace matters: HumanEval/33's check calls the
entry point by name, MBPP 367/927 build trees with the solution's own `Node` class.
"""

from __future__ import annotations

import ast
import builtins
import re
import warnings
from typing import Any

from .common import LoaderError, get_field, get_str_list, normalise_newlines
from ..records import Problem, Solution, Test

_BUILTIN_NAMES = frozenset(dir(builtins))


# --------------------------------------------------------------------------- assert parsing


def stable_repr(value: Any) -> str:
    """repr(value), except that set elements are sorted by their repr.

    repr of a set of strings depends on PYTHONHASHSEED (MBPP 'tuple_to_set' expects {'y', 'x', 'z'}), and
    outputs must be the same on every run: the text evaluates to an equal value either way.

    >>> stable_repr({'b', 'a'}), stable_repr([(1,), {2: frozenset()}])
    ("{'a', 'b'}", '[(1,), {2: frozenset()}]')
    """
    if isinstance(value, (set, frozenset)):
        if not value:
            return "set()" if isinstance(value, set) else "frozenset()"
        body = "{" + ", ".join(sorted(stable_repr(v) for v in value)) + "}"
        return body if isinstance(value, set) else f"frozenset({body})"
    if isinstance(value, list):
        return "[" + ", ".join(stable_repr(v) for v in value) + "]"
    if isinstance(value, tuple):
        if len(value) == 1:
            return "(" + stable_repr(value[0]) + ",)"
        return "(" + ", ".join(stable_repr(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _self_contained(nodes: list[ast.AST], shadowed: set[str]) -> bool:
    """True when the argument expressions evaluate on their own: every name they read is a builtin the
    solution does not redefine (so `[1] * 3` and `list(range(4))` qualify, `root` or `lambda x: x` do not)."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and (sub.id not in _BUILTIN_NAMES or sub.id in shadowed):
                return False
    return True


def literal_call_test(stmt: ast.stmt, source: str, func: str, shadowed: set[str]) -> tuple[str, str] | None:
    """(input, output) when `stmt` is `assert func(ARGS) == LITERAL` (a trailing message is allowed),
    else None. input is ARGS exactly as written (keywords keep their `k=v` form); output is the stable
    repr of the literal."""
    if not isinstance(stmt, ast.Assert):
        return None
    test = stmt.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return None
    call = test.left
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == func):
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None  # *args / **kwargs: keep the assert as a check rather than guess
    try:
        expected = ast.literal_eval(test.comparators[0])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    output = stable_repr(expected)
    try:  # 1e400 and the like have a repr ('inf') that is not a literal: keep those as checks
        if ast.literal_eval(output) != expected:
            return None
    except (ValueError, SyntaxError):
        return None
    parts = sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))
    if not _self_contained(parts, shadowed):
        return None
    segments = [ast.get_source_segment(source, p) for p in parts]
    if any(s is None for s in segments):
        return None
    return ", ".join(segments), output


def _is_noop_assert(stmt: ast.stmt) -> bool:
    """HumanEval's `assert True, "This prints if this assert fails ..."` lines test nothing."""
    return isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Constant) and stmt.test.value is True


def _top_level_names(module: ast.Module) -> set[str]:
    """Names a solution binds at module level (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        else:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def _parse(source: str, where: str, field: str, expect: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            # old MBPP code has "\d"-style escapes in plain strings: a warning, not our business to print
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as e:
        raise LoaderError(
            f"{where}: field '{field}' is not valid Python ({e.msg}, line {e.lineno}) (expected {expect})"
        ) from e


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------------------- CRUXEval


def cruxeval_problem(rec: dict[str, Any], where: str) -> Problem:
    sample_id = get_field(rec, "id", where, str, "a string like 'sample_0'")
    code = get_field(rec, "code", where, str, "a string with the function source")
    inp = get_field(rec, "input", where, str, "a string with the argument list as Python source, e.g. '[1, 2], 3'")
    out = get_field(rec, "output", where, str, "a string with the repr of the return value")
    return Problem(
        problem_id=f"cruxeval/{sample_id}",
        source="cruxeval",
        kind="function",
        entry_point="f",
        solutions=[Solution("ref", code, "correct")],
        # public: the input is what the benchmark shows; only the output is to be predicted
        tests=[Test("0", inp, out, public=True)],
        license="MIT",
    )


# --------------------------------------------------------------------------- HumanEval


def _humaneval_check_source(test_src: str, module: ast.Module) -> str:
    """The `test` source without its METADATA bookkeeping dict, then a call of check(candidate)."""
    lines = test_src.splitlines(keepends=True)
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "METADATA" for t in stmt.targets):
            for i in range(stmt.lineno - 1, stmt.end_lineno):
                lines[i] = ""
    return "".join(lines).strip("\n") + "\n\ncheck(candidate)\n"


def humaneval_problem(rec: dict[str, Any], where: str) -> Problem:
    task_id = get_field(rec, "task_id", where, str, "a string like 'HumanEval/0'")
    prompt = get_field(rec, "prompt", where, str, "a string with the signature and docstring")
    body = get_field(rec, "canonical_solution", where, str, "a string with the function body")
    entry = get_field(rec, "entry_point", where, str, "the function name as a string")
    test_src = get_field(rec, "test", where, str, "a string defining check(candidate)")
    code = prompt + body
    module = _parse(test_src, where, "test", "Python source defining check(candidate)")
    check_fn = next((s for s in module.body if isinstance(s, ast.FunctionDef) and s.name == "check"), None)
    if check_fn is None or not check_fn.args.args:
        raise LoaderError(
            f"{where}: field 'test' defines no check(candidate) function (expected one that asserts on candidate)"
        )
    param = check_fn.args.args[0].arg
    shadowed = _top_level_names(_parse(code, where, "prompt + canonical_solution", "a valid Python function"))
    shown = _squash(prompt)

    tests: list[Test] = []
    needs_check = False
    for stmt in check_fn.body:
        if _is_noop_assert(stmt):
            continue
        io = literal_call_test(stmt, test_src, param, shadowed)
        if io is None:
            needs_check = True  # loops, tolerances, `assert not ...`, imports: keep the real check
            continue
        inp, out = io
        # public = the docstring shows this very call (`>>> entry(ARGS)`), i.e. the solver sees it
        tests.append(Test(str(len(tests)), inp, out, public=_squash(f"{entry}({inp})") in shown))
    if needs_check or not tests:
        tests.append(Test("check", "", None, public=False, check=_humaneval_check_source(test_src, module)))
    return Problem(
        problem_id=task_id,
        source="humaneval",
        kind="function",
        statement=prompt,
        entry_point=entry,
        solutions=[Solution("ref", code, "correct")],
        tests=tests,
        license="MIT",
    )


# --------------------------------------------------------------------------- MBPP


def _called_function(assert_src: str, defined: set[str], where: str, field: str) -> str:
    """The first function the assert calls that the solution defines: `assert int(lobb_num(5, 3)) == 35`
    gives lobb_num, `assert set(similar_elements(a, b)) == set(c)` gives similar_elements."""
    module = _parse(assert_src, where, field, "an assert statement")
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in defined:
            return node.func.id
    raise LoaderError(
        f"{where}: field '{field}' calls no function defined in 'code' "
        "(expected an assert such as `assert my_func(1, 2) == 3` naming the solution's function)"
    )


def _mbpp_tests(asserts: list[tuple[str, str, str, bool]], entry: str, setup: str, shadowed: set[str],
                where: str) -> list[Test]:
    """asserts: (test_id, field name, source, public). Setup code (MBPP's test_setup_code, sanitized
    MBPP's test_imports) makes every test a check: a literal input/output test cannot carry it."""
    tests = []
    # rebinding the name makes the assert test `candidate`, not the reference the check runs beside
    prefix = f"{entry} = candidate\n" + (setup.rstrip("\n") + "\n" if setup.strip() else "")
    for test_id, field, src, public in asserts:
        module = _parse(src, where, field, "an assert statement")
        io = None
        if not setup.strip() and len(module.body) == 1:
            io = literal_call_test(module.body[0], src, entry, shadowed)
        if io is not None:
            tests.append(Test(test_id, io[0], io[1], public=public))
        else:
            tests.append(Test(test_id, "", None, public=public, check=prefix + src + "\n"))
    return tests


def _mbpp_common(rec: dict[str, Any], where: str, statement: str, setup: str, challenge: list[str],
                 source: str) -> Problem:
    task_id = get_field(rec, "task_id", where, int, "an integer task id")
    code = normalise_newlines(get_field(rec, "code", where, str, "a string with the reference solution"))
    test_list = get_str_list(rec, "test_list", where, "a list of assert statements as strings")
    if not test_list:
        raise LoaderError(f"{where}: field 'test_list' is empty (expected at least one assert statement)")
    shadowed = _top_level_names(_parse(code, where, "code", "a valid Python solution"))
    asserts = [normalise_newlines(a).strip() for a in test_list]
    entry = _called_function(asserts[0], shadowed, where, "test_list[0]")
    # public = the first assert: MBPP prompts show it to the solver ("Your code should pass: ...")
    items = [(str(i), f"test_list[{i}]", a, i == 0) for i, a in enumerate(asserts)]
    items += [(f"challenge-{i}", f"challenge_test_list[{i}]", normalise_newlines(a).strip(), False)
              for i, a in enumerate(challenge)]
    return Problem(
        problem_id=f"{source}/{task_id}",
        source=source,
        kind="function",
        statement=statement,
        entry_point=entry,
        solutions=[Solution("ref", code, "correct")],
        tests=_mbpp_tests(items, entry, setup, shadowed, where),
        license="CC-BY-4.0",
    )


def mbpp_problem(rec: dict[str, Any], where: str) -> Problem:
    text = get_field(rec, "text", where, str, "a string with the task description")
    setup = normalise_newlines(get_field(rec, "test_setup_code", where, str, "a string of Python setup code", ""))
    challenge = get_str_list(rec, "challenge_test_list", where, "a list of assert statements as strings", [])
    return _mbpp_common(rec, where, text, setup, challenge, "mbpp")


def mbpp_sanitized_problem(rec: dict[str, Any], where: str) -> Problem:
    prompt = get_field(rec, "prompt", where, str, "a string with the task description")
    imports = get_str_list(rec, "test_imports", where, "a list of import statements as strings", [])
    setup = "\n".join(normalise_newlines(i).strip() for i in imports)
    return _mbpp_common(rec, where, prompt, setup, [], "mbpp_sanitized")
