"""The input-prediction reward (CRUXEval-I): run the predicted input in the sandbox, compare outputs.

`input_prediction_reward(completions, code, entry_point, expected_output)` has TRL's reward signature
(the `input_prediction` config's columns arrive by name). A completion scores

  +1.0  its last `[ANSWER] assert f(ARGS) == ... [/ANSWER]` block has literal ARGS, and the program
        called on them returns the expected output (literal equality, float tolerance 1e-5);
  -1.0  no readable answer, ARGS that are not literals, a wrong output, an exception, a timeout, a
        memory or output blow-up, anything the sandbox stops;
  None  a row that is not input prediction (no expected output, or another `task`).

Only literals are run: an argument such as `type('X', (), {'__eq__': lambda s, o: True})()` could make
any comparison hold, and `__import__('os')...` is code, not an input. Runs are untraced, in the
project's sandbox (separate process, rlimits, bubblewrap where it exists), `timeout_s` each.
A failure of our own sandbox raises `PipelineError`; it is never turned into scores.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

from curation.answers import completion_text, parse_input_answer
from tracegen.errors import PipelineError
from tracegen.records import Limits, Problem, Solution, Test
from tracegen.runner import trace_one
from tracegen.sandbox import Sandbox

TASK = "input_prediction"
_OUR_FAILURE = ("internal_error",)


def literal_arguments(source: str) -> bool:
    """True when every argument (and keyword value) of the argument list is a Python literal.

    >>> literal_arguments("[1, 2], k={'a': (3.5, None)}"), literal_arguments("__import__('os').getpid()")
    (True, False)
    >>> literal_arguments("*[1, 2]"), literal_arguments("")
    (False, True)
    """
    try:
        call = ast.parse(f"f({source})", mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    if not isinstance(call, ast.Call) or any(isinstance(a, ast.Starred) for a in call.args):
        return False
    if any(k.arg is None for k in call.keywords):
        return False
    try:
        for node in [*call.args, *(k.value for k in call.keywords)]:
            ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def score_input(code: str, entry_point: str, predicted: str | None, expected_output: str, box: Sandbox,
                limits: Limits) -> float:
    """+1.0 / -1.0 for one predicted argument list (see the module doc)."""
    if predicted is None or not literal_arguments(predicted):
        return -1.0
    problem = Problem("input_prediction", "input_prediction", "function", entry_point=entry_point)
    row = trace_one(problem, Solution("program", code), Test("predicted", predicted, expected_output), limits, box,
                    trace=False)
    if row.status in _OUR_FAILURE:
        raise PipelineError(f"the sandbox failed while scoring an input prediction: {row.reason}")
    return 1.0 if row.status == "ok" and row.matches_expected is True else -1.0


def input_prediction_reward(completions: Sequence[Any], code: Sequence[str], entry_point: Sequence[str],
                            expected_output: Sequence[str | None], task: Sequence[str] | None = None,
                            timeout_s: float = 5.0, sandbox: str = "auto", **kwargs: Any) -> list[float | None]:
    """TRL reward function for the `input_prediction` config (see the module doc).

    >>> code = "def f(x):\\n    return x * 2\\n"
    >>> input_prediction_reward(["[ANSWER]\\nassert f(3) == 6\\n[/ANSWER]", "[ANSWER]\\nassert f(4) == 6\\n[/ANSWER]"],
    ...                         code=[code] * 2, entry_point=["f"] * 2, expected_output=["6"] * 2, sandbox="rlimit")
    [1.0, -1.0]
    """
    n = len(completions)
    if not n == len(code) == len(entry_point) == len(expected_output) or (task is not None and len(task) != n):
        raise ValueError(f"lengths differ: {n} completions, {len(code)} code, {len(entry_point)} entry_point, "
                         f"{len(expected_output)} expected_output")
    rewards: list[float | None] = [None] * n
    todo = [i for i in range(n) if expected_output[i] is not None and (task is None or task[i] == TASK)]
    if not todo:
        return rewards
    limits = Limits(timeout_s=timeout_s, memory_mb=512, max_stdout_bytes=100_000)
    with Sandbox(sandbox) as box:
        for i in todo:
            predicted = parse_input_answer(completion_text(completions[i]))
            rewards[i] = score_input(code[i], entry_point[i] or "f", predicted, expected_output[i], box, limits)
    return rewards
