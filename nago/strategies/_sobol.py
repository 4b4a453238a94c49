"""Scrambled Sobol points in the unit cube and the novelty bookkeeping every strategy shares.

The Sobol rule: a strategy with root seed ``s`` draws from one scrambled Sobol sequence
(``SobolEngine(d, scramble=True, seed=s)``). An ask starts reading that sequence at index
``len(told) + len(pending)``: the number of trials the Study already knows of. A resumed study (the
same history restored from the store) therefore continues the same sequence, and the proposals of
an ask are a function of the seed and the history alone. Points whose config was already seen
(told, pending, or earlier in the same batch) are skipped and the next index is read instead.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import torch

from nago.config.space import SearchSpace
from nago.study.trial import Trial

_CHUNK = 64  # Sobol points drawn per round while looking for novel configs
_MAX_DRAWS = 20_000  # give up (space exhausted) after this many consecutive points


def seen_keys(space: SearchSpace, trials: Iterable[Trial]) -> set[tuple]:
    """The :meth:`SearchSpace.key` of every trial's config (told or pending, failed included)."""
    return {space.key(t.config) for t in trials}


def novel_sobol(
    space: SearchSpace, n: int, *, seed: int, skip: int, exclude: set[tuple]
) -> list[tuple[dict[str, Any], int]]:
    """Up to ``n`` configs from the Sobol sequence, starting at index ``skip``, whose key is not in
    ``exclude`` (nor repeated among themselves). ``exclude`` is updated with the keys returned.

    Returns:
        ``(config, sobol_index)`` pairs; fewer than ``n`` only when ``_MAX_DRAWS`` consecutive points
        brought nothing new (a finite space that is exhausted).
    """
    out: list[tuple[dict[str, Any], int]] = []
    levels = space.levels()
    if n <= 0 or (None not in levels and len(exclude) >= math.prod(levels)):
        return out
    engine = torch.quasirandom.SobolEngine(space.dim, scramble=True, seed=seed)
    if skip:
        engine.fast_forward(skip)
    index, misses = skip, 0
    while len(out) < n and misses < _MAX_DRAWS:
        for config in space.from_unit(engine.draw(_CHUNK, dtype=torch.float64)):
            key = space.key(config)
            if key in exclude:
                misses += 1
            else:
                exclude.add(key)
                out.append((config, index))
                misses = 0
            index += 1
            if len(out) == n:
                break
    return out


def pending_unit(space: SearchSpace, pending: Sequence[Trial]) -> torch.Tensor | None:
    """Unit-cube points ``[p, d]`` (float64) of the pending trials, or ``None`` if there are none."""
    return space.to_unit([t.config for t in pending]) if pending else None
