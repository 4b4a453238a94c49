"""Trial records and objective directions: the data the Study, the store and strategies share."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Sequence

from nago.errors import FAIL_KINDS, ConfigError  # noqa: F401  (FAIL_KINDS: re-exported with the records)


class TrialState(str, enum.Enum):
    """Life cycle of a trial: ``waiting -> running -> complete | failed``."""

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"




@dataclass
class Trial:
    """One evaluation of one config at one fidelity.

    Attributes:
        id: integer id, unique within a study (assigned by the store).
        config: the complete config (searchable and fixed values).
        seed: the trial seed; network-sampling and training seeds derive from it.
        fidelity: the budget in epochs, or ``None`` for the run's default.
        state: see :class:`TrialState`.
        fail_kind: one of :data:`FAIL_KINDS` when failed.
        message: the failure reason when failed.
        metrics: aggregated metrics (``val_acc``, ``memory_mb``, ``val_acc_std``, ...).
        sample_metrics: per sampled network metrics (a list of dicts).
        info: anything else worth keeping (strategy bookkeeping such as a BOHB bracket id).
        started, finished: UNIX times in seconds.
    """

    id: int
    config: dict[str, Any]
    seed: int
    fidelity: float | None = None
    state: TrialState = TrialState.WAITING
    fail_kind: str | None = None
    message: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    sample_metrics: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


@dataclass(frozen=True)
class ObjectiveSpec:
    """A metric and its direction, parsed from ``"val_acc:max"``."""

    name: str
    maximize: bool

    @classmethod
    def parse(cls, text: str) -> "ObjectiveSpec":
        name, _, direction = str(text).partition(":")
        direction = direction or "max"
        if not name or direction not in ("max", "min"):
            raise ConfigError(f"objective {text!r}: expected 'METRIC:max' or 'METRIC:min'")
        return cls(name.strip(), direction == "max")

    def __str__(self) -> str:
        return f"{self.name}:{'max' if self.maximize else 'min'}"


def parse_objectives(items: Sequence[str] | str) -> list[ObjectiveSpec]:
    if isinstance(items, str):
        items = [items]
    objs = [ObjectiveSpec.parse(s) for s in items]
    if not objs:
        raise ConfigError("at least one objective is needed, e.g. 'val_acc:max'")
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives repeat a metric: {names}")
    return objs
