"""The error vocabulary: errors users can cause, and the kinds of failure a trial can end with.

Every :class:`NagoError` message names the field, the value and what is allowed. A failing trial is
not an error of the study: it ends as ``failed`` with one of :data:`FAIL_KINDS` and a message, and
the study goes on.
"""

from __future__ import annotations

FAIL_KINDS = ("oom", "nan", "timeout", "invalid", "error", "killed")
"""Why a trial failed: out of memory, a non-finite loss or metric, over its time limit, a config that
cannot be built (or matches no table row), any other exception, the worker process died twice."""


class NagoError(Exception):
    """Base class of every error nago raises on purpose (bad input, missing files, ...)."""


class ConfigError(NagoError, ValueError):
    """A configuration value, key or file is wrong (unknown name, out of range, malformed TOML)."""


class DataError(NagoError):
    """A dataset is missing, malformed or in an unexpected layout."""


def check_fail_kind(kind: object) -> str:
    """``kind`` if it is one of :data:`FAIL_KINDS`, else :class:`ValueError` naming what is allowed.

    Every place that creates a failure (an :class:`EvalFailure`, a training failure, the store)
    calls this, so an unknown kind is caught where it is made, not when the store writes it.
    """
    if kind not in FAIL_KINDS:
        raise ValueError(f"failure kind {kind!r}; allowed: {', '.join(FAIL_KINDS)}")
    return str(kind)


class EvalFailure(NagoError):
    """An evaluation failed in a way the study records as a failed trial.

    Args:
        kind: one of :data:`FAIL_KINDS` (checked: another value raises ``ValueError``).
        message: what happened.
        sample_metrics: metrics of the networks evaluated before the failure.
    """

    def __init__(self, kind: str, message: str, *, sample_metrics: list[dict[str, float]] | None = None) -> None:
        super().__init__(message)
        self.kind, self.message = check_fail_kind(kind), message
        self.sample_metrics = sample_metrics or []

    def __reduce__(self):  # picklable across process executors
        return (_rebuild_failure, (type(self), self.kind, self.message, self.sample_metrics))


def _rebuild_failure(cls, kind, message, sample_metrics):
    return cls(kind, message, sample_metrics=sample_metrics)
