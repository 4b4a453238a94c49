from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from nago.errors import NagoError
from nago.analysis.pareto import (
    hypervolume,
    hypervolume_history,
    non_dominated,
    objective_matrix,
    pareto_trials,
    reference_point,
)
from nago.study.trial import Trial, TrialState, parse_objectives


def brute_non_dominated(Z):
    """Maximisation-sense brute force."""
    n = len(Z)
    return np.array([not any((Z[j] >= Z[i]).all() and (Z[j] > Z[i]).any() for j in range(n)) for i in range(n)], dtype=bool)


def brute_hypervolume(Z, r):
    """Exact HV (maximisation) by coordinate compression: sum the grid cells some point dominates."""
    Z = Z[(Z > r).all(axis=1)]
    if len(Z) == 0:
        return 0.0
    axes = [np.unique(np.concatenate([[r[j]], Z[:, j]])) for j in range(Z.shape[1])]
    total = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        upper = np.array([axes[j][c + 1] for j, c in enumerate(cell)])
        if (Z >= upper).all(axis=1).any():
            total += np.prod([axes[j][c + 1] - axes[j][c] for j, c in enumerate(cell)])
    return float(total)


def test_non_dominated_hand_example_with_directions():
    # val_acc (max), memory_mb (min)
    Y = np.array([[0.9, 100.0], [0.8, 50.0], [0.85, 120.0], [0.7, 60.0], [0.9, 100.0]])
    mask = non_dominated(Y, maximize=[True, False])
    assert mask.tolist() == [True, True, False, False, True]  # the duplicate of row 0 is kept too
    assert non_dominated(Y, maximize=[False, True]).tolist() == [False, False, True, True, False]


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_non_dominated_matches_brute_force(m):
    rng = np.random.default_rng(m)
    Z = rng.integers(0, 5, size=(60, m)).astype(float)  # many ties
    maximize = [bool(b) for b in rng.integers(0, 2, size=m)]
    Y = Z * np.where(maximize, 1.0, -1.0)
    assert (non_dominated(Y, maximize=maximize) == brute_non_dominated(Z)).all()
    assert (non_dominated(torch.as_tensor(Y), maximize=maximize) == brute_non_dominated(Z)).all()


def test_non_dominated_nan_empty_and_shapes():
    Y = np.array([[1.0, np.nan], [0.5, 0.5], [0.2, 0.2]])
    assert non_dominated(Y, maximize=[True, True]).tolist() == [False, True, False]
    assert non_dominated(np.zeros((0, 2)), maximize=[True, True]).shape == (0,)
    assert non_dominated([], maximize=[True]).shape == (0,)
    with pytest.raises(NagoError, match=r"shape \(3, 2\): expected \[n, 3\]"):
        non_dominated(Y, maximize=[True] * 3)
    with pytest.raises(NagoError, match="maximize=\\[\\]"):
        non_dominated(Y, maximize=[])


def test_hypervolume_2d_by_hand():
    # max/max, ref (0, 0): boxes 3x1, 2x2, 1x3 -> union 3 + 2 + 1 = 6
    Y = np.array([[3.0, 1.0], [2.0, 2.0], [1.0, 3.0], [1.0, 1.0]])
    assert hypervolume(Y, maximize=[True, True], ref_point=[0.0, 0.0]) == pytest.approx(6.0)
    # min/max in raw units: same geometry mirrored
    Ymin = Y * np.array([-1.0, 1.0])
    assert hypervolume(Ymin, maximize=[False, True], ref_point=[0.0, 0.0]) == pytest.approx(6.0)
    # a point beyond the reference in one objective adds nothing; ties add nothing twice
    Y2 = np.vstack([Y, [[5.0, -1.0]], [[3.0, 1.0]]])
    assert hypervolume(Y2, maximize=[True, True], ref_point=[0.0, 0.0]) == pytest.approx(6.0)
    assert hypervolume(Y, maximize=[True, True], ref_point=[5.0, 5.0]) == 0.0
    assert hypervolume(np.zeros((0, 2)), maximize=[True, True], ref_point=[0.0, 0.0]) == 0.0


def test_hypervolume_3d_by_hand():
    Y = np.array([[1.0, 1.0, 1.0], [2.0, 0.5, 0.5]])  # 1 + (2*0.5*0.5 - 1*0.5*0.5) = 1.25
    assert hypervolume(Y, maximize=[True] * 3, ref_point=[0, 0, 0]) == pytest.approx(1.25)


@pytest.mark.parametrize("m", [2, 3, 4])
def test_hypervolume_matches_brute_force(m):
    rng = np.random.default_rng(10 + m)
    Z = rng.random((12, m)).round(2)
    Z[3] = Z[2]  # a duplicate
    maximize = [bool(b) for b in rng.integers(0, 2, size=m)]
    signs = np.where(maximize, 1.0, -1.0)
    r = np.full(m, 0.1)
    got = hypervolume(Z * signs, maximize=maximize, ref_point=r * signs)
    assert got == pytest.approx(brute_hypervolume(Z, r), rel=1e-9)


def test_single_objective_hypervolume_is_improvement_over_reference():
    assert hypervolume([[0.7], [0.9], [0.2]], maximize=[True], ref_point=[0.5]) == pytest.approx(0.4)
    assert hypervolume([[30.0], [10.0]], maximize=[False], ref_point=[50.0]) == pytest.approx(40.0)
    assert hypervolume([[0.1]], maximize=[True], ref_point=[0.5]) == 0.0


def test_bad_reference_point():
    with pytest.raises(NagoError, match=r"ref_point=\[0.0\]: expected 2 finite numbers"):
        hypervolume([[1.0, 1.0]], maximize=[True, True], ref_point=[0.0])
    with pytest.raises(NagoError, match="finite"):
        hypervolume([[1.0, 1.0]], maximize=[True, True], ref_point=[0.0, float("nan")])


def test_reference_point_rule():
    Y = np.array([[0.9, 100.0], [0.5, 300.0], [0.7, 200.0]])
    r = reference_point(Y, maximize=[True, False], margin=0.1)
    assert r == pytest.approx([0.5 - 0.04, 300.0 + 20.0])
    # zero range: offset margin * |worst|, or margin when worst is 0
    r = reference_point([[2.0, 0.0]], maximize=[True, False], margin=0.5)
    assert r == pytest.approx([1.0, 0.5])
    # non-finite rows are ignored; every finite point lies strictly beyond the reference
    Y = np.array([[1.0, 2.0], [np.nan, 5.0], [np.inf, 0.0], [3.0, 1.0]])
    r = reference_point(Y, maximize=[True, True])
    assert r == pytest.approx([0.8, 0.9])
    assert hypervolume(Y[[0, 3]], maximize=[True, True], ref_point=r) > 0
    with pytest.raises(NagoError, match="no point with all objectives finite"):
        reference_point(np.zeros((0, 2)), maximize=[True, True])
    with pytest.raises(NagoError, match="margin=-1"):
        reference_point(Y, maximize=[True, True], margin=-1)


def test_hypervolume_history_matches_prefix_recomputation():
    rng = np.random.default_rng(0)
    for m in (1, 2, 3):
        Y = rng.random((15, m))
        Y[4] = np.nan
        maximize = [True] * (m - 1) + [False]
        ref = reference_point(Y, maximize=maximize)
        hist = hypervolume_history(Y, maximize=maximize, ref_point=ref)
        expected = [hypervolume(Y[: k + 1], maximize=maximize, ref_point=ref) for k in range(len(Y))]
        assert hist == pytest.approx(expected)
        assert (np.diff(hist) >= 0).all()
    assert hypervolume_history(np.zeros((0, 2)), maximize=[True, True], ref_point=[0, 0]).shape == (0,)


def _trial(i, state=TrialState.COMPLETE, **metrics):
    return Trial(id=i, config={}, seed=i, state=state, metrics=metrics)


def test_pareto_trials_and_objective_matrix():
    objs = parse_objectives(["val_acc:max", "memory_mb:min"])
    trials = [
        _trial(1, val_acc=0.9, memory_mb=100),
        _trial(2, val_acc=0.8, memory_mb=50),
        _trial(3, val_acc=0.7, memory_mb=80),  # dominated by 2
        _trial(4, TrialState.FAILED, val_acc=0.99, memory_mb=1),  # failed: ignored
        _trial(5, val_acc=0.95),  # missing a metric: ignored
        _trial(6, val_acc=float("nan"), memory_mb=1),  # NaN: ignored
        _trial(7, TrialState.RUNNING),
        _trial(8, val_acc=0.9, memory_mb=100),  # tie with 1: kept
    ]
    Y, kept = objective_matrix(trials, objs)
    assert [t.id for t in kept] == [1, 2, 3, 8] and Y.shape == (4, 2) and Y[1].tolist() == [0.8, 50.0]
    assert [t.id for t in pareto_trials(trials, objs)] == [1, 2, 8]
    # only the named objectives count: trial 6 has a NaN val_acc but the lowest memory
    assert [t.id for t in pareto_trials(trials, parse_objectives("memory_mb:min"))] == [6]
    assert pareto_trials([], objs) == []
    with pytest.raises(NagoError, match="objectives=\\[\\]"):
        pareto_trials(trials, [])


# -- the numpy sort and reference rule are BoTorch's (nago report must not load torch) -------------
@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("seed", range(5))
def test_non_dominated_agrees_with_botorch(m, seed):
    import torch
    from botorch.utils.multi_objective.pareto import is_non_dominated

    rng = np.random.default_rng(seed)
    Z = rng.integers(0, 6, size=(60, m)).astype(float)  # coarse values: many ties and duplicates
    Z[rng.random(60) < 0.1, rng.integers(0, m)] = np.nan
    ours = non_dominated(Z, maximize=[True] * m)
    valid = ~np.isnan(Z).any(axis=1)
    theirs = np.zeros(60, dtype=bool)
    theirs[valid] = is_non_dominated(torch.as_tensor(Z[valid]), deduplicate=False).numpy()
    assert (ours == theirs).all()


def test_reference_point_is_botorchs_rule():
    import torch
    from botorch.utils.multi_objective.hypervolume import infer_reference_point

    Y = np.array([[0.9, 3.0], [0.7, 1.0], [0.95, 5.0], [0.5, 0.5]])
    ours = reference_point(Y, maximize=[True, False])
    theirs = infer_reference_point(torch.as_tensor(Y * [1.0, -1.0]), scale=0.1).numpy() * [1.0, -1.0]
    assert ours == pytest.approx(theirs)


def test_pareto_order_fronts_first_then_spread():
    from nago.analysis.pareto import pareto_order

    Y = np.array([[0.9, 5], [0.8, 1], [0.85, 3], [0.7, 4], [np.nan, 1], [0.95, 10], [0.86, 3.1], [0.6, 9]])
    order = pareto_order(Y, maximize=[True, False]).tolist()
    assert sorted(order) == list(range(8))
    front = {0, 1, 2, 5, 6}
    assert set(order[:5]) == front and order[5:] == [3, 7, 4]  # front 1, front 2 (3, then 7 it dominates), NaN last
    # greedy hypervolume: the largest box alone (1: 0.8 @ 1) first; 2 (0.85 @ 3) adds little once its near
    # twin 6 (0.86 @ 3.1) is in, so it comes last of the front although it alone dominates more than 5 does
    assert order[:5] == [1, 0, 6, 5, 2]
    # a dominated point never precedes a front point, whatever the reference
    assert set(pareto_order(Y, maximize=[True, False], ref_point=[0.0, 100.0]).tolist()[:5]) == front
    assert pareto_order(np.zeros((0, 2)), maximize=[True, False]).tolist() == []
