"""Output comparison shared by the trace stage (matches_expected) and curation (verification).

Function outputs compare as Python values (`ast.literal_eval`), floats within 1e-5 (relative or
absolute), containers element-wise. Stdio outputs compare whitespace-separated tokens with the
same float tolerance: CodeContests outputs lost their trailing whitespace upstream, and many
problems print floats whose last digit differs between correct solutions.
"""

from __future__ import annotations

import ast
import math
from typing import Any

FLOAT_TOL = 1e-5
MISSING = object()  # what parse_literal returns for text that is not a Python literal


def parse_literal(text: str | None) -> Any:
    """The Python value a repr stands for, or MISSING when it is not a literal.

    >>> parse_literal("[1, (2, 'a')]")
    [1, (2, 'a')]
    """
    if text is None:
        return MISSING
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return MISSING


def values_equal(a: Any, b: Any, tol: float = FLOAT_TOL) -> bool:
    """Equality with float tolerance, recursing into containers.

    >>> values_equal([1.0, {"a": 0.300001}], [1, {"a": 0.3}])
    True
    >>> values_equal((1, 2), [1, 2])
    False
    >>> values_equal(0, False)
    True
    """
    if isinstance(a, bool) or isinstance(b, bool):
        # as `==` sees them: MBPP expects `False` where solutions return 0
        return isinstance(a, int) and isinstance(b, int) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k], tol) for k in a)
    return a == b


def reprs_match(actual: str | None, expected: str | None) -> bool | None:
    """Compare a return value's repr with the expected repr; None when nothing is expected.

    >>> reprs_match("0.30000000000000004", "0.3")
    True
    """
    if expected is None:
        return None
    if actual is None:
        return False
    a, b = parse_literal(actual), parse_literal(expected)
    if a is MISSING or b is MISSING:
        return actual.strip() == expected.strip()
    return values_equal(a, b)


def stdout_matches(actual: str | None, expected: str | None, tol: float = FLOAT_TOL) -> bool | None:
    """Token-wise stdout comparison with float tolerance.

    >>> stdout_matches("1 2\\n3.0000001\\n", "1 2 3")
    True
    """
    if expected is None:
        return None
    if actual is None:
        return False
    xs, ys = actual.split(), expected.split()
    if len(xs) != len(ys):
        return False
    for x, y in zip(xs, ys):
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if not math.isclose(fx, fy, rel_tol=tol, abs_tol=tol):
            return False
    return True
