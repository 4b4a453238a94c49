"""Cost-aware acquisition for :mod:`nago.strategies.mobo` (option ``cost_exponent``): improvement per unit of
training cost, as "EI per second" (Snoek et al. 2012) and its cost-cooled variants (Lee et al. 2020).

Configs of one search space differ several-fold in what a trial costs (a cell of skip connections trains in a
sixth of the time of one of 3x3 convolutions; a wide generator in many times that of a thin one). An acquisition
that ignores it spends the same on a cheap and on an expensive look at equal expected improvement. With
``cost_exponent = a > 0`` the (log-)acquisition of a candidate batch ``X`` becomes

    log acq(X) - a * log(sum_q c(x_q))

where ``c`` is the posterior median of a GP of ``log cost`` fitted to the training trials (the same inputs,
kernel and feature map as the objectives' GPs). ``a = 1`` is improvement per unit cost; ``0 < a < 1`` tempers it.

A trial's cost (:func:`trial_cost`): its ``query_cost`` metric when it has one (table spaces: the table's
training seconds scaled by the fidelity), else its wall time (``finished - started``, seconds). Trials without
a positive finite cost are left out of the cost GP; with fewer than 2 costed trials no weighting is applied
(the proposals' ``info`` says ``"cost_model": false``). The training trials of one model share a fidelity
(``mo-bohb`` fits one budget's trials), so the cost GP compares configs, not budgets.
"""

from __future__ import annotations

import math
from typing import Any, Callable, MutableMapping, Sequence

import torch
from botorch.acquisition import AcquisitionFunction

from nago.study.trial import Trial


def trial_cost(trial: Trial) -> float | None:
    """The cost of ``trial`` (``query_cost``, else its wall seconds), or ``None`` when unknown or not > 0."""
    value = trial.metrics.get("query_cost")
    if value is None:
        value = trial.duration
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def fit_log_cost(X: torch.Tensor, trials: Sequence[Trial], fit: Callable[..., Any]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A predictor of ``log cost`` from the training trials, or ``None`` with fewer than 2 costed trials.

    Args:
        X: ``[n, d]`` the trials' configs in the unit cube (row order of ``trials``).
        trials: the ``n`` training trials.
        fit: ``fit(X [k, d], Y [k, 1]) -> model`` (mobo's GP fit with its kernel and features).

    Returns:
        ``f(X [..., d]) -> [...]``, the posterior mean of log cost (natural log of the cost's units).
    """
    costs = [trial_cost(t) for t in trials]
    keep = [i for i, c in enumerate(costs) if c is not None]
    if len(keep) < 2:
        return None
    y = torch.tensor([math.log(costs[i]) for i in keep], dtype=torch.float64).unsqueeze(-1)
    if float(y.std()) == 0.0:  # every config costs the same: nothing to weigh
        value = float(y[0, 0])
        return lambda Z: torch.full(Z.shape[:-1], value, dtype=torch.float64)
    model = fit(X[keep], y)

    def log_cost(Z: torch.Tensor) -> torch.Tensor:  # differentiable: continuous spaces optimise through it
        flat = Z.reshape(-1, Z.shape[-1])
        mean = torch.cat([model.posterior(flat[i : i + 1024]).mean.reshape(-1) for i in range(0, len(flat), 1024)])
        return mean.reshape(Z.shape[:-1])

    return log_cost


class CostWeighted(AcquisitionFunction):
    """``log acq(X) - exponent * log(sum_q c(x_q))`` for a log-acquisition ``acqf`` (qLogNEI, qLogNEHVI,
    qLogNParEGO). Inputs ``X`` are ``[b, q, d]``; outputs ``[b]``. ``set_X_pending`` passes through."""

    def __init__(self, acqf: AcquisitionFunction, log_cost: Callable[[torch.Tensor], torch.Tensor], exponent: float) -> None:
        super().__init__(model=acqf.model)
        self.acqf, self.log_cost, self.exponent = acqf, log_cost, float(exponent)

    @property
    def X_pending(self) -> torch.Tensor | None:  # noqa: N802 - BoTorch's name; the optimisers read it
        return self.acqf.X_pending

    def set_X_pending(self, X_pending: torch.Tensor | None = None) -> None:
        self.acqf.set_X_pending(X_pending)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.acqf(X) - self.exponent * torch.logsumexp(self.log_cost(X), dim=-1)


def cost_weighted(acqf: AcquisitionFunction, X: torch.Tensor, trials: Sequence[Trial], exponent: float,
                  fit: Callable[..., Any], info: MutableMapping[str, Any]) -> tuple[AcquisitionFunction, Any]:
    """``(acquisition, log_cost)``: ``acqf`` weighted by the trials' cost when ``exponent > 0`` and a cost model
    could be fitted (:func:`fit_log_cost`), else ``(acqf, None)``; with ``exponent > 0`` sets
    ``info["cost_model"]`` to whether it was weighted."""
    if exponent <= 0:
        return acqf, None
    log_cost = fit_log_cost(X, trials, fit)
    info["cost_model"] = log_cost is not None
    return (acqf, None) if log_cost is None else (CostWeighted(acqf, log_cost, exponent), log_cost)
