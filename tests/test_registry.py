"""nago.registry.Registry: eager and lazy entries, and the lazy strategy declarations."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest

import nago.strategies
from nago.errors import ConfigError
from nago.registry import Registry
from nago.strategies import STRATEGIES


def test_lazy_entry_is_named_without_import_and_resolved_on_get():
    reg: Registry = Registry("thing")
    reg.register_lazy("Dumps", "json:dumps")
    reg.register("eager")(len)
    assert reg.names() == ["dumps", "eager"] and "DUMPS" in reg and not reg.is_loaded("dumps")
    import json

    assert reg.get("dumps") is json.dumps and reg.is_loaded("dumps")
    with pytest.raises(ConfigError, match="unknown thing 'nope'; allowed: dumps, eager"):
        reg.get("nope")


def test_a_module_registering_its_lazy_name_fills_the_entry(tmp_path, monkeypatch):
    (tmp_path / "nago_lazy_probe.py").write_text(
        "from tests_registry_target import REG\n@REG.register('probe')\nclass Probe:\n    pass\n")
    reg: Registry = Registry("thing")
    holder = type(sys)("tests_registry_target")
    holder.REG = reg
    monkeypatch.setitem(sys.modules, "tests_registry_target", holder)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.register_lazy("probe", "nago_lazy_probe:Probe")
    cls = reg.get("probe")
    assert cls.__name__ == "Probe" and reg.get("probe") is cls
    monkeypatch.delitem(sys.modules, "nago_lazy_probe", raising=False)


def test_registering_a_name_twice_and_bad_targets_fail():
    reg: Registry = Registry("thing")
    reg.register("a")(len)
    with pytest.raises(ValueError, match="twice"):
        reg.register("A")(abs)
    with pytest.raises(ValueError, match="twice"):
        reg.register_lazy("a", "json:dumps")
    with pytest.raises(ValueError, match="module:attr"):
        reg.register_lazy("b", "json.dumps")


def test_every_strategy_module_registers_only_declared_names():
    declared = set(STRATEGIES.names())
    for info in pkgutil.iter_modules(nago.strategies.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"nago.strategies.{info.name}")
    assert set(STRATEGIES.names()) == declared
    for name in declared:  # the lazy target is the class its module registers
        cls = STRATEGIES.get(name)
        assert isinstance(cls, type) and cls is STRATEGIES.get(name.upper())
