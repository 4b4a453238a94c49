"""One-parameter mutation (shared by rea and mo-bohb): one parameter changes, to another level or within the cube."""

from __future__ import annotations

import numpy as np

from nago.config.space import SearchSpace
from nago.strategies._mutation import mutate, novel_mutant
from nago.study.trial import Trial

SPACE = SearchSpace.from_dict({
    "params": {"c": {"type": "categorical", "choices": ["x", "y", "z"]}, "i": {"type": "int", "low": 1, "high": 4},
               "f": {"type": "float", "low": 0.0, "high": 1.0}},
})
BASE = {"c": "x", "i": 2, "f": 0.5}


def test_mutate_changes_exactly_one_parameter_to_a_valid_value():
    rng = np.random.default_rng(0)
    changed = set()
    for _ in range(300):
        child = mutate(SPACE, BASE, rng)
        diff = [k for k in BASE if child[k] != BASE[k]]
        assert len(diff) <= 1  # a float step can round back onto the same value only with probability ~0
        SPACE.validate(child)
        changed.update(diff)
        if diff == ["c"]:
            assert child["c"] in ("y", "z")
        if diff == ["i"]:
            assert child["i"] in (1, 3, 4)
    assert changed == {"c", "i", "f"}


def test_novel_mutant_skips_seen_configs_and_gives_up_when_all_are_seen():
    space = SearchSpace.from_dict({"params": {"c": {"type": "categorical", "choices": ["x", "y"]},
                                              "d": {"type": "categorical", "choices": ["u", "v"]}}})
    parent = Trial(id=7, config={"c": "x", "d": "u"}, seed=0)
    seen = {space.key({"c": "x", "d": "u"}), space.key({"c": "y", "d": "u"})}
    child, who = novel_mutant(space, [parent], np.random.default_rng(1), seen)
    assert child == {"c": "x", "d": "v"} and who is parent
    seen.add(space.key(child))
    assert novel_mutant(space, [parent], np.random.default_rng(1), seen) is None
    assert novel_mutant(space, [], np.random.default_rng(1), set()) is None
