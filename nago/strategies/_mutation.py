"""One-parameter mutation, shared by ``rea`` (its children) and ``mo-bohb`` (local proposals around the front).

A mutant of a config changes one searchable parameter drawn uniformly: a categorical or int moves to another
level chosen uniformly, a float is perturbed by a Gaussian of std 0.1 in the unit cube (clipped). In a space of
categoricals this is a uniformly drawn one-exchange neighbour (NAS-Bench-201: one edge's operation changed), the
move of local search, which is state of the art on NAS benchmarks (White et al., UAI 2021).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nago.config.space import SearchSpace
from nago.study.trial import Trial


def mutate(space: SearchSpace, config: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """A copy of ``config`` with one searchable parameter changed (see the module docstring); draws one
    integer (which parameter) and then one integer (discrete) or one normal (float) from ``rng``."""
    child = dict(config)
    p = space.searchable[int(rng.integers(space.dim))]
    if p.levels is not None:
        if p.levels == 1:
            return child
        values = list(p.choices) if p.type == "categorical" else list(range(int(p.low), int(p.high) + 1))
        others = [v for v in values if v != config[p.name]]
        child[p.name] = others[int(rng.integers(len(others)))]
    else:
        u = float(np.clip(p.to_unit(config[p.name]) + rng.normal(0.0, 0.1), 0.0, 1.0))
        child[p.name] = p.from_unit(u)
    return child


def novel_mutant(space: SearchSpace, parents: Sequence[Trial], rng: np.random.Generator, exclude: set[tuple],
                 tries: int = 50) -> tuple[dict[str, Any], Trial] | None:
    """``(child, parent)``: a mutant of a parent drawn uniformly from ``parents`` whose key is not in
    ``exclude`` (a fresh parent each try), or ``None`` when ``tries`` mutants were all seen or there is no parent.
    ``exclude`` is not updated."""
    if not parents:
        return None
    for _ in range(tries):
        parent = parents[int(rng.integers(len(parents)))]
        child = mutate(space, parent.config, rng)
        if space.key(child) not in exclude:
            return child, parent
    return None
