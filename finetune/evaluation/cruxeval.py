"""CRUXEval: output prediction (-O: code + input -> the return value) and input prediction (-I:
code + output -> an input that gives it), scored with unbiased pass@k.

    result = evaluate(problems, model, n=1, seed=0)            # -O only
    result["pass@1"], result["output"]["correct_items"]

Prompts and answer parsing are the project's one format (`curation.answers`): the same prompt the
`sft` config trains on. An output prediction is right when its literal equals the benchmark's output
(`tracegen.compare.reprs_match`: float tolerance 1e-5); an input prediction is right when running the
function on it in the sandbox gives the output. Works for any function problem whose tests carry an
expected output (MBPP, HumanEval literal tests), one item per (problem, test).
"""

from __future__ import annotations

from typing import Any

from curation.answers import input_turn, parse_answer, parse_input_answer, user_turn
from tracegen.compare import reprs_match
from tracegen.errors import UserError
from tracegen.records import Problem, Test

from .execute import Executor
from .models import Model, Query
from .passk import mean_pass_at_k

KS = (1, 5)
DIRECTIONS = ("output", "input")


def items_of(problems: list[Problem]) -> list[tuple[Problem, Test]]:
    """(problem, test) pairs with an expected value, on the problem's first solution."""
    items = [(p, t) for p in problems if p.kind == "function" and p.solutions for t in p.tests
             if t.output is not None and t.check is None]
    if not items:
        raise UserError("no function problem with a solution and an expected output in the data: CRUXEval "
                        "needs items like {id, code, input, output}")
    return items


def evaluate(problems: list[Problem], model: Model, n: int = 1, seed: int = 0,
             directions: tuple[str, ...] = ("output",), executor: Executor | None = None) -> dict[str, Any]:
    """CRUXEval-O (and -I) of `model` on `problems`: pass@k for k in (1, 5) up to n, per direction.

    The top-level "pass@1" / "pass@5" are the first direction's. `executor` runs the input predictions
    (a 2-worker sandbox pool is made and closed when none is given).
    """
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad or not directions:
        raise UserError(f"unknown direction {bad[0] if bad else ''!r}: use output, input or both")
    if n < 1:
        raise UserError(f"--n {n}: the number of samples per item must be at least 1")
    own = executor is None
    ex = executor or Executor()
    try:
        items = items_of(problems)
        result: dict[str, Any] = {"benchmark": "cruxeval", "model": model.name, "samples": n, "seed": seed,
                                  "n": len(items), "directions": list(directions)}
        per_item: list[dict[str, Any]] = []
        for d in directions:
            scores, rows = _direction(d, items, model, n, seed, ex)
            result[d] = scores
            per_item += rows
        first = result[directions[0]]
        result.update({f"pass@{k}": first.get(f"pass@{k}") for k in KS})
        result["items"] = per_item
        return result
    finally:
        if own:
            ex.close()


def _direction(direction: str, items: list[tuple[Problem, Test]], model: Model, n: int, seed: int,
               ex: Executor) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    queries = [_query(direction, p, t) for p, t in items]
    texts = model.complete(queries, n=n, seed=seed)
    if direction == "output":
        preds = [[parse_answer(x, "function") for x in xs] for xs in texts]
        right = [[p is not None and bool(reprs_match(p, t.output)) for p in ps] for ps, (_, t) in zip(preds, items)]
    else:
        preds = [[parse_input_answer(x) for x in xs] for xs in texts]
        jobs = [(p, t, pred) for (p, t), ps in zip(items, preds) for pred in ps]
        flat = ex.map(lambda j: j[2] is not None and bool(
            ex.run("function", j[0].solutions[0].code, j[0].entry_point, Test("i", j[2], j[1].output)).passed), jobs)
        right = [flat[i * n:(i + 1) * n] for i in range(len(items))]
    counts = [(n, sum(r)) for r in right]
    scores: dict[str, Any] = {f"pass@{k}": mean_pass_at_k(counts, k) for k in KS if k <= n}
    scores.update(n=len(items), correct_items=sum(c > 0 for _, c in counts),
                  unparsed=sum(p is None for ps in preds for p in ps))
    rows = [{"problem_id": p.problem_id, "test_id": t.test_id, "direction": direction, "correct": sum(r),
             "samples": n, "predictions": ps[:5]} for (p, t), r, ps in zip(items, right, preds)]
    return scores, rows


def _query(direction: str, p: Problem, t: Test) -> Query:
    code = p.solutions[0].code
    if direction == "output":
        text = user_turn("function", code, t.input, p.entry_point)
    else:
        text = input_turn(code, t.output or "", p.entry_point)
    # the expected value goes only to input prediction (it is in the prompt there); the oracle's
    # output prediction must find it by running the code
    shown = direction == "input"
    return Query([{"role": "user", "content": text}], direction, "function", code, t.input, p.entry_point,
                 reference=t.input if shown else None, output=t.output if shown else None)


def run_cruxeval(data: str, settings: Any, n: int = 1, seed: int = 0, directions: tuple[str, ...] = ("output",),
                 max_items: int | None = None, workers: int = 2) -> dict[str, Any]:
    """The `selfexec eval cruxeval` command: load, evaluate, stamp the result with its data and settings."""
    from .data import data_version, load_benchmark
    from .models import load_model

    problems = load_benchmark(data, format="auto")
    if max_items is not None:
        problems = problems[:max_items]
    with Executor(workers) as ex:
        model = load_model(settings, ex)
        result = evaluate(problems, model, n=n, seed=seed, directions=directions, executor=ex)
        result.update(data=data, data_version=data_version([data]), model_stats=model.stats(),
                      sampling={"temperature": settings.temperature, "top_p": settings.top_p,
                                "max_tokens": settings.max_tokens})
    return result
