"""The objective contract: ``(config, *, seed, fidelity) -> EvalResult``.

An objective evaluates one config of a search space. It raises :class:`~nago.errors.EvalFailure`
(kind in :data:`nago.errors.FAIL_KINDS`) for a failure the study records as a failed trial; the study
turns any other exception into an ``error`` failure (see :func:`nago.study.runner.run_trial`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Mapping

from nago.errors import EvalFailure  # noqa: F401  (part of the contract)


@dataclass
class EvalResult:
    """Aggregated metrics (means plus ``*_std``) and the per-network values."""

    metrics: dict[str, float]
    sample_metrics: list[dict[str, float]] = field(default_factory=list)


class Objective(abc.ABC):
    """Evaluates one config. Must be picklable (it may run in another process)."""

    @abc.abstractmethod
    def __call__(self, config: Mapping[str, Any], *, seed: int, fidelity: float | None = None) -> EvalResult:
        """Evaluate ``config``; raise :class:`EvalFailure` on a failure the study should record."""
