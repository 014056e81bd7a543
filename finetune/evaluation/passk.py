"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").

With n samples of which c are correct, the chance that k samples drawn without replacement hold
at least one correct one is 1 - C(n-c, k) / C(n, k). Averaging this over problems is unbiased,
unlike 1 - (1 - c/n)^k. The ratio is computed exactly (Python integers and a Fraction), so a
hand count gives the same float (1/5 is 0.2, not 0.19999999999999996).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction


def pass_at_k(n: int, c: int, k: int) -> float:
    """The probability that at least one of k of the n samples (c of them correct) is correct.

    >>> pass_at_k(5, 1, 1)
    0.2
    >>> pass_at_k(5, 1, 2)   # 1 - C(4,2)/C(5,2) = 1 - 6/10
    0.4
    >>> pass_at_k(5, 0, 5), pass_at_k(5, 5, 1), pass_at_k(3, 1, 5)
    (0.0, 1.0, 1.0)
    """
    if n < 0 or c < 0 or c > n or k < 1:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and k >= 1 (got n={n}, c={c}, k={k})")
    if n == 0:
        return 0.0
    if n - c < k:  # every draw of k holds a correct one (k > n counts as all n drawn)
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float | None:
    """The mean of pass@k over problems given as (n, c) pairs; None when there are none.

    >>> mean_pass_at_k([(2, 1), (2, 0)], 1)
    0.25
    """
    values = [pass_at_k(n, c, k) for n, c in counts]
    return sum(values) / len(values) if values else None
