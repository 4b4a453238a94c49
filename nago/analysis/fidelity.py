"""Do a multi-fidelity study's low budgets rank configs as its front fidelity does?

``mo-bohb``, ``moasha`` and ``bohb`` spend most of their trials at low budgets and promote what ranks
well there; that pays only when a short run ranks configs like the full one (README, "when to prefer
it"). :func:`budget_agreement` measures it from a study's own trials: for each lower budget, the
configs complete at both it and the front fidelity (:func:`nago.analysis.report.front_fidelity`), and per
objective the Spearman rank correlation of their values at the two budgets.

Read it with its bias in mind: the pairs are the *promoted* configs, those that ranked well at the low
budget, so a config the low budget wrongly ranked low is never seen at the front fidelity. A high
``rho`` says the promotions were sound, not that nothing good was left behind; the median at each
budget shows how much the screens learned (at a low budget whose median accuracy is near chance, only
the fastest learners stand out: digits' 1-epoch screens, which served ``mo-bohb`` well, and
Fashion-MNIST's, which did not; BENCHMARKS.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nago.analysis.pareto import objective_matrix
from nago.study.trial import ObjectiveSpec, Trial

MIN_PAIRS = 3  # fewer configs at both budgets: no correlation is reported (nan)
LOW_RHO, LOW_RHO_PAIRS = 0.5, 5  # the report flags a correlation below this over at least this many configs


@dataclass(frozen=True)
class BudgetAgreement:
    """One budget of a multi-fidelity study against the front fidelity.

    Attributes:
        budget: the budget (epochs).
        configs: distinct configs complete at ``budget`` with every objective finite.
        median: per objective name, the median over those configs (raw units).
        pairs: configs complete at both ``budget`` and the front fidelity (0 for the front fidelity's own row).
        rho: per objective name, the Spearman correlation over the ``pairs`` (nan with fewer than
            :data:`MIN_PAIRS` pairs or a constant side); empty for the front fidelity's own row.
    """

    budget: float
    configs: int
    median: dict[str, float]
    pairs: int
    rho: dict[str, float]


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of paired values (ties share their mean rank); nan with fewer than
    :data:`MIN_PAIRS` pairs or when either side is constant."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < MIN_PAIRS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def budget_agreement(trials: Sequence[Trial], objectives: Sequence[ObjectiveSpec]) -> list[BudgetAgreement]:
    """One :class:`BudgetAgreement` per numeric budget among the complete trials, lowest first, the front
    fidelity (the highest) last; ``[]`` when fewer than two budgets have complete trials. A config trained
    twice at one budget counts with its latest trial."""
    names = [o.name for o in objectives]
    Y, kept = objective_matrix([t for t in trials if t.fidelity is not None], objectives)
    by_budget: dict[float, dict[str, np.ndarray]] = {}
    for t, y in zip(kept, Y):
        by_budget.setdefault(float(t.fidelity), {})[_key(t.config)] = y
    if len(by_budget) < 2:
        return []
    top = max(by_budget)
    out = []
    for b in sorted(by_budget):
        values = np.stack(list(by_budget[b].values()))
        median = {n: float(np.median(values[:, j])) for j, n in enumerate(names)}
        if b == top:
            out.append(BudgetAgreement(budget=b, configs=len(values), median=median, pairs=0, rho={}))
            continue
        both = [k for k in by_budget[b] if k in by_budget[top]]
        low = np.array([by_budget[b][k] for k in both]).reshape(len(both), len(names))
        high = np.array([by_budget[top][k] for k in both]).reshape(len(both), len(names))
        rho = {n: spearman(low[:, j], high[:, j]) for j, n in enumerate(names)}
        out.append(BudgetAgreement(budget=b, configs=len(values), median=median, pairs=len(both), rho=rho))
    return out
