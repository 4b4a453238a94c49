"""Search in the learned embedding: NAO gradient ascent and a competitive swarm optimiser (CSO).

Both move encoder states ``H [k, T, h]`` (the decoder's attention memory; the embedding is their
mean), decode the moved states with the constrained greedy decoder (so every candidate is a valid
config), drop configs whose :meth:`~nago.config.space.SearchSpace.key` is in ``exclude``, re-score the
decoded candidates with the predictor (tokens -> encode -> heads) and return the best ``n``.

- :func:`gradient_ascent` (NAO, Luo et al. 2018): the gradient ``g`` of the scalarised prediction
  with respect to ``H`` of the top-K seeds; step ``k = 1, 2, ...`` decodes ``H + k * step * ||H|| *
  g / ||g||`` (per seed; relative steps make ``step`` independent of the state scale) until ``pool``
  new configs have been decoded or ``max_steps`` is reached (NAO increases its integer step size the
  same way).
- :func:`swarm_search` (CSO, Cheng & Jin 2015, as TNAO uses it): a swarm of flattened states started
  at the seeds' ``H``; each generation pairs the particles at random, the loser of each pair learns
  from the winner and the swarm mean: ``v <- r1*v + r2*(x_w - x_l) + phi*r3*(x_mean - x_l)``,
  ``x_l <- x_l + v``; fitness is TNAO's remapping score: the predictor's score of the *decoded then
  re-encoded* particle (so equal configs get equal fitness). Every novel decoded config is archived.

Several objectives are combined per call by :func:`scalarize` with weights ``w`` on the simplex
(ParEGO: drawn at random per proposal by the strategy): augmented Chebyshev (default) or linear, on
the standardised predictions mapped to ``[0, 1]`` with the training range of each head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from nago.errors import ConfigError
from nago.nao.model import NAOModel

SCALARIZATIONS = ("chebyshev", "linear")


@dataclass(frozen=True)
class Candidate:
    """A decoded config, its tokens ``[L]`` and its scalarised predicted score (higher is better)."""

    config: dict[str, Any]
    tokens: tuple[int, ...]
    score: float


def random_weights(m: int, rng: np.random.Generator) -> torch.Tensor:
    """Weights ``[m]`` drawn uniformly from the simplex (``[1.0]`` when ``m == 1``)."""
    w = rng.exponential(size=m)
    return torch.tensor(w / w.sum(), dtype=torch.float32)


def scalarize(z: torch.Tensor, weights: torch.Tensor, *, kind: str = "chebyshev",
              z_range: torch.Tensor | None = None) -> torch.Tensor:
    """Scalarised score ``[...]`` of standardised predictions ``z [..., m]`` (maximised).

    Args:
        weights: ``[m]``, non-negative, summing to 1.
        kind: ``"chebyshev"`` (``min_j w_j u_j + 0.05 sum_j w_j u_j``) or ``"linear"`` (``sum_j w_j u_j``).
        z_range: ``[2, m]`` the training min and max per head; ``u = (z - min) / (max - min)``.
    """
    if kind not in SCALARIZATIONS:
        raise ConfigError(f"NAO search: scalarization got {kind!r}; allowed: {', '.join(SCALARIZATIONS)}")
    if z.shape[-1] == 1:
        return z[..., 0]
    u = z if z_range is None else (z - z_range[0]) / (z_range[1] - z_range[0]).clamp(min=1e-6)
    lin = (u * weights).sum(dim=-1)
    return lin if kind == "linear" else (u * weights).amin(dim=-1) + 0.05 * lin


def _scorer(model: NAOModel, weights: torch.Tensor, kind: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: scalarize(z, weights, kind=kind, z_range=model.z_range)


def _collect(model: NAOModel, tokens: torch.Tensor, exclude: set, found: dict[tuple, tuple[dict, tuple]]) -> None:
    """Add the novel configs among decoded ``tokens [k, L]`` to ``found`` (key -> (config, tokens))."""
    space = model.codec.space
    for config, row in zip(model.codec.decode(tokens), tokens.tolist()):
        key = space.key(config)
        if key not in exclude and key not in found:
            found[key] = (config, tuple(row))


def _best(model: NAOModel, found: dict, n: int, score: Callable[[torch.Tensor], torch.Tensor]) -> list[Candidate]:
    """Re-score the found configs with the predictor; the best ``n`` (ties keep discovery order)."""
    if not found:
        return []
    items = list(found.values())
    z = model.predict(torch.tensor([t for _, t in items], dtype=torch.long), standardized=True)
    s = score(z).tolist()
    order = sorted(range(len(items)), key=lambda i: -s[i])[:n]
    return [Candidate(items[i][0], items[i][1], float(s[i])) for i in order]


def gradient_ascent(
    model: NAOModel,
    seeds: torch.Tensor,
    *,
    n: int,
    exclude: set,
    weights: torch.Tensor,
    scalarization: str = "chebyshev",
    step: float = 0.05,
    max_steps: int = 50,
    pool: int | None = None,
) -> list[Candidate]:
    """NAO's move-and-decode from seed tokens ``[k, L]``; see the module docstring.

    Args:
        n: candidates to return (fewer if fewer novel configs decode).
        exclude: keys of configs never to return (told, pending, chosen earlier in the batch).
        weights: scalarisation weights ``[m]``.
        step: the relative step size (fraction of each seed's ``||H||``) per increment.
        max_steps: the largest multiple of ``step`` tried.
        pool: stop increasing the step once this many novel configs decoded (default ``max(5n, 20)``).
    """
    score = _scorer(model, weights, scalarization)
    pool = max(5 * n, 20) if pool is None else pool
    H = model.encode(seeds)[0].detach().requires_grad_(True)
    (g,) = torch.autograd.grad(score(model.predict_states(H)).sum(), H)
    H = H.detach()
    gn = g.flatten(1).norm(dim=1).clamp(min=1e-12)[:, None, None]
    d = g / gn * H.flatten(1).norm(dim=1)[:, None, None]
    found: dict[tuple, tuple[dict, tuple]] = {}
    for k in range(1, max_steps + 1):
        _collect(model, model.decode(H + k * step * d), exclude, found)
        if len(found) >= pool:
            break
    return _best(model, found, n, score)


def swarm_search(
    model: NAOModel,
    seeds: torch.Tensor,
    *,
    n: int,
    exclude: set,
    weights: torch.Tensor,
    rng: np.random.Generator,
    scalarization: str = "chebyshev",
    population: int = 40,
    generations: int = 30,
    phi: float = 0.15,
    noise: float = 0.1,
) -> list[Candidate]:
    """Competitive swarm optimisation of the remapping score in the state space; see the module docstring.

    Args:
        seeds: tokens ``[k, L]`` the swarm starts from (repeated with Gaussian noise of ``noise * std(H)``
            when ``k < population``).
        rng: the swarm's randomness (pairings, ``r1, r2, r3``, start noise).
        population: swarm size (rounded up to even).
        generations: CSO generations.
        phi: the social factor (weight of the swarm mean).
    """
    score = _scorer(model, weights, scalarization)
    population += population % 2
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    with torch.no_grad():
        H0 = model.encode(seeds)[0]
        shape = H0.shape[1:]
        X = H0.flatten(1)[torch.arange(population) % len(H0)].clone()
        if len(H0) < population:
            extra = torch.arange(population) >= len(H0)
            X[extra] += noise * X.std() * torch.randn(int(extra.sum()), X.shape[1], generator=gen)
        V = torch.zeros_like(X)
        found: dict[tuple, tuple[dict, tuple]] = {}

        def fitness(P: torch.Tensor) -> torch.Tensor:
            tokens = model.decode(P.reshape(-1, *shape))
            _collect(model, tokens, exclude, found)
            return score(model.predict_states(model.encode(tokens)[0]))

        F = fitness(X)
        for _ in range(generations):
            pairs = torch.randperm(population, generator=gen).reshape(-1, 2)
            a, b = pairs[:, 0], pairs[:, 1]
            a_wins = F[a] >= F[b]
            w, lo = torch.where(a_wins, a, b), torch.where(a_wins, b, a)
            r1, r2, r3 = (torch.rand(len(lo), X.shape[1], generator=gen) for _ in range(3))
            V[lo] = r1 * V[lo] + r2 * (X[w] - X[lo]) + phi * r3 * (X.mean(dim=0) - X[lo])
            X[lo] = X[lo] + V[lo]
            F[lo] = fitness(X[lo])
    return _best(model, found, n, score)
