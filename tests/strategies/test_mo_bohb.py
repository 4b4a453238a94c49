"""mo-bohb / moasha: ASHA rungs with Pareto promotions, GP proposals, resume, options; on a table with fidelities."""

from __future__ import annotations

import warnings

import pytest

from nago.errors import ConfigError
from nago.objectives.table import TableObjective, load_table_space
from nago.strategies import STRATEGIES
from nago.study.study import Study
from nago.study.trial import Trial, TrialState, parse_objectives

from _mf_table import write_mf_table

OBJ = parse_objectives(["acc:max", "time:min"])
GP = {"n_min": 4, "num_restarts": 2, "raw_samples": 32, "mc_samples": 32}


@pytest.fixture
def mf(tmp_path):
    return load_table_space(write_mf_table(tmp_path))


def _done(tid, config, fidelity, acc, time, info=None, state=TrialState.COMPLETE):
    metrics = {"acc": acc, "time": time} if state == TrialState.COMPLETE else {}
    return Trial(id=tid, config=config, seed=tid, fidelity=fidelity, info=info or {"rung": 0}, state=state, metrics=metrics)


def test_promotes_the_pareto_best_third_top_rung_first(mf):
    space, _ = mf
    s = STRATEGIES.get("moasha")(space=space, objectives=OBJ, seed=0, budgets=[4, 12, 36])
    c = [{"a": a, "b": b} for a in "pqrstu" for b in range(6)]
    told = [_done(0, c[0], 4, 60, 30), _done(1, c[1], 4, 70, 50), _done(2, c[2], 4, 55, 40),  # 2 is dominated by 0
            _done(3, c[3], 4, 0, 0, state=TrialState.FAILED), _done(4, c[4], 4, 65, 20), _done(5, c[5], 4, 50, 60)]
    s.tell(told)
    out = s.ask(3)
    promoted = [p for p in out if p.info["source"] == "promotion"]
    # 6 finished at rung 0 -> floor(6/3) = 2 promotions: the front is {4 (65, 20), 1 (70, 50)}; 0 and 2 are dominated
    assert sorted(p.info["parent"] for p in promoted) == [1, 4]
    assert all(p.fidelity == 12 and p.info["rung"] == 1 for p in promoted)
    assert out[2].fidelity == 4 and out[2].info["source"] == "sobol"
    # pending promotions are not handed out twice; a finished rung-1 trial of 3 makes one promotion to 36
    pending = [Trial(id=6 + i, config=p.config, seed=0, fidelity=p.fidelity, info=p.info, state=TrialState.RUNNING)
               for i, p in enumerate(promoted)]
    assert all(p.info["source"] != "promotion" for p in s.ask(2, pending=pending))
    up = [_done(6, c[1], 12, 80, 50, {"rung": 1, "parent": 1}), _done(7, c[4], 12, 75, 20, {"rung": 1, "parent": 4}),
          _done(8, c[0], 12, 79, 30, {"rung": 1, "parent": 0})]
    s.tell(told + up)
    first = s.ask(1)[0]
    # all three are non-dominated: the knee (79, 30) dominates the largest box on its own, so it goes first
    assert first.fidelity == 36 and first.info["rung"] == 2 and first.info["parent"] == 8


def test_no_repeat_and_resume_gives_the_same_asks(mf):
    space, table = mf
    objective = TableObjective(table=table)
    make = lambda: STRATEGIES.get("mo-bohb")(space=space, objectives=OBJ, seed=3, budgets=[4, 36], local_fraction=0.5,  # noqa: E731
                                             **GP)
    s, history = make(), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tid in range(20):
            s.tell(history)
            (p,) = s.ask(1)
            m = objective(p.config, seed=0, fidelity=p.fidelity).metrics
            history.append(Trial(id=tid, config=p.config, seed=0, fidelity=p.fidelity, info=p.info, state=TrialState.COMPLETE, metrics=m))
        pairs = [(space.key(t.config), t.fidelity) for t in history]
        assert len(set(pairs)) == len(pairs)
        sources = {t.info["source"] for t in history}
        assert {"promotion", "sobol", "qlognehvi", "local"} <= sources, sources
        assert all(t.info["model_budget"] in (4.0, 36.0) for t in history if t.info["source"] == "qlognehvi")
        fresh = make()
        fresh.tell(history)
        s.tell(history)
        assert [(p.config, p.fidelity) for p in fresh.ask(2)] == [(p.config, p.fidelity) for p in s.ask(2)]


def test_a_trial_at_another_budget_is_a_clear_error(mf):
    space, _ = mf
    s = STRATEGIES.get("moasha")(space=space, objectives=OBJ, budgets=[4, 36])
    s.tell([_done(0, {"a": "p", "b": 0}, 10, 50, 10)])
    with pytest.raises(ConfigError, match=r"fidelity 10.*budgets \[4.0, 36.0\]"):
        s.ask(1)


@pytest.mark.parametrize("name, options, match", [
    ("mo-bohb", {"budgets": [36, 4]}, "budgets"),
    ("mo-bohb", {"budgets": [4, 36], "max_budget": 36}, "max_budget"),
    ("mo-bohb", {}, "max_budget"),  # no budgets and no run fidelity
    ("mo-bohb", {"budgets": [4, 36], "model_budget": "middle"}, "model_budget"),
    ("mo-bohb", {"budgets": [4, 36], "acquisition": "ei"}, "acquisition"),
    ("moasha", {"budgets": [4, 36], "random_fraction": 0.5}, "random_fraction"),
    ("mo-bohb", {"budgets": [4, 36], "eta": 1}, "eta"),
])
def test_bad_options(mf, name, options, match):
    space, _ = mf
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.get(name)(space=space, objectives=OBJ, **options)


def test_study_on_a_fidelity_table_reports_the_highest_fidelity_front(mf, tmp_path):
    space, table = mf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(run_dir=tmp_path / "run", space=space, objective=TableObjective(table=table), objectives=["acc:max", "time:min"],
                      strategy="mo-bohb", strategy_options={"budgets": [4, 36], **GP}, seed=0)
        study.optimize(n_trials=14, progress=False)
    trials = study.trials
    assert {t.fidelity for t in trials} == {4.0, 36.0}
    low = [t for t in trials if t.fidelity == 4.0]
    row = int(low[0].metrics["table_row"])
    assert low[0].metrics["acc"] == pytest.approx(table.values[row, 0] - (table.values[row, 0] - low[0].metrics["acc"]))
    assert low[0].metrics["query_cost"] == pytest.approx(table.column("time")[row] * 4 / 36)
    study.report(plots=False)
    assert "36" in (tmp_path / "run" / "report.md").read_text()
    study.close()


@pytest.mark.parametrize("costed", ["query_cost", "wall time"])
def test_cost_aware_proposals_in_a_study(mf, tmp_path, costed):
    """``cost_exponent`` reaches the rung-0 GP: its proposals say the cost model was used, with the table's
    ``query_cost`` or, for an objective that reports no cost (live training), the trials' wall time."""
    import time

    space, table = mf
    objective = TableObjective(table=table)
    if costed == "wall time":
        def timed(config, *, seed, fidelity=None):  # no query_cost: the wall time is the cost
            metrics = {k: v for k, v in objective(config, seed=seed, fidelity=fidelity).metrics.items() if k != "query_cost"}
            time.sleep(0.002 * (1 + "pqrstu".index(config["a"])))
            return metrics
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = Study(run_dir=tmp_path / "run", space=space, objective=objective if costed == "query_cost" else timed,
                      objectives=["acc:max", "time:min"], strategy="mo-bohb",
                      strategy_options={"budgets": [4, 36], "cost_exponent": 1.0, "random_fraction": 0.0, **GP}, seed=0)
        study.optimize(n_trials=8, progress=False)  # n_min 4: the GP proposes from the 5th new config on
    model = [t for t in study.trials if t.info.get("source") == "qlognehvi"]
    assert model and all(t.info["cost_model"] is True for t in model)
    study.close()


def test_min_front_prob_skips_a_promotion_predicted_dominated_at_the_top(mf):
    """Five configs trained at both budgets: 36-epoch acc ~ 7 + 1.1 * 12-epoch acc (residual sd 4.8), time
    unchanged. The new rung-0 result (62, 6) is on its rung's front, but its predicted 36-epoch result (75.2, 6) is
    dominated by (80, 5) already there with probability 0.84, so with min_front_prob 0.5 it waits (the slot goes to
    a new config); without the option ASHA promotes it."""
    space, _ = mf
    c = [{"a": a, "b": b} for a in "pqrstu" for b in range(6)]
    low = [(70, 10), (60, 5), (50, 3), (40, 2), (30, 1)]
    told = [_done(i, c[i], 4, *v) for i, v in enumerate(low)]
    told += [_done(5 + i, c[i], 36, acc, v[1], {"rung": 1, "parent": i}) for i, (v, acc) in enumerate(zip(low, [80, 80, 60, 50, 40]))]
    told += [_done(10, c[5], 4, 62, 6)]
    told += [_done(11 + i, c[6 + i], 4, *v) for i, v in enumerate([(10, 40), (5, 50), (1, 60), (2, 70), (3, 80), (4, 90)])]
    decided = {}
    for prob in (0.0, 0.5):  # 12 finished at rung 0, eta 2: the best 6 (the rung's front) are due
        s = STRATEGIES.get("mo-bohb")(space=space, objectives=OBJ, seed=0, budgets=[4, 36], eta=2, random_fraction=1.0,
                                      min_front_prob=prob)
        s.tell(told)
        out = s.ask(1)
        decided[prob] = [p.info.get("parent") for p in out]
    assert s.front_probabilities(0, [told[10]])[0] == pytest.approx(1 - 0.84, abs=0.06)
    assert decided == {0.0: [10], 0.5: [None]}
    assert out[0].info["source"] == "sobol"
    with pytest.raises(ConfigError, match="min_front_prob"):
        STRATEGIES.get("mo-bohb")(space=space, objectives=OBJ, budgets=[4, 36], min_front_prob=1.5)


def test_local_fraction_proposes_unseen_neighbours_of_the_top_front(mf):
    """Two configs at the top budget, (80, 30) and (70, 10), both on its front, one dominated (60, 40): with
    local_fraction 1 and only Sobol slots, every new config differs from a front config in exactly one parameter,
    was never seen, and names its parent; before any top-budget result there are only Sobol points; moasha ignores it."""
    space, _ = mf
    c = [{"a": a, "b": b} for a in "pqrstu" for b in range(6)]
    low = [_done(i, c[i], 4, 50 + i, 10 + i) for i in range(10)]
    kw = dict(objectives=OBJ, seed=0, budgets=[4, 36], eta=5, random_fraction=1.0)
    s = STRATEGIES.get("mo-bohb")(space=space, local_fraction=1.0, **kw)
    s.tell(low)
    assert {p.info["source"] for p in s.ask(4)} <= {"sobol", "promotion"}
    top = [_done(10, c[0], 36, 80, 30, {"rung": 1, "parent": 0}), _done(11, c[1], 36, 70, 10, {"rung": 1, "parent": 1}),
           _done(12, c[2], 36, 60, 40, {"rung": 1, "parent": 2})]
    s.tell(low + top)
    assert [t.id for t in s.front_trials()] and {t.id for t in s.front_trials()} == {10, 11}
    out = s.ask(6)
    local = [p for p in out if p.info["source"] != "promotion"]  # 2 promotions are due (10 at rung 0, eta 5)
    assert len(local) == 4 and all(p.info["source"] == "local" for p in local)
    seen = {space.key(t.config) for t in low + top}
    parents = {10: c[0], 11: c[1]}
    for p in local:
        assert space.key(p.config) not in seen and p.fidelity == 4 and p.info["rung"] == 0
        diff = [k for k in ("a", "b") if p.config[k] != parents[p.info["mutant_of"]][k]]
        assert len(diff) == 1
    assert len({space.key(p.config) for p in local}) == 4
    again = STRATEGIES.get("mo-bohb")(space=space, local_fraction=1.0, **kw)
    again.tell(low + top)
    assert [p.config for p in again.ask(6)] == [p.config for p in out]  # a function of the seed and the history
    m = STRATEGIES.get("moasha")(space=space, **{k: v for k, v in kw.items() if k != "random_fraction"})
    m.tell(low + top)
    assert all(p.info["source"] in ("sobol", "promotion") for p in m.ask(6))
    with pytest.raises(ConfigError, match="local_fraction"):
        STRATEGIES.get("mo-bohb")(space=space, objectives=OBJ, budgets=[4, 36], local_fraction=-0.1)
