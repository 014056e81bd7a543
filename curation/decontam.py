"""Decontamination: drop rows whose program overlaps a benchmark program.

Benchmark files are JSONL / JSON (a list) / .gz of either, in the formats of CRUXEval (`code`),
HumanEval (`prompt` + `canonical_solution`), MBPP (`code`), LiveCodeBench-style records (`code`,
`solution`, `solutions`, or `question_content` + `starter_code` when no solution is given) and
CodeContests (`solutions.solution`). Programs are normalised (normalize.py: own names renamed,
docstrings, comments and annotations gone) and cut into token n-grams; a row's overlap with a
benchmark item is |shared n-grams| / min(|row n-grams|, |item n-grams|), so a row that contains
a whole benchmark function counts as well as one that is contained in it; a side with fewer than
MIN_GRAMS (20) n-grams counts as 20 (a one-line `return len(s)` is in many programs),
unless the two programs are the same. Overlap at or above the threshold (0.8 by default) drops
the row, counted by benchmark.

    >>> idx = BenchmarkIndex.build([("bench", [("b1", "def f(xs):\\n    total = 0\\n    for x in xs:\\n        total += x * x\\n    return total")])], n=8)
    >>> idx.check("def g(a):\\n    s = 0\\n    for v in a:\\n        s += v * v\\n    return s").benchmark
    'bench'
    >>> idx.check("def g(a):\\n    return max(a) - min(a)") is None
    True
"""

from __future__ import annotations

import gzip
import json
import pickle
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from tracegen.errors import UserError

from .normalize import canonical_tokens, ngrams

DEFAULT_NGRAM = 10
DEFAULT_THRESHOLD = 0.8
MIN_GRAMS = 20  # a side with fewer n-grams counts as this many, unless the two are the same program


class BenchmarkError(UserError):
    """A benchmark file cannot be read or holds no program; the message says which and why."""


@dataclass(slots=True)
class Hit:
    benchmark: str
    item: str
    overlap: float

    def describe(self) -> str:
        return f"{self.benchmark}:{self.item} (overlap {self.overlap:.2f})"


@dataclass
class BenchmarkIndex:
    n: int = DEFAULT_NGRAM
    threshold: float = DEFAULT_THRESHOLD
    items: list[tuple[str, str, int]] = field(default_factory=list)  # (benchmark, item id, n-gram count)
    postings: dict[int, list[int]] = field(default_factory=dict)  # n-gram hash -> item indices
    counts: dict[str, int] = field(default_factory=dict)  # benchmark -> programs indexed

    @classmethod
    def build(cls, benchmarks: Iterable[tuple[str, Iterable[tuple[str, str]]]], n: int = DEFAULT_NGRAM,
              threshold: float = DEFAULT_THRESHOLD) -> BenchmarkIndex:
        """From (name, [(item id, code), ...]) pairs."""
        idx = cls(n=n, threshold=threshold)
        for name, programs in benchmarks:
            for item_id, code in programs:
                grams = ngrams(canonical_tokens(code), n)
                if not grams:
                    continue
                k = len(idx.items)
                idx.items.append((name, item_id, len(grams)))
                for g in grams:
                    idx.postings.setdefault(g, []).append(k)
                idx.counts[name] = idx.counts.get(name, 0) + 1
        return idx

    def check(self, code: str) -> Hit | None:
        """The benchmark item this program overlaps most, if at or above the threshold."""
        grams = ngrams(canonical_tokens(code), self.n)
        if not grams or not self.items:
            return None
        hits: Counter = Counter()
        for g in grams:
            for k in self.postings.get(g, ()):
                hits[k] += 1
        best_k, best = -1, -1.0
        for k in sorted(hits):  # ties go to the first item indexed: deterministic
            size = self.items[k][2]
            shared = hits[k]
            if shared == size == len(grams):
                overlap = 1.0  # the same program, however short
            else:
                overlap = shared / max(min(len(grams), size), MIN_GRAMS)
            if overlap > best:
                best_k, best = k, overlap
        if best < self.threshold:
            return None
        name, ident, _ = self.items[best_k]
        return Hit(name, ident, round(best, 4))

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> BenchmarkIndex:
        return pickle.loads(path.read_bytes())


def read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise BenchmarkError(f"cannot read benchmark file {path}: {exc}") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}: not valid JSON ({exc})") from exc
        return [r for r in data if isinstance(r, dict)]
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BenchmarkError(f"{path}:{lineno}: not a JSON line ({exc})") from exc
        if isinstance(rec, dict):
            out.append(rec)
    return out


def programs_of(record: dict[str, Any]) -> list[str]:
    """The program text(s) of one benchmark record, whatever its format."""
    if isinstance(record.get("canonical_solution"), str):  # HumanEval
        return [str(record.get("prompt") or "") + record["canonical_solution"]]
    for key in ("code", "solution", "completion"):
        if isinstance(record.get(key), str) and record[key].strip():
            return [record[key]]
    sols = record.get("solutions")
    if isinstance(sols, dict):  # CodeContests: {"language": [...], "solution": [...]}
        sols = sols.get("solution")
    if isinstance(sols, str):
        try:
            sols = json.loads(sols)  # APPS / TACO keep them as a JSON string
        except json.JSONDecodeError:
            sols = [sols]
    if isinstance(sols, list) and sols:
        return [s for s in sols if isinstance(s, str) and s.strip()]
    if isinstance(record.get("starter_code"), str) and record["starter_code"].strip():
        return [record["starter_code"]]  # LiveCodeBench code generation: no solutions shipped
    return []


def item_id(record: dict[str, Any], i: int) -> str:
    for key in ("task_id", "id", "question_id", "problem_id", "name"):
        if record.get(key) not in (None, ""):
            return str(record[key])
    return str(i)


def load_benchmark(name: str, path: str | Path) -> list[tuple[str, str]]:
    """[(item id, program)] of one benchmark file; fails loudly when it holds no program."""
    path = Path(path)
    if not path.exists():
        raise BenchmarkError(f"benchmark file not found: {path} (benchmark {name!r})")
    out = []
    records = read_records(path)
    for i, rec in enumerate(records):
        for j, code in enumerate(programs_of(rec)):
            ident = item_id(rec, i)
            out.append((ident if j == 0 else f"{ident}#{j}", code))
    if not out:
        raise BenchmarkError(
            f"{path}: no programs found in {len(records)} records (benchmark {name!r}); expected a field "
            "`code`, `solution`, `solutions`, `prompt` + `canonical_solution` or `starter_code`")
    return out


def build_index(benchmarks: list[tuple[str, str]], n: int = DEFAULT_NGRAM,
                threshold: float = DEFAULT_THRESHOLD) -> BenchmarkIndex:
    """An index over benchmark files given as (name, path)."""
    return BenchmarkIndex.build([(name, load_benchmark(name, path)) for name, path in benchmarks], n, threshold)
