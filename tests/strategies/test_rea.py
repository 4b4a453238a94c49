"""Regularised evolution: initial population, tournament, one-parameter mutation, novelty, options."""

from __future__ import annotations

import pytest

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.study.trial import Trial, TrialState, parse_objectives

SPACE = SearchSpace.from_dict({"params": {
    **{f"e{i}": {"type": "categorical", "choices": ["a", "b", "c", "d"]} for i in range(4)},
    "n": {"type": "int", "low": 0, "high": 3},
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "k": {"type": "fixed", "value": 1},
}})
ONE = parse_objectives("acc:max")


def score(c: dict) -> float:
    return sum(c[f"e{i}"] == "c" for i in range(4)) + 0.25 * c["n"] - abs(c["x"] - 0.7)


def complete(i: int, config: dict, acc: float | None = None) -> Trial:
    return Trial(id=i, config=config, seed=i, state=TrialState.COMPLETE, metrics={"acc": score(config) if acc is None else acc})


def run(strategy, n: int) -> list[Trial]:
    history: list[Trial] = []
    while len(history) < n:
        strategy.tell(history)
        for p in strategy.ask(1):
            history.append(complete(len(history), p.config))
    return history


def test_initial_population_then_single_mutations():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=ONE, seed=0, population=6, sample_size=2)
    history = run(s, 40)
    assert len({SPACE.key(t.config) for t in history}) == 40  # never a repeat
    by_id = {t.id: t for t in history}
    s.tell(history)
    for p in s.ask(5):
        assert p.info["source"] == "mutation"
        parent = by_id[p.info["parent"]].config
        changed = [k for k in SPACE.names if p.config[k] != parent[k]]
        assert len(changed) == 1 and p.config["k"] == 1 and 0.0 <= p.config["x"] <= 1.0
        assert parent in [t.config for t in history[-6:]]  # parents come from the 6 youngest


def test_first_population_is_sobol():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=ONE, seed=1, population=5)
    s.tell([])
    assert [p.info["source"] for p in s.ask(5)] == ["sobol"] * 5


def test_tournament_of_the_whole_population_picks_the_best():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=ONE, seed=0, population=4, sample_size=4)
    configs = SPACE.sample(0, 4)
    history = [complete(i, c, acc=float(i == 2)) for i, c in enumerate(configs)]
    s.tell(history)
    assert {p.info["parent"] for p in s.ask(6)} == {2}


def test_failures_and_non_finite_values_never_become_parents():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=ONE, seed=0, population=3, sample_size=3)
    configs = SPACE.sample(1, 4)
    history = [complete(0, configs[0], acc=1.0), complete(1, configs[1], acc=float("nan")),
               Trial(id=2, config=configs[2], seed=2, state=TrialState.FAILED, fail_kind="oom"), complete(3, configs[3], acc=0.0)]
    s.tell(history)
    assert {p.info["parent"] for p in s.ask(4)} == {0}


def test_evolution_beats_its_own_initial_population():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=ONE, seed=2)
    history = run(s, 80)
    best_init = max(t.metrics["acc"] for t in history[:10])
    assert max(t.metrics["acc"] for t in history) > best_init


def test_two_objectives():
    s = STRATEGIES.get("rea")(space=SPACE, objectives=parse_objectives(["acc:max", "n:min"]), seed=0, population=4)
    history = []
    for i, c in enumerate(SPACE.sample(3, 8)):
        history.append(Trial(id=i, config=c, seed=i, state=TrialState.COMPLETE, metrics={"acc": score(c), "n": float(c["n"])}))
    s.tell(history)
    assert all(p.info["source"] == "mutation" for p in s.ask(3))


@pytest.mark.parametrize("options, match", [({"population": 1}, "'population' got 1; allowed: an integer >= 2"),
                                            ({"population": 4, "sample_size": 5}, "'sample_size' got 5; allowed: at most population"),
                                            ({"max_retries": 0}, "'max_retries' got 0")])
def test_bad_options(options, match):
    with pytest.raises(ConfigError, match=match):
        STRATEGIES.get("rea")(space=SPACE, objectives=ONE, **options)
