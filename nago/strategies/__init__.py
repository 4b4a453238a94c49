"""Search strategies (ask/tell), registered by name in :data:`STRATEGIES`.

Every strategy is declared here lazily (``name -> "module:class"``), so its name is known (``nago
search --help``, error messages) without importing torch, BoTorch or Optuna; ``STRATEGIES.get(name)``
imports the module. A new strategy module registers its class with ``@STRATEGIES.register(name)``
and gets a line below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nago.registry import Registry

if TYPE_CHECKING:
    from nago.strategies.base import Proposal, Strategy

STRATEGIES: Registry[type["Strategy"]] = Registry("strategy")

for _name, _target in {
    "bohb": "nago.strategies.bohb:BOHB",
    "mobo": "nago.strategies.mobo:MOBO",
    "mo-bohb": "nago.strategies.mo_bohb:MOBOHB",
    "moasha": "nago.strategies.mo_bohb:MOASHA",
    "nao": "nago.strategies.nao:NAO",
    "nao-cso": "nago.strategies.nao:NAOCSO",
    "optuna-tpe": "nago.strategies.optuna_adapter:OptunaTPE",
    "optuna-nsga2": "nago.strategies.optuna_adapter:OptunaNSGA2",
    "random": "nago.strategies.random:RandomSearch",
    "rea": "nago.strategies.rea:RegularizedEvolution",
}.items():
    STRATEGIES.register_lazy(_name, _target)

# strategies that take a warm start (Strategy.supports_warm_start; named here for messages without imports)
WARM_START_STRATEGIES = ("bohb", "mo-bohb", "moasha", "mobo")

__all__ = ["STRATEGIES", "WARM_START_STRATEGIES", "Proposal", "Strategy"]


def __getattr__(name: str) -> Any:
    if name in ("Proposal", "Strategy"):
        from nago.strategies import base

        return getattr(base, name)
    raise AttributeError(f"module 'nago.strategies' has no attribute {name!r}")
