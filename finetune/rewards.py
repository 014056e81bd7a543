"""Verifiable rewards for GRPO, plain functions with TRL's signature (`completions` + dataset columns).

- `output_prediction_reward`: +1 when the predicted output equals the true one; -1 when it is wrong,
  missing or unreadable; None for a row without an expected output (a `solve` row).
- `solve_reward`: +1 when the program passes every test in the sandbox; -1 for no program, a failing
  test, a crash, a timeout, the output or memory limit, a forbidden call (processes, network; see
  safety.py) or the batch's time running out; None for rows that are not `task == "solve"`.
- `format_reward`: 1 when the block the task asks for is there and readable, else 0; never None.
- `trace_reward`: from -1 to 1, (claims that hold - wrong ones) / all checked claims, 0 when nothing is
  checkable; None for rows that are not output prediction, or whose program cannot be traced.

A completion scored None by every reward function gets advantage 0 in TRL (no signal, no NaN); a
batch where everything is None trains on nothing and stays finite. A failure of our own sandbox
raises `PipelineError`: it is never turned into scores.

The answer format (writer and reader) is `curation.answers`. Comparison is the project's
own (`tracegen.compare`): literal equality with float tolerance 1e-5 for return values, token-wise
stdout with the same tolerance for programs. Per-task weights (the paper's 0.8 on output
prediction) come from `by_task(reward, weights)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curation.answers import completion_text, parse_answer, parse_program
from tracegen.compare import reprs_match, stdout_matches

from .code_runner import ProgramJob, RunLimits, run_batch
from .safety import forbidden_call

__all__ = ["by_task", "completion_text", "format_reward", "make_solve_reward", "make_trace_reward",
           "output_prediction_reward", "parse_answer", "solve_reward", "trace_reward"]

OUTPUT_PREDICTION, SOLVE = "output_prediction", "solve"


def output_prediction_reward(completions: Sequence[Any], kind: Sequence[str], expected_output: Sequence[str | None],
                             **kwargs: Any) -> list[float | None]:
    """TRL reward function: +1.0 when the predicted output equals the true one, -1.0 otherwise.

    `completions` are conversational (`[{"role": "assistant", "content": ...}]`) or plain strings;
    `kind` and `expected_output` are the `rl` config's columns, which TRL passes by name (the other
    columns arrive in `kwargs` and are ignored). A missing or unreadable answer scores -1.0; a row
    with no expected output scores None (TRL leaves it out of the reward).

    >>> done = [{"role": "assistant", "content": "x doubles.\\n[ANSWER]\\nassert f(2) == 4.0000001\\n[/ANSWER]"}]
    >>> output_prediction_reward([done, "[ANSWER]\\nassert f(2) == 5\\n[/ANSWER]", "hmm"],
    ...                          kind=["function"] * 3, expected_output=["4"] * 3)
    [1.0, -1.0, -1.0]
    """
    if not len(completions) == len(kind) == len(expected_output):
        raise ValueError(f"lengths differ: {len(completions)} completions, {len(kind)} kind, "
                         f"{len(expected_output)} expected_output")
    rewards: list[float | None] = []
    for completion, k, expected in zip(completions, kind, expected_output):
        if expected is None:
            rewards.append(None)
            continue
        predicted = parse_answer(completion_text(completion), k)
        if predicted is None:
            rewards.append(-1.0)
            continue
        same = stdout_matches(predicted, expected) if k == "stdio" else reprs_match(predicted, expected)
        rewards.append(1.0 if same else -1.0)
    return rewards


def _tasks(task: Sequence[str] | None, n: int) -> list[str]:
    """The `task` column, or output prediction for every row of a dataset that has none (older versions)."""
    return list(task) if task is not None else [OUTPUT_PREDICTION] * n


def make_solve_reward(limits: RunLimits | None = None, batch_timeout_s: float = 60.0, workers: int = 4,
                      sandbox: str = "auto"):
    """A `solve_reward` with these sandbox settings (the recipe's `reward_*` keys)."""

    def solve_reward(completions: Sequence[Any], tests: Sequence[list[dict[str, Any]]], kind: Sequence[str],
                     entry_point: Sequence[str], task: Sequence[str] | None = None,
                     **kwargs: Any) -> list[float | None]:
        """+1.0 when the completion's last ```python block passes all of the row's tests in the sandbox,
        -1.0 otherwise (no block, a failing test, a crash, a limit, a forbidden call); None for rows
        that are not `solve` rows. The programs of a batch run in parallel, `workers` at a time, and
        the whole batch within `batch_timeout_s` (what is not run by then scores -1).

        >>> ok = "```python\\ndef inc(x):\\n    return x + 1\\n```"
        >>> solve_reward([ok, "no code", "x"], tests=[[{"input": "1", "output": "2"}]] * 3, kind=["function"] * 3,
        ...              entry_point=["inc"] * 3, task=["solve", "solve", "output_prediction"])
        [1.0, -1.0, None]
        """
        n = len(completions)
        if not len(tests) == len(kind) == len(entry_point) == n:
            raise ValueError(f"lengths differ: {n} completions, {len(tests)} tests, {len(kind)} kind, "
                             f"{len(entry_point)} entry_point")
        rewards: list[float | None] = [None] * n
        jobs, where = [], []
        for i, (completion, t, k, e, task_i) in enumerate(zip(completions, tests, kind, entry_point, _tasks(task, n))):
            if task_i != SOLVE:
                continue
            program = parse_program(completion_text(completion))
            checkable = [x for x in t or [] if x.get("output") is not None]
            if program is None or forbidden_call(program) is not None or not checkable:
                rewards[i] = -1.0
                continue
            jobs.append(ProgramJob(code=program, kind=k, entry_point=e or "", tests=checkable))
            where.append(i)
        for i, result in zip(where, run_batch(jobs, limits, batch_timeout_s, workers, sandbox)):
            rewards[i] = 1.0 if result.passed else -1.0
        return rewards

    return solve_reward


solve_reward = make_solve_reward()


def format_reward(completions: Sequence[Any], kind: Sequence[str], task: Sequence[str] | None = None,
                  **kwargs: Any) -> list[float]:
    """1.0 when the completion ends with the block its task asks for, readable; 0.0 otherwise.
    Output prediction: `[ANSWER] assert f(..) == VALUE [/ANSWER]` (function) or `<output>…</output>`
    (stdio); solving: a ```python block that parses.

    >>> format_reward(["[ANSWER]\\nassert f(1) == 2\\n[/ANSWER]", "2", "```python\\nprint(1)\\n```"],
    ...               kind=["function"] * 3, task=["output_prediction", "output_prediction", "solve"])
    [1.0, 0.0, 1.0]
    """
    import ast

    out = []
    for completion, k, task_i in zip(completions, kind, _tasks(task, len(completions))):
        text = completion_text(completion)
        if task_i == SOLVE:
            program = parse_program(text)
            try:
                ok = program is not None and ast.parse(program) is not None
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                ok = False
        else:
            ok = parse_answer(text, k) is not None
        out.append(1.0 if ok else 0.0)
    return out


def by_task(reward, weights: dict[str, float]):
    """`reward` with each row's score multiplied by the weight of its task (1.0 for tasks not named).

    >>> weighted = by_task(output_prediction_reward, {"output_prediction": 0.8})
    >>> weighted(["[ANSWER]\\nassert f(1) == 2\\n[/ANSWER]"], kind=["function"], expected_output=["2"],
    ...          task=["output_prediction"])
    [0.8]
    """

    def weighted(completions, task: Sequence[str] | None = None, **kwargs):
        scores = reward(completions, task=task, **kwargs)
        return [None if s is None else s * weights.get(t, 1.0)
                for s, t in zip(scores, _tasks(task, len(completions)))]

    weighted.__name__ = getattr(reward, "__name__", "reward")  # TRL logs rewards by function name
    return weighted


def make_trace_reward(wrong_penalty: float = 1.0, workers: int = 4, sandbox: str = "auto"):
    """A `trace_reward` with this penalty per wrong claim."""

    def trace_reward(completions: Sequence[Any], code: Sequence[str], input: Sequence[str], kind: Sequence[str],
                     entry_point: Sequence[str], task: Sequence[str] | None = None,
                     **kwargs: Any) -> list[float | None]:
        """Partial credit for the intermediate values and control flow a narration states, checked
        against the real run by curation's verifier (`curation.story.check_claims`): the share of
        checked claims that hold, less `wrong_penalty` times the share that are wrong (a claim about
        a value the variable never held, a variable the program has not, a value nothing accounts
        for). 0.0 when nothing is checkable; None for rows that are not output prediction.

        >>> code = "def f(n):\\n    m = n * 2\\n    return m + 1"
        >>> story = "We call `f` with `n` = `2`. Line 2: `m` becomes `{}`. So the call returns `5`."
        >>> trace_reward([story.format(4), story.format(3), "no idea"], code=[code] * 3, input=["2"] * 3,
        ...              kind=["function"] * 3, entry_point=["f"] * 3)
        [1.0, 0.3333333333333333, 0.0]
        """
        from concurrent.futures import ThreadPoolExecutor

        n = len(completions)
        tasks = _tasks(task, n)
        rows = [i for i in range(n) if tasks[i] == OUTPUT_PREDICTION and code[i]]
        keys = sorted({(code[i], input[i], kind[i], entry_point[i] or "") for i in rows})
        with ThreadPoolExecutor(max_workers=workers) as ex:
            traces = dict(zip(keys, ex.map(lambda key: _traced(key, workers, sandbox), keys)))
        rewards: list[float | None] = [None] * n
        for i in rows:
            trace = traces[(code[i], input[i], kind[i], entry_point[i] or "")]
            if trace is not None:
                rewards[i] = _claim_score(trace, completion_text(completions[i]), wrong_penalty)
        return rewards

    return trace_reward


trace_reward = make_trace_reward()

_TRACES: dict[tuple[str, str, str, str], Any] = {}


def _traced(key: tuple[str, str, str, str], workers: int, sandbox: str) -> Any:
    """The program's trace on the input (run once per process; GRPO asks for the same row many times).
    None when the run is not `ok` (a program that fails or hits a budget has no story to check)."""
    from tracegen.errors import PipelineError
    from tracegen.records import Limits, Problem, Solution, Test
    from tracegen.runner import trace_one

    from .code_runner import _PoolAsSandbox, pool

    if key not in _TRACES:
        code, test_input, kind, entry_point = key
        problem = Problem(problem_id="reward", source="reward", kind=kind, entry_point=entry_point)
        row = trace_one(problem, Solution("reference", code), Test("t", test_input), Limits(),
                        _PoolAsSandbox(pool(workers, sandbox)))
        if row.status == "internal_error":
            raise PipelineError(f"the reward sandbox failed while tracing a reference program: {row.reason}")
        if len(_TRACES) > 4096:
            _TRACES.clear()
        _TRACES[key] = row if row.status == "ok" else None
    return _TRACES[key]


def _claim_score(trace: Any, text: str, wrong_penalty: float) -> float:
    from curation.answers import ANSWER_OPEN, OUTPUT_OPEN
    from curation.story import check_claims
    from curation.timeline import OK, UNKNOWN, WRONG

    # the final answer block is output_prediction_reward's business, not a claim about the middle
    cut = max(text.rfind(ANSWER_OPEN), text.rfind(OUTPUT_OPEN))
    body = text[:cut] if cut >= 0 else text
    try:
        checked, ungrounded, _ = check_claims(trace, body)
    except (RecursionError, MemoryError):  # text a model wrote: adversarial input for a parser
        return 0.0
    ok = sum(1 for _, m in checked if m.status == OK)
    wrong_claims = [c for c, m in checked if m.status in (WRONG, UNKNOWN)]
    # a wrong claim's value is also a value nothing accounts for: count it once
    loose = [x for x in ungrounded if not any(c.start <= x.start and x.end <= c.end + 1 for c in wrong_claims)]
    wrong = len(wrong_claims) + len(loose)
    if ok + wrong == 0:
        return 0.0
    return max(-1.0, (ok - wrong_penalty * wrong) / (ok + wrong))
