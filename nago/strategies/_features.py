"""Feature maps for the GP of :mod:`nago.strategies.mobo`: configs -> vectors a kernel compares.

By default mobo's GP compares configs by their own dimensions (Matern on numbers, a Hamming-type
kernel on categoricals). For a cell space that kernel cannot see that two different edge choices
compute the same paths; on NAS-Bench-201 that leaves ~10 % of runs confidently stuck in a basin five
edges away from the optimum (BENCHMARKS.md). A feature map, named by mobo's ``features`` option,
turns a config into a vector that encodes such structure; the GP then uses a Matern-5/2 kernel on
it (one lengthscale, LogNormal(0, 1) prior).

A map is registered in :data:`GP_FEATURES` as ``build(space) -> FeatureMap``: ``build`` checks the
space (:class:`~nago.errors.ConfigError` with what it needs otherwise) and the returned callable maps
unit-cube points ``[..., d]`` (exact bin centres) to features ``[..., f]`` (float64).
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import torch
from gpytorch.kernels import Kernel, MaternKernel
from gpytorch.priors import LogNormalPrior

from nago.benchmarks import nb201
from nago.errors import ConfigError
from nago.registry import Registry
from nago.config.space import SearchSpace

FeatureMap = Callable[[torch.Tensor], torch.Tensor]
GP_FEATURES: Registry[Callable[[SearchSpace], FeatureMap]] = Registry("GP feature map")

LOOKUP_LIMIT = 1_000_000  # a lookup table of every config is built when the space has at most this many


class FeatureKernel(Kernel):
    """Matern-5/2 on ``features(x)``: ``k(x, x') = matern(f(x), f(x'))``.

    Args:
        features: the feature map, ``[..., d]`` -> ``[..., f]``.
    """

    has_lengthscale = False

    def __init__(self, features: FeatureMap, **kwargs) -> None:
        super().__init__(**kwargs)
        self.features = features
        self.base = MaternKernel(nu=2.5, lengthscale_prior=LogNormalPrior(0.0, 1.0))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        return self.base.forward(self.features(x1), self.features(x2), diag=diag, **params)


def lookup_map(space: SearchSpace, featurize: Callable[[dict], list[float]]) -> FeatureMap:
    """A feature map from a table of ``featurize(config)`` over every config of an all-discrete space."""
    levels = space.levels()
    if None in levels or math.prod(levels) > LOOKUP_LIMIT:
        raise ConfigError(f"GP features need an all-discrete space of at most {LOOKUP_LIMIT:,} configs")
    grid = torch.tensor(list(itertools.product(*[range(k) for k in levels])), dtype=torch.float64)
    configs = space.from_unit((grid + 0.5) / torch.tensor(levels, dtype=torch.float64))
    table = torch.tensor([featurize(c) for c in configs], dtype=torch.float64)
    k = torch.tensor(levels, dtype=torch.long)
    strides = torch.tensor([math.prod(levels[j + 1 :]) for j in range(len(levels))], dtype=torch.long)

    def features(X: torch.Tensor) -> torch.Tensor:
        idx = torch.minimum((X * k.to(X.device)).floor().long().clamp_min(0), k.to(X.device) - 1)
        return table.to(X)[(idx * strides.to(X.device)).sum(-1)]

    return features


@GP_FEATURES.register("nb201-paths")
def nb201_paths(space: SearchSpace) -> FeatureMap:
    """NAS-Bench-201 cells as skip-contracted input -> output path counts (:func:`nago.benchmarks.nb201.path_features`).

    The space must be an NB201 cell space (:func:`nago.benchmarks.nb201.is_nb201_space`).
    """
    if not nb201.is_nb201_space(space):
        raise ConfigError(
            f"GP features 'nb201-paths': space {space.name!r} must have {nb201.SPACE_RULE} {list(nb201.OPS)}"
        )
    return lookup_map(space, lambda c: nb201.path_features([c[n] for n in nb201.EDGE_NAMES]))
