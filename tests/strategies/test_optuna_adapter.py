"""Optuna samplers behind ask/tell: distributions, replayed history, repeats allowed, errors."""

from __future__ import annotations

import sys

import pytest

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.study.trial import Trial, TrialState, parse_objectives

SPACE = SearchSpace.from_dict({"params": {
    "c": {"type": "categorical", "choices": ["a", "b", "c"]},
    "n": {"type": "int", "low": 0, "high": 3},
    "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
    "k": {"type": "fixed", "value": 2},
}})
TWO = parse_objectives(["acc:max", "cost:min"])


def finish(i, p, acc, cost=1.0, state=TrialState.COMPLETE):
    return Trial(id=i, config=p.config, seed=i, info=p.info, state=state, metrics={"acc": acc, "cost": cost})


def test_missing_optuna_is_an_actionable_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match=r"pip install 'optuna>=4'"):
        STRATEGIES.get("optuna-tpe")(space=SPACE, objectives=TWO)


@pytest.fixture
def optuna():
    return pytest.importorskip("optuna")


def test_tpe_is_multivariate_and_maps_the_space(optuna):
    s = STRATEGIES.get("optuna-tpe")(space=SPACE, objectives=TWO, seed=0, n_startup_trials=4)
    assert s.sampler_options == {"multivariate": True, "n_startup_trials": 4}
    assert isinstance(s.distributions["lr"], optuna.distributions.FloatDistribution) and s.distributions["lr"].log
    assert set(s.distributions) == {"c", "n", "lr"} and s.directions == ["maximize", "minimize"]
    history = []
    for _ in range(10):
        s.tell(history)
        for p in s.ask(2):
            assert SPACE.validate(p.config) == p.config and p.config["k"] == 2
            history.append(finish(len(history), p, acc=-abs(p.config["lr"] - 0.1), cost=p.config["n"]))
    assert all(t.info["source"] == "optuna-tpe" for t in history)


def test_history_replay_fails_bad_trials_and_keeps_running_ones(optuna):
    s = STRATEGIES.get("optuna-tpe")(space=SPACE, objectives=TWO, seed=0)
    p = s.ask(3)
    told = [finish(0, p[0], acc=float("nan")), finish(1, p[1], acc=1.0, state=TrialState.FAILED)]
    s.tell(told)
    pending = [Trial(id=2, config=p[2].config, seed=2, state=TrialState.RUNNING)]
    frozen = [s._frozen(optuna, t, optuna.trial.TrialState.COMPLETE) for t in told[:1]]
    assert frozen[0].state == optuna.trial.TrialState.FAIL
    assert len(s.ask(2, pending=pending)) == 2


def test_nsga2_generations_survive_the_replay(optuna):
    s = STRATEGIES.get("optuna-nsga2")(space=SPACE, objectives=TWO, seed=0, population_size=4)
    history = []
    for _ in range(12):
        s.tell(history)
        for p in s.ask(1):
            history.append(finish(len(history), p, acc=p.config["n"], cost=p.config["lr"]))
    generations = [t.info["optuna_system_attrs"]["NSGAIISampler:generation"] for t in history]
    assert generations == sorted(generations) and generations[-1] >= 2


def test_repeats_are_not_filtered(optuna):
    tiny = SearchSpace.from_dict({"params": {"c": {"type": "categorical", "choices": ["a", "b"]}}})
    s = STRATEGIES.get("optuna-tpe")(space=tiny, objectives=parse_objectives("acc:max"), seed=0)
    history = []
    for _ in range(6):
        s.tell(history)
        p = s.ask(1)[0]
        history.append(Trial(id=len(history), config=p.config, seed=0, state=TrialState.COMPLETE, metrics={"acc": 1.0}))
    assert len(history) == 6 and s.allows_repeats


@pytest.mark.parametrize("name, options, match", [
    ("optuna-tpe", {"n_startup": 3}, r"unknown option\(s\) \['n_startup'\]; allowed: .*n_startup_trials"),
    ("optuna-nsga2", {"population_size": 1}, r"bad option value"),
])
def test_bad_options(optuna, name, options, match):
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.get(name)(space=SPACE, objectives=TWO, **options)
