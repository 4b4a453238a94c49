"""Optuna samplers as nago strategies: ``"optuna-tpe"`` (TPESampler, ``multivariate=True``) and ``"optuna-nsga2"``.

Peer baselines for the benchmarks (``nago bench search``). Optuna is an optional dependency
(``pip install 'nago[optuna]'``), imported when one of these strategies is built.

How an ask works: an in-memory Optuna study is rebuilt from nago's history (``study.add_trial`` of
every told trial, complete or failed, and of the pending ones as running), with a sampler seeded from
the strategy seed and the history length, and ``study.ask(distributions)`` is called ``n`` times.
Rebuilding keeps ``tell`` idempotent and makes a resumed study continue exactly as the original
(the Study store, not an Optuna storage, is the source of truth); the system attributes a sampler
writes on a trial (NSGA-II's generation) travel in the proposal's ``info`` and are replayed.

The space's searchable parameters become Optuna distributions (categorical ->
``CategoricalDistribution``, int -> ``IntDistribution``, float -> ``FloatDistribution`` with
``log``); fixed parameters are added to every config. Optuna samplers may propose a config that was
already evaluated; nago does not filter those (under the benchmarks' counting rule, a repeat costs a
query, as with Optuna's own ``n_trials``), so these strategies set ``allows_repeats = True``.
Trials whose objective values are missing or not finite are given to Optuna as failed.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any, Sequence

import numpy as np

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies._options import check_unknown, require_searchable
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial, TrialState


def import_optuna():
    """Import optuna (quietly), or raise :class:`ConfigError` saying how to install it."""
    try:
        import optuna
    except ModuleNotFoundError:
        raise ConfigError("the optuna strategies need Optuna: pip install 'optuna>=4' (or pip install 'nago[optuna]')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


class OptunaStrategy(Strategy):
    """An Optuna sampler behind nago's ask/tell interface (base class; see the registered subclasses).

    Args:
        space: the search space.
        objectives: metrics and directions (Optuna's ``directions``).
        seed: root seed; each ask seeds the sampler from it and the history length.
        fidelity: the fidelity (epochs) of every proposal; ``None`` = the run's default.
        **options: keyword arguments of the sampler's constructor (``seed`` excepted), e.g.
            ``n_startup_trials`` for TPE or ``population_size`` for NSGA-II.
    """

    name = ""
    sampler_name = ""
    defaults: dict[str, Any] = {}
    allows_repeats = True

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: Sequence[ObjectiveSpec],
        seed: int = 0,
        fidelity: float | None = None,
        **options: Any,
    ) -> None:
        optuna = import_optuna()
        require_searchable(space, self.name)
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity, **options)
        self._sampler_cls = getattr(optuna.samplers, self.sampler_name)
        check_unknown(self.name, options, set(inspect.signature(self._sampler_cls.__init__).parameters) - {"self", "seed"})
        self.sampler_options = {**self.defaults, **options}
        self.distributions = {p.name: self._distribution(optuna, p) for p in space.searchable}
        self.directions = ["maximize" if o.maximize else "minimize" for o in self.objectives]
        self._sampler(0)  # fail now, not at the first ask, on a bad option value

    @staticmethod
    def _distribution(optuna, p):
        d = optuna.distributions
        if p.type == "categorical":
            return d.CategoricalDistribution(p.choices)
        if p.type == "int":
            return d.IntDistribution(int(p.low), int(p.high))
        return d.FloatDistribution(p.low, p.high, log=p.log)

    def _sampler(self, seed: int):
        optuna = import_optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                return self._sampler_cls(seed=seed, **self.sampler_options)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"strategy {self.name!r}: bad option value ({e}); options: {self.sampler_options}") from None

    def _frozen(self, optuna, trial: Trial, state):
        values = None
        if state == optuna.trial.TrialState.COMPLETE:
            try:
                values = [float(trial.metrics[o.name]) for o in self.objectives]
            except (KeyError, TypeError, ValueError):
                values = [math.nan]
            if not all(math.isfinite(v) for v in values):
                state, values = optuna.trial.TrialState.FAIL, None
        return optuna.trial.create_trial(
            state=state, values=values, params={k: trial.config[k] for k in self.distributions},
            distributions=self.distributions, system_attrs=dict(trial.info.get("optuna_system_attrs", {})),
        )  # fmt: skip

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        optuna = import_optuna()
        pending = list(pending)
        seed = int(np.random.SeedSequence([self.seed, len(self.trials) + len(pending)]).generate_state(1)[0] >> 1)
        study = optuna.create_study(directions=self.directions, sampler=self._sampler(seed))
        states = optuna.trial.TrialState
        frozen = [self._frozen(optuna, t, states.COMPLETE if t.state == TrialState.COMPLETE else states.FAIL)
                  for t in sorted(self.trials, key=lambda t: t.id)]
        frozen += [self._frozen(optuna, t, states.RUNNING) for t in pending]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.add_trials(frozen)
            out = []
            for _ in range(n):
                trial = study.ask(self.distributions)
                attrs = study._storage.get_trial_system_attrs(trial._trial_id)
                config = {p.name: trial.params[p.name] if p.searchable else p.value for p in self.space.params}
                out.append(Proposal(config, self.fidelity, {"source": self.name, "optuna_system_attrs": dict(attrs)}))
        return out


@STRATEGIES.register("optuna-tpe")
class OptunaTPE(OptunaStrategy):
    """Optuna's ``TPESampler`` with ``multivariate=True`` (options override any sampler argument)."""

    name, sampler_name, defaults = "optuna-tpe", "TPESampler", {"multivariate": True}


@STRATEGIES.register("optuna-nsga2")
class OptunaNSGA2(OptunaStrategy):
    """Optuna's ``NSGAIISampler`` (default population 50; pass ``population_size`` to change it)."""

    name, sampler_name, defaults = "optuna-nsga2", "NSGAIISampler", {}
