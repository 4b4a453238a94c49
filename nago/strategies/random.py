"""Random search: scrambled Sobol points in the unit cube (the baseline every strategy must beat).

Proposals follow the Sobol rule of :mod:`nago.strategies._sobol`: the sequence of the root seed,
read from index ``len(told) + len(pending)``, skipping configs already seen. Failed trials count as
seen, so a config that failed is never proposed again. When a finite (all-discrete) space is
exhausted, ``ask`` returns fewer proposals than asked for (possibly none) and warns.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from nago.config.space import SearchSpace
from nago.strategies._options import check_unknown, require_searchable
from nago.strategies._sobol import novel_sobol, seen_keys
from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.study.trial import ObjectiveSpec, Trial
from nago.warnings import SpaceExhaustedWarning


@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Quasi-random search with a scrambled Sobol sequence; takes no options.

    Args:
        space: the search space.
        objectives: metrics and directions (unused: random search ignores the values).
        seed: seeds the Sobol scrambling.
        fidelity: the fidelity (epochs) of every proposal; ``None`` = the run's default.

    Example:
        >>> s = RandomSearch(space=space, objectives=[ObjectiveSpec("val_acc", True)], seed=0)
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
        **options: Any,
    ) -> None:
        check_unknown("random", options, ())
        require_searchable(space, "random")
        super().__init__(space=space, objectives=objectives, seed=seed, fidelity=fidelity)

    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        exclude = seen_keys(self.space, [*self.trials, *pending])
        found = novel_sobol(self.space, n, seed=self.seed, skip=len(self.trials) + len(pending), exclude=exclude)
        if len(found) < n:
            warnings.warn(
                f"random: the space {self.space.name!r} looks exhausted ({len(exclude)} distinct configs seen); "
                f"returning {len(found)} of {n} proposals",
                SpaceExhaustedWarning,
                stacklevel=2,
            )
        return [Proposal(c, self.fidelity, {"source": "sobol", "sobol_index": i}) for c, i in found]
