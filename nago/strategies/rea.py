"""Regularised evolution (REA, Real et al. AAAI 2019): the strong simple baseline of NAS-Bench-201.

The state is rebuilt from the history at every ask, so ``tell`` stays idempotent and a resumed study
continues the same way:

1. While fewer than ``population`` trials exist (told + pending), proposals are Sobol points (the
   rule of :mod:`nago.strategies._sobol`), the random initial population.
2. Afterwards the population is the ``population`` most recent complete trials (ageing: the oldest
   dies). Each child: draw ``sample_size`` members uniformly without replacement, take the best as
   the parent (first objective; with several objectives, a random member of the sample's Pareto
   front), and mutate one searchable parameter: a categorical or int moves to another level chosen
   uniformly, a float is perturbed by a Gaussian of std 0.1 in the unit cube (clipped).
3. A child already seen (told, pending, or earlier in the batch) is mutated again from the same
   parent, up to ``max_retries`` times, then from a fresh parent; if nothing new turns up the
   proposal is a novel Sobol point. REA therefore never re-proposes a config.

NB201's reference REA uses ``population=10, sample_size=3`` (the defaults) and no deduplication.
The ask is deterministic given the seed and the history.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from nago.analysis.pareto import non_dominated
from nago.config.space import SearchSpace
from nago.strategies._gp import is_finite_observation
from nago.strategies._mutation import mutate
from nago.strategies._options import check_unknown, int_option, option_error, require_searchable
from nago.strategies._sobol import novel_sobol, seen_keys
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial
from nago.warnings import SpaceExhaustedWarning


@STRATEGIES.register("rea")
class RegularizedEvolution(Strategy):
    """Regularised (ageing) evolution with tournament selection and one-parameter mutation.

    Args:
        space: the search space (any mix of ints, floats and categoricals).
        objectives: metrics and directions; the first decides the tournament when there is one.
        seed: root seed.
        fidelity: the fidelity (epochs) of every proposal; ``None`` = the run's default.
        population: size of the ageing population (and of the random initial one).
        sample_size: tournament size, ``<= population``.
        max_retries: mutations tried per parent before another parent is drawn.

    Example:
        >>> s = STRATEGIES.get("rea")(space=space, objectives=parse_objectives("val_acc:max"), seed=0)
        >>> s.tell(history)
        >>> proposals = s.ask(1)
    """

    def __init__(
        self,
        *,
        space: SearchSpace,
        objectives: Sequence[ObjectiveSpec],
        seed: int = 0,
        fidelity: float | None = None,
        population: int = 10,
        sample_size: int = 3,
        max_retries: int = 20,
        **unknown: Any,
    ) -> None:
        check_unknown("rea", unknown, ("population", "sample_size", "max_retries"))
        require_searchable(space, "rea")
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity, population=population,
                         sample_size=sample_size, max_retries=max_retries)
        self.population = int_option("rea", "population", population, 2)
        self.sample_size = int_option("rea", "sample_size", sample_size, 1)
        if self.sample_size > self.population:
            raise option_error("rea", "sample_size", sample_size, f"at most population ({self.population})")
        self.max_retries = int_option("rea", "max_retries", max_retries, 1)

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        pending = list(pending)
        exclude = seen_keys(self.space, [*self.trials, *pending])
        skip = len(self.trials) + len(pending)
        alive = sorted((t for t in self.completed() if is_finite_observation(t, self.objectives)), key=lambda t: t.id)
        alive = alive[-self.population:]
        rng = np.random.default_rng([self.seed, skip])
        out: list[Proposal] = []
        if skip >= self.population and alive:
            for _ in range(n):
                child = self._child(alive, rng, exclude)
                if child is None:
                    break
                config, parent = child
                exclude.add(self.space.key(config))
                out.append(Proposal(config, self.fidelity, {"source": "mutation", "parent": parent.id}))
        reason = "init" if skip < self.population or not alive else "fill"
        for config, i in novel_sobol(self.space, n - len(out), seed=self.seed, skip=skip, exclude=exclude):
            out.append(Proposal(config, self.fidelity, {"source": "sobol", "reason": reason, "sobol_index": i}))
        if len(out) < n:
            warnings.warn(f"rea: the space {self.space.name!r} looks exhausted ({len(exclude)} distinct configs seen); "
                          f"returning {len(out)} of {n} proposals", SpaceExhaustedWarning, stacklevel=2)
        return out

    def _child(self, alive: list[Trial], rng: np.random.Generator, exclude: set) -> tuple[dict, Trial] | None:
        """A novel mutant of a tournament winner, or ``None`` after ``sample_size``-many parents failed."""
        for _ in range(max(self.population, 4)):
            parent = self._tournament(alive, rng)
            for _ in range(self.max_retries):
                config = mutate(self.space, parent.config, rng)
                if self.space.key(config) not in exclude:
                    return config, parent
        return None

    def _tournament(self, alive: list[Trial], rng: np.random.Generator) -> Trial:
        idx = rng.choice(len(alive), size=min(self.sample_size, len(alive)), replace=False)
        sample = [alive[i] for i in idx]
        Y = self.max_sense_matrix(sample).numpy()  # maximisation sense
        if Y.shape[1] == 1:
            return sample[int(np.argmax(Y[:, 0]))]
        front = np.flatnonzero(non_dominated(Y, maximize=[True] * Y.shape[1]))
        return sample[int(rng.choice(front))]
