"""Pareto utilities: non-dominated sort, exact hypervolume, reference points.

Every function takes objective values in their raw units, ``Y`` of shape ``[n, m]`` (n points,
m objectives), and a direction per objective (``maximize[j]``); internally values are flipped to the
maximisation sense (``z = y`` for max, ``z = -y`` for min). Reference points are given and returned in
raw units too: ``ref_point=[0.5, 200.0]`` for ``val_acc:max, memory_mb:min`` means "at least 0.5
accuracy, at most 200 MB".

Conventions:
    * ``a`` dominates ``b`` when ``a`` is at least as good in every objective and strictly better in
      one. Equal points do not dominate each other, so duplicates on the front are all kept.
    * Rows with a NaN are never on the front, never dominate anything and add no hypervolume.
    * Hypervolume counts only points strictly better than the reference point in every objective.

This module is the one place for Pareto machinery: strategies, the Study, reports and benchmarks
all call it; :func:`objective_values` / :func:`objective_matrix` (raw units) and :func:`max_sense`
are the only ways trials become matrices. The non-dominated sort and the reference-point rule are
BoTorch's (``is_non_dominated(deduplicate=False)``, ``infer_reference_point``) written in numpy, and
``tests/analysis/test_pareto.py`` checks they give BoTorch's answers: ``nago report`` and the CLI
must not load torch (about 1-5 s on a small machine) to sort a few hundred rows. Two objectives use
an ``O(n log n)`` sweep, more a chunked pairwise comparison. Only the exact hypervolume of three or
more objectives calls BoTorch (imported inside :func:`hypervolume`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from nago.errors import NagoError
from nago.study.trial import ObjectiveSpec, Trial, TrialState


def _signs(maximize: Sequence[bool]) -> np.ndarray:
    signs = np.array([1.0 if bool(up) else -1.0 for up in maximize])
    if signs.size == 0:
        raise NagoError("maximize=[]: give one direction per objective (at least one)")
    return signs


def max_sense(Y: Any, maximize: Sequence[bool]) -> np.ndarray:
    """Raw ``Y [n, m]`` (array, tensor or nested list) -> float64 array ``[n, m]`` in the maximisation sense
    (min-objectives negated); what strategies model (``Strategy.max_sense_matrix`` wraps it as a tensor)."""
    signs = _signs(maximize)
    if hasattr(Y, "detach"):
        Y = Y.detach().cpu().double().numpy()
    Z = np.asarray(Y, dtype=np.float64)
    if Z.size == 0:
        return Z.reshape(0, signs.size)
    if Z.ndim != 2 or Z.shape[1] != signs.size:
        raise NagoError(f"objective values of shape {tuple(Z.shape)}: expected [n, {signs.size}] (one column per objective)")
    return Z * signs


def _ref_max_sense(ref_point: Any, maximize: Sequence[bool]) -> np.ndarray:
    signs = _signs(maximize)
    if hasattr(ref_point, "detach"):
        ref_point = ref_point.detach().cpu().double().numpy()
    r = np.asarray(ref_point, dtype=np.float64).reshape(-1)
    if r.size != signs.size or not np.isfinite(r).all():
        raise NagoError(f"ref_point={r.tolist()}: expected {signs.size} finite numbers (one per objective, raw units)")
    return r * signs


def _non_dominated_max(Z: np.ndarray) -> np.ndarray:
    """Mask of non-dominated rows of ``Z [n, m]`` (maximisation); NaN rows are False, duplicates all kept.

    The same answer as BoTorch's ``is_non_dominated(Z, deduplicate=False)`` on the rows without NaN.
    """
    n, m = Z.shape
    valid = ~np.isnan(Z).any(axis=1)
    mask = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(valid)
    if len(rows) == 0:
        return mask
    Zv = Z[valid]
    if m == 1:
        mask[rows] = Zv[:, 0] == Zv[:, 0].max()
        return mask
    if m == 2:
        # Sweep x from high to low. A point is dominated by a point of larger x whose y is >= its y, or
        # by a point of equal x and larger y.
        order = np.lexsort((-Zv[:, 1], -Zv[:, 0]))  # x descending, then y descending
        x, y = Zv[order, 0], Zv[order, 1]
        starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])  # first index of each equal-x group
        group_max = y[starts]  # y descending within a group: its first is its max
        before = np.r_[-np.inf, np.maximum.accumulate(group_max)[:-1]]  # best y over strictly larger x
        group = np.cumsum(np.r_[True, x[1:] != x[:-1]]) - 1
        keep = (y > before[group]) & (y >= group_max[group])
        mask[rows[order]] = keep
        return mask
    chunk = max(1, (1 << 22) // max(1, len(Zv) * m))  # bound the [chunk, n, m] comparison to ~4M cells
    for start in range(0, len(Zv), chunk):
        block = Zv[start : start + chunk, None, :]  # [b, 1, m]
        weakly_better = (Zv[None] >= block).all(axis=-1)  # [b, n]: row j is >= row i everywhere
        strictly_somewhere = (Zv[None] > block).any(axis=-1)
        mask[rows[start : start + chunk]] = ~(weakly_better & strictly_somewhere).any(axis=1)
    return mask


def non_dominated(Y: Any, *, maximize: Sequence[bool]) -> np.ndarray:
    """Which points are Pareto-optimal.

    Args:
        Y: ``[n, m]`` objective values (numpy, torch or lists), raw units.
        maximize: ``[m]`` directions.

    Returns:
        ``[n]`` bool mask; equal points are all kept, NaN rows are never kept.
    """
    return _non_dominated_max(max_sense(Y, maximize))


def _hv_max(Z: np.ndarray, r: np.ndarray) -> float:
    """Exact hypervolume of ``Z [n, m]`` (maximisation) above ``r [m]``."""
    Z = Z[~np.isnan(Z).any(axis=1)]
    Z = Z[(Z > r).all(axis=1)]
    if len(Z) == 0:
        return 0.0
    m = Z.shape[1]
    if m == 1:
        return float(Z.max() - r[0])
    Z = np.unique(Z[_non_dominated_max(Z)], axis=0)
    if m == 2:
        # Sweep from the largest x down: each point adds the strip between it and the best y so far.
        Z = Z[np.argsort(-Z[:, 0], kind="stable")]
        hv, y_best = 0.0, r[1]
        for x, y in Z:
            if y > y_best:
                hv += (x - r[0]) * (y - y_best)
                y_best = y
        return float(hv)
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    return float(Hypervolume(ref_point=torch.as_tensor(r)).compute(torch.as_tensor(Z)))


def hypervolume(Y: Any, *, maximize: Sequence[bool], ref_point: Any) -> float:
    """Exact hypervolume dominated by ``Y`` and bounded by ``ref_point``.

    One objective: the improvement of the best point over the reference; two: a sweep; three or
    more: BoTorch's exact dimension-sweep algorithm (fine for the tens to hundreds of points of a
    NAS front, exponential in ``m``).

    Args:
        Y: ``[n, m]`` objective values, raw units.
        maximize: ``[m]`` directions.
        ref_point: ``[m]`` reference point, raw units.

    Returns:
        The hypervolume, in the product of the objectives' units; 0 for no point beyond the reference.
    """
    return _hv_max(max_sense(Y, maximize), _ref_max_sense(ref_point, maximize))


def reference_point(Y: Any, *, maximize: Sequence[bool], margin: float = 0.1) -> np.ndarray:
    """A reference point just worse than every observed point: the one rule of nago (mobo's acquisition,
    the Study's fixed reference, reports).

    Rule (maximisation sense, per objective): BoTorch's ``infer_reference_point(Y, scale=margin)`` (in
    numpy, see the module docstring) over
    **all** rows whose values are all finite, i.e. ``worst - margin * (best - worst)``. BoTorch means it
    for the Pareto front; nago passes every observed point, so the reference sits beyond the worst
    observed value, not only beyond the worst front point: a reference fixed early in a study then still
    counts later points that trade, say, more memory for accuracy. Where the observed range is 0 (one
    point, or a constant objective) the offset is ``margin * |worst|``, or ``margin`` when ``worst`` is 0
    (BoTorch's guard offsets by ``margin * 1e-7``, which would leave a fixed reference a hair from the
    only observed value, so any later point a little worse in that objective would add nothing).

    Args:
        Y: ``[n, m]`` objective values, raw units (non-finite rows are ignored).
        maximize: ``[m]`` directions.
        margin: fraction of the observed range, ``>= 0``.

    Returns:
        ``[m]`` reference point in raw units.
    """
    if not (isinstance(margin, (int, float)) and math.isfinite(margin) and margin >= 0):
        raise NagoError(f"margin={margin!r}: expected a finite number >= 0 (a fraction of the observed range)")
    signs = _signs(maximize)
    Z = max_sense(Y, maximize)
    Z = Z[np.isfinite(Z).all(axis=1)]
    if len(Z) == 0:
        raise NagoError("reference_point: no point with all objectives finite; pass ref_point explicitly")
    worst, span = Z.min(axis=0), Z.max(axis=0) - Z.min(axis=0)
    scale = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0))
    return (worst - margin * scale) * signs


def hypervolume_history(Y: Any, *, maximize: Sequence[bool], ref_point: Any) -> np.ndarray:
    """Hypervolume of the first ``k`` points for ``k = 1..n`` (the search's progress curve).

    Only points that enlarge the dominated region trigger a recomputation.

    Returns:
        ``[n]`` float64, non-decreasing.
    """
    Z = max_sense(Y, maximize)
    r = _ref_max_sense(ref_point, maximize)
    out = np.zeros(len(Z))
    hv = 0.0
    for k, z in enumerate(Z):
        gains = not np.isnan(z).any() and (z > r).all()
        if gains and k > 0:
            seen = Z[:k][~np.isnan(Z[:k]).any(axis=1)]
            gains = not (seen >= z).all(axis=1).any()
        if gains:
            hv = _hv_max(Z[: k + 1], r)
        out[k] = hv
    return out


def objective_values(trials: Sequence[Trial], objectives: Sequence[ObjectiveSpec]) -> np.ndarray:
    """``Y [n, m]`` float64 of the given trials in raw units (columns in ``objectives`` order), no filtering.

    Raises:
        NagoError: a trial lacks an objective metric (filter with :func:`objective_matrix` first).
    """
    names = [o.name for o in objectives]
    try:
        rows = [[float(t.metrics[name]) for name in names] for t in trials]
    except KeyError as e:
        raise NagoError(f"objective_values: a trial has no metric {e}; pass complete trials (objective_matrix filters)") from None
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(names))


def objective_matrix(trials: Sequence[Trial], objectives: Sequence[ObjectiveSpec]) -> tuple[np.ndarray, list[Trial]]:
    """The complete trials whose objective metrics are all present and finite, and their values.

    Returns:
        ``Y [n, m]`` in raw units (columns in ``objectives`` order) and the ``n`` trials, input order.
    """
    names = [o.name for o in objectives]
    kept = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and all(math.isfinite(float(t.metrics.get(name, math.nan))) for name in names)
    ]
    return objective_values(kept, objectives), kept


def pareto_trials(trials: Sequence[Trial], objectives: Sequence[ObjectiveSpec]) -> list[Trial]:
    """The non-dominated trials among the complete ones with all objectives finite, input order."""
    if not objectives:
        raise NagoError("pareto_trials: objectives=[]; give at least one, e.g. parse_objectives('val_acc:max')")
    Y, kept = objective_matrix(trials, objectives)
    mask = non_dominated(Y, maximize=[o.maximize for o in objectives])
    return [t for t, keep in zip(kept, mask) if keep]


def pareto_order(Y: Any, *, maximize: Sequence[bool], ref_point: Any = None) -> np.ndarray:
    """Rows of ``Y`` best first for multi-objective selection (successive-halving promotions).

    Non-dominated sorting first (front 1, then the front of what is left, ...); within a front, greedy
    hypervolume selection: the point adding the most hypervolume to the points of that front already
    taken comes next (the first is the one dominating the largest box on its own). The tie-break thus
    values the front's spread, not one objective: of two fronts' knees the second pick is the point
    farthest from the first, not its neighbour. Rows with a NaN come last, in index order; exact ties
    keep index order.

    Args:
        Y: ``[n, m]`` objective values, raw units.
        maximize: ``[m]`` directions.
        ref_point: ``[m]`` raw units; default :func:`reference_point` of the finite rows (10 % beyond
            the worst observed value, so the extremes of a front still add hypervolume).

    Returns:
        ``[n]`` int64 permutation of ``range(n)``.
    """
    Z = max_sense(Y, maximize)
    finite = np.flatnonzero(np.isfinite(Z).all(axis=1)) if len(Z) else np.zeros(0, dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(Z)), finite).tolist()
    if len(finite) == 0:
        return np.arange(len(Z), dtype=np.int64)
    r = _ref_max_sense(reference_point(Y, maximize=maximize) if ref_point is None else ref_point, maximize)
    order: list[int] = []
    left = finite
    while len(left):
        mask = _non_dominated_max(Z[left])
        front, left = list(left[mask]), left[~mask]
        taken: list[int] = []
        base = 0.0
        while front:
            gains = [_hv_max(Z[taken + [i]], r) - base for i in front]
            best = int(np.argmax(gains))  # first of equal gains: the lower index (fronts keep index order)
            base += gains[best]
            taken.append(front.pop(best))
        order.extend(taken)
    return np.asarray(order + rest, dtype=np.int64)
