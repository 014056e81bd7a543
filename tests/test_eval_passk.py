"""pass@k: the unbiased estimator against hand-computed values."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from finetune.evaluation.passk import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize("n, c, k, expected", [
    (1, 1, 1, 1.0),
    (1, 0, 1, 0.0),
    (5, 1, 1, 0.2),           # c / n
    (5, 2, 1, 0.4),
    (5, 1, 2, 0.4),           # 1 - C(4,2)/C(5,2) = 1 - 6/10
    (5, 2, 2, 0.7),           # 1 - C(3,2)/C(5,2) = 1 - 3/10
    (10, 3, 5, 11 / 12),      # 1 - C(7,5)/C(10,5) = 1 - 21/252
    (5, 1, 5, 1.0),           # all five drawn
    (4, 1, 5, 1.0),           # k > n: every sample drawn
    (100, 0, 10, 0.0),
    (200, 13, 1, 0.065),
])
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_the_chance_over_all_draws():
    # brute force: every k-subset of n samples, the share holding at least one correct one
    for n, c, k in [(6, 2, 3), (7, 3, 2), (5, 0, 2), (6, 5, 4)]:
        samples = [True] * c + [False] * (n - c)
        draws = list(itertools.combinations(samples, k))
        assert pass_at_k(n, c, k) == float(Fraction(sum(any(d) for d in draws), len(draws)))


def test_pass_at_1_equals_the_correct_share_exactly():
    assert pass_at_k(5, 1, 1) == 0.2  # not 0.19999999999999996: the ratio is exact


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (-1, 0, 1), (5, 1, 0), (5, -1, 1)])
def test_pass_at_k_refuses_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass_at_k needs"):
        pass_at_k(n, c, k)


def test_mean_over_problems():
    assert mean_pass_at_k([(5, 1), (5, 0), (5, 5)], 1) == pytest.approx((0.2 + 0 + 1) / 3)
    assert mean_pass_at_k([(5, 1), (5, 0)], 2) == pytest.approx(0.2)
    assert mean_pass_at_k([], 1) is None
