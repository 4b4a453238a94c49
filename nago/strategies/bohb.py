"""BOHB (Falkner et al. 2018): Hyperband brackets whose new configs come from a TPE/KDE model.

NAGO's multi-fidelity search (η = 2, budgets 30/60/120 epochs). The strategy is asynchronous:
``ask(n, pending)`` fills ``n`` slots with, first, promotions that are ready (a rung has finished
and its best ``1/η`` move to the next budget), then new configs for the first rung of the oldest
bracket that still has room, opening the next bracket rather than waiting while a rung runs (the
parallel scheme of BOHB). Bracket state lives in the trial records (``Proposal.info``, see
:mod:`nago.strategies._hyperband`) and the model is refit from the history at every ``ask``, so a
fresh strategy told the same trials continues exactly where the old one stopped.

Model (as HpBandSter): at the largest budget with enough observations, the trials are split into
the best ``top_n_percent`` % ("good", at least ``d + 1``) and the rest ("bad", at least ``d + 1``;
failed trials count as the worst), one :class:`~nago.strategies._kde.ProductKDE` is fitted to each
in the unit cube, and a new config is the best of ``num_samples`` draws from the good KDE (Gaussian
bandwidths widened by ``bandwidth_factor``) by the ratio ``l(x) / g(x)``. With probability
``random_fraction``, or while no budget has enough observations, a new config is uniform. Kernels:
truncated Gaussians for floats and (as in HpBandSter) for ints, Aitchison–Aitken for categoricals.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
import torch

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies._hyperband import check_budgets, group_by_rung, ready_promotions, schedule_from_options
from nago.strategies._kde import ProductKDE
from nago.strategies._options import (check_unknown, choice_option, float_option, int_option, option_error,
                                      require_searchable, warm_init_option)
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial, TrialState
from nago.warnings import SpaceExhaustedWarning

_DEFAULTS: dict[str, Any] = {
    "eta": 2,
    "random_fraction": 1 / 3,
    "top_n_percent": 15,
    "num_samples": 64,
    "bandwidth_factor": 3,
    "min_bandwidth": 1e-3,
    "metric": None,
    "scalarisation": "metric",
    "weights": None,
    "warm_init": None,
}
_ALLOWED = sorted({"min_budget", "max_budget", "budgets", *_DEFAULTS})
_MAX_DRAWS = 1000  # uniform draws before a space counts as exhausted


@STRATEGIES.register("bohb")
class BOHB(Strategy):
    """BOHB in ask/tell form. Fidelities are epochs.

    Options (``[search.options]``):
        max_budget: largest budget (default: the run's ``fidelity``; one of the two is required).
        min_budget: smallest budget (default ``max_budget / eta**2``: three budgets).
        budgets: the budgets as an explicit increasing list instead of ``min_budget``/``max_budget``
            (e.g. ``[12, 200]``: the fidelities a table space defines); brackets keep their
            Hyperband sizes for ``len(budgets) - 1`` halvings at rate ``eta``.
        eta: halving rate, default 2 (NAGO's setting; HpBandSter's default is 3).
        random_fraction: share of new configs drawn uniformly, default 1/3.
        top_n_percent: share of observations in the good KDE, default 15.
        num_samples: candidates drawn from the good KDE per new config, default 64.
        bandwidth_factor: widening of the Gaussian bandwidths for drawing candidates, default 3.
        min_bandwidth: floor of every KDE bandwidth, default 1e-3.
        metric: the objective ranked and modelled (default: the first objective), in its direction.
        scalarisation: ``"metric"`` (default) or ``"weighted"``: rank by ``Σ w_i · ŷ_i`` where
            ``ŷ_i`` is objective ``i`` turned into a maximisation and min-max normalised over the
            trials compared (one rung when promoting, one budget when fitting the model).
        weights: with ``"weighted"``: one non-negative weight per objective, as a list in the
            objectives' order or a ``{name: weight}`` table (missing names weigh 0).
        warm_init: with a warm start (``nago search --warm-start``), how many of the earlier studies'
            best configs fill the first new-config slots; default ``d + 1``. The KDEs do not model the
            earlier observations (only these configs carry over).
    """

    supports_warm_start = True

    multi_fidelity = True  # takes `budgets` (nago bench search hands it a table's fidelities)

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: Sequence[ObjectiveSpec],
        seed: int = 0,
        fidelity: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity, **options)
        check_unknown("bohb", options, _ALLOWED)
        require_searchable(space, "bohb")
        opts = {**_DEFAULTS, **options}
        eta = float_option("bohb", "eta", opts["eta"], 1, open_low=True)
        self.schedule = schedule_from_options("bohb", opts, fidelity, eta)
        self.random_fraction = float_option("bohb", "random_fraction", opts["random_fraction"], 0, 1)
        self.top_n_percent = float_option("bohb", "top_n_percent", opts["top_n_percent"], 0, 100, open_low=True)
        self.num_samples = int_option("bohb", "num_samples", opts["num_samples"], 1)
        self.bandwidth_factor = float_option("bohb", "bandwidth_factor", opts["bandwidth_factor"], 0, open_low=True)
        self.min_bandwidth = float_option("bohb", "min_bandwidth", opts["min_bandwidth"], 0, open_low=True)
        self.metric, self.weights = self._parse_target(opts["metric"], opts["scalarisation"], opts["weights"])
        self.warm_init = warm_init_option("bohb", opts["warm_init"], space)
        self._kde_levels = [p.levels if p.type == "categorical" else None for p in space.searchable]

    def _parse_target(
        self, metric: Any, scalarisation: Any, weights: Any
    ) -> tuple[ObjectiveSpec | None, np.ndarray | None]:
        """Validate the ranking options: ``(objective, None)`` or ``(None, weights [m])``."""
        names = [o.name for o in self.objectives]
        if not names:
            raise ConfigError("strategy 'bohb' needs at least one objective, e.g. 'val_acc:max'")
        scalarisation = choice_option("bohb", "scalarisation", scalarisation, ("metric", "weighted"))
        if scalarisation == "metric":
            if weights is not None:
                raise option_error("bohb", "weights", weights, 'none unless scalarisation = "weighted"')
            name = names[0] if metric is None else metric
            if name not in names:
                raise option_error("bohb", "metric", metric, f"one of the objectives {names}")
            return self.objectives[names.index(name)], None
        if metric is not None:
            raise option_error("bohb", "metric", metric, 'none with scalarisation = "weighted"')
        if isinstance(weights, dict):
            extra = sorted(set(weights) - set(names))
            if extra:
                raise option_error("bohb", "weights", weights, f"objective names only; {extra} are not objectives {names}")
            weights = [weights.get(n, 0.0) for n in names]
        if not isinstance(weights, (list, tuple)) or len(weights) != len(names):
            raise option_error("bohb", "weights", weights,
                               f"{len(names)} numbers (one per objective {names}) or a {{name: weight}} table")
        w = np.array([float_option("bohb", "weights", v, 0) for v in weights])
        if not w.sum() > 0:
            raise option_error("bohb", "weights", weights, "non-negative numbers, at least one > 0")
        return None, w

    # -- ranking -----------------------------------------------------------------------------
    def values(self, trials: Sequence[Trial]) -> np.ndarray:
        """Scalar to maximise per trial, shape ``[n]``; failed trials and missing or non-finite
        metrics give ``-inf`` (the worst)."""
        objs = [self.metric] if self.metric is not None else self.objectives
        Y = np.full((len(trials), len(objs)), np.nan)
        for i, t in enumerate(trials):
            if t.state == TrialState.COMPLETE:
                for k, o in enumerate(objs):
                    v = t.metrics.get(o.name)
                    if isinstance(v, (int, float)) and math.isfinite(v):
                        Y[i, k] = float(v) if o.maximize else -float(v)
        ok = ~np.isnan(Y).any(axis=1)
        out = np.full(len(trials), -np.inf)
        if self.weights is None:
            out[ok] = Y[ok, 0]
        elif ok.any():
            lo, hi = Y[ok].min(axis=0), Y[ok].max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            out[ok] = ((Y[ok] - lo) / span) @ self.weights
        return out

    def _rank(self, trials: Sequence[Trial]) -> list[Trial]:
        """Complete trials with a finite value, best first (ties: lower id first)."""
        v = self.values(trials)
        order = sorted(range(len(trials)), key=lambda i: (-v[i], trials[i].id))
        return [trials[i] for i in order if np.isfinite(v[i])]

    # -- model -------------------------------------------------------------------------------
    def fit_model(self) -> tuple[ProductKDE, ProductKDE, float] | None:
        """The (good, bad, budget) KDE pair at the largest budget with enough observations, or
        ``None``. Trials without a fidelity count at the run's fidelity."""
        by_budget: dict[float, list[Trial]] = {}
        for t in self.trials:
            budget = t.fidelity if t.fidelity is not None else self.fidelity
            if budget is not None:
                by_budget.setdefault(round(float(budget), 9), []).append(t)
        d = self.space.dim
        for budget in sorted(by_budget, reverse=True):
            trials = by_budget[budget]
            n, v = len(trials), self.values(trials)
            n_good = max(d + 1, int(self.top_n_percent * n // 100))
            if n - n_good < d + 1 or int(np.isfinite(v).sum()) < n_good:
                continue
            order = sorted(range(n), key=lambda i: (-v[i], trials[i].id))
            X = self.space.to_unit([trials[i].config for i in order]).numpy()
            kw = {"levels": self._kde_levels, "min_bandwidth": self.min_bandwidth}
            return ProductKDE(data=X[:n_good], **kw), ProductKDE(data=X[n_good:], **kw), budget
        return None

    def _new_config(self, model: tuple | None, bracket: int, slot: int, seen: set) -> tuple[dict[str, Any], str] | None:
        """A config not in ``seen`` for first-rung slot ``slot`` of ``bracket`` and its source, or
        ``None`` when ``_MAX_DRAWS`` uniform draws found nothing new (an exhausted finite space)."""
        rng = np.random.default_rng([self.seed % 2**63, bracket, slot])
        if model is not None and rng.random() >= self.random_fraction:
            good, bad, _ = model
            X = good.sample(rng, self.num_samples, bandwidth_factor=self.bandwidth_factor)
            X = self.space.round_unit(torch.from_numpy(X)).numpy()
            score = good.log_pdf(X) - bad.log_pdf(X)
            for i in np.argsort(-score, kind="stable"):
                config = self.space.from_unit(X[i : i + 1])[0]
                if self.space.key(config) not in seen:
                    return config, "model"
        for _ in range(_MAX_DRAWS):
            config = self.space.from_unit(rng.random((1, self.space.dim)))[0]
            if self.space.key(config) not in seen:
                return config, "random"
        return None

    # -- ask ---------------------------------------------------------------------------------
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        """Propose ``n`` evaluations: ready promotions first, then new first-rung configs.

        When a finite space has no new config left, it returns fewer (possibly none) and warns;
        promotions still come once their rungs finish.

        Each proposal's ``info`` holds ``bracket`` and ``rung``; promotions add ``parent`` (the
        trial id promoted), new configs add ``source`` (``"model"``, ``"random"`` or ``"warm"``).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"ask: n must be an integer >= 0, got {n!r}")
        everything = [*self.trials, *pending]
        groups = group_by_rung(everything)
        check_budgets(self.schedule, groups)
        out: list[Proposal] = []
        for bracket, rung, parent in ready_promotions(self.schedule, groups, self._rank)[:n]:
            info = {"bracket": bracket.index, "rung": rung, "parent": parent.id}
            out.append(Proposal(dict(parent.config), fidelity=bracket.budgets[rung], info=info))
        if len(out) == n:
            return out
        model = self.fit_model()
        seen = {self.space.key(t.config) for t in everything}
        warm = self.warm_configs(self.warm_init, pending)
        filled = {b: len(rungs.get(0, [])) for b, rungs in groups.items()}
        b = 0
        while len(out) < n:
            bracket = self.schedule.bracket(b)
            slot = filled.get(b, 0)
            if slot >= bracket.sizes[0]:
                b += 1
                continue
            found = (warm.pop(0), "warm") if warm else self._new_config(model, b, slot, seen)
            if found is None:
                warnings.warn(
                    f"bohb: the space {self.space.name!r} looks exhausted ({len(seen)} distinct configs seen); "
                    f"returning {len(out)} of {n} proposals",
                    SpaceExhaustedWarning,
                    stacklevel=2,
                )
                break
            config, source = found
            seen.add(self.space.key(config))
            filled[b] = slot + 1
            info = {"bracket": b, "rung": 0, "source": source}
            out.append(Proposal(config, fidelity=bracket.budgets[0], info=info))
        return out
