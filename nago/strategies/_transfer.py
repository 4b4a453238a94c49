"""Warm-start data for :mod:`nago.strategies.mobo`'s surrogate (:mod:`nago.study.warm_start`): the earlier
studies' observations as GP tasks, and their GPs (the ``"mean"`` transfer's priors), fitted once per study.

mobo's option ``transfer`` (the initial configs, ``warm_init``, are separate): ``"none"`` (the default):
the initial design only, then the usual GP of the target's own observations; ``"mean"`` fits a GP to each earlier study's (warped, standardised)
  values and makes it the prior mean of the target GP, ``c + sum_s w_s * mu_s(x)`` with a learned weight
  ``w_s >= 0`` per source (:class:`nago.strategies._gp.TransferMean`); ``"mtgp"`` fits a multi-task GP,
  the study as the task (positive task correlations, target's posterior out). The rest of the initial
  design stays Sobol: the target data must vary for a weight to be learned (measured: taking over after
  the ``warm_init`` source configs alone, a reversed source whose best configs all fail on the target gave
  ``n`` identical observations, no weight could be fitted against them, and the search never left the
  failing cells: 1 % best accuracy after 100).

  Why ``"none"`` by default (BENCHMARKS.md "Warm starts", NB201 CIFAR-10 sources, 20 seeds): the prior mean
  says where the source found its best, not how unsure the source is elsewhere. From the 7 of 20 sources that
  had stopped in a local optimum it kept the target search there (CIFAR-100 after 100 queries: 72.49, cold
  73.28, ``"none"`` 73.36); its gain @25 was at most 0.09 points, and it costs ~2x per ask. A source that ranks
  configs in the opposite order gets weight ~0 under ``"mean"`` (tested); under ``"none"`` it costs its
  ``warm_init`` queries.

The models themselves live in :mod:`nago.strategies._gp` (:class:`~nago.strategies._gp.TransferMean`,
the multi-task GP of ``fit_model(tasks=...)``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from nago.config.space import SearchSpace
from nago.strategies._gp import Task, fit_sources
from nago.strategies._warp import OutputWarp


def transfer_tasks(warm: Any, space: SearchSpace, n_objectives: int, *, warp: bool,
                   Y: torch.Tensor | None = None) -> list[list[Task]]:
    """Per objective, the warm start's observations as GP tasks ``(X_s [n_s, d], y_s [n_s])``.

    Args:
        warm: the :class:`~nago.study.warm_start.WarmStart`.
        space: the target's search space (configs -> unit cube).
        n_objectives: ``m``.
        warp: output-warp each source's values like the target's (half-rank + log).
        Y: ``[n, m]`` the target's (warped) values: each task is matched to its column's mean and std;
            ``None``: standardised.
    """
    out = []
    for j in range(n_objectives):
        tasks = []
        for configs, values in warm.observations(j):
            y = torch.as_tensor(values, dtype=torch.float64).unsqueeze(-1)
            if warp:
                y = OutputWarp(y).warped
            y = y[:, 0]
            sd = float(y.std()) if len(y) > 1 else 0.0
            z = (y - y.mean()) / sd if sd > 0 else y - y.mean()
            if Y is not None:
                z = z * (float(Y[:, j].std()) if len(Y) > 1 else 0.0) + Y[:, j].mean()
            tasks.append((space.to_unit(configs), z))
        out.append(tasks)
    return out


class SourcePriors:
    """The sources' GPs (``transfer="mean"``), fitted at the first call from the sources alone and kept:
    the sources never change within a study, and fitting is seeded, so a resumed study fits the same ones.

    Args:
        tasks: per objective, the sources' tasks (:func:`transfer_tasks` with ``Y=None``).
        cat_dims, features: as :func:`nago.strategies._gp.fit_model`.
        seed: torch seed of the fits.
    """

    def __init__(self, tasks: Callable[[], Sequence[Sequence[Task]]], cat_dims: Sequence[int],
                 features: Callable[[torch.Tensor], torch.Tensor] | None, seed: int) -> None:
        self._tasks, self._cat_dims, self._features, self._seed = tasks, list(cat_dims), features, seed
        self._models: list[list[Any]] | None = None

    def __call__(self) -> list[list[Any]]:
        """Per objective, one fitted GP per source, in a fresh evaluation state."""
        if self._models is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self._seed)
                self._models = fit_sources(self._tasks(), self._cat_dims, self._features)
        for model in (m for per in self._models for m in per):
            model.train()  # drops gpytorch's prediction caches: every ask computes from the same state
            model.eval()  # (an ask must not depend on what earlier asks asked, or a resume would differ)
        return self._models
