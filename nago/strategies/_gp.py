"""Gaussian-process surrogates for :mod:`nago.strategies.mobo`: training data, noise, models.

One GP per objective (independent outputs, a ``ModelListGP`` when there are several), each with a
``Standardize(m=1)`` outcome transform. Inputs are the unit cube already, so no input transform.
Spaces with categoricals use ``MixedSingleTaskGP`` (a Hamming-type categorical kernel on those
dimensions, which are exact bin centres); otherwise ``SingleTaskGP``. Both use BoTorch's default
dimension-scaled priors for continuous dimensions. BoTorch's categorical kernel,
``exp(-mean_i(delta_i / l_i))``, has no prior: on a few dozen points ML-II then sends some
lengthscales to the 1e-6 bound and others to ~1e4 (seen on NAS-Bench-201), a GP that is sure which
edge decides everything and sure of its predictions far from the data. Every categorical kernel gets
a LogNormal(0, 1) prior (median 1: one differing dimension of ``d`` keeps correlation ``exp(-1/d)``).

Observation noise: when every training trial of an objective has its per-network standard
deviation ``f"{name}_std"`` from ``k = len(trial.sample_metrics) >= 2`` sampled networks, the GP uses
the noise variance of the mean, ``std**2 / k`` (floored at ``1e-5`` times the variance of the
observed values), as fixed ``train_Yvar``; otherwise it learns a homoscedastic noise level.

Warm starts (:mod:`nago.study.warm_start`), per objective that earlier studies observed, one of:

* ``"mean"``: a GP per earlier study (its own hyperparameters, fitted to its standardised values) gives
  the target GP's prior mean, ``c + sum_s w_s * mu_s(x)`` with learned weights ``w_s >= 0`` (initially
  1) and constant ``c`` (:class:`TransferMean`), fitted with the target's kernel by marginal likelihood.
  Where the target data disagree with a source, its weight goes to 0 and the GP is a cold one.
* ``"mtgp"``: a ``MultiTaskGP`` (ICM: the same data kernel times a task covariance with positive
  correlations, the target task 0 at unit scale, one learned noise level per task) whose posterior is the
  target task's.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, ModelListGP, MultiTaskGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.outcome import Standardize
from gpytorch.constraints import Positive
from gpytorch.kernels import ScaleKernel
from gpytorch.means import Mean
from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood

from nago.strategies._features import FeatureKernel
from nago.study.trial import ObjectiveSpec, Trial

CAT_LENGTHSCALE_PRIOR = (0.0, 1.0)  # LogNormal(loc, scale) of the categorical lengthscales
FAILURE_SPREADS = 10.0  # gross_failures: this many upper-half RMS deviations below the median
MTGP_MAXITER = 60  # L-BFGS iterations of a fit with a multi-task GP: 6x faster than to convergence on NB201
# (125 points: 1.7 s instead of 10 s), at a marginal likelihood within a few percent
YVAR_FLOOR = 1e-5  # relative to the variance of the observed values (gpytorch clamps standardised noise at 1e-6)


def is_finite_observation(trial: Trial, objectives: Sequence[ObjectiveSpec]) -> bool:
    """Whether every objective metric of ``trial`` is a finite number."""
    try:
        return all(math.isfinite(float(trial.metrics[o.name])) for o in objectives)
    except (KeyError, TypeError, ValueError):
        return False


def observed_noise(
    trials: Sequence[Trial], objectives: Sequence[ObjectiveSpec], Y: torch.Tensor
) -> list[torch.Tensor | None]:
    """Per objective, the fixed noise variances ``[n, 1]`` of the observed means, or ``None`` (learn it).

    Args:
        trials: the ``n`` training trials, in the row order of ``Y``.
        objectives: the ``m`` objectives.
        Y: ``[n, m]`` observed values (any sign convention; only their variance is used).
    """
    out: list[torch.Tensor | None] = []
    for j, o in enumerate(objectives):
        yvar = []
        for t in trials:
            k, std = len(t.sample_metrics), t.metrics.get(f"{o.name}_std")
            try:
                std = float(std)
            except (TypeError, ValueError):
                break
            if k < 2 or not math.isfinite(std):
                break
            yvar.append(std**2 / k)
        if len(yvar) < len(trials) or not trials:
            out.append(None)
            continue
        spread = Y[:, j].var().item() if len(trials) > 1 else 0.0
        floor = YVAR_FLOOR * (spread if spread > 0 else 1.0)
        out.append(torch.tensor(yvar, dtype=Y.dtype).clamp_min(floor).unsqueeze(-1))
    return out


Task = tuple[torch.Tensor, torch.Tensor]  # an earlier study's inputs [n_s, d] and targets [n_s]


def fit_model(
    X: torch.Tensor, Y: torch.Tensor, Yvar: Sequence[torch.Tensor | None], cat_dims: Sequence[int],
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
    tasks: Sequence[Sequence[Task]] | None = None,
    priors: Sequence[Sequence[Model]] | None = None,
) -> Model:
    """Fit one GP per column of ``Y`` by maximising the marginal likelihood.

    Args:
        X: ``[n, d]`` training inputs in the unit cube (float64).
        Y: ``[n, m]`` training targets (maximisation sense).
        Yvar: per objective, fixed noise variances ``[n, 1]`` or ``None`` for learned noise.
        cat_dims: indices of categorical dimensions (exact bin centres in ``X``).
        features: a feature map (:mod:`nago.strategies._features`); the GPs then use a Matern kernel
            on ``features(X)`` instead of the kernels on the dimensions.
        tasks: per objective, earlier studies' observations ``(X_s [n_s, d], y_s [n_s])`` (warm starts,
            ``"mtgp"``): an objective with any gets a ``MultiTaskGP`` (learned noise).
        priors: per objective, fitted GPs of earlier studies (:func:`fit_sources`; warm starts, ``"mean"``):
            an objective with any gets a :class:`TransferMean` prior mean.

    Returns:
        A fitted ``SingleTaskGP``/``MixedSingleTaskGP``/``MultiTaskGP`` when ``m == 1``, else a ``ModelListGP``.
    """
    models = []
    for j in range(Y.shape[-1]):
        kwargs = dict(train_X=X, train_Y=Y[:, j : j + 1], train_Yvar=Yvar[j], outcome_transform=Standardize(m=1))
        if features is not None:
            models.append(SingleTaskGP(covar_module=ScaleKernel(FeatureKernel(features)), **kwargs))
        else:
            models.append(MixedSingleTaskGP(cat_dims=list(cat_dims), **kwargs) if cat_dims else SingleTaskGP(**kwargs))
            add_categorical_prior(models[-1])
        if tasks is not None and tasks[j]:
            models[-1] = _multi_task(X, Y[:, j], tasks[j], models[-1].covar_module if features is not None or cat_dims else None)
        if priors is not None and priors[j]:
            models[-1].mean_module = TransferMean(priors[j])
    capped = {"optimizer_kwargs": {"options": {"maxiter": MTGP_MAXITER}}} if any(isinstance(m, MultiTaskGP) for m in models) else {}
    if len(models) == 1:
        model = models[0]
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), **capped)
    else:
        model = ModelListGP(*models)
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model), **capped)
    return model


def fit_sources(
    tasks: Sequence[Sequence[Task]], cat_dims: Sequence[int], features: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[list[Model]]:
    """Per objective, one GP per earlier study ``(X_s [n_s, d], y_s [n_s])``, fitted to its standardised
    values (the ``priors`` of :func:`fit_model`)."""
    return [[fit_model(Xs, ((ys - ys.mean()) / ys.std().clamp_min(1e-12)).unsqueeze(-1), [None], cat_dims, features)
             for Xs, ys in per] for per in tasks]


class TransferMean(Mean):
    """Prior mean ``c + sum_s w_s * mu_s(x)`` of a target GP from fitted GPs of earlier studies.

    Args:
        sources: fitted single-output models, each of its source's standardised values (so ``w_s`` is a
            slope in standard deviations); their parameters stay fixed (they are not submodules).

    Shapes: ``forward(x [..., n, d]) -> [..., n]``. ``w_s = softplus(raw)``, initially 1.
    """

    def __init__(self, sources: Sequence[Model]) -> None:
        super().__init__()
        self._sources = list(sources)  # a plain list: not registered, so not refitted
        self.register_parameter("constant", torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)))
        self.register_parameter("raw_weight", torch.nn.Parameter(torch.full((len(self._sources),), math.log(math.e - 1),
                                                                           dtype=torch.float64)))
        self.register_constraint("raw_weight", Positive())
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None  # (x, mu [S, ..., n]) of the last call

    @property
    def weight(self) -> torch.Tensor:
        """``[S]`` the sources' weights (>= 0)."""
        return self.raw_weight_constraint.transform(self.raw_weight)

    def source_means(self, x: torch.Tensor) -> torch.Tensor:
        """``[S, ..., n]`` the sources' posterior means at ``x [..., n, d]`` (the last result is reused for
        the same ``x``: fitting evaluates the training inputs again and again)."""
        if self._cache is not None and self._cache[0].shape == x.shape and not x.requires_grad and torch.equal(self._cache[0], x):
            return self._cache[1]
        with torch.no_grad() if not x.requires_grad else torch.enable_grad():
            mu = torch.stack([m.posterior(x).mean[..., 0] for m in self._sources])
        if not x.requires_grad:
            self._cache = (x.detach().clone(), mu)
        return mu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = self.source_means(x)
        w = self.weight.reshape(-1, *([1] * (mu.dim() - 1)))
        return self.constant + (w * mu).sum(0)


def _multi_task(X: torch.Tensor, y: torch.Tensor, tasks: Sequence[Task], covar_module: Any) -> MultiTaskGP:
    """A ``MultiTaskGP`` over the target (task 0: ``X [n, d]``, ``y [n]``) and the earlier studies (tasks
    1, 2, ...), output the target's; ``covar_module``: the data kernel (``None``: BoTorch's default)."""
    Xs = [torch.cat([X, torch.zeros(len(X), 1, dtype=X.dtype)], dim=-1)]
    ys = [y]
    for i, (Xt, yt) in enumerate(tasks, 1):
        Xs.append(torch.cat([Xt.to(X), torch.full((len(Xt), 1), float(i), dtype=X.dtype)], dim=-1))
        ys.append(yt.to(y))
    model = MultiTaskGP(torch.cat(Xs), torch.cat(ys).unsqueeze(-1), task_feature=-1, output_tasks=[0],
                        covar_module=covar_module)
    add_categorical_prior(model)
    return model


def add_categorical_prior(model: Model) -> None:
    """Put :data:`CAT_LENGTHSCALE_PRIOR` on every categorical kernel's lengthscales (in place)."""
    from botorch.models.kernels.categorical import CategoricalKernel
    from gpytorch.priors import LogNormalPrior

    loc, scale = CAT_LENGTHSCALE_PRIOR
    for kernel in model.modules():
        if isinstance(kernel, CategoricalKernel):
            kernel.register_prior(
                "lengthscale_prior", LogNormalPrior(loc, scale), lambda k: k.lengthscale, lambda k, v: k._set_lengthscale(v)
            )


def gross_failures(Y: torch.Tensor) -> torch.Tensor:
    """Which observations failed grossly: ``[n]`` bool, for ``Y [n, m]`` in the maximisation sense.

    A row fails when, in some objective, it lies more than :data:`FAILURE_SPREADS` (10) spreads below
    that objective's median, the spread being the root-mean-square distance of the upper half from the
    median (the scale of :func:`nago.strategies._warp.half_rank`). For a bulk of roughly normal values
    that spread is about one standard deviation, so only a detached tail is caught: cells at chance
    accuracy (NB201: ~10 % against a median of 87 % and a spread of 1.9, i.e. 41 spreads below; 4.6 % of
    its cells are below 10 spreads, none of them on its Pareto front), not the ordinary bad configs.
    mobo models these rows as a constraint (:mod:`nago.strategies.mobo`).
    """
    Z = Y.detach().cpu().numpy().astype(np.float64)
    failed = np.zeros(len(Z), dtype=bool)
    for y in Z.T:
        med = float(np.median(y))
        spread = float(np.sqrt(np.mean((y[y >= med] - med) ** 2)))
        if spread > 0:  # a flat upper half gives no scale to call anything detached
            failed |= y < med - FAILURE_SPREADS * spread
    return torch.as_tensor(failed)
