"""The ask/tell contract every search strategy implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES  # noqa: F401  (re-exported: the registry lives in the package, free of torch)
from nago.study.trial import ObjectiveSpec, Trial, TrialState


@dataclass
class Proposal:
    """What ``ask`` returns: a complete config, the fidelity (epochs; ``None`` = the run's default)
    and strategy bookkeeping to keep in the trial record (``info``)."""

    config: dict[str, Any]
    fidelity: float | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Strategy(abc.ABC):
    """A search strategy in ask/tell form.

    The Study calls ``tell`` with every finished trial it knows (complete and failed, the whole
    history, including trials restored from the store on resume) before each ``ask``. Strategies
    must therefore be idempotent in ``tell`` (they can simply rebuild their state from the list).

    Args:
        space: the search space; strategies work in its unit cube.
        objectives: metrics and directions; the first is the primary one.
        seed: root seed of the strategy's own randomness.
        options: strategy-specific settings from the run config (``[search.options]``).
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
        self.space = space
        self.objectives = list(objectives)
        self.seed = int(seed)
        self.fidelity = fidelity
        self.options = options
        self.rng = np.random.default_rng(self.seed)
        self.trials: list[Trial] = []

    def tell(self, trials: Sequence[Trial]) -> None:
        """Receive the finished trials (the full history)."""
        self.trials = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.FAILED)]

    @abc.abstractmethod
    def ask(self, n: int, pending: Sequence[Trial] = ()) -> list[Proposal]:
        """Propose ``n`` new evaluations; ``pending`` are trials waiting or running right now."""

    # -- helpers shared by the strategies --------------------------------------------------------
    def completed(self) -> list[Trial]:
        """Complete trials that have every objective metric."""
        names = [o.name for o in self.objectives]
        return [t for t in self.trials if t.state == TrialState.COMPLETE and all(k in t.metrics for k in names)]

    def objective_matrix(self, trials: Sequence[Trial]) -> torch.Tensor:
        """Objective values as a maximisation problem: ``[n, m]`` float64 (min-objectives negated)."""
        rows = [[t.metrics[o.name] if o.maximize else -t.metrics[o.name] for o in self.objectives] for t in trials]
        return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), len(self.objectives))
