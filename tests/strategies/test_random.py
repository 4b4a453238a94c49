"""Random search: the Sobol rule (sequence position = told + pending), novelty, exhaustion."""

from __future__ import annotations

import pytest
import torch

from nago.errors import ConfigError
from nago.config.space import SearchSpace
from nago.strategies import STRATEGIES
from nago.strategies.random import RandomSearch
from nago.study.trial import Trial, TrialState, parse_objectives
from nago.warnings import SpaceExhaustedWarning

SPACE = SearchSpace.from_dict(
    {
        "params": {
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "y": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
            "n": {"type": "int", "low": 3, "high": 10},
            "fixed": {"type": "fixed", "value": "z"},
        }
    }
)
OBJ = parse_objectives(["acc:max"])


def trials(configs, state=TrialState.COMPLETE):
    return [Trial(id=i, config=c, seed=i, state=state, metrics={"acc": 0.5}) for i, c in enumerate(configs)]


def test_registered():
    assert STRATEGIES.get("random") is RandomSearch


def test_points_are_the_scrambled_sobol_sequence_of_the_seed():
    s = RandomSearch(space=SPACE, objectives=OBJ, seed=5)
    batch = s.ask(4)
    expected = SPACE.from_unit(torch.quasirandom.SobolEngine(3, scramble=True, seed=5).draw(4, dtype=torch.float64))
    assert [p.config for p in batch] == expected
    assert [p.info for p in batch] == [{"source": "sobol", "sobol_index": i} for i in range(4)]
    assert all(p.fidelity is None for p in batch)


def test_sequence_continues_from_told_plus_pending():
    s = RandomSearch(space=SPACE, objectives=OBJ, seed=1, fidelity=30)
    reference = [p.config for p in s.ask(7)]
    first = [p.config for p in s.ask(3)]
    done = trials(first[:2]) + trials(first[2:], TrialState.FAILED)
    s.tell(done)
    assert [p.config for p in s.ask(4)] == reference[3:7]
    # the same position whether the earlier points are finished or still pending
    fresh = RandomSearch(space=SPACE, objectives=OBJ, seed=1, fidelity=30)
    pending = trials(first, TrialState.RUNNING)
    batch = fresh.ask(4, pending=pending)
    assert [p.config for p in batch] == reference[3:7]
    assert {p.fidelity for p in batch} == {30}


def test_seen_configs_are_skipped():
    s = RandomSearch(space=SPACE, objectives=OBJ, seed=2)
    reference = [p.config for p in s.ask(6)]
    # a history told out of order: points 3 and 4 are already seen, so the ask at position 2 skips them
    s.tell(trials([reference[3], {**reference[4]}]))
    seventh = SPACE.from_unit(torch.quasirandom.SobolEngine(3, scramble=True, seed=2).draw(7, dtype=torch.float64))[6]
    got = s.ask(3)
    assert [p.config for p in got] == [reference[2], reference[5], seventh]
    assert [p.info["sobol_index"] for p in got] == [2, 5, 6]


def test_exhausted_space_returns_fewer_and_warns():
    tiny = SearchSpace.from_dict(
        {"params": {"n": {"type": "int", "low": 0, "high": 1}, "c": {"type": "categorical", "choices": ["a", "b"]}}}
    )
    s = RandomSearch(space=tiny, objectives=OBJ, seed=0)
    seen = [p.config for p in s.ask(3)]
    s.tell(trials(seen))
    with pytest.warns(SpaceExhaustedWarning, match="exhausted"):
        last = s.ask(3)
    assert len(last) == 1
    assert {tiny.key(c) for c in seen + [last[0].config]} == {(0, "a"), (0, "b"), (1, "a"), (1, "b")}
    s.tell(trials(seen + [last[0].config]))
    with pytest.warns(RuntimeWarning, match="exhausted"):  # still a RuntimeWarning, as before
        assert s.ask(2) == []


def test_ask_zero():
    assert RandomSearch(space=SPACE, objectives=OBJ).ask(0) == []


def test_bad_input():
    with pytest.raises(ConfigError, match="unknown option.*'n_init'.*allowed: \\(none\\)"):
        RandomSearch(space=SPACE, objectives=OBJ, n_init=3)
    fixed = SearchSpace.from_dict({"params": {"a": {"type": "fixed", "value": 1}}})
    with pytest.raises(ConfigError, match="no searchable parameter"):
        RandomSearch(space=fixed, objectives=OBJ)
