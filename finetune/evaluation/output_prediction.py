"""Output prediction on whole programs (the paper's LCB-IO-Out / DMC-Out measure): code + stdin ->
what the program prints, compared token by token with float tolerance, as the verifier compares.

The truth is what the program really prints, run in the sandbox (not the test's expected output: a
solution may fail a test, and the question is what this code does). Runs that do not finish normally
(timeout, error) have no output to predict and are counted, not scored. Function problems work too
(the truth is the return value's repr).
"""

from __future__ import annotations

from typing import Any

from curation.answers import parse_answer, user_turn
from tracegen.compare import reprs_match, stdout_matches
from tracegen.errors import UserError
from tracegen.records import Problem, Test

from .execute import Executor
from .models import Model, Query
from .passk import mean_pass_at_k

KS = (1, 5)


def evaluate(problems: list[Problem], model: Model, executor: Executor, n: int = 1, seed: int = 0,
             tests_per_problem: int = 1) -> dict[str, Any]:
    """pass@k of predicting each program's real output on its first `tests_per_problem` tests."""
    if n < 1 or tests_per_problem < 1:
        raise UserError(f"--n {n} / --tests-per-problem {tests_per_problem}: both must be at least 1")
    pairs = [(p, t) for p in problems if p.solutions for t in p.tests[:tests_per_problem] if t.check is None]
    if not pairs:
        raise UserError("no problem with a solution and a test input to predict the output of")
    runs = executor.map(lambda pt: executor.run(pt[0].kind, pt[0].solutions[0].code, pt[0].entry_point,
                                                Test("truth", pt[1].input)), pairs)
    items = [(p, t, r.stdout if p.kind == "stdio" else r.value_repr)
             for (p, t), r in zip(pairs, runs) if r.status == "ok"]
    not_ok: dict[str, int] = {}
    for r in runs:
        if r.status != "ok":
            not_ok[r.status] = not_ok.get(r.status, 0) + 1
    if not items:
        raise UserError(f"none of the {len(pairs)} programs finished normally ({not_ok}); nothing to predict")
    queries = [Query([{"role": "user", "content": user_turn(p.kind, p.solutions[0].code, t.input, p.entry_point)}],
                     "output", p.kind, p.solutions[0].code, t.input, p.entry_point) for p, t, _ in items]
    texts = model.complete(queries, n=n, seed=seed)
    right, preds = [], []
    for (p, _, truth), xs in zip(items, texts):
        ps = [parse_answer(x, p.kind) for x in xs]
        preds.append(ps)
        right.append([q is not None and bool(stdout_matches(q, truth) if p.kind == "stdio" else reprs_match(q, truth))
                      for q in ps])
    counts = [(n, sum(r)) for r in right]
    result: dict[str, Any] = {"benchmark": "output-prediction", "model": model.name, "samples": n, "seed": seed,
                              "n": len(items), "not_run_ok": not_ok, "correct_items": sum(c > 0 for _, c in counts),
                              "unparsed": sum(q is None for ps in preds for q in ps)}
    result.update({f"pass@{k}": mean_pass_at_k(counts, k) if k <= n else None for k in KS})
    result["items"] = [{"problem_id": p.problem_id, "test_id": t.test_id, "correct": sum(r), "samples": n}
                       for (p, t, _), r in zip(items, right)]
    return result
