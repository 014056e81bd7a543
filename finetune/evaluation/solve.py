"""Solving with a choice among k candidates, and self-fixing; every final program judged by running
it on all of the problem's tests.

Strategies (each picks one program per problem):
- `sample`: a seeded random candidate (what a user gets without any selection);
- `best-exec`: the candidate that passes the most public tests when run (the upper bound of the rule);
- `best-simulate`: the same rule, but a public test counts as passed when the model, shown the program
  and the test's input only (one prompt per test, never the expected output), predicts the expected output;
- `short`: the shortest candidate;
- `self-fix`: start from the first candidate; each turn the model simulates every public test, then,
  shown its own predictions next to the expected outputs, answers `#SUBMIT` or writes a new program;
  up to `max_turns` turns.

Ties are broken by a random choice seeded with (seed, problem_id), the same for every strategy, so with
the oracle as simulator best-simulate and best-exec pick the same programs. Public tests are those
the statement shows (`Test.public`) and that carry an expected output.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from curation.answers import parse_answer, user_turn
from tracegen.compare import reprs_match, stdout_matches
from tracegen.errors import UserError
from tracegen.records import Problem, Test

from .execute import Executor
from .models import Model, Query
from .passk import mean_pass_at_k

STRATEGIES = ("sample", "best-exec", "best-simulate", "short", "self-fix")
SUBMIT = "#SUBMIT"
REVIEW_INSTRUCTION = (
    "Below are a problem, your program, and for each example test the output you predicted by simulating "
    "your program next to the expected output. If the program is right, answer with exactly #SUBMIT. "
    "Otherwise write the corrected complete program in one ```python block.")


@dataclass(slots=True)
class Choice:
    """What a strategy chose for one problem and how the choice fared on the real tests."""

    problem_id: str
    strategy: str
    index: int  # the candidate chosen (-1: a program the model wrote while self-fixing)
    code: str
    score: int | None = None  # public tests passed (best-exec) or predicted to pass (best-simulate)
    tied: int = 1  # candidates sharing the best score
    turns: int = 0  # self-fix: review prompts sent
    passed: bool = False
    public_passed: bool = False
    private_passed: bool = False
    first_public_passed: bool = False  # self-fix: the program it started from
    first_private_passed: bool = False
    history: list[str] = field(default_factory=list)  # self-fix: what each turn did


def public_tests(problem: Problem) -> list[Test]:
    return [t for t in problem.tests if t.public and t.output is not None and t.check is None]


def tie_break(scores: list[int], seed: int, problem_id: str) -> tuple[int, int]:
    """The index of a best score, drawn among the ties by an RNG seeded with (seed, problem_id),
    and the number of ties.

    >>> tie_break([1, 3, 3, 0], seed=0, problem_id="p")[1]
    2
    >>> tie_break([1, 3, 3, 0], 0, "p") == tie_break([1, 3, 3, 0], 0, "p")
    True
    """
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s == best]
    return random.Random(f"{seed}:{problem_id}").choice(tied), len(tied)


def simulate_queries(problem: Problem, code: str) -> list[Query]:
    """One output-prediction prompt per public test: the program and the input, never the expected output."""
    return [Query([{"role": "user", "content": user_turn(problem.kind, code, t.input, problem.entry_point)}],
                  "output", problem.kind, code, t.input, problem.entry_point) for t in public_tests(problem)]


def predicted_passes(problem: Problem, texts: list[str]) -> list[bool]:
    """Whether each predicted output (one answer text per public test) equals the test's expected output."""
    out = []
    for t, text in zip(public_tests(problem), texts):
        pred = parse_answer(text, problem.kind)
        same = stdout_matches(pred, t.output) if problem.kind == "stdio" else reprs_match(pred, t.output)
        out.append(pred is not None and bool(same))
    return out


class Solver:
    def __init__(self, model: Model, executor: Executor, seed: int = 0, max_turns: int = 2):
        self.model, self.ex, self.seed, self.max_turns = model, executor, seed, max_turns

    # ------------------------------------------------------------------ candidates
    def generate(self, problems: list[Problem], k: int) -> dict[str, list[str]]:
        """k programs per problem written by the model (an unreadable answer is an empty program)."""
        from curation.answers import parse_program

        queries = [Query([{"role": "user", "content": _solve_prompt(p)}], "solve", p.kind, entry_point=p.entry_point)
                   for p in problems]
        texts = self.model.complete(queries, n=k, seed=self.seed)
        return {p.problem_id: [parse_program(x) or "" for x in xs] for p, xs in zip(problems, texts)}

    def exec_scores(self, problem: Problem, codes: list[str]) -> list[int]:
        tests = public_tests(problem)
        jobs = [(c, t) for c in codes for t in tests]
        ok = self.ex.map(lambda j: bool(self.ex.run(problem.kind, j[0], problem.entry_point, j[1]).passed), jobs)
        return [sum(ok[i * len(tests):(i + 1) * len(tests)]) for i in range(len(codes))]

    def simulate_scores(self, problem: Problem, codes: list[str]) -> list[int]:
        queries = [q for c in codes for q in simulate_queries(problem, c)]
        texts = [xs[0] for xs in self.model.complete(queries, n=1, seed=self.seed)] if queries else []
        per = len(public_tests(problem))
        return [sum(predicted_passes(problem, texts[i * per:(i + 1) * per])) for i in range(len(codes))]

    def choose(self, strategy: str, problem: Problem, codes: list[str]) -> Choice:
        pid = problem.problem_id
        if strategy == "sample":
            i = random.Random(f"{self.seed}:{pid}:sample").randrange(len(codes))
            return Choice(pid, strategy, i, codes[i])
        if strategy == "short":
            i, tied = tie_break([-len(c) for c in codes], self.seed, pid)
            return Choice(pid, strategy, i, codes[i], tied=tied)
        if strategy in ("best-exec", "best-simulate"):
            scores = (self.exec_scores if strategy == "best-exec" else self.simulate_scores)(problem, codes)
            i, tied = tie_break(scores, self.seed, pid)
            return Choice(pid, strategy, i, codes[i], score=scores[i], tied=tied)
        if strategy == "self-fix":
            return self.self_fix(problem, codes[0])
        raise UserError(f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")

    # ------------------------------------------------------------------ self-fix
    def self_fix(self, problem: Problem, code: str) -> Choice:
        from curation.answers import parse_program

        choice = Choice(problem.problem_id, "self-fix", 0, code)
        for _ in range(self.max_turns):
            queries = simulate_queries(problem, choice.code)
            texts = [xs[0] for xs in self.model.complete(queries, n=1, seed=self.seed)] if queries else []
            review = Query([{"role": "user", "content": _review_prompt(problem, choice.code, texts)}], "review",
                           problem.kind, choice.code, entry_point=problem.entry_point)
            reply = self.model.complete([review], n=1, seed=self.seed)[0][0]
            choice.turns += 1
            new = parse_program(reply)
            if new is None:  # #SUBMIT, or nothing readable: the program stands
                choice.history.append("submit" if SUBMIT in reply else "unreadable")
                break
            choice.history.append("rewrite")
            choice.code, choice.index = new, -1
        return choice

    # ------------------------------------------------------------------ judging
    def judge(self, problem: Problem, choice: Choice, first: str | None = None) -> Choice:
        public = [t for t in problem.tests if t.public]
        private = [t for t in problem.tests if not t.public]
        choice.public_passed = self.ex.passes_all(problem.kind, choice.code, problem.entry_point, public)
        choice.private_passed = self.ex.passes_all(problem.kind, choice.code, problem.entry_point, private)
        choice.passed = choice.public_passed and choice.private_passed
        if first is not None:
            choice.first_public_passed = self.ex.passes_all(problem.kind, first, problem.entry_point, public)
            choice.first_private_passed = self.ex.passes_all(problem.kind, first, problem.entry_point, private)
        return choice

    def judge_all(self, problem: Problem, codes: list[str]) -> int:
        """How many candidates pass every test (for the unbiased pass@k of the candidates)."""
        return sum(self.ex.map(lambda c: self.ex.passes_all(problem.kind, c, problem.entry_point, problem.tests),
                               codes))


def solve(problems: list[Problem], model: Model, executor: Executor, strategies: tuple[str, ...],
          candidates: dict[str, list[str]] | None = None, k: int = 10, max_turns: int = 2, seed: int = 0,
          judge_all: bool = False, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run each strategy on each problem and judge the chosen programs on all tests; see the module doc.
    `on_progress(done, total)` is called after each problem."""
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise UserError(f"unknown strategy {bad[0] if bad else ''!r}: use one or more of {', '.join(STRATEGIES)}")
    if k < 1 or max_turns < 1:
        raise UserError(f"--k {k} / --max-turns {max_turns}: both must be at least 1")
    if not getattr(model, "writes_programs", True) and (candidates is None or "self-fix" in strategies):
        raise UserError(f"{model.name} runs programs but cannot write them: `self-fix` and solving without "
                        "--candidates need a real model (the oracle can only simulate candidates' tests)")
    solver = Solver(model, executor, seed, max_turns)
    if candidates is None:
        candidates = solver.generate(problems, k)
    todo = [(p, candidates[p.problem_id][:k]) for p in problems if candidates.get(p.problem_id)]
    if not todo:
        raise UserError("no problem has a candidate program")
    choices: dict[str, list[Choice]] = {s: [] for s in strategies}
    counts: list[tuple[int, int]] = []
    for done, (problem, codes) in enumerate(todo, 1):
        for s in strategies:
            c = solver.choose(s, problem, codes)
            choices[s].append(solver.judge(problem, c, first=codes[0] if s == "self-fix" else None))
        if judge_all:
            counts.append((len(codes), solver.judge_all(problem, codes)))
        if on_progress:
            on_progress(done, len(todo))
    return summarize(choices, counts, len(todo), k, seed, model.name)


def summarize(choices: dict[str, list[Choice]], counts: list[tuple[int, int]], n: int, k: int, seed: int,
              model_name: str) -> dict[str, Any]:
    per: dict[str, Any] = {}
    for s, cs in choices.items():
        row: dict[str, Any] = {"pass@1": sum(c.passed for c in cs) / n, "solved": sum(c.passed for c in cs), "n": n,
                               "public_pass": sum(c.public_passed for c in cs) / n,
                               "private_pass": sum(c.private_passed for c in cs) / n,
                               "ties": sum(c.tied > 1 for c in cs)}
        if s == "self-fix":
            row["avg_turns"] = sum(c.turns for c in cs) / n
            row["fix_break"] = {scope: _matrix([(getattr(c, f"first_{scope}_passed"), getattr(c, f"{scope}_passed"))
                                                for c in cs]) for scope in ("public", "private")}
        per[s] = row
    result: dict[str, Any] = {"benchmark": "solve", "model": model_name, "seed": seed, "k": k, "n": n,
                              "strategies": per}
    first = per[next(iter(per))]
    result["pass@1"] = first["pass@1"]
    if "best-exec" in per:
        result["best@k_exec"] = per["best-exec"]["pass@1"]
    if "best-simulate" in per:
        result["best@k_simulate"] = per["best-simulate"]["pass@1"]
    if "best-exec" in per and "best-simulate" in per:
        result["gap"] = result["best@k_exec"] - result["best@k_simulate"]
    if "short" in per:
        result["short@k"] = per["short"]["pass@1"]
    if counts:
        ks = sorted({1, 2, 5, 10, k} & set(range(1, k + 1)))
        result["candidates"] = {f"pass@{j}": mean_pass_at_k(counts, j) for j in ks}
        result["candidates"]["random"] = result["candidates"]["pass@1"]  # a random pick's expected pass rate
    result["problems"] = [{"problem_id": c.problem_id, "strategy": c.strategy, "index": c.index, "score": c.score,
                           "tied": c.tied, "turns": c.turns, "passed": c.passed, "history": c.history}
                          for cs in choices.values() for c in cs]
    return result


def _matrix(pairs: list[tuple[bool, bool]]) -> dict[str, int]:
    name = {True: "pass", False: "fail"}
    out = {f"{a}->{b}": 0 for a in ("fail", "pass") for b in ("pass", "fail")}
    for before, after in pairs:
        out[f"{name[before]}->{name[after]}"] += 1
    return out


def _solve_prompt(p: Problem) -> str:
    from curation.answers import solve_turn  # the solving prompt the `rl` config's solve rows use

    return solve_turn(p.kind, p.statement, p.entry_point, [(t.input, t.output or "") for t in public_tests(p)])


def _review_prompt(p: Problem, code: str, texts: list[str]) -> str:
    lines = [REVIEW_INSTRUCTION, "", p.statement.strip(), "", "Your program:", f"```python\n{code.rstrip()}\n```"]
    for t, text in zip(public_tests(p), texts):
        pred = parse_answer(text, p.kind)
        shown = "(no readable prediction)" if pred is None else pred
        lines += ["", f"Test input: {t.input.strip()}", f"Your simulated output: {shown}",
                  f"Expected output: {(t.output or '').strip()}"]
    return "\n".join(lines)
