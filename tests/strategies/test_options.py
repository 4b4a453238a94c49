"""The one option checker of every strategy (nago.strategies._options) and the warning vocabulary."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from nago.errors import ConfigError
from nago.strategies._options import (bool_option, check_unknown, choice_option, float_option, fraction_option,
                                      int_option, option_error)
from nago.warnings import NagoWarning, SpaceExhaustedWarning, SurrogateFallbackWarning


def test_int_option():
    assert int_option("rea", "population", 4, 2) == 4 and type(int_option("rea", "population", np.int64(4))) is int
    assert int_option("s", "k", 3, 1, 3) == 3
    for bad, allowed in [(1, "an integer >= 2"), (2.0, "an integer >= 2"), (True, "an integer >= 2"), ("4", "an integer >= 2")]:
        with pytest.raises(ConfigError) as e:
            int_option("rea", "population", bad, 2)
        assert str(e.value) == f"strategy 'rea': option 'population' got {bad!r}; allowed: {allowed}"
    with pytest.raises(ConfigError, match=r"allowed: an integer in \[1, 3\]"):
        int_option("s", "k", 4, 1, 3)


def test_float_option_ranges_and_bad_values():
    assert float_option("bohb", "eta", 2, 1, open_low=True) == 2.0
    assert float_option("s", "x", np.float32(0.5), 0, 1) == 0.5
    cases = [
        (dict(low=1, open_low=True), 1, "a number > 1"),
        (dict(low=0), -0.5, "a number >= 0"),
        (dict(high=10, open_high=True), 10, "a number < 10"),
        (dict(low=0, high=100, open_low=True), 0, "a number in (0, 100]"),
        (dict(low=0, high=1), math.nan, "a number in [0, 1]"),
        (dict(), math.inf, "a number"),
        (dict(), True, "a number"),
        (dict(), "0.5", "a number"),
    ]
    for kwargs, bad, allowed in cases:
        with pytest.raises(ConfigError) as e:
            float_option("bohb", "x", bad, **kwargs)
        assert str(e.value) == f"strategy 'bohb': option 'x' got {bad!r}; allowed: {allowed}"
    assert fraction_option("nao", "phi", 1) == 1.0
    with pytest.raises(ConfigError, match=r"'phi' got 1.5; allowed: a number in \[0, 1\]"):
        fraction_option("nao", "phi", 1.5)


def test_choice_and_bool_options():
    assert choice_option("mobo", "warp", "None", ("half-rank-log", "none")) == "none"  # case-insensitive, canonical
    for bad in ("log", None, 3):
        with pytest.raises(ConfigError) as e:
            choice_option("mobo", "warp", bad, ("half-rank-log", "none"))
        assert str(e.value) == f"strategy 'mobo': option 'warp' got {bad!r}; allowed: half-rank-log, none"
    assert bool_option("s", "flag", True) is True and bool_option("s", "flag", np.bool_(False)) is False
    for bad in (1, 0, "true", None):
        with pytest.raises(ConfigError, match=f"option 'flag' got {bad!r}; allowed: true or false"):
            bool_option("s", "flag", bad)


def test_unknown_options_and_error_format():
    check_unknown("rea", {"population": 4}, ("population",))
    with pytest.raises(ConfigError) as e:
        check_unknown("rea", {"populaton": 4, "zz": 1}, ("sample_size", "population"))
    assert str(e.value) == "strategy 'rea': unknown option(s) ['populaton', 'zz']; allowed: population, sample_size"
    with pytest.raises(ConfigError, match=r"allowed: \(none\)"):
        check_unknown("random", {"n_init": 1}, ())
    assert str(option_error("s", "o", [1], "two numbers")) == "strategy 's': option 'o' got [1]; allowed: two numbers"


def test_old_per_strategy_checkers_are_gone():
    import nago.strategies._sobol as sobol
    import nago.strategies.bohb as bohb
    import nago.strategies.nao as nao

    assert not hasattr(bohb, "_number") and not hasattr(nao, "_fraction") and not hasattr(nao, "_choice")
    assert not hasattr(sobol, "int_option") and not hasattr(sobol, "check_options")


def test_warning_vocabulary():
    assert issubclass(SurrogateFallbackWarning, NagoWarning) and issubclass(NagoWarning, UserWarning)
    assert issubclass(SpaceExhaustedWarning, NagoWarning) and issubclass(SpaceExhaustedWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a RuntimeWarning filter still catches exhaustion
        with pytest.raises(SpaceExhaustedWarning):
            warnings.warn("exhausted", SpaceExhaustedWarning)
    import nago.strategies.mobo as mobo
    import nago.strategies.nao as nao

    assert mobo.SurrogateFallbackWarning is SurrogateFallbackWarning is nao.SurrogateFallbackWarning
