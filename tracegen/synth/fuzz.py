"""Type-directed fuzzing of function arguments, from the seed inputs a problem ships.

A seed input is the Python source of an argument list (`"[1, 2], 'ab'"`). Its values are read as
literals, and a new candidate changes one or two of them in a way that keeps each one's type: ints and
floats move within (a little beyond) the range the seeds show, or take an edge value (0, 1, -1);
strings and lists grow, shrink or change an element, staying within the lengths the seeds show (plus a
little); tuples keep their length; dicts change a value or gain/lose a key; nesting recurses. The
shape of the input is what the program was written for, so most candidates run `ok`.
"""

from __future__ import annotations

import ast
import random
import string
from dataclasses import dataclass, field
from typing import Any

from ..loaders.function_sets import stable_repr


def parse_args(source: str) -> tuple[Any, ...] | None:
    """The argument values of a literal argument list, or None (keywords, names, calls)."""
    try:
        tree = ast.parse(f"f({source})", mode="eval")
    except (SyntaxError, ValueError):
        return None
    call = tree.body
    if not isinstance(call, ast.Call) or call.keywords or any(isinstance(a, ast.Starred) for a in call.args):
        return None
    try:
        return tuple(ast.literal_eval(a) for a in call.args)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def args_source(values: tuple[Any, ...]) -> str:
    """The argument list as source, in the loaders' stable form.

    >>> args_source(([1, 2], 'a', {3}))
    "[1, 2], 'a', {3}"
    """
    return ", ".join(stable_repr(v) for v in values)


@dataclass
class Observed:
    """What the seeds show: numeric ranges, lengths, the characters strings use."""

    low: float = 0
    high: float = 10
    max_len: int = 5
    alphabet: str = ""
    ints: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, seeds: list[tuple[Any, ...]]) -> Observed:
        nums: list[float] = []
        lens: list[int] = []
        chars: set[str] = set()

        def walk(v: Any) -> None:
            if isinstance(v, bool):
                return
            if isinstance(v, (int, float)):
                nums.append(v)
            elif isinstance(v, str):
                lens.append(len(v))
                chars.update(v)
            elif isinstance(v, (list, tuple, set, frozenset)):
                lens.append(len(v))
                for x in v:
                    walk(x)
            elif isinstance(v, dict):
                lens.append(len(v))
                for k, x in v.items():
                    walk(k)
                    walk(x)

        for seed in seeds:
            for v in seed:
                walk(v)
        return cls(low=min(nums, default=0), high=max(nums, default=10), max_len=max(lens, default=5),
                   alphabet="".join(sorted(chars)) or string.ascii_lowercase,
                   ints=sorted({int(n) for n in nums if isinstance(n, int)}))


def _int(v: int, obs: Observed, rng: random.Random) -> int:
    choice = rng.random()
    if choice < 0.25:
        return rng.choice([0, 1, -1, v + 1, v - 1])
    if choice < 0.4 and obs.ints:
        return rng.choice(obs.ints)
    span = max(2, int(obs.high - obs.low))
    return rng.randint(int(obs.low) - span // 4, int(obs.high) + span // 4)


def _str(v: str, obs: Observed, rng: random.Random) -> str:
    alphabet = obs.alphabet
    op = rng.randrange(6)
    if op == 0 or not v:
        return v + rng.choice(alphabet) if len(v) < obs.max_len + 2 else v[:-1]
    i = rng.randrange(len(v))
    if op == 1:
        return v[:i] + v[i + 1:]
    if op == 2:
        return v[:i] + rng.choice(alphabet) + v[i + 1:]
    if op == 3:
        return v.swapcase() if rng.random() < 0.5 else v[::-1]
    if op == 4:
        return "" if rng.random() < 0.3 else "".join(rng.choice(alphabet) for _ in range(rng.randint(1, obs.max_len + 1)))
    return v[:i] + v[i] + v[i:]


def _seq(v: list, obs: Observed, rng: random.Random) -> list:
    v = list(v)
    op = rng.randrange(5)
    if op == 0 and len(v) < obs.max_len + 2 and v:
        v.insert(rng.randrange(len(v) + 1), mutate_value(rng.choice(v), obs, rng))
    elif op == 1 and v:
        del v[rng.randrange(len(v))]
    elif op == 2 and v:
        i = rng.randrange(len(v))
        v[i] = mutate_value(v[i], obs, rng)
    elif op == 3:
        rng.shuffle(v)
    elif v:
        v = [] if rng.random() < 0.2 else v[: rng.randint(1, len(v))]
    return v


def mutate_value(v: Any, obs: Observed, rng: random.Random) -> Any:
    """Another value of the same type (containers keep their element types)."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return _int(v, obs, rng)
    if isinstance(v, float):
        return rng.choice([0.0, -v, v * 2, v + 0.5, round(rng.uniform(obs.low, obs.high), 2)])
    if isinstance(v, str):
        return _str(v, obs, rng)
    if isinstance(v, list):
        return _seq(v, obs, rng)
    if isinstance(v, tuple):
        if not v:
            return v
        i = rng.randrange(len(v))
        return v[:i] + (mutate_value(v[i], obs, rng),) + v[i + 1:]
    if isinstance(v, (set, frozenset)):
        return type(v)(_seq(sorted(v, key=repr), obs, rng))
    if isinstance(v, dict):
        items = list(v.items())
        if items and rng.random() < 0.6:
            k, x = rng.choice(items)
            return {**v, k: mutate_value(x, obs, rng)}
        if items and rng.random() < 0.5:
            k = rng.choice(items)[0]
            return {kk: xx for kk, xx in items if kk != k}
        if items:
            k, x = rng.choice(items)
            new_key = mutate_value(k, obs, rng)
            try:
                return {**v, new_key: x}
            except TypeError:  # an unhashable key: leave the dict as it is
                return v
        return v
    return v  # None and other literals: kept


def candidate(seeds: list[tuple[Any, ...]], obs: Observed, rng: random.Random) -> tuple[int, tuple[Any, ...]]:
    """(index of the seed it came from, new argument values): one or two arguments changed."""
    i = rng.randrange(len(seeds))
    values = list(seeds[i])
    if not values:
        return i, ()
    for _ in range(1 if rng.random() < 0.7 else 2):
        j = rng.randrange(len(values))
        values[j] = mutate_value(values[j], obs, rng)
    return i, tuple(values)
