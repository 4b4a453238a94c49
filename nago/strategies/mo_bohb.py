"""Multi-objective multi-fidelity search: asynchronous successive halving with Pareto promotions and
new configs from a multi-objective GP (``mo-bohb``), and its model-free baseline (``moasha``).

A generator's trial is a full training run; a search over two objectives should not pay it for
generators whose low-fidelity results are already dominated. ``mo-bohb`` runs the rungs of
successive halving (budgets ``b_0 < b_1 < ... < b_K`` epochs, promotion rate ``η``) asynchronously,
as ASHA does (Li et al. 2020): whenever a slot is free,

1. **promote**, top rung first: of the ``n_r`` finished trials at rung ``r``, the best ``floor(n_r / η)``
   by :func:`~nago.analysis.pareto.pareto_order` (non-dominated rank first, then greedy hypervolume
   contribution within a front, so the promoted configs spread along the front; no scalarisation
   fixed in advance) that are not yet at rung ``r + 1`` move up (failed trials never do); with
   ``min_front_prob``, a due promotion waits while the config's predicted result at the highest budget
   is likely dominated by the results already there (:mod:`~nago.strategies._front_prob`), so the
   budget goes to screens instead;
2. else **start a new config** at the lowest budget: with probability ``random_fraction`` (or while
   no budget has ``n_min`` finite observations) the next unseen Sobol point, else the proposal of
   :class:`~nago.strategies.mobo.MOBO` (GPs + qLogNEHVI, the pending trials as ``X_pending``) fitted to
   the trials of the model budget: the lowest budget (``model_budget = "lowest"``, the default: it has
   the most observations) or the highest with ``n_min`` finite observations (``"highest"``, BOHB's rule);
   with ``local_fraction``, that share of the non-model slots is a one-parameter mutant of a config on
   the highest budget's front (local search around the front, :mod:`~nago.strategies._mutation`).

It never waits for a rung to fill (no idle workers), never repeats a (config, budget) pair (a
promotion checks the configs already at the next rung, pending ones included; a new config is one
never seen at any budget) and keeps no state between asks: a trial's ``info`` says its rung and, for a
promotion, its ``parent`` trial, and every ask rebuilds the rungs from the records, so a resumed study
continues exactly. Reports take the front at the highest fidelity (:mod:`nago.analysis.report`).

``moasha`` is the same loop with ``random_fraction = 1``: random (Sobol) proposals and non-dominated
promotion, the method of Schmucker et al. (2021, Syne Tune's ``MOASHA``), so that benchmarks measure
what the model adds. Why a GP on the lowest budget: see BENCHMARKS.md, "Multi-objective
multi-fidelity" (a GP with the fidelity as an input was not built: the lowest-budget GP already
screens well, and the promotion rule, not the model, decides what gets the full budget).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from nago.analysis.pareto import objective_values, pareto_order, pareto_trials
from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.strategies._gp import is_finite_observation
from nago.strategies._hyperband import schedule_from_options
from nago.strategies._mutation import novel_mutant
from nago.strategies._options import (check_unknown, choice_option, float_option, int_option,
                                      require_searchable, warm_init_option)
from nago.strategies._sobol import novel_sobol, seen_keys
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial, TrialState
from nago.warnings import SpaceExhaustedWarning

_OWN = {"eta": 3, "random_fraction": 1 / 3, "n_min": None, "model_budget": "lowest", "warm_init": None,
        "min_front_prob": 0.0, "local_fraction": 0.0}
_RUNGS = ("budgets", "min_budget", "max_budget")
_MOBO = ("acquisition", "num_restarts", "raw_samples", "mc_samples", "max_candidates", "warp", "features", "transfer",
         "cost_exponent")


@STRATEGIES.register("mo-bohb")
class MOBOHB(Strategy):
    """Asynchronous successive halving, Pareto promotions, multi-objective GP proposals.

    Options (``[search.options.mo-bohb]``):
        budgets: the rungs as an increasing list of epochs (e.g. ``[12, 200]``, the fidelities of a
            table space); else ``max_budget`` (default: the run's ``fidelity``) and ``min_budget``
            (default ``max_budget / eta**2``) give ``max_budget · η^-k`` as in ``bohb``.
        eta: promotion rate, default 3: a rung promotes its best third (as ASHA and Syne Tune).
        random_fraction: share of new configs that are Sobol points, default 1/3 (BOHB's).
        n_min: finite observations a budget needs before the GP models it; default ``d + 2``.
        model_budget: ``"lowest"`` (default) or ``"highest"`` (BOHB's rule): which budget with ``n_min``
            observations the GP is fitted to. The lowest has the most observations; on NAS-Bench-201
            (12 / 200 epochs) it reached a higher hypervolume at every cost (BENCHMARKS.md; a GP of the highest
            budget with the lower budgets' GPs as prior means was measured too: no better, twice the time).
        acquisition, num_restarts, raw_samples, mc_samples, max_candidates, warp, features, transfer,
            cost_exponent: the GP and acquisition settings, as ``mobo``'s. ``cost_exponent`` weighs a new
            config's screen by its predicted cost (configs differ several-fold in training time).
        warm_init: with a warm start, how many of the earlier studies' best configs are the first new
            configs (at the lowest budget, so they are screened like any other); default ``d + 1``.
        min_front_prob: skip a due promotion while the predicted probability that the config's result at
            the highest budget is non-dominated by the results already there is below this (0 to 1;
            default 0: ASHA's rule alone). The prediction is a line per objective from the config's
            budget to the highest, fitted to the configs trained at both (:mod:`~nago.strategies._front_prob`;
            off until 4 exist). A skipped config keeps its rank and is promoted later if the line moves.
        local_fraction: share of the ``random_fraction`` slots that, once the highest budget has a front, go to
            a one-parameter mutant of a front config instead of a Sobol point (0 to 1; default 0). The GP of a
            low budget misjudges some configs next to the front; a neighbour of a front config is often on it.

    Warm starts: besides those configs, with ``transfer = "mean"`` or ``"mtgp"`` the GP gets the earlier
    observations as ``mobo`` does (measured at the sources' fidelity; the weights learn how they relate to
    the model budget) once ``n_min`` observations exist; the default ``"none"`` keeps only the configs
    (why: ``mobo``'s docstring).

    The hypervolume reference of the acquisition is the study's (``set_ref_point``) when the GP models
    the highest budget; at lower budgets (other accuracy levels) it is inferred from that budget's data.
    """

    multi_fidelity = True  # takes `budgets` (nago bench search hands it a table's fidelities)
    supports_warm_start = True

    name = "mo-bohb"

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
        check_unknown(self.name, options, sorted({*_OWN, *_RUNGS, *_MOBO}))
        require_searchable(space, self.name)
        if not self.objectives:
            raise ConfigError(f"strategy {self.name!r} needs at least one objective, e.g. 'val_acc:max'")
        opts = {**_OWN, **self._fixed_options(), **options}
        self.eta = float_option(self.name, "eta", opts["eta"], 1, open_low=True)
        self.budgets = schedule_from_options(self.name, opts, fidelity, self.eta).budgets
        self.random_fraction = float_option(self.name, "random_fraction", opts["random_fraction"], 0, 1)
        n_min = space.dim + 2 if opts["n_min"] is None else opts["n_min"]
        self.n_min = int_option(self.name, "n_min", n_min, 2)
        self.model_budget = choice_option(self.name, "model_budget", opts["model_budget"], ("highest", "lowest"))
        self.warm_init = warm_init_option(self.name, opts["warm_init"], space)
        self.min_front_prob = float_option(self.name, "min_front_prob", opts["min_front_prob"], 0, 1)
        self.local_fraction = float_option(self.name, "local_fraction", opts["local_fraction"], 0, 1)
        self._mobo_options = {k: options[k] for k in _MOBO if k in options}
        if self.random_fraction < 1:  # validate the GP options now, not at the first model ask
            self._model(self.budgets[0])

    def _fixed_options(self) -> dict[str, Any]:
        """Options a subclass pins (``moasha``: no model)."""
        return {}

    # -- rungs ---------------------------------------------------------------------------------
    def rung_of(self, trial: Trial) -> int:
        """Index of ``trial``'s budget in :attr:`budgets`; :class:`ConfigError` when it fits none (a
        resume with other budgets)."""
        f = trial.fidelity
        for r, b in enumerate(self.budgets):
            if f is not None and math.isclose(float(f), b, rel_tol=1e-9):
                return r
        raise ConfigError(
            f"trial {trial.id} has fidelity {f}, not one of the {self.name} budgets {list(self.budgets)}; "
            "resume with the options the study started with"
        )

    def ranked(self, trials: Sequence[Trial]) -> list[Trial]:
        """Complete trials with every objective finite, best first by :func:`pareto_order`."""
        ok = [t for t in trials if t.state == TrialState.COMPLETE and is_finite_observation(t, self.objectives)]
        if not ok:
            return []
        Y = objective_values(ok, self.objectives)
        return [ok[i] for i in pareto_order(Y, maximize=[o.maximize for o in self.objectives])]

    def promotions(self, pending: Sequence[Trial]) -> list[tuple[Trial, int, float | None]]:
        """``(parent, next_rung, front_prob)`` for every promotion due now, top rung first (ASHA);
        ``front_prob``: see :meth:`front_probabilities` (``None`` where not computed)."""
        everything = [*self.trials, *pending]
        by_rung: dict[int, list[Trial]] = {}
        for t in everything:
            by_rung.setdefault(self.rung_of(t), []).append(t)
        out = []
        for r in range(len(self.budgets) - 2, -1, -1):
            finished = [t for t in by_rung.get(r, []) if t.state in (TrialState.COMPLETE, TrialState.FAILED)]
            k = int(math.floor(len(finished) / self.eta + 1e-9))
            if k == 0:
                continue
            above = {self.space.key(t.config) for t in by_rung.get(r + 1, [])}
            due = [t for t in self.ranked(finished)[:k] if self.space.key(t.config) not in above]
            probs = self.front_probabilities(r, due) if self.min_front_prob > 0 and due else [None] * len(due)
            out += [(t, r + 1, p) for t, p in zip(due, probs) if p is None or p >= self.min_front_prob]
        return out

    def front_probabilities(self, rung: int, trials: Sequence[Trial]) -> list[float | None]:
        """For each trial of ``rung``: the predicted probability that its config's result at the highest
        budget is dominated by none of those observed there (:mod:`~nago.strategies._front_prob`: a line
        per objective fitted to the configs complete at both budgets, 256 seeded draws per trial so a
        resume decides alike); ``None`` each while fewer than 4 such configs exist."""
        from nago.strategies._front_prob import fit_budget_map, front_probability

        top = len(self.budgets) - 1
        done = {r: {} for r in (rung, top)}
        for t in self.trials:
            r = self.rung_of(t)
            if r in done and t.state == TrialState.COMPLETE and is_finite_observation(t, self.objectives):
                done[r][self.space.key(t.config)] = t
        both = [k for k in done[rung] if k in done[top]]
        fit = fit_budget_map(self.max_sense_matrix([done[rung][k] for k in both]).numpy(),
                             self.max_sense_matrix([done[top][k] for k in both]).numpy()) if both else None
        if fit is None:
            return [None] * len(trials)
        a, b, sd = fit
        front = self.max_sense_matrix(list(done[top].values())).numpy()
        low = self.max_sense_matrix(list(trials)).numpy()
        draws = (np.random.default_rng([self.seed % 2**63, t.id]).standard_normal((256, len(sd))) for t in trials)
        return [front_probability(a + b * x, sd, front, eps) for x, eps in zip(low, draws)]

    # -- new configs -----------------------------------------------------------------------------
    def _model(self, budget: float):
        """The ``mobo`` that models ``budget`` (kept between asks: a warm start's source GPs are fitted once)."""
        from nago.strategies.mobo import MOBO

        kept = getattr(self, "_models", {})
        mobo = kept.get(budget)
        if mobo is None or mobo.warm is not self.warm:
            mobo = MOBO(space=self.space, objectives=self.objectives, seed=self.seed, fidelity=budget,
                        n_init=self.n_min, warm_init=0, **self._mobo_options)
            mobo.set_warm_start(self.warm)
            self._models = {**kept, budget: mobo}
        if budget == self.budgets[-1] and self.ref_point is not None:
            mobo.set_ref_point(self.ref_point)
        return mobo

    def model_rung(self) -> int | None:
        """The budget index the GP is fitted to now (see ``model_budget``), or ``None`` while no budget
        has ``n_min`` finite observations."""
        counts = [0] * len(self.budgets)
        for t in self.trials:
            if t.state == TrialState.COMPLETE and is_finite_observation(t, self.objectives):
                counts[self.rung_of(t)] += 1
        ready = [r for r, c in enumerate(counts) if c >= self.n_min]
        if not ready:
            return None
        return ready[-1] if self.model_budget == "highest" else (ready[0] if ready[0] == 0 else None)

    def _new_configs(self, n: int, pending: Sequence[Trial]) -> list[Proposal]:
        first = [t for t in [*self.trials, *pending] if self.rung_of(t) == 0]
        rng = np.random.default_rng([self.seed % 2**63, len(first)])
        rung = self.model_rung() if self.random_fraction < 1 else None
        n_model = 0 if rung is None else int((rng.random(n) >= self.random_fraction).sum())
        out = [Proposal(c, fidelity=self.budgets[0], info={"rung": 0, "source": "warm"})
               for c in self.warm_configs(self.warm_init, pending)[:n]]
        n_model = min(n_model, n - len(out))
        if n_model:
            mobo = self._model(self.budgets[rung])
            mobo.tell(self.trials)
            train = [t for t in self.trials if self.rung_of(t) == rung]
            for p in mobo.propose(n_model, [*pending, *mobo._as_pending(out)], train=train):
                info = {**p.info, "rung": 0, "model_budget": self.budgets[rung]}
                if info.get("source") == "sobol":  # the GP fell back or could not fill the batch
                    info["source"] = "fallback" if "error" in info else "sobol"
                out.append(Proposal(p.config, fidelity=self.budgets[0], info=info))
        exclude = seen_keys(self.space, [*self.trials, *pending]) | {self.space.key(p.config) for p in out}
        if self.local_fraction > 0 and len(out) < n:
            out += self._local_configs(n - len(out), rng, exclude)
        skip = len(self.trials) + len(pending)
        for config, i in novel_sobol(self.space, n - len(out), seed=self.seed, skip=skip, exclude=exclude):
            out.append(Proposal(config, fidelity=self.budgets[0], info={"rung": 0, "source": "sobol", "sobol_index": i}))
        return out

    def front_trials(self) -> list[Trial]:
        """The complete trials of the highest budget that no other there dominates, best first (:meth:`ranked`)."""
        ranked = self.ranked([t for t in self.trials if self.rung_of(t) == len(self.budgets) - 1])
        return pareto_trials(ranked, self.objectives) if ranked else []

    def _local_configs(self, n: int, rng: np.random.Generator, exclude: set[tuple]) -> list[Proposal]:
        """Of ``n`` slots left for Sobol points, each with probability ``local_fraction``: a one-parameter mutant
        of a config on the highest budget's front (:func:`~nago.strategies._mutation.novel_mutant`); none while
        that front is empty. ``exclude`` gains the keys returned."""
        front, out = self.front_trials(), []
        if not front:
            return out
        for _ in range(n):
            if rng.random() >= self.local_fraction:
                continue
            found = novel_mutant(self.space, front, rng, exclude)
            if found is not None:
                child, parent = found
                exclude.add(self.space.key(child))
                out.append(Proposal(child, fidelity=self.budgets[0], info={"rung": 0, "source": "local",
                                                                           "mutant_of": parent.id}))
        return out

    # -- ask -----------------------------------------------------------------------------------
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        """Propose ``n`` evaluations: due promotions first (top rung first), then new configs at the
        lowest budget. ``info``: ``rung``; promotions ``parent`` (trial id) and ``source =
        "promotion"``; new configs ``source`` (``"sobol"``, or the GP's ``"qlognehvi"``, ...) and, from
        the GP, ``model_budget``. Fewer than ``n`` (with a warning) only when a finite space is exhausted.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"ask: n must be an integer >= 0, got {n!r}")
        pending = list(pending)
        out = [Proposal(dict(t.config), fidelity=self.budgets[r], info={"rung": r, "parent": t.id, "source": "promotion",
                                                                        **({} if p is None else {"front_prob": p})})
               for t, r, p in self.promotions(pending)[:n]]
        if len(out) < n:
            out += self._new_configs(n - len(out), pending)
        if len(out) < n:
            warnings.warn(f"{self.name}: the space {self.space.name!r} looks exhausted; returning {len(out)} of {n} "
                          "proposals", SpaceExhaustedWarning, stacklevel=2)
        return out


@STRATEGIES.register("moasha")
class MOASHA(MOBOHB):
    """``mo-bohb`` without the model: Sobol proposals, non-dominated promotions (Schmucker et al. 2021).

    Options: ``budgets`` (or ``min_budget``/``max_budget``), ``eta`` and ``warm_init`` (the earlier studies'
    best configs come first; no model uses their observations), as ``mo-bohb``.
    """

    name = "moasha"

    def __init__(self, *, space: SearchSpace, objectives: Sequence[ObjectiveSpec], seed: int = 0,
                 fidelity: float | None = None, **options: Any) -> None:
        check_unknown("moasha", options, ("budgets", "min_budget", "max_budget", "eta", "warm_init"))
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity, **options)

    def _fixed_options(self) -> dict[str, Any]:
        return {"random_fraction": 1.0, "local_fraction": 0.0}
