"""Multi-objective Bayesian optimisation with BoTorch: GPs + qLogNEHVI / qLogNParEGO (qLogNEI for one objective).
This is the "NAGO-MOBO (GP variant)": the paper's surrogate is a heteroscedastic BNN with USeMO-style selection
and local penalisation [Ru2020nago]; nago uses GPs with the observed within-generator variance as noise and
batch proposals conditioned on pending points [Daulton2021nehvi, Ament2023logei].

How an ask works:

1. Until ``n_init`` complete observations with finite objective values exist, every proposal is a
   Sobol point (the rule of :mod:`nago.strategies._sobol`: the seed's sequence read from index
   ``len(told) + len(pending)``). Failed trials never enter the surrogate, but their configs count as
   seen and are never proposed again; non-finite objective values are left out too.
2. One GP per objective (:mod:`nago.strategies._gp`), objectives maximised internally (min-objectives
   negated) and, by default, output-warped (:mod:`nago.strategies._warp`: half-rank + log, as Google
   Vizier does). With several objectives the hypervolume is still measured in raw units (posterior
   samples go back through the warp's inverse before qLogNEHVI / qLogNParEGO / the candidate screening
   see them) and gross failures are a constraint (see "Failures in two-objective spaces"). Fixed noise ``std**2 / k``
   where ``k >= 2`` sampled networks give a per-objective std (scaled by the warp's spread ratio).
3. The acquisition (with the pending trials as ``X_pending`` and ``prune_baseline=True``) is optimised
   for a batch of ``n`` points, sequentially greedy:

   * spaces with a continuous dimension: ``optimize_acqf_mixed_alternating``; ints and categoricals
     are their exact bin centres in the unit cube (``discrete_dims``/``cat_dims``), so the model is
     only ever asked about points that are real configs; continuous dims use L-BFGS-B. An ask of
     ``n=4`` on ``spaces/hnag.toml`` (d=8) with 200 observations takes ~3.5 s (qLogNEHVI) and ~6 s
     (qLogNParEGO) on one thread of a busy 2-core CPU.
   * spaces of ints and categoricals only (tabular cell spaces, ``hnag.toml`` with its floats fixed):
     the acquisition is scored on explicit candidates (:mod:`nago.strategies._discrete`): every
     unseen config when the space has at most ``max_candidates``, else that many random configs plus
     the one-exchange neighbours of the best observed ones. Exact, and never a repeat.
4. Candidates whose config was already seen (told, pending, or earlier in the batch) are dropped and
   the batch is filled from Sobol. Any exception in fitting or optimising (``ModelFittingError``,
   NotPSD, NaN, ...) warns with :class:`~nago.warnings.SurrogateFallbackWarning` and the whole ask falls back to
   Sobol: a study never ends because of the GP.
5. With ``cost_exponent > 0`` the acquisition (and the screening) is per unit of predicted training cost
   (a GP of the trials' log cost; :mod:`nago.strategies._cost`).

Reference point of the hypervolume (raw units, one per objective): the study's ``[search] ref_point`` (handed
over by :meth:`~nago.strategies.base.Strategy.set_ref_point`) or the option ``ref_point``, else inferred each ask
by :func:`nago.analysis.pareto.reference_point` (worst observed value minus 10 % of the observed range), the rule
the Study and reports use too. Proposals carry it as ``info["ref_point"]``.

Failures in two-objective spaces (issue 12, defect 11). On NB201 accuracy vs latency a few hundred cells
fail (chance accuracy, ~10 %) at near-zero cost, and the warped GP could not tell them from mediocre
configs (the half-rank step keeps the tail's order, not its magnitude), so mobo chased them. Two fixes:
the hypervolume is measured in raw units (the warp is inverted on the posterior samples), and **gross
failures are an outcome constraint**: rows far below the bulk of some objective
(:func:`nago.strategies._gp.gross_failures`: more than 10 upper-half spreads below the median) get a label
+1, the others -1, and a GP of those labels (same kernel as the objectives) is the last output of the
model; qLogNEHVI / qLogNParEGO count an improvement only where it is ``<= 0`` (BoTorch's ``constraints``),
the screening multiplies by that probability and takes the front of the other observations. The objective
GPs still see every observation; ``info["gross_failures"]`` counts the rows treated so. With one objective
the half-rank warp alone handles the tail (log-EI looks only at the top). Measurements and the variants
that lost (raw units alone, log warp only): BENCHMARKS.md, "Two objectives after defect 11".

Warm starts (:mod:`nago.study.warm_start`, ``nago search --warm-start DIR``). Two parts:

* the initial design: the first ``warm_init`` proposals (default ``n_init // 2``) are the earlier
  studies' best configs (their Pareto front, spread first, then the next ranks; several sources in turn),
  in place of as many Sobol points;
* the model (``transfer``): ``"none"`` (the default: the initial design only, then the usual GP of the
  target's own observations), ``"mean"`` (each earlier study's GP is the prior mean of the target GP, with a
  learned weight) or ``"mtgp"`` (a multi-task GP); what each does and why ``"none"`` is the default:
  :mod:`nago.strategies._transfer`.

Every proposal's ``info`` says how it was made: ``{"source": "sobol" | "fallback" | "qlognehvi" |
"qlognparego" | "qlognei" | "warm", ...}``; with a warm-started model, ``"transfer": "mean"`` (or ``"mtgp"``).
The ask is deterministic given the seed and the history (torch's global RNG is forked and seeded from both).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import ModelListGP
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from botorch.sampling import SobolQMCNormalSampler
from botorch.utils.sampling import sample_simplex

from nago.config.space import SearchSpace
from nago.strategies import _discrete
from nago.strategies._features import GP_FEATURES
from nago.analysis.pareto import max_sense, objective_values, reference_point
from nago.strategies._gp import fit_model, gross_failures, is_finite_observation, observed_noise
from nago.strategies._cost import cost_weighted
from nago.strategies._transfer import SourcePriors, transfer_tasks
from nago.strategies._warp import OutputWarp
from nago.strategies._options import check_unknown, choice_option, float_option, int_option, require_searchable
from nago.strategies._sobol import novel_sobol, pending_unit, seen_keys
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial, TrialState
from nago.warnings import SpaceExhaustedWarning, SurrogateFallbackWarning

ACQUISITIONS = ("qlognehvi", "qlognparego")
WARPS = ("half-rank-log", "none")
TRANSFERS = ("mean", "mtgp", "none")


@STRATEGIES.register("mobo")
class MOBO(Strategy):
    """Batch Bayesian optimisation of one or more objectives with BoTorch.

    Takes a warm start (see the module docstring).

    Args:
        space: the search space.
        objectives: ``m`` metrics and directions; ``m == 1`` uses qLogNEI.
        seed: root seed (Sobol scrambling, MC base samples, optimiser restarts).
        fidelity: the fidelity (epochs) of every proposal; ``None`` = the run's default.
        n_init: complete observations before the GP takes over; default ``2 * (d + 1)``.
        acquisition: ``"qlognehvi"`` (default) or ``"qlognparego"`` (random Chebyshev weights per ask);
            ignored when ``m == 1``.
        ref_point: hypervolume reference point in raw metric units, one per objective; default: the
            study's (``set_ref_point``), else inferred from the data each ask.
        num_restarts: optimiser restarts per batch point.
        raw_samples: initial candidates the restarts are chosen from.
        mc_samples: quasi-MC samples of the acquisition.
        max_candidates: in spaces without continuous dimensions, score every config when there are
            at most this many, else this many random ones plus the neighbours of the best.
        warp: output warping of the GP targets per objective: ``"half-rank-log"`` (default,
            :mod:`nago.strategies._warp`; with several objectives its log step only) or ``"none"``
            (standardised raw values).
        features: a registered GP feature map (:mod:`nago.strategies._features`, e.g.
            ``"nb201-paths"``); the GP then compares configs by those features. Default: by their dimensions.
        warm_init: with a warm start, how many of the earlier studies' best configs come first; default
            ``n_init // 2`` (at least 1).
        transfer: with a warm start, ``"none"`` (default: only the initial configs), ``"mean"`` (the
            earlier studies' GPs are the prior mean) or ``"mtgp"`` (a multi-task GP); see "Warm starts".
        cost_exponent: ``a >= 0``; with ``a > 0`` the acquisition is divided by (predicted cost)^a, improvement
            per unit of training cost (:mod:`nago.strategies._cost`); default 0 (cost ignored).

    Example:
        >>> objs = parse_objectives(["val_acc:max", "memory_mb:min"])
        >>> s = STRATEGIES.get("mobo")(space=space, objectives=objs, seed=0, acquisition="qlognparego")
        >>> s.tell(history)
        >>> proposals = s.ask(4, pending=running)
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: Sequence[ObjectiveSpec],
        seed: int = 0,
        fidelity: float | None = None,
        n_init: int | None = None,
        acquisition: str = "qlognehvi",
        ref_point: Sequence[float] | None = None,
        num_restarts: int = 10,
        raw_samples: int = 256,
        mc_samples: int = 128,
        max_candidates: int = 20_000,
        warp: str = "half-rank-log",
        features: str | None = None,
        warm_init: int | None = None,
        transfer: str = "none",
        cost_exponent: float = 0.0,
        **unknown: Any,
    ) -> None:
        check_unknown(
            "mobo", unknown, ("n_init", "acquisition", "ref_point", "num_restarts", "raw_samples", "mc_samples",
                              "max_candidates", "warp", "features", "warm_init", "transfer", "cost_exponent")
        )
        require_searchable(space, "mobo")
        super().__init__(
            space=space, objectives=objectives, seed=seed, fidelity=fidelity, n_init=n_init,
            acquisition=acquisition, ref_point=ref_point, num_restarts=num_restarts,
            raw_samples=raw_samples, mc_samples=mc_samples, max_candidates=max_candidates, warp=warp,
            features=features, warm_init=warm_init, transfer=transfer, cost_exponent=cost_exponent,
        )  # fmt: skip
        self.n_init = 2 * (space.dim + 1) if n_init is None else int_option("mobo", "n_init", n_init, 2)
        self.acquisition = choice_option("mobo", "acquisition", acquisition, ACQUISITIONS)
        self.set_ref_point(ref_point, source="strategy 'mobo': option 'ref_point'")
        self.num_restarts = int_option("mobo", "num_restarts", num_restarts)
        self.raw_samples = int_option("mobo", "raw_samples", raw_samples, self.num_restarts)
        self.mc_samples = int_option("mobo", "mc_samples", mc_samples)
        self.max_candidates = int_option("mobo", "max_candidates", max_candidates)
        self.warp = choice_option("mobo", "warp", warp, WARPS)
        self.features = None if features is None else GP_FEATURES.get(str(features))(space)
        self.warm_init = max(1, self.n_init // 2) if warm_init is None else int_option("mobo", "warm_init", warm_init, 0)
        self.transfer = choice_option("mobo", "transfer", transfer, TRANSFERS)
        self.cost_exponent = float_option("mobo", "cost_exponent", cost_exponent, 0)
        self._setup_domain()

    supports_warm_start = True

    @property
    def model_transfer(self) -> bool:
        """Whether the surrogate models the warm start's observations (a warm start and ``transfer`` not ``"none"``)."""
        return self.warm is not None and self.transfer != "none"

    def _setup_domain(self) -> None:
        """Bounds ``[2, d]`` and the discrete/categorical bin centres the optimiser may pick."""
        d = self.space.dim
        self._bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(torch.float64)
        self._discrete: dict[int, list[float]] = {}
        self._cats: dict[int, list[float]] = {}
        self._fixed: dict[int, float] = {}
        self.cat_dims = [j for j, p in enumerate(self.space.searchable) if p.type == "categorical"]
        for j, k in enumerate(self.space.levels()):
            if k is None:
                continue
            centres = [(i + 0.5) / k for i in range(k)]
            self._bounds[0, j], self._bounds[1, j] = centres[0], centres[-1]
            if k == 1:
                self._fixed[j] = centres[0]
            else:
                (self._cats if j in self.cat_dims else self._discrete)[j] = centres

    # -- ask -------------------------------------------------------------------------------------
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        return self.propose(n, pending, train=self.completed())

    def propose(self, n: int, pending: Sequence[Trial], *, train: Sequence[Trial]) -> list[Proposal]:
        """:meth:`ask` with the GP fitted to ``train`` (a subset of the told trials) instead of every
        complete trial; configs of every told and pending trial are still never proposed again.
        Multi-fidelity strategies (``mo-bohb``) fit the model to one budget's trials this way."""
        pending = list(pending)
        exclude = seen_keys(self.space, [*self.trials, *pending])
        skip = len(self.trials) + len(pending)
        train = [t for t in train if t.state == TrialState.COMPLETE and is_finite_observation(t, self.objectives)]
        out = [Proposal(c, self.fidelity, {"source": "warm"}) for c in self.warm_configs(self.warm_init, pending)[:n]]
        exclude |= {self.space.key(p.config) for p in out}
        sobol_info: dict[str, Any] = {"source": "sobol", "reason": "init"}
        if n > len(out) and len(train) >= self.n_init:
            seed = int(np.random.SeedSequence([self.seed, skip]).generate_state(1)[0])
            try:
                X, infos = self._optimize(n - len(out), train, [*pending, *self._as_pending(out)], seed)
            except Exception as e:  # noqa: BLE001 - whatever the GP does, the study goes on
                msg = f"{type(e).__name__}: {e}"
                warnings.warn(f"mobo: surrogate failed ({msg}); proposing Sobol points", SurrogateFallbackWarning, 2)
                X, infos, sobol_info = None, [], {"source": "fallback", "error": msg}
            else:
                sobol_info = {"source": "sobol", "reason": "fill"}
            for config, info in zip(self.space.from_unit(X) if X is not None else [], infos):
                key = self.space.key(config)
                if key not in exclude:
                    exclude.add(key)
                    out.append(Proposal(config, self.fidelity, info))
        for config, i in novel_sobol(self.space, n - len(out), seed=self.seed, skip=skip, exclude=exclude):
            out.append(Proposal(config, self.fidelity, {**sobol_info, "sobol_index": i}))
        if len(out) < n:
            warnings.warn(
                f"mobo: the space {self.space.name!r} looks exhausted ({len(exclude)} distinct configs seen); "
                f"returning {len(out)} of {n} proposals",
                SpaceExhaustedWarning,
                stacklevel=2,
            )
        return out

    def _optimize(self, n: int, train: list[Trial], pending: list[Trial], seed: int) -> tuple[torch.Tensor, list[dict]]:
        """Fit the GPs and optimise the acquisition for ``n`` points.

        Returns:
            Candidates ``[n, d]`` in the unit cube (discrete dims at bin centres) and one ``info`` each.
        """
        X = self.space.to_unit([t.config for t in train])
        Y = self.max_sense_matrix(train)
        noise = observed_noise(train, self.objectives, Y)
        maximize = [o.maximize for o in self.objectives]
        ref = None  # hypervolume reference point, raw units (maximisation sense)
        unwarp = None  # model outputs -> raw units (maximisation sense), for the hypervolume
        info: dict[str, Any] = {}
        if len(self.objectives) > 1:
            raw_ref = self.ref_point
            if raw_ref is None:  # nago's one rule (nago.analysis.pareto.reference_point), on this ask's data
                raw_ref = reference_point(objective_values(train, self.objectives), maximize=maximize).tolist()
            ref = torch.as_tensor(max_sense([raw_ref], maximize)[0], dtype=torch.float64)
            info["ref_point"] = [float(v) for v in raw_ref]
        failed = gross_failures(Y) if ref is not None else torch.zeros(len(Y), dtype=torch.bool)
        if self.warp == "half-rank-log":
            warp = OutputWarp(Y)
            Y = warp.warped
            noise = [None if v is None else v * warp.scale[j] ** 2 for j, v in enumerate(noise)]
            if ref is not None:  # several objectives: the hypervolume is measured in raw units
                unwarp = warp.unmap
        tasks = priors = None
        if self.model_transfer:
            if self.transfer == "mtgp":  # multi-task GPs learn their noise per task
                tasks = self._transfer_tasks(Y)
                noise = [None if t else v for t, v in zip(tasks, noise)]
            else:
                priors = self._source_models()
            info["transfer"] = self.transfer
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            transfer = {k: v for k, v in (("tasks", tasks), ("priors", priors)) if v is not None}
            model = fit_model(X, Y, noise, self.cat_dims, self.features, **transfer)
            feasibility = None  # several objectives with gross failures: a GP of failed (+1) / not (-1)
            if failed.any():
                info["gross_failures"] = int(failed.sum())
                labels = torch.where(failed, 1.0, -1.0).to(Y).unsqueeze(-1)
                feasibility = fit_model(X, labels, [None], self.cat_dims, self.features)
                model = ModelListGP(*model.models, feasibility)
            X_pending = pending_unit(self.space, pending)
            acqf, source = self._acquisition(model, X, X_pending, ref, seed, unwarp, constrained=feasibility is not None)
            info.update(source)
            fit_cost = lambda Xc, yc: fit_model(Xc, yc, [None], self.cat_dims, self.features)  # noqa: E731
            acqf, log_cost = cost_weighted(acqf, X, train, self.cost_exponent, fit_cost, info)
            if None not in self.space.levels():
                return self._optimize_discrete(acqf, model, X, Y, ref, n, X_pending, info, seed, unwarp, failed, log_cost)
            with warnings.catch_warnings():
                # the alternating optimiser's short inner L-BFGS runs hit their iteration cap by design
                warnings.filterwarnings("ignore", category=OptimizationWarning)
                warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"botorch\.")
                cand, values = optimize_acqf_mixed_alternating(
                    acqf, self._bounds, discrete_dims=self._discrete, cat_dims=self._cats, q=n,
                    num_restarts=self.num_restarts, raw_samples=self.raw_samples, fixed_features=self._fixed,
                )  # fmt: skip
        cand = self.space.round_unit(cand.detach().reshape(n, -1))
        if not torch.isfinite(cand).all():
            raise FloatingPointError("the acquisition optimiser returned non-finite candidates")
        if values is not None and values.numel() == 1:
            info = {**info, "batch_acq_value": float(values)}  # the joint (log-)acquisition value of the batch
        return cand, [dict(info) for _ in range(n)]

    def _as_pending(self, proposals: Sequence[Proposal]) -> list[Trial]:
        """Proposals of this ask as pending trials (the GP's ``X_pending``)."""
        return [Trial(id=-1, config=dict(p.config), seed=0) for p in proposals]

    def _source_models(self) -> list[list[Any]]:
        """The sources' GPs (``transfer="mean"``, :class:`~nago.strategies._transfer.SourcePriors`)."""
        if getattr(self, "_priors", None) is None:
            self._priors = SourcePriors(lambda: self._transfer_tasks(None), self.cat_dims, self.features, self.seed)
        return self._priors()

    def _transfer_tasks(self, Y: torch.Tensor | None) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
        """:func:`~nago.strategies._transfer.transfer_tasks` of this study's warm start."""
        return transfer_tasks(self.warm, self.space, len(self.objectives), warp=self.warp == "half-rank-log", Y=Y)

    def _optimize_discrete(
        self, acqf: Any, model: Any, X_train: torch.Tensor, Y: torch.Tensor, ref: torch.Tensor | None, n: int,
        X_pending: torch.Tensor | None, info: dict[str, Any], seed: int, unwarp: Any = None,
        failed: torch.Tensor | None = None, log_cost: Any = None,
    ) -> tuple[torch.Tensor, list[dict]]:
        """Screen the unseen candidate configs, then pick a batch of (up to) ``n`` greedily by ``acqf``.

        ``failed`` (``[n_train]`` bool, several objectives): the gross failures; with any, the model's
        last output is the feasibility GP, and the screening scores feasible improvement over the front of
        the other observations."""
        levels = self.space.levels()
        seen = [self.space.to_unit([t.config for t in self.trials])] + ([] if X_pending is None else [X_pending])
        seen_idx = _discrete.level_indices(torch.cat(seen), levels)
        best = X_train[Y.argmax(dim=0).unique()]  # the best observed config per objective
        anchors = _discrete.level_indices(best, levels)
        cand = _discrete.candidates(
            levels, exclude={tuple(r) for r in seen_idx.tolist()}, rng=np.random.default_rng(seed),
            max_candidates=self.max_candidates, anchors=anchors,
        )  # fmt: skip
        X = _discrete.to_unit(cand, levels)
        if len(X) > _discrete.SHORTLIST:
            if failed is not None and failed.any():
                m = len(self.objectives)
                scores = _discrete.screen(ModelListGP(*model.models[:m]), X, X_train[~failed], ref, seed, objective=unwarp,
                                          feasibility=model.models[m])
            else:
                scores = _discrete.screen(model, X, X_train, ref, seed, objective=unwarp)
            if log_cost is not None:  # the screening's log-scores per unit cost, as the acquisition's
                with torch.no_grad():
                    scores = scores - self.cost_exponent * log_cost(X)
            X = X[torch.topk(scores, _discrete.SHORTLIST).indices]
        picked, values = _discrete.greedy_batch(acqf, X, n, X_pending)
        infos = [{**info, "acq_value": v, "candidates": len(cand)} for v in values]
        return X[picked], infos

    def _acquisition(
        self, model: Any, X: torch.Tensor, X_pending: torch.Tensor | None, ref: torch.Tensor | None, seed: int,
        unwarp: Any = None, constrained: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Build the acquisition function and the ``info`` it contributes to proposals.

        Args:
            ref: ``[m]`` hypervolume reference point, raw units, maximisation sense (``m >= 2``).
            unwarp: maps the model's (warped) outputs ``[..., m]`` to raw units; ``None``: the identity.
            constrained: the model has an ``m+1``-th output, the feasibility GP (``<= 0``: not a gross
                failure), used as an outcome constraint.
        """
        sampler = SobolQMCNormalSampler(sample_shape=torch.Size([self.mc_samples]), seed=seed)
        common = dict(model=model, X_baseline=X, sampler=sampler, X_pending=X_pending, prune_baseline=True)
        if len(self.objectives) == 1:
            return qLogNoisyExpectedImprovement(**common), {"source": "qlognei"}
        m = len(self.objectives)
        if unwarp is not None or constrained:
            to_raw = unwarp if unwarp is not None else (lambda values: values)
            common["objective"] = GenericMCMultiOutputObjective(lambda samples, X=None: to_raw(samples[..., :m]))
        if constrained:
            common["constraints"] = [lambda samples: samples[..., m]]
        if self.acquisition == "qlognparego":
            weights = sample_simplex(len(self.objectives), dtype=torch.float64).reshape(-1)
            acqf = qLogNParEGO(scalarization_weights=weights, **common)
            return acqf, {"source": "qlognparego", "weights": weights.tolist()}
        acqf = qLogNoisyExpectedHypervolumeImprovement(ref_point=ref, **common)
        return acqf, {"source": "qlognehvi"}
