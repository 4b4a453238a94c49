"""BOHB: Hyperband arithmetic, successive halving rebuilt from trial records, the KDE model."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.strategies._hyperband import HyperbandSchedule
from nago.strategies.bohb import BOHB
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SpaceExhaustedWarning

SPACE = SearchSpace.from_dict(
    {
        "params": {
            "x1": {"type": "float", "low": 0.0, "high": 1.0},
            "x2": {"type": "float", "low": 0.0, "high": 1.0},
            "n": {"type": "int", "low": 1, "high": 4},
            "c": {"type": "categorical", "choices": ["a", "b", "c"]},
            "fixed": {"type": "fixed", "value": 7},
        }
    }
)


def quality(config: dict[str, Any]) -> float:
    """Noise-free quality (max 0 at x1=0.3, x2=0.7, n=3, c='b')."""
    return (
        -((config["x1"] - 0.3) ** 2)
        - (config["x2"] - 0.7) ** 2
        - 0.05 * (config["n"] - 3) ** 2
        - 0.1 * (config["c"] != "b")
    )


def synthetic(config: dict[str, Any], budget: float) -> float:
    """Quality plus a budget-dependent distortion that shrinks as the budget grows."""
    return quality(config) + 0.1 * (30 / budget) * math.sin(37 * config["x1"] + 11 * config["x2"])


def make(seed: int = 0, objectives=("val_acc:max",), fidelity: float | None = 120, **options) -> BOHB:
    return STRATEGIES.get("bohb")(
        space=SPACE, objectives=parse_objectives(list(objectives)), seed=seed, fidelity=fidelity, **options
    )


def finish(trial: Trial, metrics: dict[str, float] | None) -> Trial:
    """Mark ``trial`` complete with ``metrics``, or failed when ``metrics`` is None."""
    if metrics is None:
        trial.state, trial.fail_kind, trial.message = TrialState.FAILED, "oom", "simulated"
    else:
        trial.state, trial.metrics = TrialState.COMPLETE, metrics
    return trial


def simulate(
    strategy: BOHB,
    steps: int,
    evaluate: Callable[[dict[str, Any], float], dict[str, float] | None] = lambda c, b: {"val_acc": synthetic(c, b)},
    history: list[Trial] | None = None,
) -> list[Trial]:
    """Sequential ask(1) -> evaluate -> tell loop; returns the whole history."""
    trials = list(history or [])
    for _ in range(steps):
        strategy.tell(trials)
        (p,) = strategy.ask(1)
        t = Trial(id=len(trials), config=p.config, seed=0, fidelity=p.fidelity, info=dict(p.info))
        trials.append(finish(t, evaluate(p.config, p.fidelity)))
    return trials


def rungs(trials: list[Trial]) -> dict[tuple[int, int], list[Trial]]:
    out: dict[tuple[int, int], list[Trial]] = {}
    for t in trials:
        out.setdefault((t.info["bracket"], t.info["rung"]), []).append(t)
    return out


# -- bracket arithmetic ----------------------------------------------------------------------------
def test_nago_schedule_eta2() -> None:
    s = make().schedule  # max_budget = fidelity 120, min_budget = 120 / 2**2
    assert (s.min_budget, s.max_budget, s.eta, s.s_max) == (30, 120, 2, 2)
    assert s.budgets == (30, 60, 120)
    shapes = [(s.bracket(b).sizes, s.bracket(b).budgets) for b in range(4)]
    assert shapes == [((4, 2, 1), (30, 60, 120)), ((3, 1), (60, 120)), ((3,), (120,)), ((4, 2, 1), (30, 60, 120))]


def test_schedule_eta3_and_uneven_ratio() -> None:
    s = make(fidelity=81, eta=3).schedule
    assert s.budgets == pytest.approx((9, 27, 81))
    assert [s.bracket(b).sizes for b in range(3)] == [(9, 3, 1), (4, 1), (3,)]
    # HpBandSter: the smallest budget is max / eta**s_max, not min_budget, when the ratio is uneven.
    u = HyperbandSchedule(min_budget=1, max_budget=100, eta=3)
    assert u.s_max == 4 and u.budgets[0] == pytest.approx(100 / 81)
    assert u.bracket(0).sizes == (81, 27, 9, 3, 1)
    assert HyperbandSchedule(min_budget=5, max_budget=5, eta=2).bracket(7).sizes == (1,)


def test_first_asks_fill_bracket_then_open_next() -> None:
    s = make()
    ps = s.ask(7)
    assert [p.fidelity for p in ps] == [30] * 4 + [60] * 3
    assert [(p.info["bracket"], p.info["rung"]) for p in ps] == [(0, 0)] * 4 + [(1, 0)] * 3
    assert all(p.info["source"] == "random" for p in ps)
    assert len({SPACE.key(p.config) for p in ps}) == 7
    for p in ps:
        assert SPACE.validate(p.config) == p.config and p.config["fixed"] == 7
    assert s.ask(0) == []


# -- successive halving -----------------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["max", "min"])
def test_promotions_pick_the_best_of_each_rung(direction: str) -> None:
    sign = 1 if direction == "max" else -1
    s = make(objectives=(f"score:{direction}",))
    trials = simulate(s, 60, lambda c, b: {"score": sign * synthetic(c, b)})
    groups = rungs(trials)
    by_id = {t.id: t for t in trials}
    checked = 0
    for (b, r), members in groups.items():
        if r == 0:
            assert all("parent" not in t.info for t in members)
            continue
        below = sorted(groups[(b, r - 1)], key=lambda t: -sign * t.metrics["score"])
        assert {t.info["parent"] for t in members} == {t.id for t in below[: len(members)]}
        assert len(members) == s.schedule.bracket(b).sizes[r]
        for t in members:
            parent = by_id[t.info["parent"]]
            assert t.config == parent.config and t.fidelity == s.schedule.bracket(b).budgets[r]
            assert parent.id < t.id  # promoted only after the rung had finished
            checked += 1
    assert checked >= 10
    pairs = [(SPACE.key(t.config), t.fidelity) for t in trials]
    assert len(set(pairs)) == len(pairs)  # no (config, budget) pair twice
    firsts = [SPACE.key(t.config) for t in trials if t.info["rung"] == 0]
    assert len(set(firsts)) == len(firsts)  # no new config twice


def test_failed_trials_rank_worst_and_are_never_promoted() -> None:
    fails = lambda c: c["x1"] > 0.5  # noqa: E731
    s = make()
    trials = simulate(s, 70, lambda c, b: None if fails(c) else {"val_acc": synthetic(c, b)})
    by_id = {t.id: t for t in trials}
    promoted = [by_id[t.info["parent"]] for t in trials if "parent" in t.info]
    assert promoted and all(p.state == TrialState.COMPLETE for p in promoted)
    # a rung whose failures leave fewer successes than slots promotes only its successes
    groups = rungs(trials)
    last, short = max(b for b, _ in groups), 0
    for (b, r), members in groups.items():
        sizes = s.schedule.bracket(b).sizes
        if b == last or r + 1 >= len(sizes):
            continue
        ok = sum(t.state == TrialState.COMPLETE for t in members)
        assert len(groups.get((b, r + 1), [])) == min(ok, sizes[r + 1])
        short += ok < sizes[r + 1]
    assert short > 0
    assert s.values([t for t in trials if t.state == TrialState.FAILED][:1])[0] == -np.inf


def test_all_failed_rung_ends_its_bracket() -> None:
    s = make()
    trials = simulate(s, 4, lambda c, b: None)  # bracket 0 rung 0 all failed
    s.tell(trials)
    ps = s.ask(3)
    assert [(p.info["bracket"], p.info["rung"]) for p in ps] == [(1, 0)] * 3


def test_pending_rungs_do_not_block() -> None:
    s = make()
    first = [
        Trial(id=i, config=p.config, seed=0, fidelity=p.fidelity, info=p.info, state=TrialState.RUNNING)
        for i, p in enumerate(s.ask(4))
    ]
    s.tell([])
    nxt = s.ask(2, pending=first)
    assert [(p.info["bracket"], p.info["rung"], p.fidelity) for p in nxt] == [(1, 0, 60)] * 2
    # three of four done, one still running: no promotion yet, new configs go on
    done = [finish(t, {"val_acc": float(t.id)}) for t in first[:3]]
    s.tell(done)
    nxt = s.ask(2, pending=first[3:])
    assert all(p.info["rung"] == 0 and p.info["bracket"] == 1 for p in nxt)
    assert not {SPACE.key(p.config) for p in nxt} & {SPACE.key(t.config) for t in first}
    # the rung closes: both promotions come first, best first
    s.tell([*done, finish(first[3], {"val_acc": -1.0})])
    nxt = s.ask(3)
    assert [p.info.get("parent") for p in nxt[:2]] == [2, 1]
    assert [p.fidelity for p in nxt[:2]] == [60, 60] and nxt[2].info["rung"] == 0


def test_restart_from_history_continues_identically() -> None:
    trials = simulate(make(seed=3), 45)
    assert any(t.info.get("source") == "model" for t in trials)
    for k in (0, 5, 6, 13, 27, 44):
        fresh = make(seed=3)
        fresh.tell(trials[:k])
        (p,) = fresh.ask(1)
        assert (p.config, p.fidelity, p.info) == (trials[k].config, trials[k].fidelity, trials[k].info)


def test_deterministic_per_seed() -> None:
    a, b, c = (simulate(make(seed=s), 30) for s in (1, 1, 2))
    assert [t.config for t in a] == [t.config for t in b]
    assert [t.config for t in a] != [t.config for t in c]


def test_resume_with_other_schedule_is_an_error() -> None:
    trials = simulate(make(), 5)
    other = make(eta=3)
    other.tell(trials)
    with pytest.raises(ConfigError, match="does not fit the bohb schedule"):
        other.ask(1)


# -- the model -------------------------------------------------------------------------------------
def test_model_needs_enough_points_and_uses_the_largest_budget() -> None:
    d = SPACE.dim
    s = make()
    rng = np.random.default_rng(0)
    at = lambda i, budget: finish(
        Trial(id=i, config=SPACE.sample(rng, 1)[0], seed=0, fidelity=budget), {"val_acc": float(i)}
    )  # noqa: E731
    low = [at(i, 30) for i in range(2 * d + 1)]
    s.tell(low)
    assert s.fit_model() is None  # n_bad would be d, fewer than d + 1
    low.append(at(len(low), 30))
    s.tell(low)
    good, bad, budget = s.fit_model()
    assert budget == 30 and good.data.shape == (d + 1, d) and bad.data.shape == (d + 1, d)
    # good holds the best configs
    best = sorted(low, key=lambda t: -t.metrics["val_acc"])[: d + 1]
    assert np.allclose(np.sort(good.data[:, 0]), np.sort(SPACE.to_unit([t.config for t in best]).numpy()[:, 0]))
    high = [at(100 + i, 120) for i in range(2 * d + 2)]
    s.tell(low + high)
    assert s.fit_model()[2] == 120
    s.tell(low + high[:-1])
    assert s.fit_model()[2] == 30  # 120 has too few, fall back to the largest budget with enough
    # failed trials count as bad points but cannot fill the good set
    s.tell(
        low + [finish(Trial(id=200 + i, config=SPACE.sample(rng, 1)[0], seed=0, fidelity=30), None) for i in range(20)]
    )
    assert s.fit_model()[1].data.shape[0] == 2 * d + 2 + 20 - (d + 1)


def test_model_kicks_in_and_beats_random_search() -> None:
    """Same brackets, KDE proposals vs pure random (``random_fraction = 1``) on a 6-d function:
    the best config reached at the largest budget, over six seeds."""
    space = SearchSpace.from_dict(
        {
            "params": {
                **{f"x{i}": {"type": "float", "low": 0, "high": 1} for i in range(5)},
                "c": {"type": "categorical", "choices": ["a", "b", "c"]},
            }
        }
    )

    def q(c: dict[str, Any]) -> float:
        return -sum((c[f"x{i}"] - 0.3) ** 2 for i in range(5)) - 0.2 * (c["c"] != "b")

    def best(random_fraction: float, seed: int) -> float:
        s = BOHB(
            space=space, objectives=parse_objectives("v:max"), seed=seed, fidelity=120, random_fraction=random_fraction
        )
        trials = simulate(s, 80, lambda c, b: {"v": q(c) + 0.05 * (30 / b) * math.sin(10 * c["x0"])})
        sources = [t.info.get("source") for t in trials]
        assert ("model" in sources) == (random_fraction < 1)
        if random_fraction < 1:  # the first 2d + 2 observations at one budget come before any model
            assert sources.index("model") > 2 * space.dim + 2
        return max(q(t.config) for t in trials if t.fidelity == 120)

    bohb, rand = [best(1 / 3, s) for s in range(6)], [best(1.0, s) for s in range(6)]
    assert np.mean(bohb) > np.mean(rand) + 0.03
    assert sum(b > r for b, r in zip(bohb, rand)) >= 5


def test_weighted_scalarisation_ranks_by_normalised_sum() -> None:
    s = make(objectives=("acc:max", "mem:min"), scalarisation="weighted", weights={"acc": 1.0, "mem": 3.0})
    ts = [
        finish(Trial(id=i, config={}, seed=0), {"acc": a, "mem": m})
        for i, (a, m) in enumerate([(0.9, 100), (0.5, 10), (0.7, 50)])
    ]
    ts.append(finish(Trial(id=3, config={}, seed=0), {"acc": 0.99}))  # missing mem -> worst
    v = s.values(ts)
    assert v == pytest.approx([1.0, 3.0, 0.5 + 3 * 50 / 90, -np.inf])
    assert [t.id for t in s._rank(ts)] == [1, 2, 0]
    m = make(objectives=("acc:max", "mem:min"), metric="mem")
    assert [t.id for t in m._rank(ts)] == [1, 2, 0]


def test_exhausted_space_returns_fewer_and_warns_but_still_promotes() -> None:
    tiny = SearchSpace.from_dict({"params": {"k": {"type": "int", "low": 0, "high": 4}}})
    s = BOHB(space=tiny, objectives=parse_objectives("v:max"), fidelity=4, min_budget=1)
    evaluate = lambda c, b: {"v": c["k"] / b}  # noqa: E731
    s.tell([])
    first = [Trial(id=i, config=p.config, seed=0, fidelity=p.fidelity, info=p.info) for i, p in enumerate(s.ask(5))]
    assert sorted(t.config["k"] for t in first) == [0, 1, 2, 3, 4]  # bracket 0 (4@1) + one of bracket 1
    s.tell([])
    with pytest.warns(SpaceExhaustedWarning, match="exhausted"):
        assert s.ask(2, pending=first) == []
    s.tell([finish(t, evaluate(t.config, t.fidelity)) for t in first])
    with pytest.warns(SpaceExhaustedWarning, match="exhausted"):
        ps = s.ask(3)
    best = sorted(first[:4], key=lambda t: -t.config["k"])[:2]
    assert [(p.info["rung"], p.info["parent"], p.fidelity) for p in ps] == [(1, t.id, 2) for t in best]


# -- options ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"etta": 2}, r"strategy 'bohb': unknown option\(s\) \['etta'\]; allowed: .*eta"),
        ({"eta": "2"}, "strategy 'bohb': option 'eta' got '2'; allowed: a number > 1"),
        ({"num_samples": 2.5}, "option 'num_samples' got 2.5; allowed: an integer >= 1"),
        ({"random_fraction": float("nan")}, "option 'random_fraction' got nan; allowed: a number in \\[0, 1\\]"),
        ({"fidelity": None}, "max_budget"),
        ({"eta": 1}, "'eta'"),
        ({"eta": True}, "'eta'"),
        ({"min_budget": 200}, "'max_budget'"),
        ({"min_budget": 0}, "'min_budget'"),
        ({"random_fraction": 1.5}, "'random_fraction'"),
        ({"top_n_percent": 0}, "'top_n_percent'"),
        ({"num_samples": 0}, "'num_samples'"),
        ({"metric": "loss"}, "'metric'"),
        ({"scalarisation": "chebyshev"}, "'scalarisation'"),
        ({"scalarisation": "weighted"}, "'weights'"),
        ({"scalarisation": "weighted", "weights": [1.0, 2.0]}, "'weights'"),
        ({"scalarisation": "weighted", "weights": {"mem": 1.0}}, "not objectives"),
        ({"scalarisation": "weighted", "weights": [0.0]}, "> 0"),
        ({"weights": [1.0]}, "weighted"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make(**options)


def test_bad_n_is_an_error() -> None:
    with pytest.raises(ConfigError, match="n must be"):
        make().ask(-1)
