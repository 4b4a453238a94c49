"""Search strategies (ask/tell), registered by name in :data:`STRATEGIES`."""

from nago.strategies.base import STRATEGIES, Proposal, Strategy
from nago.strategies import bohb  # noqa: F401  (registers "bohb")
from nago.strategies import mobo  # noqa: F401  (registers "mobo")
from nago.strategies import nao  # noqa: F401  (registers "nao", "nao-cso")
from nago.strategies import optuna_adapter  # noqa: F401  (registers "optuna-tpe", "optuna-nsga2"; optuna loads lazily)
from nago.strategies import random  # noqa: F401  (registers "random")
from nago.strategies import rea  # noqa: F401  (registers "rea")

__all__ = ["STRATEGIES", "Proposal", "Strategy"]
