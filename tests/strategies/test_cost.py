"""Cost-aware acquisition (``cost_exponent``): the cost of a trial, the log-cost GP, the weighting, and what it
does to mobo's proposals on a discrete and on a mixed space."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from nago.config.space import SearchSpace
from nago.errors import ConfigError
from nago.strategies._cost import CostWeighted, fit_log_cost, trial_cost
from nago.strategies._gp import fit_model
from nago.strategies.mobo import MOBO
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SurrogateFallbackWarning

FAST = {"num_restarts": 4, "raw_samples": 64, "mc_samples": 64}
CELLS = SearchSpace.from_dict(
    {"params": {f"e{i}": {"type": "categorical", "choices": ["none", "skip", "conv1", "conv3"]} for i in range(4)}}
)
OBJ = parse_objectives(["acc:max", "mem:min"])


def done(tid: int, config: dict, metrics: dict, **extra) -> Trial:
    return Trial(id=tid, config=config, seed=tid, state=TrialState.COMPLETE, metrics=metrics, **extra)


def test_trial_cost_is_the_query_cost_else_the_wall_time():
    assert trial_cost(done(0, {}, {"query_cost": 12.5}, started=0.0, finished=99.0)) == 12.5
    assert trial_cost(done(0, {}, {}, started=10.0, finished=13.0)) == 3.0
    for bad in ({}, {"query_cost": 0.0}, {"query_cost": float("nan")}, {"query_cost": "x"}, {"query_cost": -1.0}):
        assert trial_cost(done(0, {}, bad)) is None


def fit(X, y):
    return fit_model(X, y, [None], [0, 1, 2, 3])


def conv3_cost(c: dict) -> float:
    """Each conv3 edge doubles the cost (seconds)."""
    return 10.0 * 2.0 ** sum(v == "conv3" for v in c.values())


def test_log_cost_gp_orders_configs_by_cost():
    configs = CELLS.sample(0, 30)
    trials = [done(i, c, {"query_cost": conv3_cost(c)}) for i, c in enumerate(configs)]
    log_cost = fit_log_cost(CELLS.to_unit(configs), trials, fit)
    cheap, dear = {f"e{i}": "skip" for i in range(4)}, {f"e{i}": "conv3" for i in range(4)}
    pred = log_cost(CELLS.to_unit([cheap, dear])).detach()
    assert pred.shape == (2,)
    assert math.exp(float(pred[0])) < 20 and math.exp(float(pred[1])) > 80  # true costs 10 and 160


def test_log_cost_needs_two_costed_trials_and_is_flat_when_costs_are_equal():
    configs = CELLS.sample(0, 3)
    X = CELLS.to_unit(configs)
    one = [done(0, configs[0], {"query_cost": 5.0}), done(1, configs[1], {}), done(2, configs[2], {})]
    assert fit_log_cost(X, one, fit) is None
    flat = fit_log_cost(X, [done(i, c, {"query_cost": 5.0}) for i, c in enumerate(configs)], fit)
    assert torch.allclose(flat(X), torch.full((3,), math.log(5.0), dtype=torch.float64))


class _Acq(torch.nn.Module):
    """A log-acquisition stand-in: the sum of the first coordinate over the batch."""

    model = None

    def __init__(self):
        super().__init__()
        self.pending = "unset"

    def set_X_pending(self, X_pending=None):
        self.pending = X_pending

    def forward(self, X):
        return X[..., 0].sum(-1)


def test_cost_weighting_subtracts_the_log_of_the_batch_cost():
    inner = _Acq()
    acqf = CostWeighted(inner, lambda X: 2.0 * X[..., 1], exponent=0.5)  # log cost = 2 * x_1
    X = torch.tensor([[[0.3, 0.0], [0.1, 1.0]]], dtype=torch.float64)  # [b=1, q=2, d=2]
    expected = 0.4 - 0.5 * math.log(math.exp(0.0) + math.exp(2.0))
    assert float(acqf(X)) == pytest.approx(expected)
    acqf.set_X_pending(X[0])
    assert inner.pending is not None and inner.pending.shape == (2, 2)


def _mean_cost(exponent: float, seed: int) -> tuple[float, list[dict]]:
    """Mean true cost of mobo's batch of 4 on the 256 cells, accuracy = #conv3 + 0.5 #conv1, memory = #conv1."""
    s = MOBO(space=CELLS, objectives=OBJ, seed=seed, n_init=8, cost_exponent=exponent, **FAST)
    trials = []
    for i, c in enumerate(CELLS.sample(seed, 20)):
        acc = sum(v == "conv3" for v in c.values()) + 0.5 * sum(v == "conv1" for v in c.values())
        trials.append(done(i, c, {"acc": acc, "mem": float(sum(v == "conv1" for v in c.values())),
                                  "query_cost": conv3_cost(c)}))
    s.tell(trials)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        batch = s.ask(4)
    return sum(conv3_cost(p.config) for p in batch) / 4, [p.info for p in batch]


def test_cost_exponent_steers_proposals_to_cheap_configs():
    plain = [_mean_cost(0.0, seed)[0] for seed in (0, 1)]  # 90, 65 (of 10-160)
    per_cost, infos = zip(*[_mean_cost(1.0, seed) for seed in (0, 1)])  # 75, 60
    squared = [_mean_cost(2.0, seed)[0] for seed in (0, 1)]  # 55, 15
    assert sum(squared) < 0.6 * sum(plain) and sum(per_cost) < sum(plain)
    assert all(i["cost_model"] is True and i["source"] == "qlognehvi" for batch in infos for i in batch)


MIXED = SearchSpace.from_dict({"params": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                                          "c": {"type": "categorical", "choices": ["a", "b"]}}})


def test_mixed_space_optimises_through_the_cost_model():
    """The continuous path (alternating optimiser) gets the weighted acquisition: two equal optima in x, at 0.2
    and 0.8, and a cost that rises steeply with x; per unit cost the proposals go to the cheap optimum."""
    objs = parse_objectives(["acc:max"])

    def acc(c):
        return -min((c["x"] - 0.2) ** 2, (c["x"] - 0.8) ** 2) + 0.1 * (c["c"] == "b")

    trials = [done(i, c, {"acc": acc(c), "query_cost": math.exp(4 * c["x"])}) for i, c in enumerate(MIXED.sample(0, 12))]
    xs = {}
    for a in (0.0, 1.0):
        s = MOBO(space=MIXED, objectives=objs, seed=0, n_init=6, cost_exponent=a, **FAST)
        s.tell(trials)
        with warnings.catch_warnings():
            warnings.simplefilter("error", SurrogateFallbackWarning)
            xs[a] = [p.config["x"] for p in s.ask(2)]
    assert max(xs[1.0]) < 0.5 < max(xs[0.0]), xs


def test_without_costs_the_acquisition_is_unweighted_and_says_so():
    s = MOBO(space=CELLS, objectives=OBJ, seed=0, n_init=8, cost_exponent=1.0, **FAST)
    s.tell([done(i, c, {"acc": float(i % 5), "mem": float(i % 3)}) for i, c in enumerate(CELLS.sample(0, 10))])
    batch = s.ask(2)
    assert all(p.info["cost_model"] is False and p.info["source"] == "qlognehvi" for p in batch)


@pytest.mark.parametrize("value", [-1, "x", float("nan")])
def test_bad_cost_exponent(value):
    with pytest.raises(ConfigError, match="strategy 'mobo': option 'cost_exponent' got"):
        MOBO(space=CELLS, objectives=OBJ, cost_exponent=value)
