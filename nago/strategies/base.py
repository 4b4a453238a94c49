"""The ask/tell contract every search strategy implements."""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np
import torch

from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.strategies import STRATEGIES  # noqa: F401  (re-exported: the registry lives in the package, free of torch)
from nago.study.trial import ObjectiveSpec, Trial, TrialState

if TYPE_CHECKING:
    from nago.study.warm_start import WarmStart


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

    supports_warm_start: ClassVar[bool] = False  # takes a prior from earlier studies (set_warm_start)

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
        self.ref_point: list[float] | None = None  # hypervolume reference, raw units (see set_ref_point)
        self.warm: "WarmStart | None" = None  # earlier studies' observations (see set_warm_start)

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

    def max_sense_matrix(self, trials: Sequence[Trial]) -> torch.Tensor:
        """Objective values of ``trials`` as a maximisation problem: ``[n, m]`` float64, min-objectives
        negated (:func:`nago.analysis.pareto.objective_values` then :func:`~nago.analysis.pareto.max_sense`).
        Every trial must have every objective metric (pass :meth:`completed` ones)."""
        from nago.analysis.pareto import max_sense, objective_values

        Z = max_sense(objective_values(trials, self.objectives), [o.maximize for o in self.objectives])
        return torch.as_tensor(Z, dtype=torch.float64)

    def set_warm_start(self, warm: "WarmStart | None") -> None:
        """Give the strategy what earlier studies observed (:mod:`nago.study.warm_start`); ``None``: none.

        Strategies with ``supports_warm_start`` evaluate :meth:`warm_configs` first and may model the
        sources' observations; the others refuse a warm start.

        Raises:
            ConfigError: the strategy does not take warm starts (the message lists those that do).
        """
        if warm is not None and not self.supports_warm_start:
            from nago.strategies import WARM_START_STRATEGIES

            raise ConfigError(f"strategy {type(self).__name__} takes no warm start; allowed: one of "
                              f"{', '.join(WARM_START_STRATEGIES)}")
        self.warm = warm

    def warm_configs(self, k: int, pending: Sequence[Trial] = ()) -> list[dict[str, Any]]:
        """The first ``k`` of the warm start's :meth:`~nago.study.warm_start.WarmStart.initial_configs` not yet
        told or pending, in order ([] without a warm start). At most ``k`` are ever proposed this way: the
        list is fixed and a proposed config stays seen, so a resumed study continues exactly."""
        if self.warm is None or k <= 0:
            return []
        seen = {self.space.key(t.config) for t in [*self.trials, *pending]}
        return [c for c in self.warm.initial_configs(self.space, k) if self.space.key(c) not in seen]

    def set_ref_point(self, ref_point: Sequence[float] | None, *, source: str = "ref_point") -> None:
        """Set the hypervolume reference point: raw metric units, one per objective (``None``: infer it).

        The Study hands over its configured reference (``[search] ref_point``) so that a strategy's
        acquisition and the study's reports measure the same hypervolume. Only strategies that use a
        reference point read :attr:`ref_point` (``mobo``); the others keep it unused.

        Args:
            ref_point: ``[m]`` raw metric units, or ``None``.
            source: where the value came from, for the error message.

        Raises:
            ConfigError: not one finite number per objective.
        """
        if ref_point is None:
            self.ref_point = None
            return
        m = len(self.objectives)
        try:
            values = [float(v) for v in ref_point]
        except (TypeError, ValueError):
            values = []
        if len(values) != m or not all(math.isfinite(v) for v in values):
            raise ConfigError(
                f"{source} got {ref_point!r}; allowed: a list of {m} finite numbers in metric units, one per "
                f"objective ({', '.join(map(str, self.objectives))})"
            )
        self.ref_point = values
