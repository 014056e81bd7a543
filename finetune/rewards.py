"""Verifiable rewards for GRPO: read the model's final answer and compare it with the true output.

The answer format (writer and reader) is `curation.answers`. Comparison is the project's
own (`tracegen.compare`): literal equality with float tolerance 1e-5 for return values, token-wise
stdout with the same tolerance for programs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curation.answers import completion_text, parse_answer
from tracegen.compare import reprs_match, stdout_matches

__all__ = ["completion_text", "output_prediction_reward", "parse_answer"]


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
