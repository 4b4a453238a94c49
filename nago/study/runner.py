"""Running one trial: derived seeds, the :class:`Outcome` an executor sends back, and
:func:`run_trial`, which turns every failure of an objective into a recorded outcome.
"""

from __future__ import annotations

import dataclasses
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from nago.errors import EvalFailure, NagoError, check_fail_kind
from nago.objectives.base import EvalResult, Objective


def derive_seed(seed: int, *keys: int) -> int:
    """A 31-bit seed derived from ``seed`` and ``keys`` (stable across runs and platforms)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0] >> 1)


@dataclasses.dataclass
class Outcome:
    """What evaluating one trial produced (picklable: executors send it back).

    ``fail_kind`` is ``None`` for a success, else one of :data:`nago.errors.FAIL_KINDS` (checked).
    """

    metrics: dict[str, float] | None = None
    sample_metrics: list[dict[str, float]] = dataclasses.field(default_factory=list)
    fail_kind: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.fail_kind is not None:
            check_fail_kind(self.fail_kind)


def run_trial(objective: "Objective | Callable[..., Any]", config: Mapping[str, Any], seed: int, fidelity: float | None) -> Outcome:
    """Evaluate one trial and turn every failure into an :class:`Outcome` (never raises, except on
    KeyboardInterrupt). A plain callable may return an :class:`EvalResult` or a metrics dict."""
    try:
        result = objective(config, seed=seed, fidelity=fidelity)
    except EvalFailure as e:
        return Outcome(sample_metrics=e.sample_metrics, fail_kind=e.kind, message=e.message)
    except NagoError as e:
        return Outcome(fail_kind="invalid", message=str(e))
    except Exception as e:  # noqa: BLE001 - a failing trial must not end the study
        where = traceback.extract_tb(e.__traceback__)[-1]
        return Outcome(fail_kind="error", message=f"{type(e).__name__}: {e} ({Path(where.filename).name}:{where.lineno})")
    if isinstance(result, EvalResult):
        return Outcome(metrics=result.metrics, sample_metrics=result.sample_metrics)
    try:
        return Outcome(metrics=dict(result))
    except (TypeError, ValueError):
        return Outcome(fail_kind="error", message=f"the objective returned {type(result).__name__} {str(result)[:80]!r}; "
                                                  "allowed: a dict of metrics or an EvalResult")
