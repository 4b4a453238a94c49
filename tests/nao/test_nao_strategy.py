"""Strategies nao and nao-cso beyond the contract suite: NB201 table, fallback, options, info."""

from __future__ import annotations

import warnings

import pytest

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.objectives.table import load_table_space
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SurrogateFallbackWarning

from _paths import SPACES

FAST = {"n_init": 6, "refit_every": 3, "steps": 60, "hidden": 16}


def run(strategy, table, trials: int, batch: int = 2) -> list[Trial]:
    history: list[Trial] = []
    while len(history) < trials:
        strategy.tell(history)
        for p in strategy.ask(batch):
            t = Trial(id=len(history), config=p.config, seed=0, info=p.info)
            t.state, t.metrics = TrialState.COMPLETE, table.metrics_of(table.row(p.config))
            history.append(t)
    return history


@pytest.mark.parametrize("name,extra", [("nao", {}), ("nao-cso", {"population": 10, "generations": 5}),
                                        ("nao", {"encoder": "gnn", "ranking": "logistic"})])
def test_on_the_nb201_table(name, extra):
    space, table = load_table_space(SPACES / "nb201.toml")
    s = STRATEGIES.get(name)(space=space, objectives=parse_objectives(["cifar10valid_valid_200ep:max"]), seed=0,
                             **FAST, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFallbackWarning)
        history = run(s, table, 14)
    assert len({space.key(t.config) for t in history}) == 14
    model_made = [t.info for t in history if t.info["source"] == name]
    assert len(model_made) == 8 and all(i["trained_on"] in (6, 9, 12) and i["weights"] == [1.0] for i in model_made)


def test_two_objectives_on_nb201(tmp_path):
    space, table = load_table_space(SPACES / "nb201.toml")
    s = STRATEGIES.get("nao")(space=space, objectives=parse_objectives(["cifar10valid_valid_200ep:max", "params_m:min"]),
                              seed=1, **FAST)
    history = run(s, table, 10)
    weights = [t.info["weights"] for t in history if t.info["source"] == "nao"]
    assert len(weights) == 4 and len({tuple(w) for w in weights}) == 4 and all(len(w) == 2 for w in weights)


def test_model_failure_falls_back_to_sobol(monkeypatch):
    from nago.nao.model import NAOModel

    space, table = load_table_space(SPACES / "nb201.toml")
    s = STRATEGIES.get("nao")(space=space, objectives=parse_objectives(["cifar10valid_valid_200ep:max"]), seed=0, **FAST)
    history = run(s, table, 6)
    monkeypatch.setattr(NAOModel, "fit", lambda self, *a: (_ for _ in ()).throw(FloatingPointError("nan loss")))
    s.tell(history)
    with pytest.warns(SurrogateFallbackWarning, match="nan loss"):
        batch = s.ask(3)
    assert len(batch) == 3 and all(p.info["source"] == "fallback" for p in batch)
    assert not {space.key(p.config) for p in batch} & {space.key(t.config) for t in history}


@pytest.mark.parametrize("name,space,options,match", [
    ("nao", "hnag", {"encoder": "gnn"}, "graph view"),
    ("nao", "nb201", {"encoder": "rnn"}, "allowed: lstm, transformer, gnn"),
    ("nao", "nb201", {"ranking": "listmle"}, "allowed: hinge, logistic, none"),
    ("nao", "nb201", {"population": 10}, "unknown option"),
    ("nao-cso", "nb201", {"step": 0.1}, "unknown option"),
    ("nao-cso", "nb201", {"phi": 2}, "option 'phi'"),
    ("nao", "hnag", {"trade_off": 1.5}, "option 'trade_off'"),
    ("nao", "nb201", {"step": 0}, r"strategy 'nao': option 'step' got 0; allowed: a number in \(0, 10\]"),
    ("nao", "nb201", {"encoder": None}, "option 'encoder' got None; allowed: lstm, transformer, gnn"),
])
def test_bad_options(name, space, options, match):
    space = SearchSpace.from_toml(SPACES / f"{space}.toml")
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.get(name)(space=space, objectives=parse_objectives(["acc:max"]), **options)


def test_hnag_space_proposals_are_valid_configs():
    space = SearchSpace.from_toml(SPACES / "hnag.toml")
    s = STRATEGIES.get("nao-cso")(space=space, objectives=parse_objectives(["acc:max"]), seed=0, **FAST,
                                  population=8, generations=3)
    history = []
    for _ in range(5):
        s.tell(history)
        for p in s.ask(2):
            t = Trial(id=len(history), config=p.config, seed=0, info=p.info)
            t.state, t.metrics = TrialState.COMPLETE, {"acc": p.config["N_t"] - 3 * abs(p.config["P_t"] - 0.5)}
            history.append(t)
    assert [t.info["source"] for t in history][6:] == ["nao-cso"] * 4
    assert all(space.validate(t.config) == t.config for t in history)
