from __future__ import annotations

import numpy as np
import pytest
import torch

from _paths import SPACES
from nago.errors import ConfigError
from nago.config.space import SearchSpace, parse_assignments

SMALL = {
    "space": {"name": "small"},
    "params": {
        "n": {"type": "int", "low": 1, "high": 4},
        "x": {"type": "float", "low": 0.0, "high": 2.0},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "c": {"type": "categorical", "choices": ["a", "b", "c"]},
        "f": {"type": "fixed", "value": 7},
    },
}


def test_paper_space_has_the_eight_named_parameters():
    sp = SearchSpace.from_toml(SPACES / "hnag.toml")
    assert sp.names == ["N_t", "K_t", "P_t", "N_m", "P_m", "N_b", "K_b", "P_b"]
    assert (sp["N_m"].low, sp["N_m"].high) == (1, 10)
    assert (sp["P_t"].low, sp["P_t"].high) == (0.1, 0.9)
    d = sp.defaults()
    assert d["op"] == "conv3x3" and d["merge"] == "sum" and (d["C_1"], d["C_2"], d["C_3"]) == (1, 2, 4)


@pytest.mark.parametrize("name", ["hnag", "hnag-full", "rnag"])
def test_sample_unit_round_trip(name):
    sp = SearchSpace.from_toml(SPACES / f"{name}.toml")
    configs = sp.sample(np.random.default_rng(0), 50)
    X = sp.to_unit(configs)
    assert X.shape == (50, sp.dim) and X.dtype == torch.float64
    assert ((X >= 0) & (X <= 1)).all()
    back = sp.from_unit(X)
    for a, b in zip(configs, back):
        assert sp.key(a) == sp.key(b)
        assert sp.validate(b) == b


def test_unit_mapping_bins_and_log():
    sp = SearchSpace.from_dict(SMALL)
    assert [sp["n"].from_unit(u) for u in (0.0, 0.24, 0.26, 0.99, 1.0)] == [1, 1, 2, 4, 4]
    assert sp["lr"].from_unit(0.5) == pytest.approx(10 ** -2.5)
    assert sp["c"].from_unit(0.5) == "b"
    X = sp.round_unit(torch.tensor([[0.3, 0.3, 0.3, 0.9]]))
    assert X[0, 0].item() == pytest.approx(0.375) and X[0, 1].item() == pytest.approx(0.3)
    assert sp.levels() == [4, None, None, 3]


def test_validate_fills_fixed_and_defaults():
    sp = SearchSpace.from_dict(SMALL)
    full = sp.validate({"n": 2}, partial=True)
    assert full["f"] == 7 and full["n"] == 2 and full["x"] == 1.0 and full["c"] == "a"
    with pytest.raises(ConfigError, match="missing"):
        sp.validate({"n": 2})


@pytest.mark.parametrize(
    "config, match",
    [
        ({"zz": 1}, "unknown parameter.*'zz'"),
        ({"n": 5}, r"'n': got 5; allowed: an integer in \[1, 4\]"),
        ({"n": 1.5}, "'n'"),
        ({"n": True}, "'n'"),
        ({"x": "big"}, "'x': got 'big'"),
        ({"x": -1.0}, "'x'"),
        ({"c": "z"}, "one of 'a', 'b', 'c'"),
        ({"f": 8}, "fixed"),
    ],
)
def test_bad_values_name_the_parameter(config, match):
    with pytest.raises(ConfigError, match=match):
        SearchSpace.from_dict(SMALL).validate(config, partial=True)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"a": {"type": "integer", "low": 1, "high": 2}}, "type 'integer'; allowed"),
        ({"a": {"type": "int", "low": 3, "high": 2}}, "low 3 > high 2"),
        ({"a": {"type": "int", "low": 1, "high": 2, "step": 1}}, "unknown key"),
        ({"a": {"type": "float", "low": 0, "high": 1, "log": True}}, "log-scaled"),
        ({"a": {"type": "categorical", "choices": []}}, "non-empty"),
        ({"a": {"type": "fixed"}}, "needs a 'value'"),
        ({"a": {"type": "int", "low": 1, "high": 3, "default": 9}}, "'a': got 9"),
    ],
)
def test_bad_space_definitions(params, match):
    with pytest.raises(ConfigError, match=match):
        SearchSpace.from_dict({"params": params})


def test_malformed_and_missing_toml(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[params.a\ntype = 'int'")
    with pytest.raises(ConfigError, match="malformed TOML"):
        SearchSpace.from_toml(bad)
    with pytest.raises(ConfigError, match="file not found"):
        SearchSpace.from_toml(tmp_path / "nope.toml")


def test_parse_assignments():
    assert parse_assignments(["a=4", "b=0.5", "c=ws", 'd="er"']) == {"a": 4, "b": 0.5, "c": "ws", "d": "er"}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_assignments(["oops"])


def test_log_float_ends_of_the_cube_stay_in_range():
    """exp(log(2000)) is 1999.9999999999998: the cube's corners must still validate."""
    space = SearchSpace.from_dict({"params": {"b": {"type": "float", "low": 2e3, "high": 1e5, "log": True}}})
    for u in (0.0, 1.0):
        (config,) = space.from_unit([[u]])
        assert space.validate(config)["b"] == (2e3 if u == 0 else 1e5)
