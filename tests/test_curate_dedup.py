"""Normalisation, exact dedup and MinHash near-dedup: what counts as the same program, and that
the choice of the kept row depends only on the rows, never on their order."""

from __future__ import annotations

import random

import pytest

from curation.dedup import exact_duplicates, minhash_of, near_duplicate_programs
from curation.normalize import canonical_dump, canonical_tokens, code_key, dedup_key

SAME = [
    # renamed locals, arguments and the function itself; docstring, comments, annotations, layout
    ("def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total",
     "def add_all(items: list[int]) -> int:\n    '''Sum.'''\n    s = 0  # running sum\n    for it in items:\n"
     "        s += it\n    return s"),
    ("def f(text):\n    return text.upper()", "def g(s): return s.upper()"),
    ("n = int(input())\nprint(n * 2)", "m = int(input())\n\n\nprint(m*2)\n"),
    ("def f(a, b=1):\n    return a + b\n\ndef g():\n    return f(2, b=3)",
     "def h(x, y=1):\n    return x + y\n\ndef k():\n    return h(2, y=3)"),
]
DIFFERENT = [
    ("def f(xs):\n    return max(xs)", "def f(xs):\n    return min(xs)"),  # builtins are kept
    ("def f(s):\n    return s.upper()", "def f(s):\n    return s.lower()"),  # attributes are kept
    ("def f(a, b):\n    return a - b", "def f(a, b):\n    return b - a"),  # binding order matters
    ("import math\nprint(math.pi)", "import cmath\nprint(cmath.pi)"),  # imported names are kept
]


@pytest.mark.parametrize("a,b", SAME)
def test_same_program_after_normalisation(a, b):
    assert canonical_dump(a) == canonical_dump(b)
    assert code_key(a) == code_key(b)
    assert canonical_tokens(a) == canonical_tokens(b)


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_programs_stay_different(a, b):
    assert code_key(a) != code_key(b)


def test_unparsable_code_still_gets_a_key():
    py2 = "print 'hello'\nx = raw_input()"
    assert code_key(py2) == code_key("print 'hello'\n  x = raw_input()  ".replace("\n  ", "\n"))
    assert code_key(py2) != code_key("print 'bye'")
    assert canonical_tokens(py2)[:2] == ["print", "'"]


def test_dedup_key_is_program_plus_input():
    a, b = SAME[0]
    assert dedup_key(a, "[1, 2]") == dedup_key(b, "[1, 2]\n")
    assert dedup_key(a, "[1, 2]") != dedup_key(a, "[2, 1]")
    assert dedup_key("print(input())", "1\r\n2") == dedup_key("print(input())", "1\n2\n")


def test_exact_duplicates_keep_the_smallest_sort_key_whatever_the_order():
    rows = [(("b", "2"), "k1", "r1"), (("a", "9"), "k1", "r2"), (("a", "1"), "k2", "r3"), (("c",), "k1", "r4")]
    want = {"r1": "r2", "r4": "r2"}
    for seed in range(5):
        random.Random(seed).shuffle(rows)
        assert exact_duplicates(rows) == want


PROGRAMS = {
    "p1": "def f(xs):\n    out = []\n    for x in xs:\n        if x % 2 == 0:\n            out.append(x * x)\n    return sorted(out)",
    "p2": "def g(items):\n    res = []\n    for it in items:\n        if it % 2 == 0:\n            res.append(it * it)\n    return sorted(res)",
    "p3": "def f(xs):\n    out = []\n    for x in xs:\n        if x % 2 == 0:\n            out.append(x * x)\n    return sorted(out, reverse=True)",
    "p4": "def f(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
}


def test_near_duplicates_cluster_and_keep_one_deterministically():
    sigs = {k: minhash_of(v) for k, v in PROGRAMS.items()}
    order = {"p1": ("b",), "p2": ("a",), "p3": ("c",), "p4": ("d",)}
    got = near_duplicate_programs(sigs, order, threshold=0.7)
    assert set(got) == {"p1", "p3"} and {v[0] for v in got.values()} == {"p2"}  # p2 sorts first
    assert got["p1"][1] == 1.0  # renamed copy
    assert near_duplicate_programs(sigs, order, threshold=0.99).keys() == {"p1"}  # p3 differs a little
    shuffled = dict(sorted(sigs.items(), key=lambda kv: random.Random(3).random()))
    assert near_duplicate_programs(shuffled, order, threshold=0.7) == got
    again = {k: minhash_of(v) for k, v in PROGRAMS.items()}  # fixed seed: same signatures every time
    assert all((again[k].hashvalues == sigs[k].hashvalues).all() for k in PROGRAMS)
