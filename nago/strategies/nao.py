"""NAO strategies: search in a learned embedding (Luo et al. 2018), by gradient ascent (``nao``) or by a
competitive swarm (``nao-cso``, the TNAO search; He et al. IJCNN 2023).

How an ask works (model and method in :mod:`nago.nao`):

1. Until ``n_init`` complete observations with finite objective values exist, every proposal is a
   Sobol point (the rule of :mod:`nago.strategies._sobol`). Failed trials never enter the model but
   their configs count as seen; nothing told or pending is ever proposed again.
2. The encoder-predictor-decoder (:class:`~nago.nao.model.NAOModel`, one head per objective,
   objectives maximised internally) is trained from scratch on the first ``n_init + j * refit_every``
   complete observations (by trial id; ``j`` as large as the data allows) with a seed derived from
   the root seed and that count, and kept until ``refit_every`` more observations arrive. The model is
   thus a function of the seed and the history alone: a resumed study proposes what the original would.
3. Per proposal: random simplex weights (ParEGO-style, one head when ``m == 1``); the seeds are the
   ``top_k`` complete trials by the same scalarisation of their standardised observed values; the
   search (gradient ascent or CSO) decodes candidates, drops seen ones, re-scores them with the
   predictor and the best becomes the proposal.
4. If training or search raises, the ask warns with :class:`~nago.warnings.SurrogateFallbackWarning` and falls back to
   Sobol points (as ``mobo`` does); if the search finds too few novel configs, Sobol fills the batch.

``info`` of a proposal: ``{"source": "sobol" | "fallback" | "nao" | "nao-cso", "predicted": score,
"weights": [...], "trained_on": count}``. The ask is deterministic given the seed and the history.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch

from nago.nao.encoders import ENCODERS
from nago.nao.encoding import TokenCodec
from nago.nao.model import RANKINGS, NAOModel
from nago.nao.search import SCALARIZATIONS, gradient_ascent, random_weights, scalarize, swarm_search
from nago.config.space import SearchSpace
from nago.strategies._gp import is_finite_observation
from nago.strategies._options import (check_unknown, choice_option, float_option, fraction_option, int_option,
                                      require_searchable)
from nago.strategies._sobol import novel_sobol, seen_keys
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial
from nago.warnings import SpaceExhaustedWarning, SurrogateFallbackWarning

_COMMON = ("n_init", "refit_every", "encoder", "ranking", "hidden", "steps", "bins", "trade_off", "top_k",
           "scalarization")


@STRATEGIES.register("nao")
class NAO(Strategy):
    """NAO: gradient ascent in the learned embedding from the top-K configs, decode, re-score.

    Args:
        space: the search space (ints, floats, categoricals; floats are binned into ``bins`` tokens).
        objectives: ``m`` metrics and directions (one predictor head each).
        seed: root seed.
        fidelity: the fidelity (epochs) of every proposal; ``None`` = the run's default.
        n_init: complete observations before the model takes over; default ``2 * (d + 1)``, at least 10.
        refit_every: new complete observations between two trainings of the model.
        encoder: ``"lstm"`` (default), ``"transformer"`` or ``"gnn"`` (NB201-style cell spaces only).
        ranking: pairwise ranking loss ``"hinge"`` (default), ``"logistic"`` or ``"none"``.
        hidden: embedding size (a multiple of 4).
        steps: Adam updates per training.
        bins: tokens per float parameter.
        trade_off: weight ``λ`` of the prediction loss (reconstruction gets ``1 - λ``).
        top_k: seeds of the search (best complete trials).
        scalarization: ``"chebyshev"`` (default) or ``"linear"`` (several objectives).
        step: relative step size of the gradient ascent.
        max_steps: largest step multiple tried.
        pool: novel decoded configs to collect (growing the step) before the predictor picks the best.

    Example:
        >>> s = STRATEGIES.get("nao")(space=space, objectives=parse_objectives("val_acc:max"), seed=0)
        >>> s.tell(history)
        >>> proposals = s.ask(1)
    """

    name = "nao"

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: Sequence[ObjectiveSpec],
        seed: int = 0,
        fidelity: float | None = None,
        n_init: int | None = None,
        refit_every: int = 10,
        encoder: str = "lstm",
        ranking: str = "hinge",
        hidden: int = 64,
        steps: int = 500,
        bins: int = 16,
        trade_off: float = 0.8,
        top_k: int = 100,
        scalarization: str = "chebyshev",
        **extra: Any,
    ) -> None:
        name = self.name
        defaults = self._defaults()
        check_unknown(name, {k: v for k, v in extra.items() if k not in defaults}, (*_COMMON, *defaults))
        require_searchable(space, name)
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity)
        self.n_init = max(10, 2 * (space.dim + 1)) if n_init is None else int_option(name, "n_init", n_init, 2)
        self.refit_every = int_option(name, "refit_every", refit_every)
        self.encoder = choice_option(name, "encoder", encoder, ENCODERS)
        rk = choice_option(name, "ranking", "none" if ranking is None else ranking, (*RANKINGS, "none"))
        self.ranking = None if rk == "none" else rk
        self.hidden = int_option(name, "hidden", hidden, 4)
        self.steps = int_option(name, "steps", steps)
        self.trade_off = fraction_option(name, "trade_off", trade_off)
        self.top_k = int_option(name, "top_k", top_k)
        self.scalarization = choice_option(name, "scalarization", scalarization, SCALARIZATIONS)
        self.codec = TokenCodec(space=space, bins=int_option(name, "bins", bins, 2))
        self.search_options = self._search_options({**defaults, **extra})
        NAOModel(codec=self.codec, encoder=self.encoder, hidden=self.hidden, ranking=self.ranking)  # checks options
        self.options = dict(n_init=self.n_init, refit_every=refit_every, encoder=self.encoder, ranking=rk,
                            hidden=hidden, steps=steps, bins=bins, trade_off=trade_off, top_k=top_k,
                            scalarization=self.scalarization, **self.search_options)
        self._cache: tuple[tuple, NAOModel] | None = None

    # -- per-search options (overridden by nao-cso) ------------------------------------------------
    def _defaults(self) -> dict[str, Any]:
        return {"step": 0.05, "max_steps": 50, "pool": 100}

    def _search_options(self, o: dict[str, Any]) -> dict[str, Any]:
        return {"step": float_option(self.name, "step", o["step"], 0.0, 10.0, open_low=True),
                "max_steps": int_option(self.name, "max_steps", o["max_steps"]),
                "pool": int_option(self.name, "pool", o["pool"])}

    def _search(self, model: NAOModel, seeds: torch.Tensor, exclude: set, weights: torch.Tensor,
                rng: np.random.Generator) -> tuple[list, str]:
        """The best novel candidate (a list of at most one) and the ``source`` to record."""
        return gradient_ascent(model, seeds, n=1, exclude=exclude, weights=weights, scalarization=self.scalarization,
                               **self.search_options), "nao"

    # -- ask ---------------------------------------------------------------------------------------
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        pending = list(pending)
        exclude = seen_keys(self.space, [*self.trials, *pending])
        skip = len(self.trials) + len(pending)
        train = sorted((t for t in self.completed() if is_finite_observation(t, self.objectives)), key=lambda t: t.id)
        out: list[Proposal] = []
        sobol_info: dict[str, Any] = {"source": "sobol", "reason": "init"}
        if n > 0 and len(train) >= self.n_init:
            try:
                out = self._propose(n, train, exclude, skip)
            except Exception as e:  # noqa: BLE001 - whatever the model does, the study goes on
                msg = f"{type(e).__name__}: {e}"
                warnings.warn(f"{self.name}: surrogate failed ({msg}); proposing Sobol points",
                              SurrogateFallbackWarning, 2)
                out, sobol_info = [], {"source": "fallback", "error": msg}
                exclude = seen_keys(self.space, [*self.trials, *pending])
            else:
                sobol_info = {"source": "sobol", "reason": "fill"}
        for config, i in novel_sobol(self.space, n - len(out), seed=self.seed, skip=skip, exclude=exclude):
            out.append(Proposal(config, self.fidelity, {**sobol_info, "sobol_index": i}))
        if len(out) < n:
            warnings.warn(f"{self.name}: the space {self.space.name!r} looks exhausted ({len(exclude)} distinct "
                          f"configs seen); returning {len(out)} of {n} proposals", SpaceExhaustedWarning, stacklevel=2)
        return out

    def _model(self, train: list[Trial]) -> NAOModel:
        """The model trained on the first ``n_init + j * refit_every`` observations (cached)."""
        count = self.n_init + (len(train) - self.n_init) // self.refit_every * self.refit_every
        prefix = train[:count]
        key = tuple((t.id, self.space.key(t.config), tuple(t.metrics[o.name] for o in self.objectives)) for t in prefix)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        seed = int(np.random.SeedSequence([self.seed, count]).generate_state(1)[0] % 2**31)
        model = NAOModel(codec=self.codec, encoder=self.encoder, objectives=len(self.objectives), hidden=self.hidden,
                         trade_off=self.trade_off, ranking=self.ranking, steps=self.steps, seed=seed)
        model.fit(self.codec.encode([t.config for t in prefix]), self.max_sense_matrix(prefix).float())
        self._cache = (key, model)
        return model

    def _propose(self, n: int, train: list[Trial], exclude: set, skip: int) -> list[Proposal]:
        model = self._model(train)
        tokens = self.codec.encode([t.config for t in train])
        Y = self.max_sense_matrix(train).float()
        Z = (Y - Y.mean(dim=0)) / Y.std(dim=0).clamp(min=1e-8)
        z_range = torch.stack([Z.amin(dim=0), Z.amax(dim=0)])
        rng = np.random.default_rng([self.seed, skip])
        out: list[Proposal] = []
        for _ in range(n):
            w = random_weights(len(self.objectives), rng)
            observed = scalarize(Z, w, kind=self.scalarization, z_range=z_range)
            top = torch.argsort(-observed, stable=True)[: self.top_k]
            found, source = self._search(model, tokens[top], exclude, w, rng)
            if not found:
                break
            c = found[0]
            exclude.add(self.space.key(c.config))
            info = {"source": source, "predicted": c.score, "weights": w.tolist(), "trained_on": len(self._cache[0])}
            out.append(Proposal(c.config, self.fidelity, info))
        return out


@STRATEGIES.register("nao-cso")
class NAOCSO(NAO):
    """NAO with a competitive swarm optimiser in the embedding (TNAO's search) instead of gradient ascent.

    Takes the options of ``nao`` (without ``step``, ``max_steps`` and ``pool``) plus ``population`` (swarm size),
    ``generations`` and ``phi`` (social factor, 0.15 as in the reference CSO). When the swarm decodes no
    unseen config, that proposal comes from ``nao``'s gradient search (``info["source"] == "nao"``).
    """

    name = "nao-cso"

    def _defaults(self) -> dict[str, Any]:
        return {"population": 40, "generations": 30, "phi": 0.15}

    def _search_options(self, o: dict[str, Any]) -> dict[str, Any]:
        return {"population": int_option(self.name, "population", o["population"], 2),
                "generations": int_option(self.name, "generations", o["generations"]),
                "phi": fraction_option(self.name, "phi", o["phi"])}

    def _search(self, model: NAOModel, seeds: torch.Tensor, exclude: set, weights: torch.Tensor,
                rng: np.random.Generator) -> tuple[list, str]:
        found = swarm_search(model, seeds[: self.search_options["population"]], n=1, exclude=exclude, weights=weights,
                             rng=rng, scalarization=self.scalarization, **self.search_options)
        if found:
            return found, "nao-cso"
        # the swarm decoded nothing unseen (its particles sit on known configs): NAO's gradient search instead
        return gradient_ascent(model, seeds, n=1, exclude=exclude, weights=weights, scalarization=self.scalarization,
                               pool=100), "nao"
