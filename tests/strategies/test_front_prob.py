"""The promotion filter's model: a line per objective between budgets, the probability of reaching the front."""

from __future__ import annotations

import numpy as np
import pytest

from nago.strategies._front_prob import MIN_PAIRS, fit_budget_map, front_probability


def test_the_line_is_recovered_and_an_unchanged_objective_is_exact():
    rng = np.random.default_rng(0)
    low = np.c_[rng.uniform(50, 85, 40), -rng.uniform(500, 3000, 40)]  # accuracy at 12 epochs, -training time
    high = np.c_[20 + 0.85 * low[:, 0] + rng.normal(0, 0.5, 40), low[:, 1]]  # 200 epochs; the time is the same
    a, b, s = fit_budget_map(low, high)
    assert a[0] == pytest.approx(20, abs=2.5) and b[0] == pytest.approx(0.85, abs=0.04) and s[0] == pytest.approx(0.5, rel=0.3)
    assert (a[1], b[1]) == pytest.approx((0, 1), abs=1e-6) and s[1] == pytest.approx(0, abs=1e-6)


def test_too_few_pairs_or_non_finite_ones_give_no_line():
    low = np.arange(2.0 * MIN_PAIRS).reshape(MIN_PAIRS, 2)
    assert fit_budget_map(low[:-1], low[:-1] + 1) is None
    high = low + 1
    high[0, 0] = np.nan  # a failed top-budget value does not count as a pair
    assert fit_budget_map(low, high) is None
    a, b, s = fit_budget_map(np.ones((MIN_PAIRS, 1)), np.arange(MIN_PAIRS, dtype=float)[:, None])  # one low value
    assert (a[0], b[0]) == (1.5, 0.0) and s[0] > 0


def test_front_probability_against_the_observed_front():
    eps = np.random.default_rng(1).standard_normal((2000, 2))
    front = np.array([[90.0, -1000.0], [85.0, -600.0]])  # max sense
    assert front_probability(np.array([80.0, -1200.0]), np.array([0.1, 0.0]), front, eps) == 0.0  # far inside
    assert front_probability(np.array([95.0, -1200.0]), np.array([0.1, 0.0]), front, eps) == 1.0  # beyond it
    p = front_probability(np.array([90.0, -1000.0]), np.array([1.0, 0.0]), front, eps)  # as cheap as a front point: a coin flip
    assert 0.4 < p < 0.6
    assert front_probability(np.array([0.0, 0.0]), np.zeros(2), np.zeros((0, 2)), eps) == 1.0
    assert front_probability(front[0], np.zeros(2), front, eps) == 1.0  # equal to a front point: not dominated
