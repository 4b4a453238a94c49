"""Will a promotion reach the front? The probability that a config's result at the highest budget is not
dominated by the results already there, predicted from its result at a lower budget.

Successive halving ranks a rung's configs against each other only. A config in the best ``1/η`` of the
12-epoch rung can still be predictably dominated at 200 epochs by configs already trained there; its
promotion then buys a full training run for nothing. ``mo-bohb`` (option ``min_front_prob``) skips such
promotions, so the budget goes to more screens. The model is deliberately small, since it is fitted
to the few configs trained at both budgets: per objective, a least-squares line ``high = a + b · low``
with Gaussian residuals (an objective that does not change with the budget, such as a training time
read from a table, gets a zero residual and is predicted exactly).
"""

from __future__ import annotations

import numpy as np

MIN_PAIRS = 4  # configs observed at both budgets before the line is trusted (2 residual degrees of freedom)


def fit_budget_map(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per objective, the least-squares line from a lower budget's values to the highest budget's.

    Args:
        low, high: ``[n, m]`` values of the same ``n`` configs at the two budgets (any consistent sense).

    Returns:
        ``(a, b, s)``, each ``[m]``: ``high ≈ a + b · low`` with residual standard deviation ``s``
        (``n - 2`` degrees of freedom); ``None`` with fewer than :data:`MIN_PAIRS` finite pairs.
    """
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    ok = np.isfinite(low).all(axis=1) & np.isfinite(high).all(axis=1)
    low, high = low[ok], high[ok]
    n, m = low.shape if low.ndim == 2 else (0, 0)
    if n < MIN_PAIRS:
        return None
    a, b, s = np.zeros(m), np.ones(m), np.zeros(m)
    for j in range(m):
        x, y = low[:, j], high[:, j]
        if np.ptp(x) > 0:
            b[j], a[j] = np.polyfit(x, y, 1)
        else:  # one low value: predict the mean
            b[j], a[j] = 0.0, y.mean()
        resid = y - (a[j] + b[j] * x)
        s[j] = np.sqrt((resid**2).sum() / (n - 2))
        if s[j] <= 1e-9 * (np.abs(y).max() + 1.0):  # an exact relation up to rounding: predicted exactly
            s[j] = 0.0
    return a, b, s


def front_probability(mean: np.ndarray, sd: np.ndarray, front: np.ndarray, eps: np.ndarray) -> float:
    """Monte-Carlo probability that a point drawn from ``N(mean, diag(sd²))`` is dominated by no row of ``front``.

    Args:
        mean, sd: ``[m]`` predicted values (maximisation sense) and their standard deviations.
        front: ``[p, m]`` observed values at the same budget, maximisation sense (``p = 0``: probability 1).
        eps: ``[S, m]`` standard normal draws (the caller seeds them, so the answer is reproducible).

    Returns:
        The share of the ``S`` draws that no row of ``front`` dominates (``>=`` in every objective, ``>`` in one).
    """
    if len(front) == 0:
        return 1.0
    z = mean[None, :] + sd[None, :] * eps  # [S, m]
    geq = (front[None, :, :] >= z[:, None, :]).all(axis=2)  # [S, p]
    gt = (front[None, :, :] > z[:, None, :]).any(axis=2)
    return float(1.0 - (geq & gt).any(axis=1).mean())
