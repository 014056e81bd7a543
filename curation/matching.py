"""Comparing a value a narration states with the value the program really had.

Built on tracegen.compare (literal parsing, float tolerance 1e-5, containers element-wise):
- `output_matches` is the final-output check: function outputs as Python values, stdio outputs as
  whitespace-separated tokens (multi-line stdout included), both with float tolerance.
- `same_value` compares one stated value with one rendered trace value. It is stricter than `==`
  in one way: a bool and a number never match (`flag` became `True`, not `1`), at any depth.
  Values that are not literals (object reprs such as `<map object>`, `deque([1])`) compare as
  text with whitespace removed; a bare word matches a string value with that content.
- `consistent_prefix` is all that can be said about an elided value (`[0, 1, …(+98 more)]`):
  the visible parts must agree.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from tracegen.compare import FLOAT_TOL, MISSING, parse_literal, reprs_match, stdout_matches, values_equal

ELLIPSIS = "…"
_UNSET = object()
_SPACE = re.compile(r"\s+")
literal = parse_literal  # the value of a Python literal, or MISSING


@lru_cache(maxsize=4096)
def literal_cached(text: str) -> Any:
    """`literal` for claim values, which are parsed by the parser and again by every comparison;
    the value returned is shared, so callers must not mutate it."""
    return literal(text)


def output_matches(kind: str, predicted: str | None, actual: str | None) -> bool:
    """The narration's [OUTPUT] against the program's true output.

    >>> output_matches("function", "[1, 0.30000001]", "[1, 0.3]")
    True
    >>> output_matches("stdio", "1 2\\n3\\n", "1\\n2\\n3\\n")
    True
    >>> output_matches("function", "(1, 2)", "[1, 2]")
    False
    """
    if predicted is None or actual is None:
        return False
    if kind == "stdio":
        return bool(stdout_matches(predicted, actual))
    a, b = literal(predicted), literal(actual)
    if a is not MISSING and b is not MISSING:
        return values_equal(a, b) and _same_bools(a, b)
    return bool(reprs_match(predicted, actual))


def same_value(stated: str, actual: str, parsed_actual: Any = _UNSET, tol: float = FLOAT_TOL,
               parsed_stated: Any = _UNSET) -> bool:
    """Whether a stated value is the (non-elided) rendered value `actual`.

    >>> same_value("0.3", "0.30000000000000004"), same_value("{2, 1}", "{1, 2}")
    (True, True)
    >>> same_value("1", "True"), same_value("'it\\\\'s'", '"it\\'s"')
    (False, True)
    """
    a = literal(stated) if parsed_stated is _UNSET else parsed_stated
    b = literal(actual) if parsed_actual is _UNSET else parsed_actual
    if a is not MISSING and b is not MISSING:
        return values_equal(a, b, tol) and _same_bools(a, b)
    if a is MISSING and isinstance(b, str):
        return stated.strip() == b  # a string stated without its quotes
    return _SPACE.sub("", stated) == _SPACE.sub("", actual)


def _same_bools(a: Any, b: Any) -> bool:
    """No bool faces a non-bool anywhere in the two (already values_equal) structures."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return all(_same_bools(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return all(_same_bools(a[k], b[k]) for k in a if k in b)
    return True


def visible(text: str) -> str:
    """The part of a rendered value before its first elision mark, without the trailing
    separator or closing quote the renderer put before the mark."""
    head = text.split(ELLIPSIS, 1)[0]
    return head.rstrip().rstrip(",").rstrip().rstrip("'\"")


def consistent_prefix(stated: str, actual: str) -> bool:
    """Whether a stated value and an elided trace value (or an elided statement and a full
    value) agree on what both show.

    >>> consistent_prefix("[0, 1, 2, 3, 4]", "[0, 1, …(+3 more)]")
    True
    >>> consistent_prefix("[0, 2, 2, 3, 4]", "[0, 1, …(+3 more)]")
    False
    """
    if stated == actual:
        return True
    a = visible(stated) if ELLIPSIS in stated else stated
    b = visible(actual) if ELLIPSIS in actual else actual
    a, b = _SPACE.sub(" ", a), _SPACE.sub(" ", b)
    return a.startswith(b) or b.startswith(a)


def same_stdout(stated: str, piece_repr: str) -> bool:
    """A stated printed text against the repr of what one line printed. The statement may be a
    string literal (`'1\\n'`, with or without the final newline) or the bare text (`1`).

    >>> same_stdout("'1 2\\\\n'", "'1 2\\\\n'"), same_stdout("1 2", "'1 2\\\\n'"), same_stdout("'1 3'", "'1 2\\\\n'")
    (True, True, False)
    """
    piece = literal(piece_repr)
    if not isinstance(piece, str):
        return _SPACE.sub("", stated) == _SPACE.sub("", piece_repr)
    said = literal(stated)
    if isinstance(said, str) and (said == piece or said == piece.rstrip("\n")):
        return True
    return stated.strip() == piece.strip() or (isinstance(said, str) and said.strip() == piece.strip())


def same_exception(stated: str, actual: str) -> bool:
    """`ValueError: bad` against the trace's `ValueError: bad`; the type alone also matches."""
    s, a = _SPACE.sub(" ", stated).strip(), _SPACE.sub(" ", actual).strip()
    return s == a or s == a.split(":", 1)[0].strip()
