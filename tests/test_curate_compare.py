"""The comparators, table-driven: final outputs (function values and stdio tokens, float
tolerance 1e-5), one stated value against one rendered trace value, printed text, elided values."""

from __future__ import annotations

import pytest

from curation.matching import consistent_prefix, output_matches, same_exception, same_stdout, same_value

OUTPUTS = [
    # (kind, predicted, actual, equal)
    ("function", "0.30000001", "0.3", True),
    ("function", "0.31", "0.3", False),
    ("function", "1e-07", "0.0", True),  # absolute tolerance near zero
    ("function", "1234567.8", "1234567.9", True),  # relative tolerance
    ("function", "[1, [2, 3.0000001]]", "[1, [2, 3]]", True),
    ("function", "[1, [2, 3.1]]", "[1, [2, 3]]", False),
    ("function", "(1, 2)", "[1, 2]", False),
    ("function", "{'a': 1, 'b': (2.0, None)}", "{'b': (2, None), 'a': 1}", True),
    ("function", "{'a': 1}", "{'a': 1, 'b': 2}", False),
    ("function", "{3, 1, 2}", "{1, 2, 3}", True),
    ("function", "{1, 2}", "{1, 2, 3}", False),
    ("function", "'it\\'s'", "\"it's\"", True),
    ("function", "'say \"hi\"'", "'say \"hi\"'", True),
    ("function", "'abc'", "'abd'", False),
    ("function", "-5", "-5", True),
    ("function", "-5", "5", False),
    ("function", "[-1.5, -0.0]", "[-1.5, 0.0]", True),
    ("function", "None", "None", True),
    ("function", "None", "0", False),
    ("function", "[]", "None", False),
    ("function", "True", "1", False),  # a bool is not a number here
    ("function", "[True, 0]", "[True, False]", False),
    ("function", "Counter({'a': 1})", "Counter({'a': 1})", True),  # not a literal: compared as text
    ("function", "'a\\nb'", "'a\\nb'", True),
    ("stdio", "1 2\n3\n", "1\n2\n3", True),
    ("stdio", "YES\nNO\n", "YES\nYES\n", False),
    ("stdio", "0.333333\n", "0.3333333333\n", True),
    ("stdio", "0.3334\n", "0.3333\n", False),
    ("stdio", "1 2", "1 2 3", False),
    ("stdio", "a\n\nb\n", "a b", True),
    ("stdio", "-3\n", "-3", True),
    ("stdio", "", "", True),
    ("stdio", None, "1\n", False),
]


@pytest.mark.parametrize("kind,predicted,actual,equal", OUTPUTS)
def test_output_matches(kind, predicted, actual, equal):
    assert output_matches(kind, predicted, actual) is equal


VALUES = [
    # (stated, rendered trace value, equal)
    ("15", "15", True),
    ("15", "16", False),
    ("-3", "-3", True),
    ("0.1", "0.10000000000000002", True),
    ("{2, 1}", "{1, 2}", True),
    ("frozenset({1})", "frozenset({1})", True),
    ("[[1, 2], [3]]", "[[1, 2], [3]]", True),
    ("[[1, 2], [3]]", "[[2, 1], [3]]", False),
    ("('a', None)", "('a', None)", True),
    ("None", "None", True),
    ("None", "'None'", False),
    ("1", "True", False),
    ("True", "True", True),
    ("abc", "'abc'", True),  # a string stated without quotes
    ("'abc'", "'abc '", False),
    ('"it\'s"', "\"it's\"", True),
    ("Node(val=1,next=None)", "Node(val=1, next=None)", True),  # object reprs: text, whitespace aside
    ("<map object>", "<map object>", True),
    ("defaultdict(<class 'int'>, {1: 2})", "defaultdict(<class 'int'>, {1: 3})", False),
]


@pytest.mark.parametrize("stated,actual,equal", VALUES)
def test_same_value(stated, actual, equal):
    assert same_value(stated, actual) is equal


@pytest.mark.parametrize("stated,piece,equal", [
    ("'1 2\\n'", "'1 2\\n'", True),
    ("'1 2'", "'1 2\\n'", True),  # the final newline may be left out
    ("1 2", "'1 2\\n'", True),  # bare text
    ("'a\\nb\\n'", "'a\\nb\\n'", True),  # multi-line
    ("'a\\nc\\n'", "'a\\nb\\n'", False),
    ("'1 3'", "'1 2\\n'", False),
])
def test_same_stdout(stated, piece, equal):
    assert same_stdout(stated, piece) is equal


@pytest.mark.parametrize("stated,actual,consistent", [
    ("[0, 1, …(+98 more)]", "[0, 1, …(+98 more)]", True),
    ("[0, 1, 2, 3, 4]", "[0, 1, …(+3 more)]", True),
    ("[0, 2, 2, 3, 4]", "[0, 1, …(+3 more)]", False),
    ("[0, 1, …]", "[0, 1, 2, …(+97 more)]", True),
    ("'abcdefgh'", "'abcd'…(+4 chars)", True),
    ("'abcxefgh'", "'abcd'…(+4 chars)", False),
])
def test_consistent_prefix(stated, actual, consistent):
    assert consistent_prefix(stated, actual) is consistent


def test_same_exception():
    assert same_exception("ZeroDivisionError: division by zero", "ZeroDivisionError: division by zero")
    assert same_exception("ZeroDivisionError", "ZeroDivisionError: division by zero")
    assert not same_exception("ValueError", "ZeroDivisionError: division by zero")


@pytest.mark.parametrize("module", ["claims", "markup", "matching", "normalize", "dedup", "decontam", "verify", "stage"])
def test_doctest_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"curation.{module}"))
    assert result.attempted > 0 and result.failed == 0
